// Tests for WeightedSplit (weighted_split.h).
#include "inferencegw/weighted_split.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <vector>

#include "inferencegw/stable_hash.h"

namespace inferencegw {
namespace {

// The k-th value of a fixed-seed SplitMix64 stream.
uint64_t Stream(uint64_t seed, uint64_t k) { return SplitMix64(seed + k * kGoldenGamma); }

}  // namespace

// Weights {70, 20, 10} hold within 1% (relative) over 1M picks of a fixed-seed stream.
TEST_CASE("Pick is proportional to the weights", "[weighted_split]") {
  const WeightedSplit split = WeightedSplit::Create({70, 20, 10});
  REQUIRE(split.size() == 3);
  REQUIRE(split.total_weight() == 100);
  constexpr int kPicks = 1'000'000;
  std::vector<int> counts(3, 0);
  for (int k = 0; k < kPicks; ++k) {
    const size_t i = split.Pick(Stream(42, k));
    REQUIRE(i < 3);
    ++counts[i];
  }
  CHECK(counts[0] == Approx(700'000).epsilon(0.01));
  CHECK(counts[1] == Approx(200'000).epsilon(0.01));
  CHECK(counts[2] == Approx(100'000).epsilon(0.01));
}

// The mapping is exact: item i owns the values r with cumulative[i-1] <= r*total/2^64 <
// cumulative[i].
TEST_CASE("Pick boundaries are exact", "[weighted_split]") {
  const WeightedSplit split = WeightedSplit::Create({1, 2});
  // MulHigh64(r, 3) >= 1 first at r = ceil(2^64 / 3) = 0x5555555555555556.
  CHECK(split.Pick(0) == 0);
  CHECK(split.Pick(0x5555555555555555ULL) == 0);
  CHECK(split.Pick(0x5555555555555556ULL) == 1);
  CHECK(split.Pick(~0ULL) == 1);
  const WeightedSplit halves = WeightedSplit::Create({1, 1});
  CHECK(halves.Pick(0x7fffffffffffffffULL) == 0);
  CHECK(halves.Pick(0x8000000000000000ULL) == 1);
}

// Items with weight 0 are never picked, wherever they sit.
TEST_CASE("Zero weights are never picked", "[weighted_split]") {
  const WeightedSplit split = WeightedSplit::Create({0, 50, 0, 50, 0});
  std::vector<int> counts(5, 0);
  for (int k = 0; k < 200'000; ++k) ++counts[split.Pick(Stream(7, k))];
  CHECK(counts[0] == 0);
  CHECK(counts[2] == 0);
  CHECK(counts[4] == 0);
  CHECK(counts[1] == Approx(100'000).epsilon(0.02));
  CHECK(counts[3] == Approx(100'000).epsilon(0.02));
  CHECK(split.Pick(0) == 1);
  CHECK(split.Pick(~0ULL) == 3);
}

// All-zero and empty splits pick nothing.
TEST_CASE("All-zero and empty splits return kNone", "[weighted_split]") {
  CHECK(WeightedSplit::Create({0, 0, 0}).Pick(12345) == WeightedSplit::kNone);
  CHECK(WeightedSplit().Pick(12345) == WeightedSplit::kNone);
  CHECK(WeightedSplit::Create(std::vector<uint32_t>{}).Pick(0) == WeightedSplit::kNone);
  CHECK(WeightedSplit::Create({0, 0}).PickIf(1, [](size_t) { return true; }) ==
        WeightedSplit::kNone);
}

// PickIf picks among the allowed items in proportion to their weights.
TEST_CASE("PickIf is proportional among allowed items", "[weighted_split]") {
  const WeightedSplit split = WeightedSplit::Create({70, 20, 10});
  constexpr int kPicks = 300'000;
  std::vector<int> counts(3, 0);
  for (int k = 0; k < kPicks; ++k) {
    ++counts[split.PickIf(Stream(99, k), [](size_t i) { return i != 0; })];
  }
  CHECK(counts[0] == 0);
  CHECK(counts[1] == Approx(200'000).epsilon(0.01));  // 20 of the allowed 30
  CHECK(counts[2] == Approx(100'000).epsilon(0.01));
  CHECK(split.PickIf(5, [](size_t) { return false; }) == WeightedSplit::kNone);
  CHECK(WeightedSplit::Create({10, 0}).PickIf(5, [](size_t i) { return i == 1; }) ==
        WeightedSplit::kNone);
}

// Pick and PickIf with every item allowed agree, for small (linear) and large (binary) splits.
TEST_CASE("Pick agrees with PickIf over all items", "[weighted_split]") {
  for (const std::vector<uint32_t>& weights :
       {std::vector<uint32_t>{3, 1, 4},
        std::vector<uint32_t>{5, 0, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9}}) {
    const WeightedSplit split = WeightedSplit::Create(weights);
    for (int k = 0; k < 50'000; ++k) {
      const uint64_t r = Stream(3, k);
      REQUIRE(split.Pick(r) == split.PickIf(r, [](size_t) { return true; }));
    }
  }
}

// A 12-item split (binary-search path) is proportional too.
TEST_CASE("Large splits stay proportional", "[weighted_split]") {
  std::vector<uint32_t> weights;
  for (uint32_t i = 1; i <= 12; ++i) weights.push_back(i);  // total 78
  const WeightedSplit split = WeightedSplit::Create(weights);
  CHECK(split.weight(11) == 12);
  std::vector<int> counts(12, 0);
  constexpr int kPicks = 780'000;
  for (int k = 0; k < kPicks; ++k) ++counts[split.Pick(Stream(11, k))];
  for (size_t i = 0; i < 12; ++i) {
    CHECK(counts[i] == Approx(10'000.0 * (i + 1)).epsilon(0.05));
  }
}

}  // namespace inferencegw
