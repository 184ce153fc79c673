// Shared declarations of the inferencegw._core extension: one init_<concept>() per binding file,
// the Config handle, and conversions at the Python boundary. Errors become Python exceptions
// here and only here: a Status from the library is raised as ConfigError (bad config) or
// ValueError (bad input); wrong types raise TypeError.
#ifndef INFERENCEGW_BINDINGS_PYTHON_BINDINGS_H_
#define INFERENCEGW_BINDINGS_PYTHON_BINDINGS_H_

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "inferencegw/config.h"
#include "inferencegw/route_table.h"
#include "inferencegw/simulator.h"

namespace inferencegw::python {

namespace py = pybind11;

void init_config(py::module_& m);
void init_router(py::module_& m);
void init_trace(py::module_& m);
void init_simulator(py::module_& m);
void init_hash(py::module_& m);
void init_experiment(py::module_& m);

// A _core.ExperimentSamples holding one run's samples and the metric each experiment of
// `config` names (experiment_binding.cc).
py::object MakeExperimentSamples(const ConfigSet& config, std::vector<ExperimentArmSample> samples);

// An immutable trace shared by the Python Trace object and the runs that use it.
struct PyTrace {
  std::shared_ptr<const SimulationTrace> trace;
};

// Raised as inferencegw.ConfigError (a ValueError) by the translator registered in init_config.
class ConfigLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A loaded, validated manifest set. Immutable; shared by Routers and Simulators built from it.
struct PyConfig {
  std::shared_ptr<const ConfigSet> config;
};

// A Status's message as a std::string.
std::string MessageOf(const absl::Status& status);

// Header pairs from a dict {name: value} or an iterable of (name, value) pairs (values must be
// str). `what` names the argument in TypeErrors. `storage` owns the strings.
void HeadersFrom(py::handle headers, std::string_view what,
                 std::vector<std::pair<std::string, std::string>>* storage,
                 std::vector<Header>* out);

// A read-only 1-D array exposed through the buffer protocol (numpy.frombuffer, memoryview),
// owning its data, so that results need neither numpy nor per-row Python objects.
struct Column {
  std::shared_ptr<void> owner;
  const void* data = nullptr;
  size_t size = 0;
  size_t itemsize = 0;
  std::string format;  // struct-module format: "d", "q", "i", "B"
};

template <typename T>
Column MakeColumn(std::vector<T> values) {
  auto owned = std::make_shared<std::vector<T>>(std::move(values));
  Column c;
  c.data = owned->data();
  c.size = owned->size();
  c.itemsize = sizeof(T);
  c.format = py::format_descriptor<T>::format();
  c.owner = std::move(owned);
  return c;
}

// Nanoseconds as float seconds.
inline double SecondsOf(int64_t ns) { return static_cast<double>(ns) / 1e9; }

}  // namespace inferencegw::python

#endif  // INFERENCEGW_BINDINGS_PYTHON_BINDINGS_H_
