// Upstream targets, the client-header allow-list and upstream retry hints.
#include "inferencegw/provider.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "civil_time_internal.h"
#include "fmt/format.h"
#include "inferencegw/fallback_plan.h"
#include "inferencegw/route_table.h"

namespace inferencegw {
namespace {

void AddHeaders(const BackendEndpoint& backend, bool stream, UpstreamTarget* t) {
  if (backend.format == WireFormat::kAnthropic) {
    if (!backend.api_key.empty()) t->headers.emplace_back("x-api-key", backend.api_key);
    t->headers.emplace_back("anthropic-version", kAnthropicVersion);
  } else if (!backend.api_key.empty()) {
    t->headers.emplace_back("authorization", "Bearer " + std::string(backend.api_key));
  }
  t->headers.emplace_back("content-type", "application/json");
  if (stream) t->headers.emplace_back("accept", "text/event-stream");
}

// Consumes a non-negative decimal number from the front of `s`.
bool ConsumeNumber(std::string_view* s, double* out) {
  size_t i = 0;
  while (i < s->size() && (((*s)[i] >= '0' && (*s)[i] <= '9') || (*s)[i] == '.')) ++i;
  if (i == 0) return false;
  double value = 0, scale = 0;
  for (size_t j = 0; j < i; ++j) {
    const char c = (*s)[j];
    if (c == '.') {
      if (scale != 0) return false;  // two dots
      scale = 1;
      continue;
    }
    if (scale != 0) {
      scale /= 10;
      value += (c - '0') * scale;
    } else {
      value = value * 10 + (c - '0');
    }
  }
  s->remove_prefix(i);
  *out = value;
  return true;
}

// Consumes exactly `digits` decimal digits.
bool ConsumeDigits(std::string_view* s, size_t digits, int* out) {
  if (s->size() < digits) return false;
  int value = 0;
  for (size_t i = 0; i < digits; ++i) {
    const char c = (*s)[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  s->remove_prefix(digits);
  *out = value;
  return true;
}

bool ConsumeChar(std::string_view* s, std::string_view allowed) {
  if (s->empty() || allowed.find(s->front()) == std::string_view::npos) return false;
  s->remove_prefix(1);
  return true;
}


}  // namespace

BackendEndpoint EndpointOf(const CompiledBackend& backend) {
  return BackendEndpoint{backend.root_url, backend.api_base_url, backend.format, backend.api_key};
}

bool ServesResponsesApi(const CompiledBackend& backend) {
  return backend.type == BackendType::kExternal && backend.provider == Provider::kOpenAI &&
         backend.format == WireFormat::kOpenAI;
}

UpstreamTarget BuildUpstreamTarget(const BackendEndpoint& backend, std::string_view path,
                                   bool stream) {
  UpstreamTarget t;
  t.url.reserve(backend.api_base_url.size() + path.size());
  t.url.append(backend.api_base_url).append(path);
  AddHeaders(backend, stream, &t);
  return t;
}

UpstreamTarget BuildPassthroughTarget(const BackendEndpoint& backend,
                                      std::string_view client_path) {
  UpstreamTarget t;
  t.url.reserve(backend.root_url.size() + client_path.size());
  t.url.append(backend.root_url).append(client_path);
  AddHeaders(backend, false, &t);
  return t;
}

bool ForwardClientHeader(WireFormat upstream, std::string_view name) {
  if (name == "x-request-id" || name == "traceparent" || name == "tracestate") return true;
  switch (upstream) {
    case WireFormat::kAnthropic:
      return name == "anthropic-beta";
    case WireFormat::kOpenAI:
      return name == "openai-organization" || name == "openai-project";
    case WireFormat::kCohere:
      return name == "x-client-name";
    case WireFormat::kKServe:
      return false;
  }
  return false;
}

std::optional<DurationNs> ParseResetDuration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double total_seconds = 0;
  while (!s.empty()) {
    double value;
    if (!ConsumeNumber(&s, &value)) return std::nullopt;
    double unit;
    if (s.starts_with("ms")) {
      unit = 1e-3;
      s.remove_prefix(2);
    } else if (s.starts_with("us")) {
      unit = 1e-6;
      s.remove_prefix(2);
    } else if (s.starts_with("ns")) {
      unit = 1e-9;
      s.remove_prefix(2);
    } else if (s.starts_with("h")) {
      unit = 3600;
      s.remove_prefix(1);
    } else if (s.starts_with("m")) {
      unit = 60;
      s.remove_prefix(1);
    } else if (s.starts_with("s")) {
      unit = 1;
      s.remove_prefix(1);
    } else {
      return std::nullopt;
    }
    total_seconds += value * unit;
  }
  return static_cast<DurationNs>(std::llround(total_seconds * kNanosPerSecond));
}

namespace {

// An RFC 3339 time as Unix seconds and the nanoseconds after them; false when malformed.
bool ParseRfc3339Parts(std::string_view s, int64_t* unix_seconds, int64_t* nanos_after) {
  int year, month, day, hour, minute, second;
  if (!ConsumeDigits(&s, 4, &year) || !ConsumeChar(&s, "-") || !ConsumeDigits(&s, 2, &month) ||
      !ConsumeChar(&s, "-") || !ConsumeDigits(&s, 2, &day) || !ConsumeChar(&s, "Tt ") ||
      !ConsumeDigits(&s, 2, &hour) || !ConsumeChar(&s, ":") || !ConsumeDigits(&s, 2, &minute) ||
      !ConsumeChar(&s, ":") || !ConsumeDigits(&s, 2, &second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > internal::DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return false;
  }
  int64_t nanos = 0;
  if (ConsumeChar(&s, ".")) {
    int64_t scale = kNanosPerSecond;
    size_t digits = 0;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
      if (scale > 1) {
        scale /= 10;
        nanos += (s.front() - '0') * scale;
      }
      s.remove_prefix(1);
      ++digits;
    }
    if (digits == 0) return false;
  }
  int64_t offset_seconds = 0;
  if (!ConsumeChar(&s, "Zz")) {
    const bool negative = !s.empty() && s.front() == '-';
    int offset_hour, offset_minute;
    if (!ConsumeChar(&s, "+-") || !ConsumeDigits(&s, 2, &offset_hour) || !ConsumeChar(&s, ":") ||
        !ConsumeDigits(&s, 2, &offset_minute)) {
      return false;
    }
    offset_seconds = (offset_hour * 3600 + offset_minute * 60) * (negative ? -1 : 1);
  }
  if (!s.empty()) return false;
  *unix_seconds = internal::DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                  second - offset_seconds;
  *nanos_after = nanos;
  return true;
}

}  // namespace

std::optional<int64_t> ParseRfc3339(std::string_view text) {
  int64_t seconds = 0, nanos = 0;
  if (!ParseRfc3339Parts(text, &seconds, &nanos)) return std::nullopt;
  // Unix nanoseconds fit in int64 from 1677 to 2262; later or earlier times do not parse.
  constexpr int64_t kMaxSeconds = std::numeric_limits<int64_t>::max() / kNanosPerSecond - 1;
  if (seconds > kMaxSeconds || seconds < -kMaxSeconds) return std::nullopt;
  return seconds * kNanosPerSecond + nanos;
}

std::optional<int64_t> ParseRfc3339Seconds(std::string_view text) {
  int64_t seconds = 0, nanos = 0;
  if (!ParseRfc3339Parts(text, &seconds, &nanos)) return std::nullopt;
  return seconds;
}

std::string FormatRfc3339(int64_t unix_seconds) {
  constexpr int64_t kSecondsPerDay = 86400;
  const int64_t days = unix_seconds / kSecondsPerDay - (unix_seconds % kSecondsPerDay < 0 ? 1 : 0);
  const int64_t second_of_day = unix_seconds - days * kSecondsPerDay;
  const internal::CivilDate date = internal::CivilFromDays(days);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", date.year, date.month, date.day,
                     second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
}

DurationNs UpstreamRetryAfter(HeaderLookup header, int64_t unix_now_nanos) {
  const std::optional<std::string_view> retry_after = header("retry-after");
  const std::optional<std::string_view> retry_after_ms = header("retry-after-ms");
  if (retry_after.has_value() || retry_after_ms.has_value()) {
    const DurationNs d =
        ParseRetryAfter(retry_after.value_or(std::string_view()),
                        retry_after_ms.value_or(std::string_view()), unix_now_nanos);
    if (d > 0) return d;
  }
  DurationNs wait = 0;
  static constexpr std::string_view kOpenAI[][2] = {
      {"x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"},
      {"x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"}};
  for (const auto& [remaining, reset] : kOpenAI) {
    if (header(remaining) != std::optional<std::string_view>("0")) continue;
    const std::optional<std::string_view> value = header(reset);
    if (!value.has_value()) continue;
    if (std::optional<DurationNs> d = ParseResetDuration(*value)) wait = std::max(wait, *d);
  }
  static constexpr std::string_view kAnthropic[][2] = {
      {"anthropic-ratelimit-requests-remaining", "anthropic-ratelimit-requests-reset"},
      {"anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-tokens-reset"},
      {"anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-input-tokens-reset"},
      {"anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"}};
  for (const auto& [remaining, reset] : kAnthropic) {
    if (header(remaining) != std::optional<std::string_view>("0")) continue;
    const std::optional<std::string_view> value = header(reset);
    if (!value.has_value()) continue;
    if (std::optional<int64_t> at = ParseRfc3339(*value)) {
      wait = std::max(wait, *at - unix_now_nanos);
    }
  }
  return wait;
}

}  // namespace inferencegw
