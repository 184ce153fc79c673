// Experiment verdicts: inferencegw._core.ExperimentSamples, one simulation run's per-arm
// samples with the metric each configured experiment names, compared on demand by the library's
// CompareExperiments (the proxy's /admin/experiments uses the same). Comparisons leave as
// dicts shaped like /admin/experiments' "comparisons", latency in seconds.
#include <cmath>
#include <optional>

#include "bindings.h"
#include "inferencegw/experiment_compare.h"

namespace inferencegw::python {

struct PyExperimentSamples {
  std::vector<ExperimentMetricSpec> specs;
  std::vector<ExperimentArmSample> samples;
};

namespace {

// A number, or None when it is undefined (NaN).
py::object Number(double v) { return std::isnan(v) ? py::object(py::none()) : py::float_(v); }

py::object Count(const std::optional<uint64_t>& v) {
  return v.has_value() ? py::object(py::int_(*v)) : py::object(py::none());
}

std::string_view UnitName(ExperimentMetric metric) {
  switch (metric) {
    case ExperimentMetric::kErrorRate:
      return "fraction";
    case ExperimentMetric::kCost:
      return "currency";
    default:
      return "s";
  }
}

py::dict ArmDict(const ArmEstimate& a) {
  py::dict d;
  d["requests"] = a.requests;
  d["n"] = a.n;
  d["estimate"] = Number(a.estimate);
  d["ci_low"] = Number(a.ci_low);
  d["ci_high"] = Number(a.ci_high);
  return d;
}

py::dict ComparisonDict(const ExperimentComparison& e, const CompareOptions& options) {
  const ArmComparison& c = e.comparison;
  py::dict d;
  d["route"] = e.route;
  d["experiment"] = e.experiment;
  d["metric"] = std::string(ExperimentMetricName(c.metric));
  d["unit"] = std::string(UnitName(c.metric));
  d["test"] = std::string(c.test);
  d["confidence"] = options.confidence;
  d["power"] = options.power;
  d["control"] = ArmDict(c.control);
  d["treatment"] = ArmDict(c.treatment);
  py::dict diff;
  diff["estimate"] = Number(c.difference);
  diff["ci_low"] = Number(c.difference_ci_low);
  diff["ci_high"] = Number(c.difference_ci_high);
  diff["relative"] = Number(c.relative_difference);
  d["difference"] = diff;
  d["p_value"] = Number(c.p_value);
  d["verdict"] = std::string(CompareVerdictName(c.verdict));
  d["required_per_arm"] = Count(c.required_per_arm);
  if (c.required_per_arm.has_value()) {
    py::dict more;
    more["control"] = Count(c.additional_control);
    more["treatment"] = Count(c.additional_treatment);
    d["additional_requests"] = more;
  } else {
    d["additional_requests"] = py::none();
  }
  return d;
}

py::list Compare(const PyExperimentSamples& self, const std::optional<std::string>& metric,
                 double confidence, double power, int resamples, uint64_t min_samples,
                 std::optional<uint64_t> seed) {
  std::vector<ExperimentMetricSpec> specs = self.specs;
  if (metric.has_value()) {
    const std::optional<ExperimentMetric> m = ParseExperimentMetric(*metric);
    if (!m.has_value()) {
      throw py::value_error(
          "metric must be one of latency_p50, latency_p95, latency_p99, "
          "error_rate, cost; got \"" +
          *metric + "\"");
    }
    for (ExperimentMetricSpec& spec : specs) spec.metric = *m;
  }
  CompareOptions options;
  options.confidence = confidence;
  options.power = power;
  options.bootstrap_resamples = resamples;
  options.min_samples = min_samples;
  absl::StatusOr<std::vector<ExperimentComparison>> result;
  {
    py::gil_scoped_release release;
    result = CompareExperiments(specs, self.samples, options, seed);
  }
  if (!result.ok()) throw py::value_error(MessageOf(result.status()));
  py::list out;
  for (const ExperimentComparison& e : *result) out.append(ComparisonDict(e, options));
  return out;
}

}  // namespace

py::object MakeExperimentSamples(const ConfigSet& config,
                                 std::vector<ExperimentArmSample> samples) {
  return py::cast(PyExperimentSamples{ExperimentMetricSpecs(config), std::move(samples)});
}

void init_experiment(py::module_& m) {
  py::class_<PyExperimentSamples>(
      m, "ExperimentSamples",
      "One run's per-arm experiment samples (see SimulationResult.compare_arms).")
      .def("compare", &Compare, py::arg("metric"), py::arg("confidence"), py::arg("power"),
           py::arg("resamples"), py::arg("min_samples"), py::arg("seed"),
           "One comparison dict per configured experiment; metric None: each experiment's own. "
           "Releases the GIL.")
      .def_property_readonly("experiments", [](const PyExperimentSamples& self) {
        py::list out;
        for (const ExperimentMetricSpec& s : self.specs) {
          out.append(
              py::make_tuple(s.route, s.experiment, std::string(ExperimentMetricName(s.metric))));
        }
        return out;
      });
}

}  // namespace inferencegw::python
