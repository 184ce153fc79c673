// Sticky A/B assignment. A user's arm depends only on the experiment's name and the user's key,
// through a documented, seedless 64-bit hash, so it is the same on every replica, after every
// restart, and in the Python module.
//
//   uint64_t user = UserHash("alice");                          // once per request
//   Arm arm = AssignArm(ExperimentSplit::Create("claude-3-5-test", 1000), user);  // 10.00%
//
// The hash (docs/architecture.md repeats it):
//   StableHash64(s) = Fmix64(FNV-1a-64(s))   FNV offset 0xcbf29ce484222325, prime 0x100000001b3;
//                                            Fmix64 is MurmurHash3's 64-bit finalizer.
//   bucket(experiment, user) = (Fmix64(StableHash64(experiment) ^ StableHash64(user)) * 10000) >>
//   64 arm = bucket < traffic_basis_points ? treatment : control
// absl::Hash is randomized per process and is never used for decisions.
#ifndef INFERENCEGW_EXPERIMENT_H_
#define INFERENCEGW_EXPERIMENT_H_

#include <cstdint>
#include <string_view>

#include "inferencegw/stable_hash.h"

namespace inferencegw {

// The hash of a user key, computed once per request and reused for every experiment.
constexpr uint64_t UserHash(std::string_view user_key) { return StableHash64(user_key); }

enum class Arm : uint8_t { kNone = 0, kControl = 1, kTreatment = 2 };
std::string_view ArmName(Arm arm);  // "none", "control", "treatment"

inline constexpr uint32_t kBasisPointsPerWhole = 10'000;

// One experiment's split, compiled from its name and share. Trivially copyable.
struct ExperimentSplit {
  uint64_t salt = 0;                    // StableHash64(name)
  uint32_t treatment_basis_points = 0;  // 0..10000

  static constexpr ExperimentSplit Create(std::string_view name, uint32_t basis_points) {
    return {StableHash64(name),
            basis_points > kBasisPointsPerWhole ? kBasisPointsPerWhole : basis_points};
  }
};

// The user's bucket in [0, 10000) for this experiment.
constexpr uint32_t ExperimentBucket(const ExperimentSplit& split, uint64_t user_hash) {
  return static_cast<uint32_t>(MulHigh64(Fmix64(split.salt ^ user_hash), kBasisPointsPerWhole));
}

// Treatment when the user's bucket falls below the treatment share, else control. 0 basis
// points never assigns treatment; 10000 always does.
constexpr Arm AssignArm(const ExperimentSplit& split, uint64_t user_hash) {
  return ExperimentBucket(split, user_hash) < split.treatment_basis_points ? Arm::kTreatment
                                                                           : Arm::kControl;
}

}  // namespace inferencegw

#endif  // INFERENCEGW_EXPERIMENT_H_
