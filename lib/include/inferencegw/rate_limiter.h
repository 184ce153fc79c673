// Token-bucket rate limiting per route and per (route, user), for requests per minute and tokens
// per minute. Tokens are reserved from an estimate at admission and reconciled with real usage.
// Limits are passed in on every call, so a config change applies to existing buckets at once.
//
//   RateLimiter limiter;
//   RateLimitPolicy policy = RateLimitPolicy::FromConfig(*route.spec.rate_limit);
//   RateLimitKey key{StableHash64("default/chatbot-route"), UserHash("alice")};
//   Admission a = limiter.Admit(policy, key, /*estimated_tokens=*/500, clock.Now());
//   if (a.allowed) {
//     ...; limiter.Reconcile(policy, key, a.reserved_tokens, usage.total(), clock.Now());
//   }
#ifndef INFERENCEGW_RATE_LIMITER_H_
#define INFERENCEGW_RATE_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "inferencegw/clock.h"
#include "inferencegw/config.h"

namespace inferencegw {

// Limits of one route, in a form cheap to apply. Thread-compatible value type.
struct RateLimitPolicy {
  double requests_per_minute = 0;  // 0: no request limit
  double request_burst = 0;        // bucket size (>= 1 when limited)
  double tokens_per_minute = 0;    // 0: no token limit
  double token_burst = 0;
  bool per_user = false;

  static RateLimitPolicy FromConfig(const RateLimitConfig& config);
  bool limited() const { return requests_per_minute > 0 || tokens_per_minute > 0; }
};

// Identifies a bucket. `user_hash` is ignored (treated as 0) unless the policy is per_user.
struct RateLimitKey {
  uint64_t route_hash = 0;  // StableHash64(route key "namespace/name")
  uint64_t user_hash = 0;   // UserHash(user key); requests without a user key share hash 0
};

// The state of one limit after an Admit, for x-ratelimit-* headers.
struct Quota {
  int64_t limit = -1;     // bucket size; -1 when this limit is not configured
  int64_t remaining = 0;  // whole units left now (never negative)
  DurationNs reset = 0;   // until the bucket is full again
};

struct Admission {
  bool allowed = true;
  bool limited_by_tokens = false;  // when refused: true if the token limit refused it
  DurationNs retry_after = 0;      // when refused: the wait until the request would be admitted
  Quota requests;
  Quota tokens;
  // When allowed: the tokens taken from the token bucket, which is the estimate capped at the
  // token burst (0 when no token limit applies). Pass it to Reconcile as `reserved_tokens`.
  int64_t reserved_tokens = 0;
};

// The token reservation of a request: `prompt_tokens` + `max_tokens`, negative parts counted as
// 0, saturating at INT64_MAX instead of wrapping. Frontends pass the result to Exchange::Begin.
int64_t TokenReservation(int64_t prompt_tokens, int64_t max_tokens);

// Thread-safe, and fast under contention (sharded; one short lock per call). Memory is bounded:
// a bucket that has refilled to full is indistinguishable from a new one, so it is dropped
// without changing any decision. Each shard reclaims its full buckets incrementally: after as
// many calls as it held buckets at its previous sweep (at least 64), or after 64 calls once 10 s
// (of the callers' `now`) have passed since its previous sweep, the next call sweeps that shard
// only. The work is amortized O(1) per call (plus at most one sweep per shard per 10 s), a busy
// shard holds at most about twice its live (non-full) buckets, and buckets left by a busy period
// are given back even when later traffic is light (64 calls a shard, 10 s apart, suffice).
// EvictIdle reclaims everything full, with or without traffic.
// Beyond `max_buckets` the least recently used full-or-not buckets go first (this alone can
// change a decision: a dropped non-full bucket starts full again).
// Rates and bursts are held as whole numbers up to 150 million per minute (a fractional rate is
// rounded, at least 1; a burst below 1 counts as 1).
class RateLimiter {
 public:
  struct Options {
    size_t max_buckets = 1 << 20;  // about 1 million (route, user) pairs: ~120 MB at most
    size_t shards = 64;            // power of two
    // false: full buckets are dropped only when a shard reaches its bound or by EvictIdle (for
    // tests that compare decisions against a limiter that keeps everything).
    bool reclaim_idle = true;
  };
  RateLimiter();
  explicit RateLimiter(Options options);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one request and `estimated_tokens` tokens if both buckets allow it; else takes nothing
  // and says when to retry. With no limits configured, always allowed (and touches no state).
  // The token check needs the bucket to hold min(estimated_tokens, burst) tokens, so a request
  // larger than the bucket still passes when the bucket is full; it then takes the whole burst
  // (Admission::reserved_tokens), never more, so one oversized estimate empties the bucket but
  // never puts it in debt. Negative estimates count as 0; estimates above 150 million as 150
  // million.
  Admission Admit(const RateLimitPolicy& policy, const RateLimitKey& key, int64_t estimated_tokens,
                  TimeNs now);

  // Corrects an admitted request's token reservation (Admission::reserved_tokens) to its real
  // usage. The bucket may go negative (a long answer borrows from the next minutes), down to 150
  // million tokens of debt; counts beyond +-150 million are taken as +-150 million.
  void Reconcile(const RateLimitPolicy& policy, const RateLimitKey& key, int64_t reserved_tokens,
                 int64_t actual_tokens, TimeNs now);

  // Undoes an Admit that was allowed (one request and its `reserved_tokens` go back), for an
  // admission refused afterwards by another limit. The same as never having admitted it, as
  // long as no other call took from the bucket since.
  void Refund(const RateLimitPolicy& policy, const RateLimitKey& key, int64_t reserved_tokens,
              TimeNs now);

  // Evicts every bucket that is full at `now`. Returns how many were evicted.
  size_t EvictIdle(TimeNs now);

  // The number of buckets held now, over all shards.
  size_t BucketCount() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_RATE_LIMITER_H_
