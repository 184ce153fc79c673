// Tests for failure classification, RetryPolicy and Retry-After parsing (fallback_plan.h).
#include "inferencegw/fallback_plan.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>

#include "inferencegw/stable_hash.h"

namespace inferencegw {
namespace {

constexpr uint32_t Bits(RetryOn r) { return static_cast<uint32_t>(r); }
constexpr int64_t kOct21_2015_072800 = 1445412480;  // "Wed, 21 Oct 2015 07:28:00 GMT"

}  // namespace

// FailureKindName gives the metric label of every kind.
TEST_CASE("FailureKindName names every kind", "[fallback_plan]") {
  CHECK(FailureKindName(FailureKind::kNone) == "none");
  CHECK(FailureKindName(FailureKind::kConnect) == "connect_error");
  CHECK(FailureKindName(FailureKind::kTimeout) == "timeout");
  CHECK(FailureKindName(FailureKind::kStatus5xx) == "5xx");
  CHECK(FailureKindName(FailureKind::kStatus429) == "429");
  CHECK(FailureKindName(FailureKind::kStatus4xx) == "4xx");
  CHECK(FailureKindName(FailureKind::kProtocol) == "protocol_error");
  CHECK(FailureKindName(FailureKind::kBroken) == "broken_response");
  CHECK(FailureKindName(FailureKind::kBreakerOpen) == "breaker_open");
  CHECK(FailureKindName(FailureKind::kOverloaded) == "overloaded");
  CHECK(FailureKindName(FailureKind::kCancelled) == "cancelled");
}

// FailureKindForStatus: 429, other 4xx, 5xx (529 included), else none.
TEST_CASE("FailureKindForStatus classifies HTTP statuses", "[fallback_plan]") {
  CHECK(FailureKindForStatus(200) == FailureKind::kNone);
  CHECK(FailureKindForStatus(204) == FailureKind::kNone);
  CHECK(FailureKindForStatus(304) == FailureKind::kNone);
  CHECK(FailureKindForStatus(100) == FailureKind::kNone);
  CHECK(FailureKindForStatus(400) == FailureKind::kStatus4xx);
  CHECK(FailureKindForStatus(404) == FailureKind::kStatus4xx);
  CHECK(FailureKindForStatus(499) == FailureKind::kStatus4xx);
  CHECK(FailureKindForStatus(429) == FailureKind::kStatus429);
  CHECK(FailureKindForStatus(500) == FailureKind::kStatus5xx);
  CHECK(FailureKindForStatus(503) == FailureKind::kStatus5xx);
  CHECK(FailureKindForStatus(529) == FailureKind::kStatus5xx);
}

// ShouldRetry follows retry_on bit by bit; breaker/overload always move on; 4xx never; an
// unusable answer counts as 5xx and a response broken mid-body as a connect error (issue 8).
TEST_CASE("ShouldRetry table", "[fallback_plan]") {
  RetryPolicy all;
  CHECK(all.ShouldRetry(FailureKind::kConnect));
  CHECK(all.ShouldRetry(FailureKind::kTimeout));
  CHECK(all.ShouldRetry(FailureKind::kStatus5xx));
  CHECK(all.ShouldRetry(FailureKind::kStatus429));
  CHECK(all.ShouldRetry(FailureKind::kBreakerOpen));
  CHECK(all.ShouldRetry(FailureKind::kOverloaded));
  CHECK_FALSE(all.ShouldRetry(FailureKind::kStatus4xx));
  CHECK(all.ShouldRetry(FailureKind::kProtocol));
  CHECK(all.ShouldRetry(FailureKind::kBroken));
  CHECK_FALSE(all.ShouldRetry(FailureKind::kNone));
  CHECK_FALSE(all.ShouldRetry(FailureKind::kCancelled));

  RetryPolicy only5xx;
  only5xx.retry_on = Bits(RetryOn::k5xx);
  CHECK_FALSE(only5xx.ShouldRetry(FailureKind::kConnect));
  CHECK_FALSE(only5xx.ShouldRetry(FailureKind::kTimeout));
  CHECK(only5xx.ShouldRetry(FailureKind::kStatus5xx));
  CHECK(only5xx.ShouldRetry(FailureKind::kProtocol));
  CHECK_FALSE(only5xx.ShouldRetry(FailureKind::kBroken));
  CHECK_FALSE(only5xx.ShouldRetry(FailureKind::kStatus429));
  CHECK(only5xx.ShouldRetry(FailureKind::kBreakerOpen));

  RetryPolicy connect_and_429;
  connect_and_429.retry_on = Bits(RetryOn::kConnectError) | Bits(RetryOn::k429);
  CHECK(connect_and_429.ShouldRetry(FailureKind::kConnect));
  CHECK_FALSE(connect_and_429.ShouldRetry(FailureKind::kTimeout));
  CHECK_FALSE(connect_and_429.ShouldRetry(FailureKind::kStatus5xx));
  CHECK(connect_and_429.ShouldRetry(FailureKind::kStatus429));

  RetryPolicy none;
  none.retry_on = 0;
  CHECK_FALSE(none.ShouldRetry(FailureKind::kConnect));
  CHECK_FALSE(none.ShouldRetry(FailureKind::kTimeout));
  CHECK(none.ShouldRetry(FailureKind::kBreakerOpen));
  CHECK(none.ShouldRetry(FailureKind::kOverloaded));
}

// BackoffDelay is full jitter within [0, min(max, base * 2^retry)], doubling per retry.
TEST_CASE("BackoffDelay bounds", "[fallback_plan]") {
  RetryPolicy p;  // base 100 ms, max 2000 ms
  CHECK(p.BackoffDelay(0, 0, 0) == 0);
  CHECK(p.BackoffDelay(0, ~0ULL, 0) == Milliseconds(100));
  CHECK(p.BackoffDelay(1, ~0ULL, 0) == Milliseconds(200));
  CHECK(p.BackoffDelay(3, ~0ULL, 0) == Milliseconds(800));
  CHECK(p.BackoffDelay(4, ~0ULL, 0) == Milliseconds(1600));
  CHECK(p.BackoffDelay(5, ~0ULL, 0) == Milliseconds(2000));
  CHECK(p.BackoffDelay(1000, ~0ULL, 0) == Milliseconds(2000));   // no overflow
  CHECK(p.BackoffDelay(2, 1ULL << 63, 0) == Milliseconds(200));  // the middle of [0, 400 ms]
  double sum = 0;
  constexpr int kDraws = 100'000;
  for (int k = 0; k < kDraws; ++k) {
    const DurationNs d = p.BackoffDelay(2, SplitMix64(k * kGoldenGamma), 0);
    REQUIRE(d >= 0);
    REQUIRE(d <= Milliseconds(400));
    sum += static_cast<double>(d);
  }
  CHECK(sum / kDraws == Approx(static_cast<double>(Milliseconds(200))).epsilon(0.01));
}

// Retry-After is a floor on the wait: never less than the upstream asked for.
TEST_CASE("BackoffDelay honours Retry-After", "[fallback_plan]") {
  RetryPolicy p;
  CHECK(p.BackoffDelay(0, ~0ULL, Seconds(5)) == Seconds(5));
  CHECK(p.BackoffDelay(0, 0, Milliseconds(50)) == Milliseconds(50));
  CHECK(p.BackoffDelay(0, ~0ULL, Milliseconds(50)) == Milliseconds(100));
  for (int k = 0; k < 1000; ++k) {
    REQUIRE(p.BackoffDelay(1, SplitMix64(k), Milliseconds(150)) >= Milliseconds(150));
  }
}

// ParseRetryAfter reads integer and decimal seconds, retry-after-ms first, and HTTP dates.
TEST_CASE("ParseRetryAfter forms", "[fallback_plan]") {
  const int64_t now = kOct21_2015_072800 * kNanosPerSecond - Seconds(30);
  CHECK(ParseRetryAfter("2", "", now) == Seconds(2));
  CHECK(ParseRetryAfter("0", "", now) == 0);
  CHECK(ParseRetryAfter("1.5", "", now) == Milliseconds(1500));
  CHECK(ParseRetryAfter(" 3 ", "", now) == Seconds(3));
  CHECK(ParseRetryAfter("0.000000001", "", now) == 1);
  CHECK(ParseRetryAfter("10", "250", now) == Milliseconds(250));
  CHECK(ParseRetryAfter("", "1.5", now) == 1'500'000);
  CHECK(ParseRetryAfter("10", "soon", now) == Seconds(10));  // invalid ms: fall back
  CHECK(ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", "", now) == Seconds(30));
  CHECK(ParseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", "", now) == 0);  // in the past
  CHECK(ParseRetryAfter("Mon, 29 Feb 2016 00:00:00 GMT", "",
                        1456704000LL * kNanosPerSecond - Milliseconds(1)) == Milliseconds(1));
  CHECK(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", "", 784111700LL * kNanosPerSecond) ==
        Seconds(77));
}

// Garbage, negative numbers and malformed dates give 0; huge values saturate without overflow.
TEST_CASE("ParseRetryAfter rejects garbage", "[fallback_plan]") {
  const int64_t now = kOct21_2015_072800 * kNanosPerSecond;
  for (const char* bad : {"", "soon", "-1", "+1", "1e3", "1.", ".5", "1.5s", "0x10", "1 2",
                          "Tue, 29 Feb 2015 00:00:00 GMT", "Wed, 21 Oct 2015 07:28:00 UTC",
                          "Wed, 32 Oct 2015 07:28:00 GMT", "Wed, 21 Foo 2015 07:28:00 GMT",
                          "Wednesday, 21-Oct-15 07:28:00 GMT", "Wed, 21 Oct 2015 24:00:00 GMT"}) {
    CAPTURE(bad);
    CHECK(ParseRetryAfter(bad, "", now) == 0);
    CHECK(ParseRetryAfter("", bad, now) == 0);
  }
  const DurationNs huge = ParseRetryAfter("999999999999999999999999", "", now);
  CHECK(huge == Seconds(1'000'000'000));
  CHECK(ParseRetryAfter("", "999999999999999999999999", now) == Seconds(1'000'000'000));
  CHECK(ParseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", "", now) == Seconds(1'000'000'000));
}

// FromConfig: no fallback block uses the backend timeout and no retries; defaults otherwise;
// the deadline is deadlineSeconds or n x (1 + r) x timeout + n x r x backoff_max.
TEST_CASE("RetryPolicy::FromConfig defaults and deadline formula", "[fallback_plan]") {
  const RetryPolicy none = RetryPolicy::FromConfig(std::nullopt, 1, 45);
  CHECK(none.retries_per_backend == 0);
  CHECK(none.attempt_timeout == Seconds(45));
  CHECK(none.deadline == Seconds(45));

  const RetryPolicy defaults = RetryPolicy::FromConfig(FallbackConfig{}, 3, 60);
  CHECK(defaults.retry_on == kDefaultRetryOn);
  CHECK(defaults.retries_per_backend == 0);
  CHECK(defaults.backoff_base == Milliseconds(100));
  CHECK(defaults.backoff_max == Milliseconds(2000));
  CHECK(defaults.attempt_timeout == Seconds(30));
  CHECK(defaults.deadline == Seconds(90));  // 3 x 1 x 30 s

  FallbackConfig fb;
  fb.timeout_seconds = 10;
  fb.retries_per_backend = 2;
  fb.backoff_base_millis = 50;
  fb.backoff_max_millis = 1000;
  fb.retry_on = Bits(RetryOn::k5xx) | Bits(RetryOn::kTimeout);
  const RetryPolicy custom = RetryPolicy::FromConfig(fb, 3, 60);
  CHECK(custom.retry_on == fb.retry_on);
  CHECK(custom.retries_per_backend == 2);
  CHECK(custom.backoff_base == Milliseconds(50));
  CHECK(custom.backoff_max == Milliseconds(1000));
  CHECK(custom.attempt_timeout == Seconds(10));
  CHECK(custom.deadline == Seconds(3 * 3 * 10) + 3 * 2 * Milliseconds(1000));  // 93 s

  fb.deadline_seconds = 50;
  CHECK(RetryPolicy::FromConfig(fb, 3, 60).deadline == Seconds(50));
}

}  // namespace inferencegw
