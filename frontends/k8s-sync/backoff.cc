#include "backoff.h"

#include <unistd.h>

#include <atomic>

namespace inferencegw::k8s {

std::chrono::nanoseconds Backoff::Next() {
  std::uniform_real_distribution<double> jitter(1.0, 2.0);
  const auto wait = std::chrono::nanoseconds(
      static_cast<int64_t>(static_cast<double>(next_.count()) * jitter(rng_)));
  next_ = std::min(next_ * 2, cap_);
  return wait;
}

uint64_t JitterSeed() {
  static std::atomic<uint64_t> counter{0};
  std::random_device device;
  const uint64_t entropy = (static_cast<uint64_t>(device()) << 32) ^ device();
  return entropy ^ (static_cast<uint64_t>(::getpid()) << 16) ^ counter.fetch_add(1);
}

}  // namespace inferencegw::k8s
