// Fallback and retries: the ordered list of backends one request may try, which failures move
// on, and how long to wait before a retry on the same backend.
//
//   RetryPolicy policy = RetryPolicy::FromConfig(route.spec.fallback, backend.spec);
//   if (policy.ShouldRetry(FailureKind::k429)) {
//     DurationNs wait = policy.BackoffDelay(/*retry=*/0, rng(), /*retry_after=*/Seconds(2));
//   }
#ifndef INFERENCEGW_FALLBACK_PLAN_H_
#define INFERENCEGW_FALLBACK_PLAN_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/container/inlined_vector.h"
#include "inferencegw/clock.h"
#include "inferencegw/config.h"

namespace inferencegw {

// Index of a backend in a compiled RouteTable.
using BackendIndex = uint16_t;
inline constexpr BackendIndex kNoBackend = 0xFFFF;

// Why one attempt failed.
enum class FailureKind : uint8_t {
  kNone = 0,
  kConnect,      // refused, reset or closed before a response, DNS, TLS
  kTimeout,      // the attempt's timeout passed before a complete response (or first byte)
  kStatus5xx,    // the upstream answered 5xx (including Anthropic's 529)
  kStatus429,    // the upstream answered 429
  kStatus4xx,    // any other 4xx: the request itself is bad; never retried
  kProtocol,     // the upstream's answer could not be understood (not JSON, malformed SSE, too big)
  kBreakerOpen,  // skipped: the circuit breaker refused (no request was sent)
  kOverloaded,   // skipped: the backend is at maxConcurrency (no request was sent)
  kCancelled,    // the client went away; not the backend's fault (ignored by health)
  kBroken,       // the connection broke or was reset after the response had begun
};
std::string_view FailureKindName(FailureKind kind);  // "connect_error", "timeout", "5xx", ...

// The FailureKind for an upstream HTTP status (kNone for 1xx-3xx).
FailureKind FailureKindForStatus(int http_status);

// Thread-compatible value type.
struct RetryPolicy {
  uint32_t retry_on = kDefaultRetryOn;  // RetryOn bits
  int retries_per_backend = 0;
  DurationNs backoff_base = Milliseconds(100);
  DurationNs backoff_max = Milliseconds(2000);
  // Per attempt; an attempt to backend b gets min(attempt_timeout, b's timeoutSeconds).
  DurationNs attempt_timeout = Seconds(30);
  DurationNs deadline = Seconds(120);  // for all attempts together

  // From a route's fallback block and its plan shape. Without a fallback block the attempt
  // timeout is `max_backend_timeout_seconds` (the largest timeoutSeconds of the route's
  // backends) and nothing is retried. The deadline is deadlineSeconds when set, else
  // chain_length x (1 + retries) x attempt_timeout + chain_length x retries x backoff_max.
  static RetryPolicy FromConfig(const std::optional<FallbackConfig>& fallback, size_t chain_length,
                                int max_backend_timeout_seconds);

  // Whether a failure of this kind moves on (to a retry or the next backend). kBreakerOpen and
  // kOverloaded always move on, kStatus4xx never does. kProtocol (a 2xx answer that is not
  // usable) follows the 5xx bit, kBroken (a response cut after it began) the connect-error bit.
  bool ShouldRetry(FailureKind kind) const;

  // The wait before retry number `retry` (0-based) on the same backend: full jitter,
  // uniform in [0, min(backoff_max, backoff_base * 2^retry)] from `random`, but never less
  // than `retry_after` (the upstream's Retry-After; 0 when absent).
  DurationNs BackoffDelay(int retry, uint64_t random, DurationNs retry_after) const;
};

// The distinct backends one request may try, in order: the primary, then the fallback chain.
struct AttemptPlan {
  static constexpr size_t kMaxBackends = 16;
  absl::InlinedVector<BackendIndex, kMaxBackends> backends;  // inline: Decide never allocates
  // True when no backend of the plan was available, so all are listed in their configured order
  // ("panic mode": health data may be stale, and trying beats answering 503 outright).
  bool panic = false;
  // Backends the route would have tried (the primary, the fallback chain) that were left out
  // because they were unavailable when the plan was made (unhealthy, breaker open, or full).
  absl::InlinedVector<BackendIndex, 4> skipped;
};

// Parses a Retry-After / retry-after-ms header value: integer or decimal seconds, or an HTTP
// date relative to `unix_now_nanos`. Returns 0 for missing or unparsable values.
DurationNs ParseRetryAfter(std::string_view retry_after, std::string_view retry_after_ms,
                           int64_t unix_now_nanos);

}  // namespace inferencegw

#endif  // INFERENCEGW_FALLBACK_PLAN_H_
