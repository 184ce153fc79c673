// BackendHealth: the router's lock-free IsAvailable and the per-request TryAcquire/Release pair.
#include <benchmark/benchmark.h>

#include <memory>

#include "inferencegw/health_tracker.h"

namespace inferencegw {
namespace {

// IsAvailable on one backend from every thread, while nothing changes its state.
void BM_IsAvailable(benchmark::State& state) {
  static std::shared_ptr<BackendHealth> health;
  if (state.thread_index() == 0) health = std::make_shared<BackendHealth>("ns/b", BackendSpec{});
  TimeNs now = 0;
  for (auto _ : state) {
    now += 1000;
    bool available = health->IsAvailable(now);
    benchmark::DoNotOptimize(available);
  }
}
BENCHMARK(BM_IsAvailable)->Threads(1)->Threads(2)->UseRealTime();

// One request's TryAcquire + Release with a success outcome (window, EWMA, breaker update).
void BM_TryAcquireRelease(benchmark::State& state) {
  static std::shared_ptr<BackendHealth> health;
  if (state.thread_index() == 0) health = std::make_shared<BackendHealth>("ns/b", BackendSpec{});
  TimeNs now = 0;
  const AttemptOutcome ok{FailureKind::kNone, Milliseconds(20)};
  for (auto _ : state) {
    now += 1000;
    bool acquired = health->TryAcquire(now);
    if (acquired) health->Release(ok, now);
    benchmark::DoNotOptimize(acquired);
  }
}
BENCHMARK(BM_TryAcquireRelease)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace inferencegw

BENCHMARK_MAIN();
