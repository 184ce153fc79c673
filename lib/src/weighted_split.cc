// WeightedSplit: cumulative weights and an exact mapping of a 64-bit random value onto them.
#include "inferencegw/weighted_split.h"

#include <algorithm>

namespace inferencegw {
namespace {

// Up to this many items a linear scan of the cumulative weights beats a binary search.
constexpr size_t kLinearScanMax = 8;

}  // namespace

WeightedSplit WeightedSplit::Create(std::span<const uint32_t> weights) {
  WeightedSplit split;
  split.weights_.assign(weights.begin(), weights.end());
  split.cumulative_.reserve(weights.size());
  uint64_t running = 0;
  for (uint32_t w : weights) {
    running += w;
    split.cumulative_.push_back(running);
  }
  split.total_ = running;
  return split;
}

size_t WeightedSplit::Pick(uint64_t random) const {
  if (total_ == 0) return kNone;
  // target is uniform in [0, total_): item i owns [cumulative_[i-1], cumulative_[i]), which is
  // empty for a zero weight, so zero-weight items are never chosen.
  const uint64_t target = MulHigh64(random, total_);
  const size_t n = cumulative_.size();
  if (n <= kLinearScanMax) {
    for (size_t i = 0; i < n; ++i) {
      if (target < cumulative_[i]) return i;
    }
    return kNone;  // unreachable: target < total_ == cumulative_[n-1]
  }
  auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), target);
  return it == cumulative_.end() ? kNone : static_cast<size_t>(it - cumulative_.begin());
}

}  // namespace inferencegw
