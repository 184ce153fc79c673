#include "inferencegw/experiment_compare.h"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "stats_math_internal.h"

namespace inferencegw {
namespace {

using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

PicoUnits Units(double v) { return static_cast<PicoUnits>(std::llround(v * kPicosPerUnit)); }

// `requests` requests of which `errors` failed (the first ones), 100 ms each, free.
ArmSample Proportion(uint64_t requests, uint64_t errors) {
  ArmSample s;
  for (uint64_t i = 0; i < requests; ++i) s.Add(Milliseconds(100), i < errors, 0);
  return s;
}

// One successful request per cost, in currency units.
ArmSample Costs(const std::vector<double>& costs) {
  ArmSample s;
  for (double c : costs) s.Add(Milliseconds(100), false, Units(c));
  return s;
}

// `n` exponential latencies with the given mean, drawn from `seed`, scaled by `factor`.
ArmSample Exponential(int n, DurationNs mean, uint64_t seed, double factor = 1.0) {
  internal::RandomStream random(seed);
  ArmSample s;
  for (int i = 0; i < n; ++i) {
    const double x = -std::log(random.OpenUnit()) * static_cast<double>(mean) * factor;
    s.Add(static_cast<DurationNs>(x), false, 0);
  }
  return s;
}

ArmComparison Compare(ExperimentMetric metric, const ArmSample& c, const ArmSample& t,
                      uint64_t seed = 7, CompareOptions options = {}) {
  absl::StatusOr<ArmComparison> r = CompareArms(metric, c, t, options, seed);
  REQUIRE(r.ok());
  return *r;
}

// The distributions: the normal and t CDFs and quantiles and the incomplete beta function
// agree with published values (scipy.stats to 1e-9).
TEST_CASE("stats math known values") {
  CHECK_THAT(internal::NormalQuantile(0.975), WithinAbs(1.959963984540054, 1e-12));
  CHECK_THAT(internal::NormalCdf(-1.959963984540054), WithinAbs(0.025, 1e-12));
  CHECK_THAT(internal::RegularizedIncompleteBeta(2, 3, 0.5), WithinAbs(0.6875, 1e-12));
  CHECK_THAT(internal::StudentTCdf(2.0, 10), WithinAbs(0.9633059826146297, 1e-9));
  CHECK_THAT(internal::StudentTQuantile(0.975, 3), WithinAbs(3.182446305284263, 1e-9));
  CHECK_THAT(internal::StudentTCdf(1.5, 1e9), WithinAbs(internal::NormalCdf(1.5), 1e-12));
  CHECK(std::isinf(internal::NormalQuantile(1)));
  CHECK(std::isnan(internal::NormalQuantile(1.5)));
}

// Beta draws from a fixed seed have the distribution's mean (a/(a+b)) and repeat exactly.
TEST_CASE("RandomStream beta draws") {
  for (const auto& [a, b] : {std::pair{0.5, 0.5}, {2.0, 5.0}, {950.0, 51.0}}) {
    internal::RandomStream random(42);
    double sum = 0;
    for (int i = 0; i < 20000; ++i) sum += random.Beta(a, b);
    INFO("a=" << a << " b=" << b);
    CHECK_THAT(sum / 20000, WithinAbs(a / (a + b), 0.01));
  }
  internal::RandomStream x(9), y(9);
  for (int i = 0; i < 100; ++i) CHECK(x.Gamma(3.5) == y.Gamma(3.5));
}

// Error rate 10/100 vs 20/100: the pooled z test's p-value by hand is
// 2 * (1 - Phi(0.1 / sqrt(0.15 * 0.85 * 2 / 100))) = 0.0476704, so treatment is worse at 95%;
// arm intervals are Wilson's; 199 per arm is the textbook (Fleiss, no continuity correction)
// size for 10% vs 20% at alpha 0.05 and power 0.8.
TEST_CASE("CompareArms error_rate: two-proportion z test") {
  const ArmComparison c =
      Compare(ExperimentMetric::kErrorRate, Proportion(100, 10), Proportion(100, 20));
  CHECK(c.test == "two_proportion_z");
  CHECK(c.control.n == 100);
  CHECK_THAT(c.control.estimate, WithinAbs(0.10, 1e-12));
  CHECK_THAT(c.control.ci_low, WithinAbs(0.0552291370606751, 1e-9));
  CHECK_THAT(c.control.ci_high, WithinAbs(0.17436566150491345, 1e-9));
  CHECK_THAT(c.difference, WithinAbs(0.10, 1e-12));
  CHECK_THAT(c.relative_difference, WithinAbs(1.0, 1e-12));
  CHECK_THAT(c.p_value, WithinAbs(0.04767038065616141, 1e-9));
  CHECK(c.verdict == CompareVerdict::kControlBetter);
  REQUIRE(c.required_per_arm.has_value());
  CHECK(*c.required_per_arm == 199);
  CHECK(c.additional_control == 0u);  // already significant
  CHECK(c.additional_treatment == 0u);
}

// Equal error rates: p-value 1, no verdict, and no sample size detects a zero difference.
TEST_CASE("CompareArms error_rate: no difference") {
  const ArmComparison c =
      Compare(ExperimentMetric::kErrorRate, Proportion(200, 10), Proportion(100, 5));
  CHECK_THAT(c.p_value, WithinAbs(1.0, 1e-12));
  CHECK(c.verdict == CompareVerdict::kNoSignificantDifference);
  CHECK_FALSE(c.required_per_arm.has_value());
  CHECK_FALSE(c.additional_control.has_value());
  const ArmComparison none =
      Compare(ExperimentMetric::kErrorRate, Proportion(50, 0), Proportion(50, 0));
  CHECK(none.p_value == 1.0);
  CHECK(none.verdict == CompareVerdict::kNoSignificantDifference);
}

// Cost per request with Welch's t test on the two samples of Welch's (1947) textbook example:
// t = 2.455356, df = 24.9885, p = 0.021378 (scipy.stats.ttest_ind(equal_var=False)).
TEST_CASE("CompareArms cost: Welch t test") {
  const ArmSample a = Costs(
      {27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4});
  const ArmSample b = Costs(
      {27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4});
  const ArmComparison c = Compare(ExperimentMetric::kCost, a, b);
  CHECK(c.test == "welch_t");
  CHECK_THAT(c.difference, WithinAbs(2.166666666666668, 1e-9));
  CHECK_THAT(c.p_value, WithinAbs(0.021378001462866985, 1e-7));
  CHECK_THAT(c.difference_ci_low, WithinAbs(0.34923706619240935, 1e-6));
  CHECK_THAT(c.difference_ci_high, WithinAbs(3.9840962671409264, 1e-6));
  CHECK(c.verdict == CompareVerdict::kControlBetter);
  // (1.959964 + 0.841621)^2 (s1^2 + s2^2) / d^2 = 19.53, rounded up.
  CHECK(c.required_per_arm == 20u);
  CHECK(c.additional_treatment == 0u);
}

// Sample size for means: sd^2 = 10/9 per arm and a difference of 0.5 need
// (1.959964 + 0.841621)^2 * (20/9) / 0.25 = 69.77 -> 70 per arm; with 10 each, 60 more each.
TEST_CASE("CompareArms cost: requests still needed") {
  std::vector<double> control, treatment;
  for (int i = 0; i < 5; ++i) {
    control.insert(control.end(), {0.0, 2.0});
    treatment.insert(treatment.end(), {0.5, 2.5});
  }
  const ArmComparison c = Compare(ExperimentMetric::kCost, Costs(control), Costs(treatment));
  CHECK(c.verdict == CompareVerdict::kNoSignificantDifference);
  CHECK(c.required_per_arm == 70u);
  CHECK(c.additional_control == 60u);
  CHECK(c.additional_treatment == 60u);
}

// Constant costs per arm: the difference is exact, so any difference is significant.
TEST_CASE("CompareArms cost: constant arms") {
  const ArmComparison c = Compare(ExperimentMetric::kCost, Costs(std::vector<double>(20, 0.002)),
                                  Costs(std::vector<double>(20, 0.001)));
  CHECK_THAT(c.difference, WithinAbs(-0.001, 1e-12));
  CHECK(c.p_value == 0.0);
  CHECK(c.verdict == CompareVerdict::kTreatmentBetter);
}

// The bootstrap interval of each arm's p95 covers the true p95 of its exponential distribution
// (mean 100 ms: 299.6 ms) and is about as wide as the asymptotic one (+-1.96 * 9.7 ms).
TEST_CASE("CompareArms latency: bootstrap intervals cover the true quantile") {
  const double true_p95 = -0.1 * std::log(0.05);
  const ArmComparison c =
      Compare(ExperimentMetric::kLatencyP95, Exponential(2000, Milliseconds(100), 1),
              Exponential(2000, Milliseconds(100), 2));
  CHECK(c.test == "bootstrap");
  for (const ArmEstimate& arm : {c.control, c.treatment}) {
    CHECK(arm.n == 2000);
    CHECK(arm.ci_low < true_p95);
    CHECK(arm.ci_high > true_p95);
    CHECK(arm.ci_low <= arm.estimate);
    CHECK(arm.estimate <= arm.ci_high);
    CHECK(arm.ci_high - arm.ci_low > 0.025);
    CHECK(arm.ci_high - arm.ci_low < 0.060);
  }
  // Same distribution: the difference's interval covers 0 and there is no verdict.
  CHECK(c.difference_ci_low < 0);
  CHECK(c.difference_ci_high > 0);
  CHECK(c.p_value > 0.05);
  CHECK(c.verdict == CompareVerdict::kNoSignificantDifference);
  REQUIRE(c.required_per_arm.has_value());
  CHECK(*c.additional_control + 2000 == *c.required_per_arm);
}

// A treatment 30% slower at p50 is called worse, with a tiny p-value; one 30% faster is better.
TEST_CASE("CompareArms latency: a real difference") {
  const ArmSample control = Exponential(1000, Milliseconds(100), 3);
  const ArmComparison slower =
      Compare(ExperimentMetric::kLatencyP50, control, Exponential(1000, Milliseconds(100), 4, 1.3));
  CHECK(slower.verdict == CompareVerdict::kControlBetter);
  CHECK(slower.p_value < 0.01);
  CHECK(slower.difference_ci_low > 0);
  CHECK_THAT(slower.relative_difference, WithinAbs(0.3, 0.15));
  CHECK(slower.additional_treatment == 0u);
  const ArmComparison faster =
      Compare(ExperimentMetric::kLatencyP99, control, Exponential(1000, Milliseconds(100), 4, 0.7));
  CHECK(faster.verdict == CompareVerdict::kTreatmentBetter);
}

// Latency sample sizes count successful requests and scale up by the arm's success rate.
TEST_CASE("CompareArms latency: additional requests include failures") {
  ArmSample control = Exponential(100, Milliseconds(100), 5);
  ArmSample treatment = Exponential(100, Milliseconds(100), 6, 1.05);
  for (int i = 0; i < 100; ++i) treatment.Add(0, true, 0);  // half the treatment fails
  const ArmComparison c = Compare(ExperimentMetric::kLatencyP50, control, treatment);
  CHECK(c.treatment.requests == 200);
  CHECK(c.treatment.n == 100);
  REQUIRE(c.required_per_arm.has_value());
  REQUIRE(c.verdict == CompareVerdict::kNoSignificantDifference);
  CHECK(*c.additional_control == *c.required_per_arm - 100);
  CHECK(*c.additional_treatment == 2 * (*c.required_per_arm - 100));
}

// Fewer than min_samples observations in an arm: estimates where possible, no test, no size.
TEST_CASE("CompareArms insufficient data") {
  for (ExperimentMetric metric :
       {ExperimentMetric::kLatencyP95, ExperimentMetric::kErrorRate, ExperimentMetric::kCost}) {
    INFO(ExperimentMetricName(metric));
    const ArmComparison c = Compare(metric, Proportion(100, 3), Proportion(5, 0));
    CHECK(c.verdict == CompareVerdict::kInsufficientData);
    CHECK(std::isnan(c.p_value));
    CHECK(std::isnan(c.difference));
    CHECK_FALSE(c.required_per_arm.has_value());
    CHECK(std::isfinite(c.control.estimate));
    CHECK(c.treatment.requests == 5);
  }
  const ArmComparison empty = Compare(ExperimentMetric::kLatencyP50, ArmSample(), ArmSample());
  CHECK(empty.verdict == CompareVerdict::kInsufficientData);
  CHECK(std::isnan(empty.control.estimate));
}

// The same inputs and seed give the same result; another seed moves the bootstrap intervals.
TEST_CASE("CompareArms is deterministic for a seed") {
  const ArmSample c = Exponential(500, Milliseconds(200), 11);
  const ArmSample t = Exponential(500, Milliseconds(200), 12, 1.1);
  const ArmComparison a = Compare(ExperimentMetric::kLatencyP95, c, t, 99);
  const ArmComparison b = Compare(ExperimentMetric::kLatencyP95, c, t, 99);
  CHECK(a.control.ci_low == b.control.ci_low);
  CHECK(a.treatment.ci_high == b.treatment.ci_high);
  CHECK(a.difference_ci_low == b.difference_ci_low);
  CHECK(a.p_value == b.p_value);
  CHECK(a.required_per_arm == b.required_per_arm);
  const ArmComparison other = Compare(ExperimentMetric::kLatencyP95, c, t, 100);
  CHECK(other.difference_ci_low != a.difference_ci_low);
  CHECK(CompareSeed("default/r", "e") == CompareSeed("default/r", "e"));
  CHECK(CompareSeed("default/r", "e") != CompareSeed("default/r", "f"));
}

// Invalid options are refused with InvalidArgument naming the field; metric names round-trip.
TEST_CASE("CompareArms options and metric names") {
  CompareOptions bad;
  bad.confidence = 1.0;
  absl::StatusOr<ArmComparison> r =
      CompareArms(ExperimentMetric::kCost, ArmSample(), ArmSample(), bad, 1);
  REQUIRE(absl::IsInvalidArgument(r.status()));
  CHECK(std::string(r.status().message()).find("confidence") != std::string::npos);
  bad = {};
  bad.bootstrap_resamples = 1;
  CHECK(ValidateCompareOptions(bad).code() == absl::StatusCode::kInvalidArgument);
  for (std::string_view name :
       {"latency_p50", "latency_p95", "latency_p99", "error_rate", "cost"}) {
    REQUIRE(ParseExperimentMetric(name).has_value());
    CHECK(ExperimentMetricName(*ParseExperimentMetric(name)) == name);
  }
  CHECK_FALSE(ParseExperimentMetric("latency_p90").has_value());
}

// Two experiments on one route: "lat" (configured p99) and "err" (error_rate).
ConfigSet TwoExperiments() {
  ConfigSet config;
  Route& route = config.routes.emplace_back();
  route.meta.namespace_ = "default";
  route.meta.name = "chat";
  route.spec.experiments.push_back({"lat", "a", "b", 5000, "latency_p99"});
  route.spec.experiments.push_back({"err", "a", "b", 5000, "error_rate"});
  return config;
}

// Specs follow the config; comparisons pair each spec's control and treatment cells, treat an
// absent cell as empty, and seed each experiment with CompareSeed unless told otherwise.
TEST_CASE("CompareExperiments over ExperimentStats samples") {
  const std::vector<ExperimentMetricSpec> specs = ExperimentMetricSpecs(TwoExperiments());
  REQUIRE(specs.size() == 2);
  CHECK(specs[0].route == "default/chat");
  CHECK(specs[0].metric == ExperimentMetric::kLatencyP99);
  CHECK(specs[1].metric == ExperimentMetric::kErrorRate);
  ExperimentStats stats;
  for (int i = 0; i < 400; ++i) {
    stats.Record("default/chat", "lat", i % 2 ? Arm::kTreatment : Arm::kControl,
                 Milliseconds(100 + i % 50), false, Usage{}, Units(0.001));
    stats.Record("default/chat", "err", Arm::kControl, Milliseconds(100), i % 10 == 0, Usage{}, 0);
  }
  absl::StatusOr<std::vector<ExperimentComparison>> all =
      CompareExperiments(specs, stats.Samples(), CompareOptions{});
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  const ArmComparison& lat = (*all)[0].comparison;
  CHECK((*all)[0].experiment == "lat");
  CHECK(lat.control.n == 200);
  CHECK(lat.treatment.n == 200);
  const std::vector<ExperimentArmSample> samples = stats.Samples();  // err control, lat x2
  REQUIRE(samples.size() == 3);
  CHECK(samples[1].experiment == "lat");
  CHECK(samples[1].arm == Arm::kControl);
  const ArmComparison direct = Compare(ExperimentMetric::kLatencyP99, samples[1].sample,
                                       samples[2].sample, CompareSeed("default/chat", "lat"));
  CHECK(lat.difference_ci_low == direct.difference_ci_low);
  const ArmComparison& err = (*all)[1].comparison;
  CHECK(err.control.requests == 400);
  CHECK(err.treatment.requests == 0);  // no treatment cell
  CHECK(err.verdict == CompareVerdict::kInsufficientData);
  CompareOptions bad;
  bad.power = 0;
  CHECK(absl::IsInvalidArgument(CompareExperiments(specs, {}, bad).status()));
}

// /admin/experiments keeps its rows and adds one comparison per configured experiment, with
// latency in milliseconds and null for what is undefined.
TEST_CASE("RenderExperimentsJson") {
  ExperimentStats stats;
  for (int i = 0; i < 100; ++i) {
    stats.Record("default/chat", "lat", Arm::kControl, Milliseconds(100), false, Usage{}, 0);
    stats.Record("default/chat", "lat", Arm::kTreatment, Milliseconds(200), false, Usage{}, 0);
  }
  const std::string json = RenderExperimentsJson(stats, TwoExperiments());
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  CHECK(doc["experiments"].get_array().size() == 2);
  simdjson::dom::array comparisons = doc["comparisons"].get_array();
  REQUIRE(comparisons.size() == 2);
  simdjson::dom::element lat = comparisons.at(0);
  CHECK(std::string_view(lat["metric"]) == "latency_p99");
  CHECK(std::string_view(lat["unit"]) == "ms");
  CHECK(std::string_view(lat["test"]) == "bootstrap");
  CHECK(std::string_view(lat["verdict"]) == "control_better");
  CHECK_THAT(double(lat["control"]["estimate"]), WithinRel(100.0, 0.01));
  CHECK_THAT(double(lat["difference"]["estimate"]), WithinRel(100.0, 0.02));
  CHECK(uint64_t(lat["control"]["n"]) == 100);
  CHECK(uint64_t(lat["additional_requests"]["treatment"]) == 0);
  simdjson::dom::element err = comparisons.at(1);
  CHECK(std::string_view(err["verdict"]) == "insufficient_data");
  CHECK(err["p_value"].is_null());
  CHECK(err["required_per_arm"].is_null());
  CHECK(err["additional_requests"].is_null());
  CHECK(err["control"]["estimate"].is_null());
}

}  // namespace
}  // namespace inferencegw
