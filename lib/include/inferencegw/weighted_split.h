// A weighted choice among a few items using caller-supplied entropy, so that the choice is
// reproducible in tests and simulations.
//
//   WeightedSplit split = WeightedSplit::Create({80, 20});
//   size_t i = split.Pick(rng());                     // 0 about 80% of the time
//   size_t j = split.PickIf(rng(), [](size_t k) { return k != 0; });  // only among allowed
#ifndef INFERENCEGW_WEIGHTED_SPLIT_H_
#define INFERENCEGW_WEIGHTED_SPLIT_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "absl/container/inlined_vector.h"
#include "inferencegw/stable_hash.h"

namespace inferencegw {

// Immutable after Create; safe to share between threads.
class WeightedSplit {
 public:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  WeightedSplit() = default;
  static WeightedSplit Create(std::span<const uint32_t> weights);
  static WeightedSplit Create(std::initializer_list<uint32_t> weights) {
    return Create(std::span<const uint32_t>(weights.begin(), weights.size()));
  }

  size_t size() const { return weights_.size(); }
  uint64_t total_weight() const { return total_; }
  uint32_t weight(size_t i) const { return weights_[i]; }

  // The item chosen by `random` (any 64-bit value; uniform values give choices in proportion to
  // the weights, exactly: item i gets ceil/floor of weight_i / total of the 2^64 values).
  // Returns kNone when every weight is 0 or the split is empty.
  size_t Pick(uint64_t random) const;

  // As Pick, among the items for which `allowed(i)` is true, in proportion to their weights.
  // Returns kNone when no allowed item has a positive weight.
  template <typename Pred>
  size_t PickIf(uint64_t random, Pred&& allowed) const {
    uint64_t total = 0;
    for (size_t i = 0; i < weights_.size(); ++i) {
      if (allowed(i)) total += weights_[i];
    }
    if (total == 0) return kNone;
    uint64_t target = MulHigh64(random, total);
    for (size_t i = 0; i < weights_.size(); ++i) {
      if (!allowed(i)) continue;
      if (target < weights_[i]) return i;
      target -= weights_[i];
    }
    return kNone;  // unreachable
  }

 private:
  absl::InlinedVector<uint32_t, 4> weights_;
  absl::InlinedVector<uint64_t, 4> cumulative_;  // cumulative_[i] = sum of weights_[0..i]
  uint64_t total_ = 0;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_WEIGHTED_SPLIT_H_
