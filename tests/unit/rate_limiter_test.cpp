#include "inferencegw/rate_limiter.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <limits>
#include <thread>
#include <vector>

#include "inferencegw/stable_hash.h"

namespace inferencegw {
namespace {

RateLimitPolicy Requests(double per_minute, double burst = 0) {
  RateLimitPolicy p;
  p.requests_per_minute = per_minute;
  p.request_burst = burst > 0 ? burst : per_minute;
  return p;
}

RateLimitPolicy Tokens(double per_minute, double burst = 0) {
  RateLimitPolicy p;
  p.tokens_per_minute = per_minute;
  p.token_burst = burst > 0 ? burst : per_minute;
  return p;
}

const RateLimitKey kRoute{StableHash64("default/chat"), 0};

RateLimitKey User(const char* name) {
  return RateLimitKey{StableHash64("default/chat"), StableHash64(name)};
}

// Admits until refused at `now`; returns how many were admitted.
int Drain(RateLimiter& limiter, const RateLimitPolicy& policy, const RateLimitKey& key, TimeNs now,
          int64_t tokens = 0) {
  int n = 0;
  while (limiter.Admit(policy, key, tokens, now).allowed) {
    ++n;
    REQUIRE(n < 1000000);
  }
  return n;
}

// FromConfig: bursts default to the per-minute rates; explicit bursts win.
TEST_CASE("policy from config", "[ratelimit]") {
  RateLimitConfig config;
  config.requests_per_minute = 60;
  config.tokens_per_minute = 100000;
  config.per_user = true;
  RateLimitPolicy p = RateLimitPolicy::FromConfig(config);
  CHECK(p.requests_per_minute == 60);
  CHECK(p.request_burst == 60);
  CHECK(p.tokens_per_minute == 100000);
  CHECK(p.token_burst == 100000);
  CHECK(p.per_user);
  CHECK(p.limited());
  config.burst_requests = 5;
  config.burst_tokens = 2000;
  p = RateLimitPolicy::FromConfig(config);
  CHECK(p.request_burst == 5);
  CHECK(p.token_burst == 2000);
  CHECK_FALSE(RateLimitPolicy::FromConfig(RateLimitConfig{}).limited());
}

// With no limits every request passes, the quotas say "not configured" and no bucket is made.
TEST_CASE("unlimited touches no state", "[ratelimit]") {
  RateLimiter limiter;
  for (int i = 0; i < 100; ++i) {
    Admission a = limiter.Admit(RateLimitPolicy{}, User("alice"), 1000000, 0);
    CHECK(a.allowed);
    CHECK(a.requests.limit == -1);
    CHECK(a.tokens.limit == -1);
  }
  limiter.Reconcile(RateLimitPolicy{}, User("alice"), 0, 1000000, 0);
  CHECK(limiter.BucketCount() == 0);
}

// Refill math: 60 rpm is one request a second, refilled lazily and continuously.
TEST_CASE("refill math", "[ratelimit]") {
  RateLimiter limiter;
  const RateLimitPolicy p = Requests(60);
  CHECK(Drain(limiter, p, kRoute, 0) == 60);
  CHECK_FALSE(limiter.Admit(p, kRoute, 0, Milliseconds(999)).allowed);
  CHECK(limiter.Admit(p, kRoute, 0, Seconds(1)).allowed);
  CHECK_FALSE(limiter.Admit(p, kRoute, 0, Seconds(1)).allowed);
  // Half a request at 1.5 s, a whole one at 2 s.
  CHECK_FALSE(limiter.Admit(p, kRoute, 0, Milliseconds(1500)).allowed);
  CHECK(limiter.Admit(p, kRoute, 0, Seconds(2)).allowed);
  // After 10 s idle, 10 are available.
  CHECK(Drain(limiter, p, kRoute, Seconds(12)) == 10);
}

// The burst caps the balance however long the bucket idles, and quotas report it.
TEST_CASE("burst", "[ratelimit]") {
  RateLimiter limiter;
  const RateLimitPolicy p = Requests(60, /*burst=*/5);
  Admission a = limiter.Admit(p, kRoute, 0, 0);
  CHECK(a.allowed);
  CHECK(a.requests.limit == 5);
  CHECK(a.requests.remaining == 4);
  CHECK(a.requests.reset == Seconds(1));
  CHECK(a.tokens.limit == -1);
  CHECK(Drain(limiter, p, kRoute, 0) == 4);
  a = limiter.Admit(p, kRoute, 0, Milliseconds(2500));  // 2.5 refilled, 1 taken
  CHECK(a.allowed);
  CHECK(a.requests.remaining == 1);
  CHECK(a.requests.reset == Milliseconds(3500));
  CHECK(Drain(limiter, p, kRoute, Seconds(3600)) == 5);
}

// retry_after is exact: a request at now + retry_after passes, one at now + retry_after - 1 ns
// does not (checked on two limiters in the same state, so the probe does not disturb it).
TEST_CASE("retry_after exactness", "[ratelimit]") {
  struct Case {
    RateLimitPolicy policy;
    int64_t estimate;
  };
  RateLimitPolicy both = Requests(7, 3);
  both.tokens_per_minute = 1000;
  both.token_burst = 300;
  // Round and awkward rates, tokens, both limits, and a fast rate (one request per 60 us).
  const std::vector<Case> cases = {
      {Requests(60), 0},  {Requests(7), 0}, {Requests(13, 2), 0},   {Tokens(1000), 333},
      {Tokens(777), 100}, {both, 120},      {Requests(1e6, 10), 0},
  };
  for (const Case& c : cases) {
    RateLimiter a;
    RateLimiter b;
    const TimeNs t0 = Seconds(5) + 12345;
    Drain(a, c.policy, kRoute, t0, c.estimate);
    Drain(b, c.policy, kRoute, t0, c.estimate);
    const Admission refused = a.Admit(c.policy, kRoute, c.estimate, t0);
    REQUIRE_FALSE(refused.allowed);
    REQUIRE(refused.retry_after > 0);
    b.Admit(c.policy, kRoute, c.estimate, t0);
    CHECK(a.Admit(c.policy, kRoute, c.estimate, t0 + refused.retry_after).allowed);
    CHECK_FALSE(b.Admit(c.policy, kRoute, c.estimate, t0 + refused.retry_after - 1).allowed);
  }
  // The closed forms for round rates.
  RateLimiter limiter;
  Drain(limiter, Requests(60), kRoute, 0);
  CHECK(limiter.Admit(Requests(60), kRoute, 0, 0).retry_after == Seconds(1));
  CHECK(limiter.Admit(Requests(60), kRoute, 0, Milliseconds(250)).retry_after == Milliseconds(750));
}

// The refusing limit is named, and with both exhausted the wait covers the slower one.
TEST_CASE("limited_by_tokens and the combined wait", "[ratelimit]") {
  RateLimitPolicy p = Requests(60, 2);
  p.tokens_per_minute = 600;  // 10 tokens a second
  p.token_burst = 100;
  RateLimiter limiter;
  CHECK(limiter.Admit(p, kRoute, 90, 0).allowed);
  Admission a = limiter.Admit(p, kRoute, 50, 0);  // 1 request left, 10 tokens
  CHECK_FALSE(a.allowed);
  CHECK(a.limited_by_tokens);
  CHECK(a.retry_after == Seconds(4));
  CHECK(a.tokens.remaining == 10);
  CHECK(a.requests.remaining == 1);
  CHECK(limiter.Admit(p, kRoute, 10, 0).allowed);  // takes the last request and the 10 tokens
  a = limiter.Admit(p, kRoute, 1, 0);
  CHECK_FALSE(a.allowed);
  CHECK(a.limited_by_tokens);           // both refuse; the token limit is among them
  CHECK(a.retry_after == Seconds(1));   // 1 request and 1 token, both after 1 s
  a = limiter.Admit(p, kRoute, 20, 0);  // 20 tokens need 2 s
  CHECK(a.retry_after == Seconds(2));
  a = Admission{};
  RateLimiter only_requests;
  Drain(only_requests, p, kRoute, 0, 0);
  a = only_requests.Admit(p, kRoute, 0, 0);
  CHECK_FALSE(a.allowed);
  CHECK_FALSE(a.limited_by_tokens);
}

// Tokens are reserved from the estimate and reconciled with real usage; a negative balance
// blocks until it has refilled.
TEST_CASE("tokens reserve and reconcile", "[ratelimit]") {
  RateLimiter limiter;
  const RateLimitPolicy p = Tokens(1000);  // 1000 tokens a minute: one per 60 ms
  Admission a = limiter.Admit(p, kRoute, 400, 0);
  CHECK(a.allowed);
  CHECK(a.tokens.limit == 1000);
  CHECK(a.tokens.remaining == 600);
  CHECK(a.requests.limit == -1);
  // A refund is capped at the burst.
  limiter.Reconcile(p, kRoute, 400, 0, 0);
  CHECK(limiter.Admit(p, kRoute, 0, 0).tokens.remaining == 1000);
  // Reserve 400, use 1500: 1000 - 400 - 1100 = -500.
  REQUIRE(limiter.Admit(p, kRoute, 400, 0).allowed);
  limiter.Reconcile(p, kRoute, 400, 1500, 0);
  a = limiter.Admit(p, kRoute, 10, 0);
  CHECK_FALSE(a.allowed);
  CHECK(a.limited_by_tokens);
  CHECK(a.tokens.remaining == 0);
  CHECK(a.retry_after == Milliseconds(30600));  // 510 tokens at 60 ms each
  CHECK(a.tokens.reset == Seconds(90));         // 1500 tokens to full
  // Even a zero estimate needs a positive balance.
  CHECK_FALSE(limiter.Admit(p, kRoute, 0, Seconds(30)).allowed);
  CHECK(limiter.Admit(p, kRoute, 0, Seconds(30) + Milliseconds(60)).allowed);
  CHECK_FALSE(limiter.Admit(p, kRoute, 10, Seconds(30) + Milliseconds(60)).allowed);
  CHECK(limiter.Admit(p, kRoute, 10, Milliseconds(30600)).allowed);
}

// A request estimated above the burst passes when the bucket is full and takes the whole burst,
// no more: the bucket is empty, not in debt, and Reconcile settles the real usage.
TEST_CASE("estimate larger than the bucket", "[ratelimit]") {
  RateLimiter limiter;
  const RateLimitPolicy p = Tokens(600, 100);  // 10 tokens a second
  CHECK(limiter.Admit(p, kRoute, 0, 0).tokens.remaining == 100);
  Admission a = limiter.Admit(p, kRoute, 250, 0);
  CHECK(a.allowed);
  CHECK(a.reserved_tokens == 100);
  CHECK(a.tokens.remaining == 0);
  a = limiter.Admit(p, kRoute, 250, 0);  // empty now: needs 100 again
  CHECK_FALSE(a.allowed);
  CHECK(a.retry_after == Seconds(10));
  CHECK(limiter.Admit(p, kRoute, 250, Seconds(10)).allowed);
  // Real usage above the burst still borrows: 100 reserved, 250 used puts the bucket at -150.
  limiter.Reconcile(p, kRoute, 100, 250, Seconds(10));
  a = limiter.Admit(p, kRoute, 100, Seconds(10));
  CHECK_FALSE(a.allowed);
  CHECK(a.retry_after == Seconds(25));
}

// The issue-8 reproduction: tokensPerMinute 100000 and one request with max_tokens = INT64_MAX.
// The reservation saturates instead of wrapping, the bucket is charged at most its burst, the
// refund on completion restores it, and the next user is admitted at once (no day-long 429).
TEST_CASE("a huge estimate neither wraps nor poisons the bucket", "[ratelimit]") {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  CHECK(TokenReservation(25, kMax) == kMax);
  CHECK(TokenReservation(kMax, kMax) == kMax);
  CHECK(TokenReservation(25, 100) == 125);
  CHECK(TokenReservation(25, -1) == 25);  // max_tokens absent
  CHECK(TokenReservation(-3, -1) == 0);

  RateLimiter limiter;
  const RateLimitPolicy p = Tokens(100000);
  const int64_t estimate = TokenReservation(25, kMax);
  const Admission huge = limiter.Admit(p, kRoute, estimate, 0);
  REQUIRE(huge.allowed);
  CHECK(huge.reserved_tokens == 100000);
  CHECK(huge.tokens.remaining == 0);
  // While it runs, the bucket is empty but not in debt: the wait is for 500 tokens at 100000 a
  // minute (0.3 s), not a day.
  Admission a = limiter.Admit(p, kRoute, 500, 0);
  CHECK_FALSE(a.allowed);
  CHECK(a.retry_after == Milliseconds(300));
  CHECK(a.tokens.reset == Seconds(60));
  // A refused request took nothing: the same answer again.
  CHECK(limiter.Admit(p, kRoute, 500, 0).retry_after == Milliseconds(300));
  // It used 1000 tokens: the refund of 99000 makes room at once.
  limiter.Reconcile(p, kRoute, huge.reserved_tokens, 1000, 0);
  a = limiter.Admit(p, kRoute, 500, 0);
  CHECK(a.allowed);
  CHECK(a.tokens.remaining == 100000 - 1000 - 500);

  // A negative estimate (a wrapped sum from an older frontend) reserves nothing.
  RateLimiter fresh;
  a = fresh.Admit(p, kRoute, -(kMax - 7), 0);
  CHECK(a.allowed);
  CHECK(a.reserved_tokens == 0);
  CHECK(a.tokens.remaining == 100000);
}

// per_user gives each user a bucket; without it the user is ignored and the route shares one.
TEST_CASE("per-user isolation vs shared route bucket", "[ratelimit]") {
  RateLimitPolicy p = Requests(60, 3);
  p.per_user = true;
  RateLimiter limiter;
  CHECK(Drain(limiter, p, User("alice"), 0) == 3);
  CHECK(Drain(limiter, p, User("bob"), 0) == 3);
  CHECK(Drain(limiter, p, RateLimitKey{kRoute.route_hash, 0}, 0) == 3);  // no user key
  CHECK(Drain(limiter, p, RateLimitKey{StableHash64("default/other"), StableHash64("alice")}, 0) ==
        3);
  CHECK(limiter.BucketCount() == 4);

  p.per_user = false;
  RateLimiter shared;
  CHECK(Drain(shared, p, User("alice"), 0) == 3);
  CHECK(Drain(shared, p, User("bob"), 0) == 0);
  CHECK(shared.BucketCount() == 1);
}

// Limits are arguments: a lowered burst clamps an existing balance at its next touch, and a new
// rate applies to the existing bucket.
TEST_CASE("config change applies to the existing bucket", "[ratelimit]") {
  RateLimiter limiter;
  CHECK(limiter.Admit(Requests(60, 10), kRoute, 0, 0).requests.remaining == 9);
  Admission a = limiter.Admit(Requests(60, 5), kRoute, 0, 0);
  CHECK(a.allowed);
  CHECK(a.requests.limit == 5);
  CHECK(a.requests.remaining == 4);  // clamped to 5, then one taken
  CHECK(Drain(limiter, Requests(60, 5), kRoute, 0) == 4);
  // Raise the rate to 600 rpm: one every 100 ms.
  CHECK(Drain(limiter, Requests(600, 5), kRoute, Milliseconds(300)) == 3);
  // Add a token limit to the same route: the bucket starts it full.
  RateLimitPolicy with_tokens = Requests(600, 5);
  with_tokens.tokens_per_minute = 1000;
  with_tokens.token_burst = 1000;
  a = limiter.Admit(with_tokens, kRoute, 100, Seconds(10));
  CHECK(a.allowed);
  CHECK(a.tokens.remaining == 900);
  CHECK(limiter.BucketCount() == 1);
}

// EvictIdle drops exactly the buckets that are full at `now`, and decisions do not change.
TEST_CASE("EvictIdle drops full buckets", "[ratelimit]") {
  RateLimitPolicy p = Requests(60, 2);
  p.per_user = true;
  RateLimiter limiter;
  limiter.Admit(p, User("a"), 0, 0);  // full again at 1 s
  limiter.Admit(p, User("b"), 0, 0);
  limiter.Admit(p, User("b"), 0, 0);  // full again at 2 s
  CHECK(limiter.EvictIdle(Seconds(1) - 1) == 0);
  CHECK(limiter.EvictIdle(Seconds(1)) == 1);
  CHECK(limiter.BucketCount() == 1);
  CHECK(limiter.Admit(p, User("b"), 0, Seconds(1)).requests.remaining == 0);
  CHECK(limiter.EvictIdle(Seconds(3)) == 1);
  CHECK(limiter.BucketCount() == 0);
  CHECK(limiter.Admit(p, User("b"), 0, Seconds(3)).requests.remaining == 1);
}

// With a small bound, a million distinct users keep BucketCount bounded, and evicting only full
// buckets makes every Admission identical to a limiter that never evicts.
TEST_CASE("eviction keeps memory bounded without changing decisions", "[ratelimit][evict]") {
  RateLimitPolicy p = Requests(120, 2);  // a bucket is full at most 1 s after its last take
  p.tokens_per_minute = 6000;            // 100 tokens a second
  p.token_burst = 200;
  p.per_user = true;
  RateLimiter::Options small;
  small.max_buckets = 8192;
  small.shards = 4;
  RateLimiter bounded(small);
  RateLimiter::Options huge;
  huge.max_buckets = size_t{1} << 30;
  huge.reclaim_idle = false;
  RateLimiter reference(huge);

  constexpr int kRequests = 2000000;
  uint64_t rng = 42;
  int refused = 0;
  int mismatches = 0;
  size_t max_count = 0;
  for (int i = 0; i < kRequests; ++i) {
    rng = SplitMix64(rng);
    const TimeNs now = static_cast<TimeNs>(i) * Milliseconds(1);
    // Half the requests come from a new user; the rest return after up to 0.3 s or up to 6 s,
    // when their bucket may be full (and evicted), refilling, or still empty.
    uint64_t user = static_cast<uint64_t>(i);
    if ((rng & 3) == 2) user -= 1 + (rng >> 8) % 300;
    if ((rng & 3) == 3) user -= 1 + (rng >> 8) % 6000;
    const RateLimitKey key{7, user};
    const int64_t estimate = 20 + static_cast<int64_t>(rng >> 58);
    const Admission x = bounded.Admit(p, key, estimate, now);
    const Admission y = reference.Admit(p, key, estimate, now);
    if (x.allowed != y.allowed || x.retry_after != y.retry_after ||
        x.limited_by_tokens != y.limited_by_tokens ||
        x.requests.remaining != y.requests.remaining || x.requests.reset != y.requests.reset ||
        x.tokens.remaining != y.tokens.remaining || x.tokens.reset != y.tokens.reset) {
      ++mismatches;
    }
    if (!y.allowed) ++refused;
    if (x.allowed && ((rng >> 4) & 3) == 0) {
      const int64_t actual = estimate + static_cast<int64_t>((rng >> 8) % 120) - 40;
      bounded.Reconcile(p, key, estimate, actual, now);
      reference.Reconcile(p, key, estimate, actual, now);
    }
    if (i % 4096 == 0) max_count = std::max(max_count, bounded.BucketCount());
  }
  CHECK(mismatches == 0);
  CHECK(refused > 1000);
  CHECK(max_count <= small.max_buckets);
  CHECK(bounded.BucketCount() <= small.max_buckets);
  CHECK(reference.BucketCount() >= 1000000);
}

// Many distinct users drive the bucket count up; when they go idle, the amortized per-shard
// sweeps give their (full) buckets back while later traffic goes on, and every Admission is
// identical to a limiter that keeps all buckets.
TEST_CASE("idle buckets are reclaimed incrementally", "[ratelimit][evict]") {
  RateLimitPolicy p = Requests(60, 1);  // a taken bucket is full again 1 s later
  p.tokens_per_minute = 60000;          // 1000 tokens a second
  p.token_burst = 1000;                 // so a 300-token take is also full within 1 s
  p.per_user = true;
  RateLimiter::Options options;
  options.shards = 4;
  RateLimiter limiter(options);
  RateLimiter::Options keep_all;
  keep_all.shards = 4;
  keep_all.reclaim_idle = false;
  RateLimiter reference(keep_all);

  int mismatches = 0;
  auto admit = [&](uint64_t user, TimeNs now) {
    const RateLimitKey key{9, user};
    const Admission x = limiter.Admit(p, key, 300, now);
    const Admission y = reference.Admit(p, key, 300, now);
    if (x.allowed != y.allowed || x.retry_after != y.retry_after ||
        x.requests.remaining != y.requests.remaining || x.requests.reset != y.requests.reset ||
        x.tokens.remaining != y.tokens.remaining || x.tokens.reset != y.tokens.reset ||
        x.reserved_tokens != y.reserved_tokens) {
      ++mismatches;
    }
  };

  // Busy: 200,000 distinct users, one every 100 us (20 s), each coming back twice within 2 s.
  // About 10,000 buckets are live (non-full) at any time.
  size_t peak = 0;
  TimeNs now = 0;
  for (uint64_t i = 0; i < 200000; ++i) {
    now = static_cast<TimeNs>(i) * 100 * kNanosPerMicro;
    admit(i, now);
    if (i >= 500) admit(i - 500, now);      // 50 ms later: refused (the bucket is empty)
    if (i >= 15000) admit(i - 15000, now);  // 1.5 s later: full again, admitted
    if (i % 1000 == 0) peak = std::max(peak, limiter.BucketCount());
  }
  CHECK(reference.BucketCount() == 200000);
  CHECK(peak >= 10000);
  CHECK(peak <= 3 * 15000);  // about twice the live set, never every user seen
  // Quiet: the same users go idle; 1000 new users trickle in, one every 50 ms.
  for (uint64_t i = 0; i < 1000; ++i) {
    now += Milliseconds(50);
    admit(1000000 + i, now);
  }
  CHECK(mismatches == 0);
  // Back down to about the live set (20 users) plus what each shard gathers between sweeps
  // (64 calls or 10 s: 50 users a shard).
  CHECK(limiter.BucketCount() <= 4 * (64 + 50) + 20);
  CHECK(reference.BucketCount() == 201000);
  // Nothing was lost: an idle user starts full, as in the reference.
  admit(5, now);
  admit(199999, now);
  CHECK(mismatches == 0);
}

// When live buckets alone exceed the bound, the least recently touched go: the count stays
// bounded and the most recent users keep their state.
TEST_CASE("LRU eviction beyond the bound", "[ratelimit][evict]") {
  RateLimitPolicy p = Requests(1, 1);  // a taken bucket stays non-full for a minute
  p.per_user = true;
  RateLimiter::Options options;
  options.max_buckets = 1000;
  options.shards = 1;
  RateLimiter limiter(options);
  for (uint64_t u = 0; u < 1000000; ++u) {
    REQUIRE(limiter.Admit(p, RateLimitKey{1, u}, 0, static_cast<TimeNs>(u)).allowed);
    REQUIRE(limiter.BucketCount() <= 1000);
  }
  // The last user is still limited; one long gone starts fresh.
  CHECK_FALSE(limiter.Admit(p, RateLimitKey{1, 999999}, 0, Seconds(1)).allowed);
  CHECK(limiter.Admit(p, RateLimitKey{1, 5}, 0, Seconds(1)).allowed);
}

// Two threads on one bucket, each with its own simulated time: the total admitted never exceeds
// the burst plus what refills over the time covered.
TEST_CASE("two threads never over-admit", "[ratelimit][threads]") {
  const RateLimitPolicy p = Requests(600, 50);  // 10 a second
  RateLimiter limiter;
  constexpr int kIterations = 500000;
  constexpr DurationNs kStep = 10 * kNanosPerMicro;  // 5 s of simulated time per thread
  int admitted[2] = {0, 0};
  auto worker = [&](int id) {
    for (int i = 0; i < kIterations; ++i) {
      if (limiter.Admit(p, kRoute, 0, static_cast<TimeNs>(i) * kStep).allowed) ++admitted[id];
    }
  };
  std::thread t0(worker, 0);
  std::thread t1(worker, 1);
  t0.join();
  t1.join();
  const int total = admitted[0] + admitted[1];
  const double refill = 10.0 * ToSeconds(static_cast<TimeNs>(kIterations - 1) * kStep);
  CHECK(total <= 50 + static_cast<int>(refill));
  CHECK(total >= 50);
  CHECK(limiter.BucketCount() == 1);
}

}  // namespace
}  // namespace inferencegw
