#include "inferencegw/experiment_stats.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <mutex>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "accounting_internal.h"
#include "experiment_stats_internal.h"
#include "inferencegw/string_hash.h"
#include "json_writer.h"

namespace inferencegw {

// ---------------------------------------------------------------------------------------------
// LatencySketch
//
// Buckets 0..127 hold the durations 0..127 ns exactly. Above, a duration d with highest set bit
// e (7 <= e <= 41) has the 6 bits below its top bit as a sub-bucket s, and lands in bucket
// 128 + (e - 7) * 64 + s, which covers [2^e + s * 2^(e-6), 2^e + (s + 1) * 2^(e-6)). The bucket
// width is at most 1/64 of any value in it, so its midpoint is within 1/128 of each of them.

LatencySketch::LatencySketch() { buckets_.fill(0); }

size_t LatencySketch::BucketIndex(DurationNs d) {
  if (d < 0) d = 0;
  if (d >= kMaxTracked) return kBuckets - 1;
  const uint64_t v = static_cast<uint64_t>(d);
  if (v < kLinear) return static_cast<size_t>(v);
  const int e = std::bit_width(v) - 1;  // >= kSubBucketBits
  const int shift = e - (kSubBucketBits - 1);
  const uint64_t sub = (v >> shift) - kHalf;  // 0..63
  return kLinear + static_cast<size_t>(e - kSubBucketBits) * kHalf + static_cast<size_t>(sub);
}

DurationNs LatencySketch::BucketLower(size_t i) {
  if (i < kLinear) return static_cast<DurationNs>(i);
  const size_t octave = (i - kLinear) / kHalf;
  const size_t sub = (i - kLinear) % kHalf;
  const int e = static_cast<int>(octave) + kSubBucketBits;
  const int shift = e - (kSubBucketBits - 1);
  return static_cast<DurationNs>((uint64_t{kHalf} + sub) << shift);
}

DurationNs LatencySketch::BucketWidth(size_t i) {
  if (i < kLinear) return 1;
  const int e = static_cast<int>((i - kLinear) / kHalf) + kSubBucketBits;
  return DurationNs{1} << (e - (kSubBucketBits - 1));
}

void LatencySketch::Add(DurationNs d) {
  if (d < 0) d = 0;
  ++buckets_[BucketIndex(d)];
  if (count_ == 0) {
    min_ = max_ = d;
  } else {
    min_ = std::min(min_, d);
    max_ = std::max(max_, d);
  }
  ++count_;
}

DurationNs LatencySketch::Quantile(double q) const {
  if (count_ == 0) return 0;
  if (!(q >= 0)) q = 0;  // also NaN
  if (q > 1) q = 1;
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const DurationNs width = BucketWidth(i);
      const DurationNs mid = BucketLower(i) + (width - 1) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

void LatencySketch::Merge(const LatencySketch& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
}

// ---------------------------------------------------------------------------------------------
// ArmSample

void ArmSample::Add(DurationNs d, bool error, PicoUnits cost) {
  ++requests;
  if (error) {
    ++errors;
  } else {
    latency.Add(d);
  }
  const double x = static_cast<double>(cost) / static_cast<double>(kPicosPerUnit);
  const double delta = x - cost_mean;
  cost_mean += delta / static_cast<double>(requests);
  cost_m2 += delta * (x - cost_mean);
}

// ---------------------------------------------------------------------------------------------
// ExperimentStats

namespace {

// A cell's key; `CellRef` looks one up without building strings.
struct CellKey {
  std::string route;
  std::string experiment;
  Arm arm;
};
struct CellRef {
  std::string_view route;
  std::string_view experiment;
  Arm arm;
};

struct CellHash {
  using is_transparent = void;
  size_t operator()(const CellRef& k) const {
    const size_t a = internal::StringHash{}(k.route);
    const size_t b = internal::StringHash{}(k.experiment);
    return a ^ (b * 0x9E3779B97F4A7C15ULL) ^ (static_cast<size_t>(k.arm) << 1);
  }
  size_t operator()(const CellKey& k) const {
    return (*this)(CellRef{k.route, k.experiment, k.arm});
  }
};
struct CellEq {
  using is_transparent = void;
  static CellRef Ref(const CellKey& k) { return {k.route, k.experiment, k.arm}; }
  static CellRef Ref(const CellRef& k) { return k; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    const CellRef x = Ref(a);
    const CellRef y = Ref(b);
    return x.arm == y.arm && x.route == y.route && x.experiment == y.experiment;
  }
};

struct Cell {
  ArmSample sample;  // requests, errors, latency, cost moments
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  PicoUnits cost = 0;
};

// The key order of Report() and Samples().
template <typename T>
void SortByKey(std::vector<T>* rows) {
  std::sort(rows->begin(), rows->end(), [](const T& a, const T& b) {
    return std::tie(a.route, a.experiment, a.arm) < std::tie(b.route, b.experiment, b.arm);
  });
}

}  // namespace

struct ExperimentStats::Impl {
  mutable std::mutex mu;
  // unique_ptr: a Cell is large (its sketch), and rehashing should not move it.
  absl::flat_hash_map<CellKey, std::unique_ptr<Cell>, CellHash, CellEq> cells;
};

ExperimentStats::ExperimentStats() : impl_(std::make_unique<Impl>()) {}
ExperimentStats::~ExperimentStats() = default;

void ExperimentStats::Record(std::string_view route, std::string_view experiment, Arm arm,
                             DurationNs latency, bool error, const Usage& usage, PicoUnits cost) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->cells.find(CellRef{route, experiment, arm});
  if (it == impl_->cells.end()) {
    it = impl_->cells
             .emplace(CellKey{std::string(route), std::string(experiment), arm},
                      std::make_unique<Cell>())
             .first;
  }
  Cell& cell = *it->second;
  cell.sample.Add(latency, error, cost);
  if (usage.present) {
    cell.input_tokens = internal::SaturatingAdd(cell.input_tokens, usage.input_tokens);
    cell.output_tokens = internal::SaturatingAdd(cell.output_tokens, usage.output_tokens);
  }
  cell.cost = internal::SaturatingAdd(cell.cost, cost);
}

std::vector<ExperimentStatsRow> ExperimentStats::Report() const {
  std::vector<ExperimentStatsRow> rows;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    rows.reserve(impl_->cells.size());
    for (const auto& [key, cell] : impl_->cells) {
      ExperimentStatsRow& row = rows.emplace_back();
      row.route = key.route;
      row.experiment = key.experiment;
      row.arm = key.arm;
      const ArmSample& sample = cell->sample;
      row.requests = sample.requests;
      row.errors = sample.errors;
      row.error_rate = sample.requests == 0 ? 0.0
                                            : static_cast<double>(sample.errors) /
                                                  static_cast<double>(sample.requests);
      row.latency_p50 = sample.latency.Quantile(0.50);
      row.latency_p95 = sample.latency.Quantile(0.95);
      row.latency_p99 = sample.latency.Quantile(0.99);
      row.input_tokens = cell->input_tokens;
      row.output_tokens = cell->output_tokens;
      row.cost = cell->cost;
    }
  }
  SortByKey(&rows);
  return rows;
}

std::vector<ExperimentArmSample> ExperimentStats::Samples() const {
  std::vector<ExperimentArmSample> out;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    out.reserve(impl_->cells.size());
    for (const auto& [key, cell] : impl_->cells) {
      out.push_back({key.route, key.experiment, key.arm, cell->sample});
    }
  }
  SortByKey(&out);
  return out;
}

namespace {

double Millis(DurationNs d) { return static_cast<double>(d) / kNanosPerMilli; }

}  // namespace

void internal::WriteExperimentRows(const std::vector<ExperimentStatsRow>& rows, JsonWriter* out) {
  JsonWriter& w = *out;
  w.Key("experiments").BeginArray();
  for (const ExperimentStatsRow& row : rows) {
    w.BeginObject();
    w.Key("route").String(row.route);
    w.Key("experiment").String(row.experiment);
    w.Key("arm").String(ArmName(row.arm));
    w.Key("requests").UInt(row.requests);
    w.Key("errors").UInt(row.errors);
    w.Key("error_rate").Double(row.error_rate);
    w.Key("latency_ms").BeginObject();
    w.Key("p50").Double(Millis(row.latency_p50));
    w.Key("p95").Double(Millis(row.latency_p95));
    w.Key("p99").Double(Millis(row.latency_p99));
    w.EndObject();
    w.Key("input_tokens").Int(row.input_tokens);
    w.Key("output_tokens").Int(row.output_tokens);
    w.Key("cost").String(FormatCost(row.cost, 9));
    w.Key("cost_value").Raw(internal::CostJsonNumber(row.cost));
    w.EndObject();
  }
  w.EndArray();
}

std::string ExperimentStats::RenderJson() const {
  std::string out;
  internal::JsonWriter w(&out);
  w.BeginObject();
  internal::WriteExperimentRows(Report(), &w);
  w.EndObject();
  return out;
}

void ExperimentStats::Reset() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->cells.clear();
}

}  // namespace inferencegw
