// Config loading: inferencegw._core.Config, load_config_path, load_config_text,
// load_config_sources, apply_overrides, ConfigError.
#include <optional>
#include <tuple>
#include <utility>

#include "bindings.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/config_overrides.h"

namespace inferencegw::python {

std::string MessageOf(const absl::Status& status) {
  const auto message = status.message();
  return std::string(message.data(), message.size());
}

void HeadersFrom(py::handle headers, std::string_view what,
                 std::vector<std::pair<std::string, std::string>>* storage,
                 std::vector<Header>* out) {
  storage->clear();
  out->clear();
  if (headers.is_none()) return;
  auto add = [&](py::handle name, py::handle value) {
    if (!py::isinstance<py::str>(name) || !py::isinstance<py::str>(value)) {
      throw py::type_error(std::string(what) + ": header names and values must be str, got " +
                           std::string(py::str(py::type::of(name).attr("__name__"))) + ": " +
                           std::string(py::str(py::type::of(value).attr("__name__"))));
    }
    storage->emplace_back(name.cast<std::string>(), value.cast<std::string>());
  };
  if (py::isinstance<py::dict>(headers)) {
    for (auto item : py::reinterpret_borrow<py::dict>(headers)) add(item.first, item.second);
  } else if (py::isinstance<py::str>(headers) || py::isinstance<py::bytes>(headers) ||
             !py::hasattr(headers, "__iter__")) {
    throw py::type_error(std::string(what) +
                         " must be a dict {name: value} or a list of (name, value) pairs");
  } else {
    for (py::handle pair : headers) {
      if (!py::isinstance<py::tuple>(pair) && !py::isinstance<py::list>(pair)) {
        throw py::type_error(std::string(what) + " pairs must be (name, value) tuples");
      }
      py::sequence seq = py::reinterpret_borrow<py::sequence>(pair);
      if (seq.size() != 2) throw py::value_error(std::string(what) + " pairs must have 2 items");
      add(seq[0], seq[1]);
    }
  }
  out->reserve(storage->size());
  for (const auto& [name, value] : *storage) out->push_back({name, value});
}

namespace {

PyConfig Wrap(absl::StatusOr<ConfigSet> loaded) {
  if (!loaded.ok()) throw ConfigLoadError(MessageOf(loaded.status()));
  return PyConfig{std::make_shared<const ConfigSet>(*std::move(loaded))};
}

// One source as _config.py passes it: ("path", path), ("text", text, name) or ("config", Config).
ConfigSource SourceFrom(const py::tuple& item) {
  const auto kind = item[0].cast<std::string>();
  if (kind == "path") return ConfigSource::Path(item[1].cast<std::string>());
  if (kind == "text") {
    return ConfigSource::Text(item[1].cast<std::string>(), item[2].cast<std::string>());
  }
  if (kind == "config") return ConfigSource::Loaded(*item[1].cast<const PyConfig&>().config);
  throw py::value_error("unknown config source kind \"" + kind + "\"");
}

// (section, name, spec patch as JSON or None to remove, source name), as _config.py passes it.
using OverrideTuple = std::tuple<std::string, std::string, std::optional<std::string>, std::string>;

}  // namespace

void init_config(py::module_& m) {
  py::register_exception<ConfigLoadError>(m, "ConfigError", PyExc_ValueError);

  py::class_<PyConfig>(m, "Config",
                       "A loaded and validated manifest set (InferenceBackend, InferenceRoute, "
                       "Secret). Immutable.")
      .def_property_readonly(
          "backends",
          [](const PyConfig& c) {
            std::vector<std::string> keys;
            for (const Backend& b : c.config->backends) keys.push_back(b.meta.Key());
            return keys;
          },
          "Backend keys (namespace/name), in the order read.")
      .def_property_readonly(
          "routes",
          [](const PyConfig& c) {
            std::vector<std::string> keys;
            for (const Route& r : c.config->routes) keys.push_back(r.meta.Key());
            return keys;
          },
          "Route keys (namespace/name), in the order read.")
      .def_property_readonly(
          "warnings",
          [](const PyConfig& c) {
            std::vector<std::string> out;
            for (const ConfigIssue& issue : ConfigWarnings(*c.config)) {
              out.push_back(issue.ToString());
            }
            return out;
          },
          "Warnings the loader found (for example a missing API-key Secret).")
      .def(
          "to_json", [](const PyConfig& c) { return RenderConfigJson(*c.config); },
          "The config as JSON for people; never contains a secret.")
      .def("__repr__", [](const PyConfig& c) {
        return "<inferencegw.Config: " + std::to_string(c.config->backends.size()) + " backends, " +
               std::to_string(c.config->routes.size()) + " routes>";
      });

  m.def(
      "load_config_path",
      [](const std::string& path) {
        absl::StatusOr<ConfigSet> loaded;
        {
          py::gil_scoped_release release;
          loaded = LoadConfigFromPath(path);
        }
        return Wrap(std::move(loaded));
      },
      py::arg("path"), "Loads a manifest file or every *.yaml/*.yml/*.json in a directory.");
  m.def(
      "load_config_text",
      [](const std::string& text, const std::string& source_name) {
        absl::StatusOr<ConfigSet> loaded;
        {
          py::gil_scoped_release release;
          loaded = LoadConfigFromString(text, source_name);
        }
        return Wrap(std::move(loaded));
      },
      py::arg("text"), py::arg("source_name") = "<string>",
      "Loads manifests from YAML (or JSON) text.");
  m.def(
      "load_config_sources",
      [](const std::vector<py::tuple>& items) {
        std::vector<ConfigSource> sources;
        for (const py::tuple& item : items) sources.push_back(SourceFrom(item));
        absl::StatusOr<ConfigSet> loaded;
        {
          py::gil_scoped_release release;
          loaded = LoadConfigFromSources(sources);
        }
        return Wrap(std::move(loaded));
      },
      py::arg("sources"),
      "Loads several sources as one set: (\"path\", p), (\"text\", text, name), (\"config\", c).");
  m.def(
      "apply_overrides",
      [](const PyConfig& c, const std::vector<OverrideTuple>& items) {
        std::vector<ConfigOverride> overrides;
        for (const auto& [section, name, patch, source_name] : items) {
          if (section != "backends" && section != "routes") {
            throw py::value_error("unknown override section \"" + section + "\"");
          }
          overrides.push_back({section == "backends" ? ConfigOverride::Kind::kBackend
                                                     : ConfigOverride::Kind::kRoute,
                               name, patch, source_name});
        }
        absl::StatusOr<ConfigSet> changed;
        {
          py::gil_scoped_release release;
          changed = ApplyConfigOverrides(*c.config, overrides);
        }
        return Wrap(std::move(changed));
      },
      py::arg("config"), py::arg("overrides"),
      "A copy of `config` with (section, name, spec patch JSON or None, source name) applied.");
}

}  // namespace inferencegw::python
