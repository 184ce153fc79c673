#include "inferencegw/exchange_report.h"

#include <algorithm>
#include <cmath>

#include "fmt/format.h"
#include "inferencegw/client_auth.h"
#include "inferencegw/status.h"
#include "inferencegw/provider.h"
#include "json_writer.h"

namespace inferencegw {

namespace {

std::string_view ExhaustedCode(int http_status) {
  switch (http_status) {
    case 504:
      return "upstream_timeout";
    case 503:
      return "no_backend_available";
    case 429:
      return "upstream_rate_limited";
    default:
      return "upstream_failed";
  }
}

std::string AttemptOutcomeText(const AttemptRecord& a) {
  if (a.failure == FailureKind::kStatus5xx || a.failure == FailureKind::kStatus429 ||
      a.failure == FailureKind::kStatus4xx) {
    return fmt::format("{}", a.http_status);
  }
  return std::string(FailureKindName(a.failure));
}

// The longest prefix of `s` of at most `max_bytes` that does not end inside a UTF-8 sequence.
std::string_view TruncateUtf8(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end);
}

int64_t CeilSeconds(DurationNs d) {
  if (d <= 0) return 0;
  return (d + kNanosPerSecond - 1) / kNanosPerSecond;
}

void AppendQuota(std::string_view kind, const Quota& quota, HeaderList* out) {
  if (quota.limit < 0) return;
  out->emplace_back(fmt::format("x-ratelimit-limit-{}", kind), fmt::format("{}", quota.limit));
  out->emplace_back(fmt::format("x-ratelimit-remaining-{}", kind),
                    fmt::format("{}", std::max<int64_t>(0, quota.remaining)));
  out->emplace_back(fmt::format("x-ratelimit-reset-{}", kind), FormatGoDuration(quota.reset));
}

}  // namespace

void AppendDecisionHeaders(const Exchange& exchange, const ExchangeResult* result,
                           HeaderList* out) {
  const Decision& d = exchange.decision();
  if (d.route == nullptr) return;
  out->emplace_back(kRouteResponseHeader, d.route->key);
  if (exchange.served_by() != kNoBackend) {
    out->emplace_back(kBackendResponseHeader, exchange.table().backend(exchange.served_by()).key);
  }
  out->emplace_back(kAttemptsResponseHeader, fmt::format("{}", exchange.sent_attempts()));
  if (d.experiment != nullptr) {
    out->emplace_back(kExperimentResponseHeader, d.experiment->name);
    out->emplace_back(kVariantResponseHeader, ArmName(d.arm));
  }
  if (result != nullptr && result->cost_known) {
    out->emplace_back(kCostResponseHeader, FormatCost(result->cost, 9));
    out->emplace_back(kCurrencyResponseHeader, result->currency);
  }
  // Every attempt answered 429: pass on the shortest Retry-After the backends asked for (whole
  // seconds, rounded up). A refusal by our own limiter gets its retry-after from
  // AppendRateLimitHeaders instead; the two never apply to the same exchange.
  if (const DurationNs wait = exchange.ExhaustedRetryAfter(); wait > 0) {
    AppendRetryAfter(wait, out);
  }
}

void AppendRetryAfter(DurationNs wait, HeaderList* out) {
  out->emplace_back("retry-after", fmt::format("{}", std::max<int64_t>(1, CeilSeconds(wait))));
}

void AppendRateLimitHeaders(const CompiledRoute& route, const Admission& admission,
                            HeaderList* out) {
  if (!route.rate_limited) return;
  AppendQuota("requests", admission.requests, out);
  AppendQuota("tokens", admission.tokens, out);
  if (!admission.allowed) AppendRetryAfter(admission.retry_after, out);
}

std::string RateLimitedErrorBody(ClientApi api, const Admission& admission,
                                 std::string_view scope) {
  const std::string message =
      fmt::format("rate limit exceeded: {} per minute for this {}; retry after {}",
                  admission.limited_by_tokens ? "tokens" : "requests", scope,
                  FormatGoDuration(admission.retry_after));
  return ErrorJsonFor(api, 429, message, "rate_limit_exceeded");
}

void AppendBudgetHeaders(const Exchange& exchange, HeaderList* out) {
  const std::optional<Exchange::BudgetStatus> b = exchange.budget();
  if (!b.has_value()) return;
  out->emplace_back("x-inferencegw-budget-limit", FormatBudgetAmount(b->cap_nanos));
  out->emplace_back("x-inferencegw-budget-remaining",
                    FormatBudgetAmount(std::max<int64_t>(0, b->cap_nanos - b->spent_nanos)));
  out->emplace_back("x-inferencegw-budget-currency", std::string(b->currency));
  out->emplace_back("x-inferencegw-budget-reset", FormatRfc3339(b->period_end_unix));
}

std::string BudgetExceededErrorBody(ClientApi api, const Exchange::BudgetStatus& budget) {
  std::string_view whose = budget.budget == "user"  ? "your per-user budget on this route"
                           : budget.budget == "key" ? "this API key's budget"
                                                    : "this route's budget";
  const std::string message = fmt::format(
      "spend budget exceeded: {} of {} {} is used up; it resets at {}", whose,
      FormatBudgetAmount(budget.cap_nanos, 2), budget.currency,
      FormatRfc3339(budget.period_end_unix));
  if (ClientWireFormat(api) == WireFormat::kOpenAI) {
    return OpenAIErrorJson(message, "insufficient_quota", "budget_exceeded");
  }
  return ErrorJsonFor(api, 429, message, "budget_exceeded");
}

std::string ExhaustedErrorBody(const Exchange& exchange, ClientApi api, int http_status) {
  const auto& attempts = exchange.attempts();
  std::string message;
  if (attempts.empty()) {
    message = "no backend could be tried";
  } else {
    message =
        fmt::format("all {} attempt{} failed:", attempts.size(), attempts.size() == 1 ? "" : "s");
    for (size_t i = 0; i < attempts.size(); ++i) {
      const AttemptRecord& a = attempts[i];
      message += fmt::format("{} {}: {}", i == 0 ? "" : ";",
                             exchange.table().backend(a.backend).key, AttemptOutcomeText(a));
    }
  }
  if (ClientWireFormat(api) != WireFormat::kOpenAI) {
    return ErrorJsonFor(api, http_status, message, ExhaustedCode(http_status));
  }
  std::string out;
  internal::JsonWriter w(&out);
  w.BeginObject().Key("error").BeginObject();
  w.Key("message").String(message);
  w.Key("type").String(OpenAIErrorTypeFor(http_status));
  w.Key("param").Null();
  w.Key("code").String(ExhaustedCode(http_status));
  w.Key("attempts").BeginArray();
  for (const AttemptRecord& a : attempts) {
    w.BeginObject()
        .Key("backend")
        .String(exchange.table().backend(a.backend).key)
        .Key("outcome")
        .String(FailureKindName(a.failure));
    if (a.http_status != 0) {
      w.Key("status").Int(a.http_status);
    } else {
      w.Key("status").Null();
    }
    w.Key("ms").Double(std::round(static_cast<double>(a.duration) / 1e3) / 1e3);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject().EndObject();
  return out;
}

std::string FormatGoDuration(DurationNs d) {
  if (d <= 0) return "0s";
  if (d < kNanosPerSecond) {
    const int64_t ms = (d + kNanosPerMilli - 1) / kNanosPerMilli;
    return fmt::format("{}ms", ms);
  }
  // Whole hours and minutes, then seconds with up to 3 decimals, as Go prints them.
  const int64_t hours = d / (3600 * kNanosPerSecond);
  d -= hours * 3600 * kNanosPerSecond;
  const int64_t minutes = d / (60 * kNanosPerSecond);
  d -= minutes * 60 * kNanosPerSecond;
  const int64_t millis = (d + kNanosPerMilli - 1) / kNanosPerMilli;
  std::string seconds = millis % 1000 == 0 ? fmt::format("{}", millis / 1000)
                                           : fmt::format("{}.{:03}", millis / 1000, millis % 1000);
  while (seconds.find('.') != std::string::npos && seconds.back() == '0') seconds.pop_back();
  if (hours > 0) return fmt::format("{}h{}m{}s", hours, minutes, seconds);
  if (minutes > 0) return fmt::format("{}m{}s", minutes, seconds);
  return fmt::format("{}s", seconds);
}

std::string RenderRequestLog(const RequestLogEntry& e) {
  std::string out;
  out.reserve(512);
  internal::JsonWriter w(&out);
  const int64_t secs = e.unix_nanos / kNanosPerSecond;
  const int64_t millis = (e.unix_nanos % kNanosPerSecond) / kNanosPerMilli;
  const time_t t = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  w.BeginObject();
  w.Key("ts").String(fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                                 millis));
  w.Key("msg").String("request");
  w.Key("request_id").String(e.request_id);
  w.Key("method").String(e.method);
  w.Key("path").String(e.path);
  if (!e.api.empty()) w.Key("api").String(e.api);
  if (!e.model.empty()) w.Key("model").String(e.model);
  w.Key("status").Int(e.status);
  w.Key("stream").Bool(e.stream);
  w.Key("latency_ms").Double(std::round(static_cast<double>(e.latency) / 1e3) / 1e3);
  if (e.time_to_first_byte >= 0) {
    w.Key("ttfb_ms").Double(std::round(static_cast<double>(e.time_to_first_byte) / 1e3) / 1e3);
  }
  if (e.exchange != nullptr && e.exchange->route() != nullptr) {
    const Exchange& ex = *e.exchange;
    const Decision& d = ex.decision();
    w.Key("route").String(d.route->key);
    if (ex.served_by() != kNoBackend) {
      w.Key("backend").String(ex.table().backend(ex.served_by()).key);
    }
    if (d.experiment != nullptr) {
      w.Key("experiment").String(d.experiment->name);
      w.Key("arm").String(ArmName(d.arm));
    }
    w.Key("attempts").Int(ex.sent_attempts());
    if (ex.attempts().size() > 1 || (ex.attempts().size() == 1 && ex.served_by() == kNoBackend)) {
      w.Key("attempt_log").BeginArray();
      for (const AttemptRecord& a : ex.attempts()) {
        w.BeginObject()
            .Key("backend")
            .String(ex.table().backend(a.backend).key)
            .Key("outcome")
            .String(FailureKindName(a.failure));
        if (a.http_status != 0) w.Key("status").Int(a.http_status);
        w.Key("ms").Double(std::round(static_cast<double>(a.duration) / 1e3) / 1e3);
        w.EndObject();
      }
      w.EndArray();
    }
    if (!d.user_key.empty()) w.Key("user_hash").String(Sha256Hex(d.user_key).substr(0, 16));
  }
  if (e.result != nullptr) {
    const Usage& u = e.result->usage;
    if (u.present) {
      w.Key("input_tokens").Int(u.input_tokens);
      w.Key("output_tokens").Int(u.output_tokens);
      if (u.cached_input_tokens > 0) w.Key("cached_input_tokens").Int(u.cached_input_tokens);
      if (u.cache_write_input_tokens > 0) {
        w.Key("cache_write_input_tokens").Int(u.cache_write_input_tokens);
      }
    }
    if (e.result->cost_known) {
      w.Key("cost").String(FormatCost(e.result->cost, 9));
      w.Key("currency").String(e.result->currency);
    }
  }
  if (!e.client.empty()) w.Key("client").String(e.client);
  if (!e.error.empty()) w.Key("error").String(e.error);
  if (e.dropped_params != nullptr && !e.dropped_params->empty()) {
    w.Key("dropped_params").BeginArray();
    const size_t n = std::min(e.dropped_params->size(), kMaxLoggedDroppedParams);
    for (size_t i = 0; i < n; ++i) {
      w.String(TruncateUtf8((*e.dropped_params)[i], kMaxLoggedDroppedParamBytes));
    }
    w.EndArray();
  }
  if (!e.request_body.empty()) w.Key("request_body").String(e.request_body);
  if (!e.response_body.empty()) w.Key("response_body").String(e.response_body);
  w.EndObject();
  out.push_back('\n');
  return out;
}

}  // namespace inferencegw
