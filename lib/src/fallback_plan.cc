// Failure classification, the retry policy, and Retry-After parsing.
#include "inferencegw/fallback_plan.h"

#include <algorithm>

#include "civil_time_internal.h"
#include "inferencegw/stable_hash.h"

namespace inferencegw {
namespace {

// Retry-After values saturate here (about 31 years): far beyond any deadline, and small enough
// that `now + delay` cannot overflow.
constexpr int64_t kMaxRetryAfterSeconds = 1'000'000'000;

constexpr uint32_t Bit(RetryOn r) { return static_cast<uint32_t>(r); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses "123" or "1.25" (non-negative, digits on both sides of an optional '.') as a count of
// `unit_nanos`. Saturates at kMaxRetryAfterSeconds. False when `s` is not such a number.
bool ParseDecimal(std::string_view s, int64_t unit_nanos, DurationNs* out) {
  if (s.empty() || !IsDigit(s.front())) return false;
  const int64_t max_units = kMaxRetryAfterSeconds * (kNanosPerSecond / unit_nanos);
  int64_t units = 0;
  bool saturated = false;
  size_t i = 0;
  for (; i < s.size() && IsDigit(s[i]); ++i) {
    if (!saturated) {
      units = units * 10 + (s[i] - '0');
      if (units > max_units) saturated = true;
    }
  }
  int64_t frac_nanos = 0;
  if (i < s.size()) {
    if (s[i] != '.' || i + 1 == s.size()) return false;
    ++i;
    int64_t place = unit_nanos;
    for (; i < s.size(); ++i) {
      if (!IsDigit(s[i])) return false;
      place /= 10;
      frac_nanos += (s[i] - '0') * place;  // digits below 1 ns contribute 0
    }
  }
  if (saturated) {
    *out = Seconds(kMaxRetryAfterSeconds);
  } else {
    *out = std::min<DurationNs>(units * unit_nanos + frac_nanos, Seconds(kMaxRetryAfterSeconds));
  }
  return true;
}


bool ParseFixedDigits(std::string_view s, size_t pos, size_t n, int64_t* out) {
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 5.6.7) into Unix seconds.
bool ParseImfFixdate(std::string_view s, int64_t* unix_seconds) {
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // 0123456789012345678901234567 8
  // Sun, 06 Nov 1994 08:49:37 GMT
  if (s.size() != 29) return false;
  if (std::find(std::begin(kDays), std::end(kDays), s.substr(0, 3)) == std::end(kDays)) {
    return false;
  }
  if (s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT") {
    return false;
  }
  const auto month_it = std::find(std::begin(kMonths), std::end(kMonths), s.substr(8, 3));
  if (month_it == std::end(kMonths)) return false;
  const int64_t month = (month_it - std::begin(kMonths)) + 1;
  int64_t day, year, hour, minute, second;
  if (!ParseFixedDigits(s, 5, 2, &day) || !ParseFixedDigits(s, 12, 4, &year) ||
      !ParseFixedDigits(s, 17, 2, &hour) || !ParseFixedDigits(s, 20, 2, &minute) ||
      !ParseFixedDigits(s, 23, 2, &second)) {
    return false;
  }
  const int64_t month_days = internal::DaysInMonth(year, month);
  if (day < 1 || day > month_days || hour > 23 || minute > 59 || second > 60) return false;
  *unix_seconds = internal::DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return true;
}

}  // namespace

std::string_view FailureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone:
      return "none";
    case FailureKind::kConnect:
      return "connect_error";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kStatus5xx:
      return "5xx";
    case FailureKind::kStatus429:
      return "429";
    case FailureKind::kStatus4xx:
      return "4xx";
    case FailureKind::kProtocol:
      return "protocol_error";
    case FailureKind::kBreakerOpen:
      return "breaker_open";
    case FailureKind::kOverloaded:
      return "overloaded";
    case FailureKind::kCancelled:
      return "cancelled";
    case FailureKind::kBroken:
      return "broken_response";
  }
  return "none";
}

FailureKind FailureKindForStatus(int http_status) {
  if (http_status == 429) return FailureKind::kStatus429;
  if (http_status >= 400 && http_status <= 499) return FailureKind::kStatus4xx;
  if (http_status >= 500 && http_status <= 599) return FailureKind::kStatus5xx;
  return FailureKind::kNone;
}

RetryPolicy RetryPolicy::FromConfig(const std::optional<FallbackConfig>& fallback,
                                    size_t chain_length, int max_backend_timeout_seconds) {
  RetryPolicy policy;
  const int64_t chain = static_cast<int64_t>(std::max<size_t>(chain_length, 1));
  if (!fallback.has_value()) {
    policy.retries_per_backend = 0;
    policy.attempt_timeout =
        Seconds(max_backend_timeout_seconds > 0 ? max_backend_timeout_seconds : 60);
    policy.deadline = chain * policy.attempt_timeout;
    return policy;
  }
  policy.retry_on = fallback->retry_on;
  policy.retries_per_backend = std::max(fallback->retries_per_backend, 0);
  policy.backoff_base = Milliseconds(std::max(fallback->backoff_base_millis, 0));
  policy.backoff_max =
      std::max(Milliseconds(std::max(fallback->backoff_max_millis, 0)), policy.backoff_base);
  policy.attempt_timeout = Seconds(std::max(fallback->timeout_seconds, 1));
  if (fallback->deadline_seconds > 0) {
    policy.deadline = Seconds(fallback->deadline_seconds);
  } else {
    const int64_t retries = policy.retries_per_backend;
    policy.deadline =
        chain * (1 + retries) * policy.attempt_timeout + chain * retries * policy.backoff_max;
  }
  return policy;
}

bool RetryPolicy::ShouldRetry(FailureKind kind) const {
  switch (kind) {
    case FailureKind::kConnect:
    case FailureKind::kBroken:
      return (retry_on & Bit(RetryOn::kConnectError)) != 0;
    case FailureKind::kTimeout:
      return (retry_on & Bit(RetryOn::kTimeout)) != 0;
    case FailureKind::kStatus5xx:
    case FailureKind::kProtocol:  // an unusable 2xx answer is the server's failure, like a 5xx
      return (retry_on & Bit(RetryOn::k5xx)) != 0;
    case FailureKind::kStatus429:
      return (retry_on & Bit(RetryOn::k429)) != 0;
    case FailureKind::kBreakerOpen:
    case FailureKind::kOverloaded:
      return true;
    case FailureKind::kStatus4xx:
    case FailureKind::kCancelled:
    case FailureKind::kNone:
      return false;
  }
  return false;
}

DurationNs RetryPolicy::BackoffDelay(int retry, uint64_t random, DurationNs retry_after) const {
  const DurationNs max = std::max<DurationNs>(backoff_max, 0);
  DurationNs cap = std::min(std::max<DurationNs>(backoff_base, 0), max);
  for (int i = 0; i < retry && cap < max; ++i) cap = cap > max / 2 ? max : cap * 2;
  const auto jitter = static_cast<DurationNs>(MulHigh64(random, static_cast<uint64_t>(cap) + 1));
  return std::max(jitter, retry_after);
}

DurationNs ParseRetryAfter(std::string_view retry_after, std::string_view retry_after_ms,
                           int64_t unix_now_nanos) {
  DurationNs delay = 0;
  if (ParseDecimal(TrimOws(retry_after_ms), kNanosPerMilli, &delay)) return delay;
  const std::string_view value = TrimOws(retry_after);
  if (ParseDecimal(value, kNanosPerSecond, &delay)) return delay;
  int64_t date_seconds = 0;
  if (!ParseImfFixdate(value, &date_seconds)) return 0;
  __extension__ typedef __int128 Int128;
  const Int128 diff = static_cast<Int128>(date_seconds) * kNanosPerSecond - unix_now_nanos;
  if (diff <= 0) return 0;
  const Int128 cap = static_cast<Int128>(Seconds(kMaxRetryAfterSeconds));
  return static_cast<DurationNs>(diff < cap ? diff : cap);
}

}  // namespace inferencegw
