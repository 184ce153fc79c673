// Traces: inferencegw._core.Trace, built from columns the pure-Python readers normalized
// (numbers as float64/int64 buffers, strings as sequences), and the Column buffer type.
#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "bindings.h"
#include "inferencegw/simulator.h"

namespace inferencegw::python {

namespace {

// A 1-D numeric buffer of 8-byte items ("d" or a 64-bit integer format).
class NumberColumn {
 public:
  NumberColumn(py::handle obj, const char* name, size_t rows, bool floating) : name_(name) {
    if (obj.is_none()) return;
    if (!PyObject_CheckBuffer(obj.ptr())) {
      throw py::type_error(std::string(name) + " must be a buffer (array.array or numpy array)");
    }
    info_ = py::reinterpret_borrow<py::buffer>(obj).request();
    std::string format = info_.format;
    if (!format.empty() && (format[0] == '<' || format[0] == '=' || format[0] == '@')) {
      format.erase(0, 1);
    }
    const bool ok = info_.itemsize == 8 && info_.ndim == 1 &&
                    (floating ? format == "d" : (format == "q" || format == "l"));
    if (!ok) {
      throw py::type_error(std::string(name) + " must be a 1-D " +
                           (floating ? "float64" : "int64") + " buffer");
    }
    if (static_cast<size_t>(info_.shape[0]) != rows) {
      throw py::value_error(std::string(name) + " has " + std::to_string(info_.shape[0]) +
                            " rows, expected " + std::to_string(rows));
    }
    present_ = true;
  }
  bool present() const { return present_; }
  double Float(size_t i) const { return *reinterpret_cast<const double*>(At(i)); }
  int64_t Int(size_t i) const { return *reinterpret_cast<const int64_t*>(At(i)); }

 private:
  const char* At(size_t i) const {
    return static_cast<const char*>(info_.ptr) + static_cast<py::ssize_t>(i) * info_.strides[0];
  }
  const char* name_;
  py::buffer_info info_;
  bool present_ = false;
};

// A text column: None (every row gets the default), one str for every row, a sequence of str
// or None, or, when `integers` (user ids), also of ints (numpy integers too), read as decimal
// text, or a 1-D int64 buffer of ids. Each distinct object (or integer) is interned once.
class TextColumn {
 public:
  TextColumn(py::handle obj, const char* name, size_t rows, bool integers = false)
      : name_(name), integers_(integers) {
    if (obj.is_none()) return;
    if (py::isinstance<py::str>(obj)) {
      constant_ = py::reinterpret_borrow<py::object>(obj);
      return;
    }
    if (integers && PyObject_CheckBuffer(obj.ptr()) && !py::isinstance<py::bytes>(obj)) {
      ids_ = py::reinterpret_borrow<py::buffer>(obj).request();
      std::string format = ids_.format;
      if (!format.empty() && (format[0] == '<' || format[0] == '=' || format[0] == '@')) {
        format.erase(0, 1);
      }
      if (ids_.ndim != 1 || ids_.itemsize != 8 || (format != "q" && format != "l")) {
        throw py::type_error(std::string(name) + " must be a 1-D int64 buffer or a sequence");
      }
      CheckRows(static_cast<size_t>(ids_.shape[0]), rows);
      buffer_ = true;
      return;
    }
    fast_ = py::reinterpret_steal<py::object>(PySequence_Fast(obj.ptr(), name));
    if (!fast_) throw py::error_already_set();
    CheckRows(static_cast<size_t>(PySequence_Fast_GET_SIZE(fast_.ptr())), rows);
  }

  // Row i's string id in `trace` (`fallback` for None).
  uint32_t Id(size_t i, SimulationTrace& trace, uint32_t fallback) {
    if (buffer_) {
      const int64_t id = *reinterpret_cast<const int64_t*>(
          static_cast<const char*>(ids_.ptr) + static_cast<py::ssize_t>(i) * ids_.strides[0]);
      if (id >= 0 && id < kMaxDenseId) {  // user numbers: a table lookup, no hashing
        const auto index = static_cast<size_t>(id);
        if (index >= dense_ids_.size()) {
          dense_ids_.resize(std::max(index + 1, dense_ids_.size() * 2));
        }
        uint32_t& slot = dense_ids_[index];
        if (slot == 0) slot = trace.Intern(std::to_string(id));  // never 0: "0" is not ""
        return slot;
      }
      auto [it, inserted] = int_ids_.try_emplace(id, 0);
      if (inserted) it->second = trace.Intern(std::to_string(id));
      return it->second;
    }
    PyObject* item = constant_ ? constant_.ptr() : Item(i);
    if (item == Py_None) return fallback;
    // Rows that share objects (a repeated str, a numpy object array built by indexing) skip the
    // text; a column of distinct objects (every row its own str) goes straight to the table.
    if (object_ids_.size() >= kMaxCachedObjects) {
      auto it = object_ids_.find(item);
      return it != object_ids_.end() ? it->second : trace.Intern(Text(item, i));
    }
    auto [it, inserted] = object_ids_.try_emplace(item, 0);
    if (inserted) it->second = trace.Intern(Text(item, i));
    return it->second;
  }

  PyObject* Item(size_t i) const {
    return fast_ ? PySequence_Fast_GET_ITEM(fast_.ptr(), static_cast<py::ssize_t>(i)) : Py_None;
  }

 private:
  void CheckRows(size_t got, size_t rows) const {
    if (got != rows) {
      throw py::value_error(std::string(name_) + " has " + std::to_string(got) +
                            " rows, expected " + std::to_string(rows));
    }
  }

  // The text of `item`; a view into the object or into scratch_.
  std::string_view Text(PyObject* item, size_t i) {
    if (PyUnicode_Check(item)) {
      Py_ssize_t size = 0;
      const char* data = PyUnicode_AsUTF8AndSize(item, &size);
      if (data == nullptr) throw py::error_already_set();
      return std::string_view(data, static_cast<size_t>(size));
    }
    if (integers_ && PyBool_Check(item)) {
      throw py::type_error("row " + std::to_string(i) +
                           ": user must be text or an integer id, got bool");
    }
    if (integers_ && PyIndex_Check(item)) {
      py::object number = py::reinterpret_steal<py::object>(PyNumber_Index(item));
      if (!number) throw py::error_already_set();
      scratch_ = py::str(number).cast<std::string>();
      return scratch_;
    }
    throw py::type_error(std::string(name_) + "[" + std::to_string(i) + "] must be str, got " +
                         Py_TYPE(item)->tp_name);
  }

  static constexpr size_t kMaxCachedObjects = size_t{1} << 17;
  static constexpr int64_t kMaxDenseId = int64_t{1} << 22;  // 16 MiB of table at most

  const char* name_;
  bool integers_;
  py::object fast_;
  py::object constant_;
  py::buffer_info ids_;
  bool buffer_ = false;
  // Objects stay alive in the sequence for the whole call, so their addresses identify them.
  absl::flat_hash_map<PyObject*, uint32_t> object_ids_;
  absl::flat_hash_map<int64_t, uint32_t> int_ids_;
  std::vector<uint32_t> dense_ids_;  // by id below kMaxDenseId; 0 = not seen yet
  std::string scratch_;
};

constexpr double kMaxSeconds = 9.0e9;  // keeps nanoseconds inside int64

PyTrace FromColumns(size_t rows, py::handle timestamp, py::handle method, py::handle path,
                    py::handle model, py::handle user, py::handle headers, py::handle input_tokens,
                    py::handle output_tokens, py::handle max_tokens, py::handle estimated_tokens,
                    py::handle overrides) {
  NumberColumn ts(timestamp, "timestamp", rows, true);
  if (!ts.present()) throw py::type_error("timestamp is required");
  TextColumn methods(method, "method", rows), paths(path, "path", rows),
      models(model, "model", rows), users(user, "user", rows, /*integers=*/true);
  TextColumn header_objs(headers, "headers", rows);
  TextColumn override_objs(overrides, "overrides", rows);
  NumberColumn in(input_tokens, "input_tokens", rows, false);
  NumberColumn out(output_tokens, "output_tokens", rows, false);
  NumberColumn max(max_tokens, "max_tokens", rows, false);
  NumberColumn est(estimated_tokens, "estimated_tokens", rows, false);

  auto trace = std::make_shared<SimulationTrace>();
  trace->Reserve(rows);
  const uint32_t post = trace->Intern("POST");
  const uint32_t chat = trace->Intern("/v1/chat/completions");
  // Header dicts converted once per distinct object (rows often share one).
  absl::flat_hash_map<PyObject*, uint32_t> header_sets;
  std::vector<std::pair<std::string, std::string>> header_storage;
  std::vector<Header> header_view;
  std::vector<std::string> override_names;
  std::vector<OutcomeOverride> row_overrides;
  for (size_t i = 0; i < rows; ++i) {
    const double seconds = ts.Float(i);
    if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxSeconds) {
      throw py::value_error("timestamp[" + std::to_string(i) +
                            "] must be finite seconds in [0, 9e9], got " + std::to_string(seconds));
    }
    SimulationTrace::InternedRow row;
    row.timestamp = static_cast<TimeNs>(std::llround(seconds * 1e9));
    row.method = methods.Id(i, *trace, post);
    row.path = paths.Id(i, *trace, chat);
    row.model = models.Id(i, *trace, 0);
    row.user = users.Id(i, *trace, 0);
    PyObject* h = header_objs.Item(i);
    if (h != Py_None) {
      auto [it, inserted] = header_sets.try_emplace(h, 0);
      if (inserted) {
        header_storage.clear();
        header_view.clear();
        HeadersFrom(h, "headers[" + std::to_string(i) + "]", &header_storage, &header_view);
        it->second = trace->InternHeaders(header_view);
      }
      row.header_set = it->second;
    }
    if (in.present()) row.input_tokens = in.Int(i);
    if (out.present()) row.output_tokens = out.Int(i);
    if (max.present()) row.max_tokens = max.Int(i);
    if (est.present()) row.estimated_tokens = est.Int(i);
    PyObject* o = override_objs.Item(i);
    if (o != Py_None) {
      // [(backend, outcome, latency_ns), ...] as normalized by inferencegw._trace.
      override_names.clear();
      row_overrides.clear();
      if (!PyList_Check(o))
        throw py::type_error("overrides[" + std::to_string(i) + "] must be a list");
      py::list list = py::reinterpret_borrow<py::list>(o);
      override_names.reserve(list.size());
      for (py::handle entry : list) {
        if (!PyTuple_Check(entry.ptr()) || PyTuple_GET_SIZE(entry.ptr()) != 3) {
          throw py::type_error("overrides[" + std::to_string(i) +
                               "] entries must be (backend, outcome, latency_ns) tuples");
        }
        py::tuple t = py::reinterpret_borrow<py::tuple>(entry);
        override_names.push_back(t[0].cast<std::string>());
        const std::string outcome_name = t[1].cast<std::string>();
        const std::optional<SimOutcome> outcome = ParseSimOutcome(outcome_name);
        if (!outcome.has_value()) {
          throw py::value_error("row " + std::to_string(i) + ": unknown outcome \"" + outcome_name +
                                "\" (ok, connect_error, timeout, 5xx, 429, scenario)");
        }
        row_overrides.push_back({{}, *outcome, t[2].cast<int64_t>()});
      }
      for (size_t k = 0; k < row_overrides.size(); ++k)
        row_overrides[k].backend = override_names[k];
      row.overrides = row_overrides;
    }
    if (absl::Status s = trace->Add(row); !s.ok()) throw py::value_error(MessageOf(s));
  }
  return PyTrace{std::move(trace)};
}

}  // namespace

void init_trace(py::module_& m) {
  py::class_<Column>(m, "Column", py::buffer_protocol(),
                     "A read-only 1-D array (buffer protocol); numpy.asarray() views it.")
      .def_buffer([](const Column& c) {
        return py::buffer_info(const_cast<void*>(c.data), static_cast<py::ssize_t>(c.itemsize),
                               c.format, 1, {static_cast<py::ssize_t>(c.size)},
                               {static_cast<py::ssize_t>(c.itemsize)}, /*readonly=*/true);
      })
      .def("__len__", [](const Column& c) { return c.size; })
      .def("tolist", [](const Column& c) { return py::memoryview(py::cast(c)).attr("tolist")(); });

  py::class_<PyTrace>(m, "Trace", "A request trace in compact columnar form. Immutable.")
      .def_static("from_columns", &FromColumns, py::arg("rows"), py::arg("timestamp"),
                  py::arg("method"), py::arg("path"), py::arg("model"), py::arg("user"),
                  py::arg("headers"), py::arg("input_tokens"), py::arg("output_tokens"),
                  py::arg("max_tokens"), py::arg("estimated_tokens"), py::arg("overrides"))
      .def("__len__", [](const PyTrace& t) { return t.trace->size(); })
      .def(
          "timestamps",
          [](const PyTrace& t) {
            std::vector<double> out;
            out.reserve(t.trace->size());
            for (TimeNs ns : t.trace->timestamps()) out.push_back(SecondsOf(ns));
            return MakeColumn(std::move(out));
          },
          "Arrival times in seconds.")
      .def(
          "users",
          [](const PyTrace& t) {
            // Compact codes over the distinct users, in order of first appearance.
            absl::flat_hash_map<uint32_t, int32_t> code_of;
            std::vector<std::string> names;
            std::vector<int32_t> codes;
            codes.reserve(t.trace->size());
            for (size_t i = 0; i < t.trace->size(); ++i) {
              const uint32_t id = t.trace->user_id(i);
              auto [it, inserted] = code_of.try_emplace(id, static_cast<int32_t>(names.size()));
              if (inserted) names.emplace_back(t.trace->string(id));
              codes.push_back(it->second);
            }
            return py::make_tuple(MakeColumn(std::move(codes)), names);
          },
          "(codes, names): each row's user as an index into names (\"\" for none).")
      .def("tokens", [](const PyTrace& t) {
        std::vector<int64_t> in, out;
        in.reserve(t.trace->size());
        out.reserve(t.trace->size());
        for (size_t i = 0; i < t.trace->size(); ++i) {
          in.push_back(t.trace->input_tokens(i));
          out.push_back(t.trace->output_tokens(i));
        }
        return py::make_tuple(MakeColumn(std::move(in)), MakeColumn(std::move(out)));
      });
}

}  // namespace inferencegw::python
