// A/B experiment statistics: per (route, experiment, arm) request and error counts, latency
// quantiles, tokens and cost, for /admin/experiments and the offline simulator.
//
//   ExperimentStats stats;
//   stats.Record("default/chat", "claude-test", Arm::kTreatment, latency, error, usage, cost);
//   for (const ExperimentStatsRow& row : stats.Report()) Show(row.arm, row.latency_p95);
#ifndef INFERENCEGW_EXPERIMENT_STATS_H_
#define INFERENCEGW_EXPERIMENT_STATS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/clock.h"
#include "inferencegw/cost_ledger.h"
#include "inferencegw/experiment.h"
#include "inferencegw/usage_parser.h"

namespace inferencegw {

// Not thread-safe. A fixed-size log-linear histogram of durations (HDR-histogram style): exact
// below 128 ns, then 64 linear sub-buckets per power of two up to 2^42 ns (about 73 minutes);
// longer durations count in the last bucket. A quantile is reported as the midpoint of its
// bucket (clamped to the smallest and largest value seen), so it is within 1/128 (< 1%) of the
// exact nearest-rank quantile for durations up to 2^42 ns. Memory is fixed (about 19 KB).
class LatencySketch {
 public:
  static constexpr DurationNs kMaxTracked = DurationNs{1} << 42;

  LatencySketch();

  // Counts one duration; negative durations count as 0.
  void Add(DurationNs d);
  // The nearest-rank quantile: the value at rank ceil(q * count()) (at least 1) in sorted order,
  // approximated as above. q is clamped to [0, 1]. Returns 0 when the sketch is empty.
  DurationNs Quantile(double q) const;
  // Adds every duration counted by `other` to this sketch.
  void Merge(const LatencySketch& other);

  uint64_t count() const { return count_; }
  DurationNs min() const { return count_ == 0 ? 0 : min_; }
  DurationNs max() const { return count_ == 0 ? 0 : max_; }

  // Bucket geometry, exposed for tests: the index of a duration and a bucket's [lower, upper).
  static size_t BucketIndexForTest(DurationNs d) { return BucketIndex(d); }
  static DurationNs BucketLowerForTest(size_t i) { return BucketLower(i); }

 private:
  static constexpr int kSubBucketBits = 7;                        // exact below 2^7
  static constexpr size_t kLinear = size_t{1} << kSubBucketBits;  // 128 exact buckets
  static constexpr size_t kHalf = kLinear / 2;                    // 64 sub-buckets per octave
  static constexpr int kMaxExponent = 41;                         // highest octave: [2^41, 2^42)
  static constexpr size_t kBuckets = kLinear + (kMaxExponent - kSubBucketBits + 1) * kHalf;

  static size_t BucketIndex(DurationNs d);
  static DurationNs BucketLower(size_t i);
  static DurationNs BucketWidth(size_t i);

  std::array<uint64_t, kBuckets> buckets_;
  uint64_t count_ = 0;
  DurationNs min_ = 0;
  DurationNs max_ = 0;
};

// One (route, experiment, arm) cell of an experiment report.
struct ExperimentStatsRow {
  std::string route;       // "namespace/name"
  std::string experiment;  // the experiment's name
  Arm arm = Arm::kNone;
  uint64_t requests = 0;
  uint64_t errors = 0;
  double error_rate = 0;  // errors / requests; 0 when there were no requests
  // Latency quantiles over the successful requests (errors are excluded, so that fast failures
  // do not make an arm look quick); 0 when there were none.
  DurationNs latency_p50 = 0;
  DurationNs latency_p95 = 0;
  DurationNs latency_p99 = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  PicoUnits cost = 0;  // in the arm's backends' currency; saturates instead of wrapping
};

// What a comparison of arms needs from one cell (see experiment_compare.h): the counts, the
// latency sketch of the successful requests, and the mean and spread of the cost per request.
struct ArmSample {
  uint64_t requests = 0;
  uint64_t errors = 0;
  LatencySketch latency;  // successful requests only, as in ExperimentStatsRow
  // Cost per request (every request, errors included) in currency units: the running mean and
  // the sum of squared deviations from it (Welford), so the variance is cost_m2 / (requests - 1)
  // without the cancellation of a sum of squares.
  double cost_mean = 0;
  double cost_m2 = 0;

  // Counts one request, as ExperimentStats::Record does.
  void Add(DurationNs latency, bool error, PicoUnits cost);
};

// One cell's ArmSample with its key.
struct ExperimentArmSample {
  std::string route;
  std::string experiment;
  Arm arm = Arm::kNone;
  ArmSample sample;
};

// Thread-safe. Memory grows with the number of distinct (route, experiment, arm) recorded,
// which the config bounds; each holds one LatencySketch.
class ExperimentStats {
 public:
  ExperimentStats();
  ~ExperimentStats();
  ExperimentStats(const ExperimentStats&) = delete;
  ExperimentStats& operator=(const ExperimentStats&) = delete;

  // Counts one finished request of `arm`. `latency` enters the quantiles only when !error.
  // Usage that is not present adds no tokens.
  void Record(std::string_view route, std::string_view experiment, Arm arm, DurationNs latency,
              bool error, const Usage& usage, PicoUnits cost);

  // Every cell recorded so far, sorted by route, then experiment, then arm (none, control,
  // treatment).
  std::vector<ExperimentStatsRow> Report() const;

  // A copy of every cell's sample (about 19 KB each), in Report()'s order. For comparisons at
  // report time; the lock is held while copying.
  std::vector<ExperimentArmSample> Samples() const;

  // Report() as a JSON document (/admin/experiments):
  // {"experiments":[{"route":..,"experiment":..,"arm":"control","requests":..,"errors":..,
  //   "error_rate":..,"latency_ms":{"p50":..,"p95":..,"p99":..},"input_tokens":..,
  //   "output_tokens":..,"cost":"0.000123000","cost_value":0.000123}]}
  std::string RenderJson() const;

  // Drops every cell (tests, and the simulator between runs).
  void Reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_EXPERIMENT_STATS_H_
