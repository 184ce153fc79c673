// Exponential backoff with jitter for reconnects (client-go's reflector: 800 ms initial, factor
// 2, cap 30 s, jitter 1.0, so waits fall in [d, 2d)).
//
//   Backoff backoff(std::chrono::milliseconds(800), std::chrono::seconds(30), seed);
//   canceller.SleepFor(backoff.Next());   // 0.8-1.6 s, then 1.6-3.2 s, ... up to 30-60 s
//   backoff.Reset();                      // after a success
#ifndef INFERENCEGW_K8S_SYNC_BACKOFF_H_
#define INFERENCEGW_K8S_SYNC_BACKOFF_H_

#include <chrono>
#include <cstdint>
#include <random>

namespace inferencegw::k8s {

// Not thread-safe; one per retry loop.
class Backoff {
 public:
  Backoff(std::chrono::nanoseconds initial, std::chrono::nanoseconds cap, uint64_t seed)
      : initial_(initial), cap_(cap), next_(initial), rng_(seed) {}

  // The next wait: the current step times a factor drawn from [1, 2), then the step doubles up
  // to the cap.
  std::chrono::nanoseconds Next();
  void Reset() { next_ = initial_; }

 private:
  const std::chrono::nanoseconds initial_;
  const std::chrono::nanoseconds cap_;
  std::chrono::nanoseconds next_;
  std::mt19937_64 rng_;
};

// A seed for jitter that differs between processes and threads.
uint64_t JitterSeed();

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_BACKOFF_H_
