#include "inferencegw/experiment_stats.h"

#include <simdjson.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <string>
#include <thread>
#include <vector>

namespace inferencegw {
namespace {

// A fixed-seed 64-bit LCG: the same numbers on every platform.
class Lcg {
 public:
  explicit Lcg(uint64_t seed) : x_(seed) {}
  uint64_t Next() {
    x_ = x_ * 6364136223846793005ULL + 1442695040888963407ULL;
    return x_;
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  uint64_t x_;
};

// The exact nearest-rank quantile of `values`: the value at rank ceil(q * n), at least 1.
DurationNs ExactQuantile(std::vector<DurationNs> values, double q) {
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

// Checks every listed quantile of the sketch of `values` against the exact one, within 1%.
void CheckQuantiles(const std::vector<DurationNs>& values) {
  LatencySketch sketch;
  for (DurationNs v : values) sketch.Add(v);
  REQUIRE(sketch.count() == values.size());
  for (double q : {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    const DurationNs exact = ExactQuantile(values, q);
    const DurationNs estimate = sketch.Quantile(q);
    INFO("q=" << q << " exact=" << exact << " estimate=" << estimate);
    CHECK(std::abs(static_cast<double>(estimate - exact)) <= 0.01 * static_cast<double>(exact));
  }
}

// Quantiles are within 1% of the exact ones for log-uniform latencies from 10 us to 1 hour.
TEST_CASE("LatencySketch quantiles: log-uniform 10us..1h") {
  Lcg rng(1);
  std::vector<DurationNs> values;
  const double lo = std::log(10e3);
  const double hi = std::log(3600e9);
  for (int i = 0; i < 100'000; ++i) {
    values.push_back(static_cast<DurationNs>(std::exp(lo + (hi - lo) * rng.Uniform())));
  }
  CheckQuantiles(values);
}

// Quantiles are within 1% for a log-normal around 800 ms (a typical LLM call) with a heavy tail.
TEST_CASE("LatencySketch quantiles: log-normal LLM latencies") {
  Lcg rng(7);
  std::vector<DurationNs> values;
  for (int i = 0; i < 50'000; ++i) {
    // Box-Muller.
    const double u1 = std::max(rng.Uniform(), 1e-12);
    const double u2 = rng.Uniform();
    const double z = std::sqrt(-2 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
    values.push_back(static_cast<DurationNs>(800e6 * std::exp(0.9 * z)));
  }
  CheckQuantiles(values);
}

// Quantiles are within 1% for uniform latencies, for a constant, and exact below 128 ns.
TEST_CASE("LatencySketch quantiles: uniform, constant, tiny") {
  Lcg rng(3);
  std::vector<DurationNs> uniform;
  for (int i = 0; i < 20'000; ++i) {
    uniform.push_back(Milliseconds(5) + static_cast<DurationNs>(rng.Next() % Seconds(30)));
  }
  CheckQuantiles(uniform);
  CheckQuantiles(std::vector<DurationNs>(1000, Milliseconds(1234)));
  std::vector<DurationNs> tiny;
  for (DurationNs v = 0; v < 128; ++v) tiny.push_back(v);
  LatencySketch sketch;
  for (DurationNs v : tiny) sketch.Add(v);
  CHECK(sketch.Quantile(0.5) == ExactQuantile(tiny, 0.5));
  CHECK(sketch.Quantile(1.0) == 127);
}

// Empty sketches answer 0; negative durations count as 0; durations past 2^42 ns count in the
// last bucket and the maximum stays exact; q outside [0, 1] is clamped.
TEST_CASE("LatencySketch edge cases") {
  LatencySketch sketch;
  CHECK(sketch.Quantile(0.5) == 0);
  CHECK(sketch.count() == 0);
  sketch.Add(-5);
  CHECK(sketch.Quantile(0.5) == 0);
  sketch.Add(Seconds(10'000));
  CHECK(sketch.max() == Seconds(10'000));
  CHECK(sketch.Quantile(1.0) >= LatencySketch::kMaxTracked - (LatencySketch::kMaxTracked >> 6));
  CHECK(sketch.Quantile(2.0) == sketch.Quantile(1.0));
  CHECK(sketch.Quantile(-1.0) == 0);
  CHECK(sketch.Quantile(std::nan("")) == 0);
}

// Bucket indexes grow with durations, each bucket starts where its lower bound says, and a
// bucket's width is at most 1/64 of its lower bound above the exact range.
TEST_CASE("LatencySketch bucket geometry") {
  size_t last = 0;
  for (DurationNs d = 0; d < LatencySketch::kMaxTracked; d = d < 1000 ? d + 1 : d + d / 997) {
    const size_t i = LatencySketch::BucketIndexForTest(d);
    REQUIRE(i >= last);
    REQUIRE(LatencySketch::BucketLowerForTest(i) <= d);
    REQUIRE(LatencySketch::BucketIndexForTest(LatencySketch::BucketLowerForTest(i)) == i);
    if (d >= 128) {
      const DurationNs next = LatencySketch::BucketLowerForTest(i + 1);
      REQUIRE(next > d);
      REQUIRE((next - LatencySketch::BucketLowerForTest(i)) * 64 <=
              LatencySketch::BucketLowerForTest(i));
    }
    last = i;
  }
}

// Merging two sketches gives the same quantiles as one sketch of all the durations.
TEST_CASE("LatencySketch Merge") {
  Lcg rng(11);
  LatencySketch a;
  LatencySketch b;
  LatencySketch all;
  for (int i = 0; i < 10'000; ++i) {
    const DurationNs v = static_cast<DurationNs>(rng.Next() % Seconds(60));
    (i % 3 ? a : b).Add(v);
    all.Add(v);
  }
  a.Merge(b);
  CHECK(a.count() == all.count());
  CHECK(a.min() == all.min());
  CHECK(a.max() == all.max());
  for (double q : {0.1, 0.5, 0.95, 0.99}) CHECK(a.Quantile(q) == all.Quantile(q));
  LatencySketch empty;
  empty.Merge(all);
  CHECK(empty.Quantile(0.5) == all.Quantile(0.5));
}

Usage MakeUsage(int64_t in, int64_t out) {
  Usage u;
  u.input_tokens = in;
  u.output_tokens = out;
  u.present = true;
  return u;
}

// Rows are per (route, experiment, arm), sorted, with error rates, quantiles over successful
// requests only, tokens from present usage and summed costs.
TEST_CASE("ExperimentStats reports rows") {
  ExperimentStats stats;
  for (int i = 1; i <= 100; ++i) {
    stats.Record("default/chat", "claude-test", Arm::kTreatment, Milliseconds(10 * i), false,
                 MakeUsage(100, 20), 1000);
  }
  stats.Record("default/chat", "claude-test", Arm::kTreatment, Seconds(600), true, Usage{}, 0);
  for (int i = 0; i < 3; ++i) {
    stats.Record("default/chat", "claude-test", Arm::kControl, Milliseconds(500), i == 0,
                 MakeUsage(50, 5), 300);
  }
  stats.Record("a/route", "z-exp", Arm::kControl, Milliseconds(1), false, Usage{}, 0);

  const std::vector<ExperimentStatsRow> rows = stats.Report();
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].route == "a/route");
  CHECK(rows[1].arm == Arm::kControl);
  CHECK(rows[2].arm == Arm::kTreatment);

  const ExperimentStatsRow& control = rows[1];
  CHECK(control.requests == 3);
  CHECK(control.errors == 1);
  CHECK(control.error_rate == Approx(1.0 / 3));
  CHECK(control.latency_p50 == Milliseconds(500));
  CHECK(control.input_tokens == 150);
  CHECK(control.cost == 900);

  const ExperimentStatsRow& treatment = rows[2];
  CHECK(treatment.requests == 101);
  CHECK(treatment.errors == 1);
  CHECK(treatment.input_tokens == 10'000);
  CHECK(treatment.output_tokens == 2'000);
  CHECK(treatment.cost == 100'000);
  // The 600 s error is not part of the latency quantiles: p99 is the 99th of 10..1000 ms.
  CHECK(std::abs(treatment.latency_p50 - Milliseconds(500)) <= Milliseconds(5));
  CHECK(std::abs(treatment.latency_p95 - Milliseconds(950)) <= Milliseconds(10));
  CHECK(std::abs(treatment.latency_p99 - Milliseconds(990)) <= Milliseconds(10));

  const ExperimentStatsRow& other = rows[0];
  CHECK(other.input_tokens == 0);
  CHECK(other.error_rate == 0);

  stats.Reset();
  CHECK(stats.Report().empty());
}

// Two threads recording into the same cells lose no request.
TEST_CASE("ExperimentStats Record is exact under concurrency") {
  ExperimentStats stats;
  auto work = [&](Arm arm) {
    for (int i = 0; i < 10'000; ++i) {
      stats.Record("r", "e", i % 2 ? arm : Arm::kControl, Milliseconds(i % 100), i % 10 == 0,
                   MakeUsage(1, 1), 1);
    }
  };
  std::thread a(work, Arm::kTreatment);
  std::thread b(work, Arm::kTreatment);
  a.join();
  b.join();
  uint64_t requests = 0;
  uint64_t errors = 0;
  for (const ExperimentStatsRow& row : stats.Report()) {
    requests += row.requests;
    errors += row.errors;
  }
  CHECK(requests == 20'000);
  CHECK(errors == 2'000);
}

// RenderJson carries each row with the arm's name, latencies in milliseconds and the cost as a
// decimal string and a number.
TEST_CASE("ExperimentStats RenderJson") {
  ExperimentStats stats;
  stats.Record("default/chat", "exp", Arm::kControl, Milliseconds(250), false, MakeUsage(10, 2),
               60'000'000'000);
  const std::string json = stats.RenderJson();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  simdjson::dom::object row = doc["experiments"].at(0).get_object().value();
  CHECK(std::string_view(row["route"].get_string().value()) == "default/chat");
  CHECK(std::string_view(row["experiment"].get_string().value()) == "exp");
  CHECK(std::string_view(row["arm"].get_string().value()) == "control");
  CHECK(row["requests"].get_uint64().value() == 1);
  CHECK(row["errors"].get_uint64().value() == 0);
  CHECK(row["latency_ms"]["p50"].get_double().value() == Approx(250).epsilon(0.01));
  CHECK(row["input_tokens"].get_int64().value() == 10);
  CHECK(std::string_view(row["cost"].get_string().value()) == "0.060000000");
  CHECK(row["cost_value"].get_double().value() == 0.06);
  CHECK(ExperimentStats().RenderJson() == R"({"experiments":[]})");
}

}  // namespace
}  // namespace inferencegw
