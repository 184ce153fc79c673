// Tests for the stable hash and sticky A/B assignment (experiment.h, stable_hash.h).
#include "inferencegw/experiment.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/stable_hash.h"

namespace inferencegw {
namespace {

// A deliberately plain re-implementation of the documented algorithm, independent of the
// library's constexpr code: FNV-1a-64 then MurmurHash3's fmix64.
uint64_t ReferenceFnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ULL;  // 0xcbf29ce484222325
  for (unsigned char c : s) {
    h = h ^ c;
    h = h * 1099511628211ULL;  // 0x100000001b3
  }
  return h;
}

uint64_t ReferenceFmix64(uint64_t k) {
  k = k ^ (k >> 33);
  k = k * 0xff51afd7ed558ccdULL;
  k = k ^ (k >> 33);
  k = k * 0xc4ceb9fe1a85ec53ULL;
  k = k ^ (k >> 33);
  return k;
}

uint32_t ReferenceBucket(std::string_view experiment, std::string_view user) {
  const uint64_t mixed = ReferenceFmix64(ReferenceFmix64(ReferenceFnv1a64(experiment)) ^
                                         ReferenceFmix64(ReferenceFnv1a64(user)));
  __extension__ typedef unsigned __int128 Uint128;
  return static_cast<uint32_t>((static_cast<Uint128>(mixed) * 10000) >> 64);
}

std::vector<std::string> Users(int n) {
  std::vector<std::string> users;
  users.reserve(n);
  for (int i = 0; i < n; ++i) users.push_back("user-" + std::to_string(i));
  return users;
}

int CountTreatment(const ExperimentSplit& split, const std::vector<std::string>& users) {
  int n = 0;
  for (const std::string& u : users) n += AssignArm(split, UserHash(u)) == Arm::kTreatment;
  return n;
}

}  // namespace

// StableHash64 equals the documented algorithm (checked against an independent implementation
// and the published FNV-1a test vector), and three pinned values catch any change to it.
TEST_CASE("StableHash64 matches the documented algorithm and pinned values", "[experiment]") {
  REQUIRE(ReferenceFnv1a64("a") == 0xaf63dc4c8601ec8cULL);  // published FNV-1a-64 vector
  for (std::string_view s : {"", "a", "alice", "claude-3-5-test", "user-12345", "default/r"}) {
    CHECK(StableHash64(s) == ReferenceFmix64(ReferenceFnv1a64(s)));
  }
  CHECK(StableHash64("") == 0xefd01f60ba992926ULL);
  CHECK(StableHash64("alice") == 0x3507d047a67c08f4ULL);
  CHECK(StableHash64("claude-3-5-test") == 0xca7b22b8d1d33b21ULL);
  static_assert(StableHash64("alice") == 0x3507d047a67c08f4ULL, "usable at compile time");
  CHECK(UserHash("alice") == StableHash64("alice"));
}

// ExperimentBucket is the documented bucket formula, with pinned values for two users.
TEST_CASE("ExperimentBucket follows the documented formula", "[experiment]") {
  const ExperimentSplit split = ExperimentSplit::Create("claude-3-5-test", 1000);
  CHECK(split.salt == StableHash64("claude-3-5-test"));
  for (const std::string& u : Users(1000)) {
    REQUIRE(ExperimentBucket(split, UserHash(u)) == ReferenceBucket("claude-3-5-test", u));
  }
  CHECK(ExperimentBucket(split, UserHash("alice")) == 5694);
  CHECK(ExperimentBucket(split, UserHash("user-0")) == 1890);
}

// A 10% experiment puts 10% +- 1% of 100k users in treatment, and reassigning never flips one.
TEST_CASE("A 10% experiment assigns about 10% of users, stickily", "[experiment]") {
  const std::vector<std::string> users = Users(100'000);
  const ExperimentSplit split = ExperimentSplit::Create("claude-3-5-test", 1000);
  const int treated = CountTreatment(split, users);
  CHECK(treated > 9'000);
  CHECK(treated < 11'000);
  for (const std::string& u : users) {
    const Arm first = AssignArm(split, UserHash(u));
    REQUIRE(AssignArm(ExperimentSplit::Create("claude-3-5-test", 1000), UserHash(u)) == first);
  }
}

// Raising the share from 10% to 20% only moves users from control to treatment.
TEST_CASE("Raising the treatment share only moves control users to treatment", "[experiment]") {
  const std::vector<std::string> users = Users(100'000);
  const ExperimentSplit ten = ExperimentSplit::Create("rollout", 1000);
  const ExperimentSplit twenty = ExperimentSplit::Create("rollout", 2000);
  int moved = 0;
  for (const std::string& u : users) {
    const uint64_t h = UserHash(u);
    if (AssignArm(ten, h) == Arm::kTreatment) {
      REQUIRE(AssignArm(twenty, h) == Arm::kTreatment);
    } else if (AssignArm(twenty, h) == Arm::kTreatment) {
      ++moved;
    }
  }
  CHECK(moved > 9'000);
  CHECK(moved < 11'000);
}

// 0 basis points never assigns treatment, 10000 always does, larger values clamp to 10000.
TEST_CASE("0 and 10000 basis points are never and always treatment", "[experiment]") {
  const std::vector<std::string> users = Users(20'000);
  CHECK(CountTreatment(ExperimentSplit::Create("e", 0), users) == 0);
  CHECK(CountTreatment(ExperimentSplit::Create("e", 10'000), users) == 20'000);
  CHECK(ExperimentSplit::Create("e", 25'000).treatment_basis_points == 10'000);
  CHECK(AssignArm(ExperimentSplit::Create("e", 10'000), 0) == Arm::kTreatment);
  CHECK(AssignArm(ExperimentSplit::Create("e", 0), ~0ULL) == Arm::kControl);
}

// 10 basis points (0.1%) lands near 0.1% of 100k users.
TEST_CASE("A 0.1% experiment lands near 0.1%", "[experiment]") {
  const int treated = CountTreatment(ExperimentSplit::Create("tiny", 10), Users(100'000));
  CHECK(treated > 60);  // expected 100, standard deviation 10
  CHECK(treated < 140);
}

// Different experiment names split the same users independently.
TEST_CASE("Experiments with different names assign independently", "[experiment]") {
  const std::vector<std::string> users = Users(100'000);
  const ExperimentSplit a = ExperimentSplit::Create("exp-a", 5000);
  const ExperimentSplit b = ExperimentSplit::Create("exp-b", 5000);
  int both = 0;
  for (const std::string& u : users) {
    const uint64_t h = UserHash(u);
    both += AssignArm(a, h) == Arm::kTreatment && AssignArm(b, h) == Arm::kTreatment;
  }
  CHECK(both > 24'000);  // independent halves overlap on about a quarter
  CHECK(both < 26'000);
}

// ArmName gives the documented names.
TEST_CASE("ArmName names every arm", "[experiment]") {
  CHECK(ArmName(Arm::kNone) == "none");
  CHECK(ArmName(Arm::kControl) == "control");
  CHECK(ArmName(Arm::kTreatment) == "treatment");
}

}  // namespace inferencegw
