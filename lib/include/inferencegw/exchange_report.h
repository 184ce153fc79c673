// What a frontend tells the world about an Exchange: response headers that say what happened,
// rate-limit headers, the error body when every attempt failed, and the one-line JSON request
// log. Formatting lives here so every frontend says the same thing.
//
//   HeaderList headers;
//   AppendDecisionHeaders(exchange, &result, &headers);   // x-inferencegw-route: default/chat ...
//   std::string body = ExhaustedErrorBody(exchange, ClientApi::kChatCompletions, 502);
//   std::string line = RenderRequestLog(entry);           // {"ts":...,"route":...}\n
#ifndef INFERENCEGW_EXCHANGE_REPORT_H_
#define INFERENCEGW_EXCHANGE_REPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inferencegw/gateway.h"
#include "inferencegw/translate.h"

namespace inferencegw {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Response header names.
inline constexpr std::string_view kRouteResponseHeader = "x-inferencegw-route";
inline constexpr std::string_view kBackendResponseHeader = "x-inferencegw-backend";
inline constexpr std::string_view kAttemptsResponseHeader = "x-inferencegw-attempts";
inline constexpr std::string_view kExperimentResponseHeader = "x-inferencegw-experiment";
inline constexpr std::string_view kVariantResponseHeader = "x-inferencegw-variant";
inline constexpr std::string_view kCostResponseHeader = "x-inferencegw-cost";
inline constexpr std::string_view kCurrencyResponseHeader = "x-inferencegw-cost-currency";

// x-inferencegw-route, -backend (the backend that answered; absent when none did), -attempts
// (requests sent upstream), -experiment and -variant (when an experiment applied), and -cost /
// -cost-currency when `result` is given and the cost is known.
void AppendDecisionHeaders(const Exchange& exchange, const ExchangeResult* result, HeaderList* out);

// x-ratelimit-{limit,remaining,reset}-{requests,tokens} for the limits the route has (reset as
// a Go-style duration like OpenAI's, "1m30s", "250ms"), and retry-after (whole seconds, rounded
// up) when the request was refused.
void AppendRateLimitHeaders(const CompiledRoute& route, const Admission& admission,
                            HeaderList* out);

// retry-after: `wait` in whole seconds, rounded up, at least 1.
void AppendRetryAfter(DurationNs wait, HeaderList* out);

// The body for a request refused by a rate limit, in the client's shape (code
// "rate_limit_exceeded"; the message says which limit and when to retry).
std::string RateLimitedErrorBody(ClientApi api, const Admission& admission,
                                 std::string_view scope = "route");

// x-inferencegw-budget-limit, -remaining (decimal amounts), -currency and -reset (RFC 3339 UTC
// time the period ends) for the budget with the least left, when the request has a budget.
void AppendBudgetHeaders(const Exchange& exchange, HeaderList* out);

// The body for a request refused by a spent budget: OpenAI's quota error shape (type
// "insufficient_quota", code "budget_exceeded") or the client's own (Anthropic:
// rate_limit_error), saying which budget, how much, and when it resets.
std::string BudgetExceededErrorBody(ClientApi api, const Exchange::BudgetStatus& budget);

// The body when no attempt succeeded: the client's error shape with a message listing every
// attempt ("all 3 attempts failed: default/local-mistral: connect_error; ...") and, for OpenAI
// clients, an extra "attempts" array in the error object [{"backend","outcome","status","ms"}].
std::string ExhaustedErrorBody(const Exchange& exchange, ClientApi api, int http_status);

// Go-style duration text: "0s", "250ms", "1s", "1m30s", "2h0m0s".
std::string FormatGoDuration(DurationNs d);

// One request's log line fields. Views must stay valid during RenderRequestLog.
struct RequestLogEntry {
  int64_t unix_nanos = 0;
  std::string_view request_id;
  std::string_view method;
  std::string_view path;
  std::string_view api;                    // ClientApiName
  std::string_view model;                  // the client's model
  std::string_view client;                 // remote address
  const Exchange* exchange = nullptr;      // route, backend, arm, attempts (null: none began)
  const ExchangeResult* result = nullptr;  // usage and cost
  int status = 0;
  bool stream = false;
  DurationNs latency = 0;
  DurationNs time_to_first_byte = -1;  // -1: none
  std::string_view error;              // short reason for non-2xx answers
  // Only for routes with enableLogging: the request and (non-streamed) response bodies.
  std::string_view request_body;
  std::string_view response_body;
  // UpstreamRequestBody::dropped_params of the body sent upstream (null or empty: none).
  const std::vector<std::string>* dropped_params = nullptr;
};

// One JSON object and a newline. The user is logged as "user_hash": the first 16 hex digits of
// SHA-256 of the user key, never the key itself; bodies only when given; never API keys.
// Dropped parameters, when any, are "dropped_params": an array of at most
// kMaxLoggedDroppedParams names, each cut to at most kMaxLoggedDroppedParamBytes bytes (at a
// UTF-8 character boundary).
inline constexpr size_t kMaxLoggedDroppedParams = 16;
inline constexpr size_t kMaxLoggedDroppedParamBytes = 64;
std::string RenderRequestLog(const RequestLogEntry& entry);

}  // namespace inferencegw

#endif  // INFERENCEGW_EXCHANGE_REPORT_H_
