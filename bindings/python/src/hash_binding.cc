// The documented, seedless hashes behind sticky decisions (docs/routing.md), for scripts that
// want to know a user's arm without a config.
#include "bindings.h"
#include "inferencegw/experiment.h"
#include "inferencegw/stable_hash.h"

namespace inferencegw::python {

namespace {

std::string BytesOf(py::handle data, const char* what) {
  if (py::isinstance<py::str>(data)) return data.cast<std::string>();
  if (py::isinstance<py::bytes>(data)) return std::string(py::reinterpret_borrow<py::bytes>(data));
  throw py::type_error(std::string(what) + " must be str or bytes");
}

uint64_t U64(py::handle value, const char* what) {
  if (!py::isinstance<py::int_>(value) || py::isinstance<py::bool_>(value)) {
    throw py::type_error(std::string(what) + " must be an int");
  }
  const unsigned long long v = PyLong_AsUnsignedLongLong(value.ptr());
  if (v == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::value_error(std::string(what) + " must be in [0, 2**64)");
  }
  return v;
}

}  // namespace

void init_hash(py::module_& m) {
  m.def(
      "stable_hash64", [](py::handle data) { return StableHash64(BytesOf(data, "data")); },
      py::arg("data"), "Fmix64(FNV-1a-64(data)) of UTF-8 text or bytes.");
  m.def(
      "fmix64", [](py::handle k) { return Fmix64(U64(k, "k")); }, py::arg("k"),
      "MurmurHash3's 64-bit finalizer.");
  m.def(
      "split_mix64", [](py::handle x) { return SplitMix64(U64(x, "x")); }, py::arg("x"),
      "SplitMix64's output function.");
  m.def(
      "experiment_bucket",
      [](py::handle experiment, py::handle user) {
        const ExperimentSplit split = ExperimentSplit::Create(BytesOf(experiment, "experiment"), 0);
        return ExperimentBucket(split, UserHash(BytesOf(user, "user")));
      },
      py::arg("experiment"), py::arg("user"),
      "The user's bucket in [0, 10000) for the experiment named `experiment`.");
}

}  // namespace inferencegw::python
