// RenderExperimentsJson: /admin/experiments with a comparison per configured experiment.
#include "experiment_stats_internal.h"
#include "inferencegw/experiment_compare.h"
#include "json_writer.h"

namespace inferencegw {

namespace {

// The JSON unit of a metric and the factor from the comparison's unit to it.
struct Unit {
  std::string_view name;
  double scale;
};
Unit UnitOf(ExperimentMetric metric) {
  switch (metric) {
    case ExperimentMetric::kErrorRate:
      return {"fraction", 1};
    case ExperimentMetric::kCost:
      return {"currency", 1};
    default:
      return {"ms", 1e3};
  }
}

void WriteCount(const std::optional<uint64_t>& v, internal::JsonWriter* w) {
  if (v.has_value()) {
    w->UInt(*v);
  } else {
    w->Null();
  }
}

void WriteArm(const ArmEstimate& a, double scale, internal::JsonWriter* w) {
  w->BeginObject();
  w->Key("requests").UInt(a.requests);
  w->Key("n").UInt(a.n);
  w->Key("estimate").Double(a.estimate * scale);
  w->Key("ci_low").Double(a.ci_low * scale);
  w->Key("ci_high").Double(a.ci_high * scale);
  w->EndObject();
}

void WriteComparison(const ExperimentComparison& e, const CompareOptions& options,
                     internal::JsonWriter* w) {
  const ArmComparison& c = e.comparison;
  const Unit unit = UnitOf(c.metric);
  w->BeginObject();
  w->Key("route").String(e.route);
  w->Key("experiment").String(e.experiment);
  w->Key("metric").String(ExperimentMetricName(c.metric));
  w->Key("unit").String(unit.name);
  w->Key("test").String(c.test);
  w->Key("confidence").Double(options.confidence);
  w->Key("power").Double(options.power);
  w->Key("control");
  WriteArm(c.control, unit.scale, w);
  w->Key("treatment");
  WriteArm(c.treatment, unit.scale, w);
  w->Key("difference").BeginObject();
  w->Key("estimate").Double(c.difference * unit.scale);
  w->Key("ci_low").Double(c.difference_ci_low * unit.scale);
  w->Key("ci_high").Double(c.difference_ci_high * unit.scale);
  w->Key("relative").Double(c.relative_difference);
  w->EndObject();
  w->Key("p_value").Double(c.p_value);
  w->Key("verdict").String(CompareVerdictName(c.verdict));
  w->Key("required_per_arm");
  WriteCount(c.required_per_arm, w);
  w->Key("additional_requests");
  if (c.required_per_arm.has_value()) {
    w->BeginObject();
    w->Key("control");
    WriteCount(c.additional_control, w);
    w->Key("treatment");
    WriteCount(c.additional_treatment, w);
    w->EndObject();
  } else {
    w->Null();
  }
  w->EndObject();
}

}  // namespace

std::string RenderExperimentsJson(const ExperimentStats& stats, const ConfigSet& config) {
  const CompareOptions options;
  // Default options are valid, so the comparisons always succeed.
  const absl::StatusOr<std::vector<ExperimentComparison>> comparisons =
      CompareExperiments(ExperimentMetricSpecs(config), stats.Samples(), options);
  std::string out;
  internal::JsonWriter w(&out);
  w.BeginObject();
  internal::WriteExperimentRows(stats.Report(), &w);
  w.Key("comparisons").BeginArray();
  if (comparisons.ok()) {
    for (const ExperimentComparison& e : *comparisons) WriteComparison(e, options, &w);
  }
  w.EndArray();
  w.EndObject();
  return out;
}

}  // namespace inferencegw
