// The spans of one request through an Exchange, following the OpenTelemetry GenAI and HTTP
// semantic conventions: a SERVER span for the client's request and a CLIENT child span per
// upstream attempt. Frontends only say when attempts start and end; names and attributes are
// decided here so every frontend exports the same spans.
//
//   ExchangeTrace trace(ids, "POST", "/v1/chat/completions", ClientApi::kChatCompletions, now);
//   std::string traceparent = trace.StartAttempt(NewSpanId(rng()), backend, now_unix);
//   trace.EndAttempt(FailureKind::kTimeout, 0, now_unix);   // or let Finish close it
//   trace.Finish(exchange, &result, 200, "", now_unix);  std::vector<SpanData> spans =
//   trace.Take();
#ifndef INFERENCEGW_EXCHANGE_TRACE_H_
#define INFERENCEGW_EXCHANGE_TRACE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/fallback_plan.h"
#include "inferencegw/gateway.h"
#include "inferencegw/route_table.h"
#include "inferencegw/tracing.h"
#include "inferencegw/translate.h"

namespace inferencegw {

// Where a request's spans hang: its trace, its own server span and the client's span (0 when
// the client sent no valid traceparent).
struct RequestTraceIds {
  TraceId trace_id;
  SpanId server_span_id = 0;
  SpanId client_parent_span_id = 0;
};

// gen_ai.operation.name for a client API: "chat" (chat completions, messages), "text_completion",
// "embeddings", "kserve_infer".
std::string_view GenAiOperationName(ClientApi api);
// gen_ai.provider.name for a backend: its provider for external backends ("openai",
// "anthropic", "cohere", "custom"), else its type ("kserve", "kubernetes").
std::string_view GenAiProviderName(const CompiledBackend& backend);

// Not thread-safe; one per sampled request, used from its thread. Spans are only built for
// sampled requests: an unsampled request has no ExchangeTrace at all.
class ExchangeTrace {
 public:
  // Opens the server span at `start_unix_nanos`. The views are copied.
  ExchangeTrace(const RequestTraceIds& ids, std::string_view method, std::string_view path,
                ClientApi api, int64_t start_unix_nanos);

  const RequestTraceIds& ids() const { return ids_; }
  // The open server span, for attributes only the frontend knows (inferencegw.request_id).
  SpanData& server_span() { return server_; }

  // Opens an attempt span (span id `span_id`) to `backend`, closing an attempt still open as
  // "cancelled". Returns the traceparent to send upstream: this trace, the attempt span as the
  // parent, sampled.
  std::string StartAttempt(SpanId span_id, const CompiledBackend& backend, int64_t now_unix_nanos);
  // Closes the open attempt as failed with `failure` (FailureKindName is its outcome) and the
  // upstream's status (0 when none). No-op when no attempt is open.
  void EndAttempt(FailureKind failure, int http_status, int64_t now_unix_nanos);

  // What the client asked for, once known: gen_ai.request.model (when not empty) and
  // gen_ai.request.max_tokens (when >= 0) of the server span.
  void SetRequest(std::string_view model, int64_t max_tokens);

  // Adds the request and response bodies (route enableLogging only; never otherwise), each cut
  // to kMaxContentBytes at a UTF-8 character boundary (inferencegw.*.body_truncated true then).
  static constexpr size_t kMaxContentBytes = 64 * 1024;
  void SetContent(std::string_view request_body, std::string_view response_body);

  // Closes the server span (and an attempt still open: outcome "success" when `error` is empty,
  // else `error`) with the exchange's route, backend, experiment, attempts, usage and cost.
  // `exchange` may be null (a request refused before routing); `result` may be null. `error` is
  // the gateway's short error code ("" for none). Call once.
  void Finish(const Exchange* exchange, const ExchangeResult* result, int http_status,
              std::string_view error, int64_t now_unix_nanos);

  // The finished spans (server span first, then attempts in order); empties this trace.
  std::vector<SpanData> Take();

 private:
  RequestTraceIds ids_;
  std::string_view operation_;
  SpanData server_;
  std::vector<SpanData> attempts_;
  bool attempt_open_ = false;
  int attempt_status_ = 0;  // the open attempt's upstream status, when known
  std::string request_body_;
  std::string response_body_;
  bool request_truncated_ = false;
  bool response_truncated_ = false;
  bool content_ = false;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_EXCHANGE_TRACE_H_
