// RateLimiter::Admit and Reconcile: one hot key, a million users, and the unlimited fast path.
// Each thread runs its own simulated clock; limits are high enough that most calls admit.
#include <benchmark/benchmark.h>

#include <memory>

#include "inferencegw/rate_limiter.h"
#include "inferencegw/stable_hash.h"

namespace inferencegw {
namespace {

// Limits no benchmark loop exhausts (one call per simulated microsecond per thread, one token
// each), so the admitted path is what is measured.
RateLimitPolicy HighLimits(bool per_user) {
  RateLimitPolicy p;
  p.requests_per_minute = 150'000'000;
  p.request_burst = 1'000'000;
  p.tokens_per_minute = 150'000'000;
  p.token_burst = 1'000'000;
  p.per_user = per_user;
  return p;
}

const RateLimitKey kRoute{StableHash64("default/chat"), 0};

// One route bucket shared by all threads: the contended case.
void BM_AdmitOneKey(benchmark::State& state) {
  static std::unique_ptr<RateLimiter> limiter;
  if (state.thread_index() == 0) limiter = std::make_unique<RateLimiter>();
  const RateLimitPolicy policy = HighLimits(false);
  TimeNs now = 0;
  int64_t refused = 0;
  for (auto _ : state) {
    now += 1000;
    Admission a = limiter->Admit(policy, kRoute, 1, now);
    refused += !a.allowed;
    benchmark::DoNotOptimize(a);
  }
  state.counters["refused_pct"] = benchmark::Counter(
      100.0 * static_cast<double>(refused) / static_cast<double>(state.iterations()),
      benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_AdmitOneKey)->Threads(1)->Threads(2)->UseRealTime();

// A million per-user buckets (about 100 MB), visited in a scattered order: cache and TLB
// misses dominate. Keys are computed, not loaded, so the loop adds no misses of its own.
void BM_AdmitManyUsers(benchmark::State& state) {
  constexpr uint64_t kUsers = 1 << 20;
  static std::unique_ptr<RateLimiter> limiter;
  const RateLimitPolicy policy = HighLimits(true);
  if (state.thread_index() == 0) {
    limiter = std::make_unique<RateLimiter>();
    for (uint64_t u = 0; u < kUsers; ++u) {
      limiter->Admit(policy, RateLimitKey{kRoute.route_hash, SplitMix64(u)}, 1, 0);
    }
  }
  TimeNs now = 0;
  uint64_t i = static_cast<uint64_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    now += 1000;
    i += 0x9E3779B1;  // odd stride: visits every user, far from the last one
    const RateLimitKey key{kRoute.route_hash, SplitMix64(i & (kUsers - 1))};
    Admission a = limiter->Admit(policy, key, 1, now);
    benchmark::DoNotOptimize(a);
  }
  if (state.thread_index() == 0) {
    state.counters["buckets"] = static_cast<double>(limiter->BucketCount());
  }
}
BENCHMARK(BM_AdmitManyUsers)->Threads(1)->Threads(2)->UseRealTime();

// The refused path on one exhausted bucket: it also computes retry_after.
void BM_AdmitRefused(benchmark::State& state) {
  RateLimiter limiter;
  RateLimitPolicy policy;
  policy.requests_per_minute = 60;
  policy.request_burst = 1;
  limiter.Admit(policy, kRoute, 0, 0);
  TimeNs now = 0;
  for (auto _ : state) {
    now += 1;
    Admission a = limiter.Admit(policy, kRoute, 0, now);
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_AdmitRefused);

// A route without limits: no lock, no state.
void BM_AdmitUnlimited(benchmark::State& state) {
  RateLimiter limiter;
  const RateLimitPolicy policy;
  TimeNs now = 0;
  for (auto _ : state) {
    now += 1000;
    Admission a = limiter.Admit(policy, kRoute, 100, now);
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_AdmitUnlimited);

// Reconciling a reservation with real usage on a hot bucket.
void BM_Reconcile(benchmark::State& state) {
  RateLimiter limiter;
  const RateLimitPolicy policy = HighLimits(false);
  limiter.Admit(policy, kRoute, 100, 0);
  TimeNs now = 0;
  int64_t actual = 0;
  for (auto _ : state) {
    now += 1000;
    actual = (actual + 37) & 255;
    limiter.Reconcile(policy, kRoute, 100, actual, now);
    benchmark::DoNotOptimize(actual);
  }
}
BENCHMARK(BM_Reconcile);

}  // namespace
}  // namespace inferencegw

BENCHMARK_MAIN();
