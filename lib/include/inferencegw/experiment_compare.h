// Experiment verdicts: compares an experiment's treatment arm with its control on one metric.
// Each arm's estimate with a confidence interval, the difference, a test that fits the metric,
// a verdict, and the requests still needed to reach a target power.
//
//   absl::StatusOr<ArmComparison> c = CompareArms(ExperimentMetric::kLatencyP95, control,
//       treatment, CompareOptions{}, CompareSeed("default/chat", "claude-test"));
//   if (c.ok() && c->verdict == CompareVerdict::kTreatmentBetter) Promote();
//
// Lower is better for every metric. Units: latency metrics in seconds, error_rate as a fraction
// of requests, cost in currency units per request.
//
// Methods, by metric (n: an arm's observations; alpha = 1 - confidence; z(p): normal quantile):
//   latency_p50/p95/p99 ("bootstrap"): n is the arm's successful requests. B bootstrap
//     replicates per arm, drawn from the arm's LatencySketch: the q-quantile of n draws with
//     replacement is its k-th smallest, k = max(1, ceil(q n)), which is the sketch's quantile
//     at U(k) ~ Beta(k, n - k + 1) (the k-th smallest of n uniforms), so one beta draw gives one
//     replicate exactly (the same as resampling the histogram's buckets, at any n). The
//     estimate is the sketch's quantile; intervals are the replicates' percentile intervals;
//     the difference's replicates are treatment - control; the two-sided p-value is
//     min(1, 2 (1 + min(#{replicates <= 0}, #{replicates >= 0})) / (B + 1)), so p < alpha
//     about when the difference's interval excludes 0 (the smallest p is 2 / (B + 1)).
//   error_rate ("two_proportion_z"): n is the arm's requests. Arm intervals: Wilson score.
//     Difference interval: unpooled Wald. Test: pooled two-proportion z, two-sided.
//   cost ("welch_t"): n is the arm's requests (failed requests cost what they were billed,
//     usually 0). Arm intervals: t with n - 1 df. Difference: Welch's t with the
//     Welch-Satterthwaite df, two-sided.
// Verdict: insufficient_data when an arm has fewer than min_samples observations; else
//   treatment_better / control_better when p < alpha (by the sign of the difference); else
//   no_significant_difference.
// Required observations per arm, at the observed difference d, for a two-sided test at alpha
//   with the target power (equal arms; the normal approximation):
//   error_rate: (z(1-alpha/2) sqrt(2 pbar (1-pbar)) + z(power) sqrt(p1 (1-p1) + p2 (1-p2)))^2/d^2
//   cost:       (z(1-alpha/2) + z(power))^2 (s1^2 + s2^2) / d^2   (sample variances)
//   latency:    the same, with s^2 = n * var(bootstrap replicates) per arm (SE ~ 1/sqrt(n)).
#ifndef INFERENCEGW_EXPERIMENT_COMPARE_H_
#define INFERENCEGW_EXPERIMENT_COMPARE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "inferencegw/config.h"
#include "inferencegw/experiment_stats.h"

namespace inferencegw {

enum class ExperimentMetric : uint8_t { kLatencyP50, kLatencyP95, kLatencyP99, kErrorRate, kCost };

// The config spelling: "latency_p50", "latency_p95", "latency_p99", "error_rate", "cost".
std::string_view ExperimentMetricName(ExperimentMetric metric);
// nullopt for any other name.
std::optional<ExperimentMetric> ParseExperimentMetric(std::string_view name);

enum class CompareVerdict : uint8_t {
  kInsufficientData,
  kNoSignificantDifference,
  kTreatmentBetter,
  kControlBetter,
};
// "insufficient_data", "no_significant_difference", "treatment_better", "control_better".
std::string_view CompareVerdictName(CompareVerdict verdict);

struct CompareOptions {
  double confidence = 0.95;        // of every interval; the test's level is 1 - confidence
  double power = 0.8;              // the target power of required_per_arm
  int bootstrap_resamples = 2000;  // B, for latency metrics
  uint64_t min_samples = 10;       // per arm; fewer observations: insufficient_data
};

// InvalidArgument unless 0 < confidence < 1, 0 < power < 1, 10 <= bootstrap_resamples <=
// 1'000'000 and min_samples >= 2, naming the bad field.
absl::Status ValidateCompareOptions(const CompareOptions& options);

// One arm's estimate of the metric. Undefined values (no observations) are NaN.
struct ArmEstimate {
  uint64_t requests = 0;  // all of the arm's requests
  uint64_t n = 0;         // observations the metric uses (see the file comment)
  double estimate = 0;
  double ci_low = 0;
  double ci_high = 0;
};

struct ArmComparison {
  ExperimentMetric metric = ExperimentMetric::kLatencyP95;
  std::string_view test;  // "bootstrap", "two_proportion_z" or "welch_t"
  ArmEstimate control;
  ArmEstimate treatment;
  // treatment - control, with its interval; NaN with insufficient data.
  double difference = 0;
  double difference_ci_low = 0;
  double difference_ci_high = 0;
  // difference / control's estimate; NaN when that is 0 or undefined.
  double relative_difference = 0;
  double p_value = 0;  // two-sided; NaN with insufficient data
  CompareVerdict verdict = CompareVerdict::kInsufficientData;
  // Observations per arm at which the test detects the observed difference with the target
  // power. nullopt with insufficient data, when the observed difference is 0 (no sample size
  // detects it), or when the count would exceed 10^15.
  std::optional<uint64_t> required_per_arm;
  // Requests each arm still needs to reach required_per_arm (for latency metrics, successful
  // observations scaled up by the arm's success rate); 0 once the verdict is significant or
  // the arm has enough. nullopt together with required_per_arm.
  std::optional<uint64_t> additional_control;
  std::optional<uint64_t> additional_treatment;
};

// Compares `treatment` with `control` on `metric`. `seed` drives the bootstrap (the other tests
// draw nothing): the same inputs and seed give the same result on every platform. Pure.
// InvalidArgument when the options are invalid.
absl::StatusOr<ArmComparison> CompareArms(ExperimentMetric metric, const ArmSample& control,
                                          const ArmSample& treatment, const CompareOptions& options,
                                          uint64_t seed);

// The default seed of an experiment's comparison, so that repeated reports agree:
// Fmix64(StableHash64(route) ^ StableHash64(experiment)).
uint64_t CompareSeed(std::string_view route, std::string_view experiment);

// An experiment to compare: its route ("namespace/name"), name and metric.
struct ExperimentMetricSpec {
  std::string route;
  std::string experiment;
  ExperimentMetric metric = ExperimentMetric::kLatencyP95;
};

// Every experiment of `config`, in route and then experiment order, with the metric its config
// names (latency_p95 when the name is not a metric: validated configs always name one).
std::vector<ExperimentMetricSpec> ExperimentMetricSpecs(const ConfigSet& config);

struct ExperimentComparison {
  std::string route;
  std::string experiment;
  ArmComparison comparison;
};

// One comparison per spec, of its control and treatment cells in `samples` (an absent cell is
// an empty sample), seeded with `seed` or, when nullopt, with CompareSeed(route, experiment).
// InvalidArgument when the options are invalid.
absl::StatusOr<std::vector<ExperimentComparison>> CompareExperiments(
    const std::vector<ExperimentMetricSpec>& specs, const std::vector<ExperimentArmSample>& samples,
    const CompareOptions& options, std::optional<uint64_t> seed = std::nullopt);

// /admin/experiments: ExperimentStats::RenderJson()'s document plus "comparisons", one per
// experiment of `config` on its configured metric with default options and seeds:
//   {"experiments":[...],"comparisons":[{"route":..,"experiment":..,"metric":"latency_p95",
//     "unit":"ms","test":"bootstrap","confidence":0.95,"power":0.8,
//     "control":{"requests":..,"n":..,"estimate":..,"ci_low":..,"ci_high":..},
//     "treatment":{...},"difference":{"estimate":..,"ci_low":..,"ci_high":..,"relative":..},
//     "p_value":..,"verdict":"treatment_better","required_per_arm":..,
//     "additional_requests":{"control":..,"treatment":..}}]}
// Latency values in milliseconds ("unit":"ms"), error_rate as a fraction ("fraction"), cost in
// currency units per request ("currency"). Undefined numbers and nullopt counts are null.
std::string RenderExperimentsJson(const ExperimentStats& stats, const ConfigSet& config);

}  // namespace inferencegw

#endif  // INFERENCEGW_EXPERIMENT_COMPARE_H_
