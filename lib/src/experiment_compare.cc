#include "inferencegw/experiment_compare.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "fmt/format.h"
#include "inferencegw/stable_hash.h"
#include "stats_math_internal.h"

namespace inferencegw {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Above this many observations per arm, required_per_arm is reported as unreachable.
constexpr double kMaxRequired = 1e15;

constexpr std::string_view kMetricNames[] = {"latency_p50", "latency_p95", "latency_p99",
                                             "error_rate", "cost"};

// What a test hands to Decide: the difference's test and the required observations per arm
// (NaN: none detects the difference).
struct TestResult {
  double difference = kNaN;
  double ci_low = kNaN;
  double ci_high = kNaN;
  double p_value = kNaN;
  double required = kNaN;
};

double Ratio(uint64_t a, uint64_t b) { return static_cast<double>(a) / static_cast<double>(b); }
double AsDouble(uint64_t n) { return static_cast<double>(n); }

// (z(1 - alpha/2), z(power)): the quantiles every interval and sample size uses.
struct Quantiles {
  double two_sided;  // z(1 - alpha/2)
  double power;      // z(power)
};
Quantiles QuantilesFor(const CompareOptions& options) {
  return {internal::NormalQuantile(1 - (1 - options.confidence) / 2),
          internal::NormalQuantile(options.power)};
}

// ---- error_rate: Wilson intervals per arm; pooled two-proportion z test.

ArmEstimate ProportionArm(const ArmSample& s, double z) {
  ArmEstimate a{s.requests, s.requests, kNaN, kNaN, kNaN};
  if (s.requests == 0) return a;
  const double n = AsDouble(s.requests);
  const double p = Ratio(s.errors, s.requests);
  const double z2n = z * z / n;
  const double center = (p + z2n / 2) / (1 + z2n);
  const double half = z * std::sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n);
  a.estimate = p;
  a.ci_low = std::max(0.0, center - half);
  a.ci_high = std::min(1.0, center + half);
  return a;
}

TestResult ProportionTest(const ArmSample& c, const ArmSample& t, const Quantiles& z) {
  TestResult r;
  const double nc = AsDouble(c.requests), nt = AsDouble(t.requests);
  const double pc = Ratio(c.errors, c.requests), pt = Ratio(t.errors, t.requests);
  r.difference = pt - pc;
  const double se = std::sqrt(pc * (1 - pc) / nc + pt * (1 - pt) / nt);
  r.ci_low = r.difference - z.two_sided * se;
  r.ci_high = r.difference + z.two_sided * se;
  const double pooled = Ratio(c.errors + t.errors, c.requests + t.requests);
  const double se0 = std::sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt));
  // se0 is 0 only when both arms are all errors or all successes: no difference.
  r.p_value = se0 == 0 ? 1.0 : 2 * internal::NormalCdf(-std::fabs(r.difference) / se0);
  if (r.difference != 0) {
    const double mean = (pc + pt) / 2;
    const double root = z.two_sided * std::sqrt(2 * mean * (1 - mean)) +
                        z.power * std::sqrt(pc * (1 - pc) + pt * (1 - pt));
    r.required = root * root / (r.difference * r.difference);
  }
  return r;
}

// ---- cost: t intervals per arm; Welch's t test.

double Variance(const ArmSample& s) {
  return s.requests < 2 ? kNaN : std::max(0.0, s.cost_m2) / AsDouble(s.requests - 1);
}

ArmEstimate MeanArm(const ArmSample& s, double confidence) {
  ArmEstimate a{s.requests, s.requests, kNaN, kNaN, kNaN};
  if (s.requests == 0) return a;
  a.estimate = s.cost_mean;
  if (s.requests < 2) return a;
  const double half =
      internal::StudentTQuantile(1 - (1 - confidence) / 2, AsDouble(s.requests - 1)) *
      std::sqrt(Variance(s) / AsDouble(s.requests));
  a.ci_low = s.cost_mean - half;
  a.ci_high = s.cost_mean + half;
  return a;
}

TestResult WelchTest(const ArmSample& c, const ArmSample& t, const CompareOptions& options,
                     const Quantiles& z) {
  TestResult r;
  const double vc = Variance(c) / AsDouble(c.requests), vt = Variance(t) / AsDouble(t.requests);
  r.difference = t.cost_mean - c.cost_mean;
  const double se = std::sqrt(vc + vt);
  if (se == 0) {  // both arms constant: the difference is exact
    r.ci_low = r.ci_high = r.difference;
    r.p_value = r.difference == 0 ? 1.0 : 0.0;
  } else {
    const double df = (vc + vt) * (vc + vt) /
                      (vc * vc / AsDouble(c.requests - 1) + vt * vt / AsDouble(t.requests - 1));
    const double half = internal::StudentTQuantile(1 - (1 - options.confidence) / 2, df) * se;
    r.ci_low = r.difference - half;
    r.ci_high = r.difference + half;
    r.p_value = 2 * internal::StudentTCdf(-std::fabs(r.difference) / se, df);
  }
  if (r.difference != 0) {
    const double zz = z.two_sided + z.power;
    r.required = zz * zz * (Variance(c) + Variance(t)) / (r.difference * r.difference);
  }
  return r;
}

// ---- latency percentiles: bootstrap replicates drawn from the sketch (see the header).

double QuantileOf(ExperimentMetric metric) {
  switch (metric) {
    case ExperimentMetric::kLatencyP50:
      return 0.50;
    case ExperimentMetric::kLatencyP95:
      return 0.95;
    default:
      return 0.99;
  }
}

// B replicates of the q-quantile of a resample of the sketch, in seconds; empty when the sketch
// is.
std::vector<double> Replicates(const LatencySketch& sketch, double q, int resamples,
                               internal::RandomStream* random) {
  std::vector<double> out;
  const uint64_t n = sketch.count();
  if (n == 0) return out;
  const uint64_t k = std::clamp<uint64_t>(static_cast<uint64_t>(std::ceil(q * AsDouble(n))), 1, n);
  out.reserve(static_cast<size_t>(resamples));
  for (int b = 0; b < resamples; ++b) {
    const double u = random->Beta(AsDouble(k), AsDouble(n - k + 1));
    out.push_back(ToSeconds(sketch.Quantile(u)));
  }
  return out;
}

// The p-quantile of sorted values, interpolating linearly between ranks.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return kNaN;
  const double pos = p * AsDouble(sorted.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  if (i + 1 >= sorted.size()) return sorted.back();
  return sorted[i] + (pos - AsDouble(i)) * (sorted[i + 1] - sorted[i]);
}

double SampleVariance(const std::vector<double>& v) {
  if (v.size() < 2) return kNaN;
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / AsDouble(v.size());
  double m2 = 0;
  for (double x : v) m2 += (x - mean) * (x - mean);
  return m2 / AsDouble(v.size() - 1);
}

ArmEstimate QuantileArm(const ArmSample& s, double q, std::vector<double> replicates,
                        double alpha) {
  ArmEstimate a{s.requests, s.latency.count(), kNaN, kNaN, kNaN};
  if (a.n == 0) return a;
  std::sort(replicates.begin(), replicates.end());
  a.estimate = ToSeconds(s.latency.Quantile(q));
  a.ci_low = Percentile(replicates, alpha / 2);
  a.ci_high = Percentile(replicates, 1 - alpha / 2);
  return a;
}

TestResult BootstrapTest(const ArmComparison& c, const std::vector<double>& rc,
                         const std::vector<double>& rt, double alpha, const Quantiles& z) {
  TestResult r;
  r.difference = c.treatment.estimate - c.control.estimate;
  std::vector<double> diffs(rc.size());
  uint64_t at_or_below = 0, at_or_above = 0;
  for (size_t b = 0; b < rc.size(); ++b) {
    diffs[b] = rt[b] - rc[b];
    if (diffs[b] <= 0) ++at_or_below;
    if (diffs[b] >= 0) ++at_or_above;
  }
  std::sort(diffs.begin(), diffs.end());
  r.ci_low = Percentile(diffs, alpha / 2);
  r.ci_high = Percentile(diffs, 1 - alpha / 2);
  r.p_value = std::min(
      1.0, 2 * AsDouble(std::min(at_or_below, at_or_above) + 1) / AsDouble(diffs.size() + 1));
  if (r.difference != 0) {
    const double zz = z.two_sided + z.power;
    const double spread =
        SampleVariance(rc) * AsDouble(c.control.n) + SampleVariance(rt) * AsDouble(c.treatment.n);
    r.required = zz * zz * spread / (r.difference * r.difference);
  }
  return r;
}

// Additional requests for one arm: observations short of `required`, scaled to requests.
uint64_t Additional(const ArmEstimate& arm, uint64_t required) {
  if (arm.n >= required) return 0;
  return static_cast<uint64_t>(std::ceil(AsDouble(required - arm.n) * Ratio(arm.requests, arm.n)));
}

// Fills the comparison's difference, verdict and sample sizes from a test's result.
void Decide(const TestResult& r, const CompareOptions& options, ArmComparison* c) {
  c->difference = r.difference;
  c->difference_ci_low = r.ci_low;
  c->difference_ci_high = r.ci_high;
  c->p_value = r.p_value;
  c->relative_difference = c->control.estimate != 0 && std::isfinite(c->control.estimate)
                               ? r.difference / c->control.estimate
                               : kNaN;
  const bool significant = r.p_value < 1 - options.confidence && r.difference != 0;
  c->verdict = !significant       ? CompareVerdict::kNoSignificantDifference
               : r.difference < 0 ? CompareVerdict::kTreatmentBetter
                                  : CompareVerdict::kControlBetter;
  if (!(r.required <= kMaxRequired)) return;  // NaN too
  const uint64_t required =
      std::max(options.min_samples, static_cast<uint64_t>(std::ceil(r.required)));
  c->required_per_arm = required;
  c->additional_control = significant ? 0 : Additional(c->control, required);
  c->additional_treatment = significant ? 0 : Additional(c->treatment, required);
}

const ArmSample& EmptySample() {
  static const ArmSample* const empty = new ArmSample();
  return *empty;
}

const ArmSample& FindSample(const std::vector<ExperimentArmSample>& samples, std::string_view route,
                            std::string_view experiment, Arm arm) {
  for (const ExperimentArmSample& s : samples) {
    if (s.arm == arm && s.route == route && s.experiment == experiment) return s.sample;
  }
  return EmptySample();
}

}  // namespace

std::string_view ExperimentMetricName(ExperimentMetric metric) {
  return kMetricNames[static_cast<size_t>(metric)];
}

std::optional<ExperimentMetric> ParseExperimentMetric(std::string_view name) {
  for (size_t i = 0; i < std::size(kMetricNames); ++i) {
    if (kMetricNames[i] == name) return static_cast<ExperimentMetric>(i);
  }
  return std::nullopt;
}

std::string_view CompareVerdictName(CompareVerdict verdict) {
  switch (verdict) {
    case CompareVerdict::kInsufficientData:
      return "insufficient_data";
    case CompareVerdict::kNoSignificantDifference:
      return "no_significant_difference";
    case CompareVerdict::kTreatmentBetter:
      return "treatment_better";
    case CompareVerdict::kControlBetter:
      return "control_better";
  }
  return "insufficient_data";
}

absl::Status ValidateCompareOptions(const CompareOptions& o) {
  if (!(o.confidence > 0 && o.confidence < 1)) {
    return absl::InvalidArgumentError(fmt::format("confidence {} is not in (0, 1)", o.confidence));
  }
  if (!(o.power > 0 && o.power < 1)) {
    return absl::InvalidArgumentError(fmt::format("power {} is not in (0, 1)", o.power));
  }
  if (o.bootstrap_resamples < 10 || o.bootstrap_resamples > 1'000'000) {
    return absl::InvalidArgumentError(
        fmt::format("bootstrap_resamples {} is not in [10, 1000000]", o.bootstrap_resamples));
  }
  if (o.min_samples < 2) {
    return absl::InvalidArgumentError(fmt::format("min_samples {} is below 2", o.min_samples));
  }
  return absl::OkStatus();
}

absl::StatusOr<ArmComparison> CompareArms(ExperimentMetric metric, const ArmSample& control,
                                          const ArmSample& treatment, const CompareOptions& options,
                                          uint64_t seed) {
  if (absl::Status s = ValidateCompareOptions(options); !s.ok()) return s;
  const Quantiles z = QuantilesFor(options);
  const double alpha = 1 - options.confidence;
  ArmComparison c;
  c.metric = metric;
  TestResult r;
  switch (metric) {
    case ExperimentMetric::kErrorRate:
      c.test = "two_proportion_z";
      c.control = ProportionArm(control, z.two_sided);
      c.treatment = ProportionArm(treatment, z.two_sided);
      if (control.requests >= options.min_samples && treatment.requests >= options.min_samples) {
        r = ProportionTest(control, treatment, z);
      }
      break;
    case ExperimentMetric::kCost:
      c.test = "welch_t";
      c.control = MeanArm(control, options.confidence);
      c.treatment = MeanArm(treatment, options.confidence);
      if (control.requests >= options.min_samples && treatment.requests >= options.min_samples) {
        r = WelchTest(control, treatment, options, z);
      }
      break;
    default: {
      c.test = "bootstrap";
      const double q = QuantileOf(metric);
      internal::RandomStream random(seed);
      std::vector<double> rc = Replicates(control.latency, q, options.bootstrap_resamples, &random);
      std::vector<double> rt =
          Replicates(treatment.latency, q, options.bootstrap_resamples, &random);
      c.control = QuantileArm(control, q, rc, alpha);
      c.treatment = QuantileArm(treatment, q, rt, alpha);
      if (c.control.n >= options.min_samples && c.treatment.n >= options.min_samples) {
        r = BootstrapTest(c, rc, rt, alpha, z);
      }
      break;
    }
  }
  if (std::isnan(r.p_value)) {
    c.difference = c.difference_ci_low = c.difference_ci_high = kNaN;
    c.relative_difference = c.p_value = kNaN;
    c.verdict = CompareVerdict::kInsufficientData;
    return c;
  }
  Decide(r, options, &c);
  return c;
}

uint64_t CompareSeed(std::string_view route, std::string_view experiment) {
  return Fmix64(StableHash64(route) ^ StableHash64(experiment));
}

std::vector<ExperimentMetricSpec> ExperimentMetricSpecs(const ConfigSet& config) {
  std::vector<ExperimentMetricSpec> out;
  for (const Route& route : config.routes) {
    for (const ExperimentConfig& e : route.spec.experiments) {
      out.push_back({route.meta.Key(), e.name,
                     ParseExperimentMetric(e.metric).value_or(ExperimentMetric::kLatencyP95)});
    }
  }
  return out;
}

absl::StatusOr<std::vector<ExperimentComparison>> CompareExperiments(
    const std::vector<ExperimentMetricSpec>& specs, const std::vector<ExperimentArmSample>& samples,
    const CompareOptions& options, std::optional<uint64_t> seed) {
  if (absl::Status s = ValidateCompareOptions(options); !s.ok()) return s;
  std::vector<ExperimentComparison> out;
  out.reserve(specs.size());
  for (const ExperimentMetricSpec& spec : specs) {
    absl::StatusOr<ArmComparison> c =
        CompareArms(spec.metric, FindSample(samples, spec.route, spec.experiment, Arm::kControl),
                    FindSample(samples, spec.route, spec.experiment, Arm::kTreatment), options,
                    seed.value_or(CompareSeed(spec.route, spec.experiment)));
    if (!c.ok()) return c.status();
    out.push_back({spec.route, spec.experiment, *std::move(c)});
  }
  return out;
}

}  // namespace inferencegw
