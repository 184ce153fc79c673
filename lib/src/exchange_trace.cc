#include "inferencegw/exchange_trace.h"

#include <charconv>

#include "fmt/format.h"
#include "inferencegw/cost_ledger.h"
#include "inferencegw/experiment.h"
#include "inferencegw/usage_parser.h"

namespace inferencegw {

namespace {

// The host and port of "scheme://host[:port][/path]" (the port defaulted from the scheme).
void SetServerAddress(std::string_view url, SpanData* span) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return;
  const bool https = url.substr(0, scheme_end) == "https";
  std::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);  // never export user info
  }
  std::string_view host = authority;
  int port = https ? 443 : 80;
  const size_t colon = authority.rfind(':');
  const size_t bracket = authority.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    const std::string_view p = authority.substr(colon + 1);
    int value = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (ec == std::errc() && end == p.data() + p.size()) port = value;
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return;
  span->Set("server.address", host);
  span->Set("server.port", port);
}

// The first kMaxContentBytes of `s` (less, to end on a UTF-8 character boundary).
std::string_view CutContent(std::string_view s) {
  if (s.size() <= ExchangeTrace::kMaxContentBytes) return s;
  size_t cut = ExchangeTrace::kMaxContentBytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

void CloseAttempt(SpanData* span, std::string_view outcome, int http_status,
                  int64_t now_unix_nanos) {
  span->end_unix_nanos = now_unix_nanos;
  span->Set("inferencegw.attempt.outcome", outcome);
  if (http_status > 0) span->Set("http.response.status_code", http_status);
  if (outcome != "success") {
    span->status = SpanStatus::kError;
    span->status_message = std::string(outcome);
    span->Set("error.type",
              http_status >= 400 ? fmt::format("{}", http_status) : std::string(outcome));
  }
}

}  // namespace

std::string_view GenAiOperationName(ClientApi api) {
  switch (api) {
    case ClientApi::kChatCompletions:
    case ClientApi::kMessages:
    case ClientApi::kResponses:  // a conversation turn, like chat
      return "chat";
    case ClientApi::kCompletions:
      return "text_completion";
    case ClientApi::kEmbeddings:
      return "embeddings";
    case ClientApi::kKServeV1:
    case ClientApi::kKServeV2:
      return "kserve_infer";
    case ClientApi::kCountTokens:  // not generation: names outside the GenAI list
      return "count_tokens";
    case ClientApi::kKServeMetadata:
      return "kserve_metadata";
  }
  return "chat";
}

std::string_view GenAiProviderName(const CompiledBackend& backend) {
  if (backend.type == BackendType::kExternal) return ProviderName(backend.provider);
  return BackendTypeName(backend.type);
}

ExchangeTrace::ExchangeTrace(const RequestTraceIds& ids, std::string_view method,
                             std::string_view path, ClientApi api, int64_t start_unix_nanos)
    : ids_(ids), operation_(GenAiOperationName(api)) {
  server_.trace_id = ids.trace_id;
  server_.span_id = ids.server_span_id;
  server_.parent_span_id = ids.client_parent_span_id;
  server_.kind = SpanKind::kServer;
  server_.name = fmt::format("{} {}", method, path);
  server_.start_unix_nanos = start_unix_nanos;
  server_.attributes.reserve(20);
  server_.Set("http.request.method", method);
  server_.Set("url.path", path);
  server_.Set("gen_ai.operation.name", operation_);
}

void ExchangeTrace::SetRequest(std::string_view model, int64_t max_tokens) {
  if (!model.empty()) server_.Set("gen_ai.request.model", model);
  if (max_tokens >= 0) server_.Set("gen_ai.request.max_tokens", max_tokens);
}

std::string ExchangeTrace::StartAttempt(SpanId span_id, const CompiledBackend& backend,
                                        int64_t now_unix_nanos) {
  if (attempt_open_) EndAttempt(FailureKind::kCancelled, 0, now_unix_nanos);
  SpanData& span = attempts_.emplace_back();
  span.trace_id = ids_.trace_id;
  span.span_id = span_id;
  span.parent_span_id = ids_.server_span_id;
  span.kind = SpanKind::kClient;
  span.start_unix_nanos = now_unix_nanos;
  const std::string_view model =
      !backend.model.empty() ? std::string_view(backend.model) : std::string_view();
  span.name = model.empty() ? std::string(operation_) : fmt::format("{} {}", operation_, model);
  span.attributes.reserve(14);
  span.Set("gen_ai.operation.name", operation_);
  span.Set("gen_ai.provider.name", GenAiProviderName(backend));
  if (!model.empty()) span.Set("gen_ai.request.model", model);
  span.Set("http.request.method", "POST");
  SetServerAddress(backend.root_url, &span);
  span.Set("inferencegw.backend", backend.key);
  span.Set("inferencegw.attempt.number", static_cast<int64_t>(attempts_.size() - 1));
  attempt_open_ = true;
  return FormatTraceparent(ids_.trace_id, span_id, /*sampled=*/true);
}

void ExchangeTrace::EndAttempt(FailureKind failure, int http_status, int64_t now_unix_nanos) {
  if (!attempt_open_) return;
  attempt_open_ = false;
  CloseAttempt(&attempts_.back(), FailureKindName(failure), http_status, now_unix_nanos);
}

void ExchangeTrace::SetContent(std::string_view request_body, std::string_view response_body) {
  content_ = true;
  request_body_ = std::string(CutContent(request_body));
  request_truncated_ = request_body.size() > kMaxContentBytes;
  response_body_ = std::string(CutContent(response_body));
  response_truncated_ = response_body.size() > kMaxContentBytes;
}

void ExchangeTrace::Finish(const Exchange* exchange, const ExchangeResult* result, int http_status,
                           std::string_view error, int64_t now_unix_nanos) {
  const Decision* decision =
      exchange != nullptr && exchange->route() != nullptr ? &exchange->decision() : nullptr;
  const CompiledBackend* served = nullptr;
  if (decision != nullptr && exchange->served_by() != kNoBackend) {
    served = &exchange->table().backend(exchange->served_by());
  }
  if (attempt_open_) {
    attempt_open_ = false;
    int upstream_status = 0;
    if (exchange != nullptr && !exchange->attempts().empty()) {
      upstream_status = exchange->attempts().back().http_status;
    }
    SpanData& span = attempts_.back();
    CloseAttempt(&span, error.empty() ? std::string_view("success") : error, upstream_status,
                 now_unix_nanos);
    if (served != nullptr && result != nullptr) {
      if (!served->model.empty()) span.Set("gen_ai.response.model", served->model);
      if (result->usage.present) {
        span.Set("gen_ai.usage.input_tokens", result->usage.input_tokens);
        span.Set("gen_ai.usage.output_tokens", result->usage.output_tokens);
      }
    }
  }
  server_.end_unix_nanos = now_unix_nanos;
  server_.Set("http.response.status_code", http_status);
  if (decision != nullptr) {
    server_.Set("inferencegw.route", decision->route->key);
    if (decision->experiment != nullptr) {
      server_.Set("inferencegw.experiment", decision->experiment->name);
      server_.Set("inferencegw.experiment.arm", ArmName(decision->arm));
    }
    server_.Set("inferencegw.attempts", static_cast<int64_t>(exchange->sent_attempts()));
  }
  if (served != nullptr) {
    server_.Set("inferencegw.backend", served->key);
    server_.Set("gen_ai.provider.name", GenAiProviderName(*served));
    const std::string_view model =
        !served->model.empty() ? std::string_view(served->model) : std::string_view();
    if (!model.empty()) server_.Set("gen_ai.response.model", model);
  }
  if (result != nullptr) {
    if (result->usage.present) {
      server_.Set("gen_ai.usage.input_tokens", result->usage.input_tokens);
      server_.Set("gen_ai.usage.output_tokens", result->usage.output_tokens);
    }
    if (result->cost_known) {
      server_.Set("inferencegw.cost", FormatCost(result->cost, 9));
      server_.Set("inferencegw.cost.currency", result->currency);
    }
  }
  if (!error.empty()) server_.Set("inferencegw.error", error);
  if (http_status >= 500) {
    server_.status = SpanStatus::kError;
    server_.status_message = error.empty() ? fmt::format("{}", http_status) : std::string(error);
    server_.Set("error.type", fmt::format("{}", http_status));
  }
  if (content_) {
    server_.Set("inferencegw.request.body", request_body_);
    if (request_truncated_) server_.Set("inferencegw.request.body_truncated", true);
    if (!response_body_.empty()) {
      server_.Set("inferencegw.response.body", response_body_);
      if (response_truncated_) server_.Set("inferencegw.response.body_truncated", true);
    }
  }
}

std::vector<SpanData> ExchangeTrace::Take() {
  std::vector<SpanData> spans;
  spans.reserve(1 + attempts_.size());
  spans.push_back(std::move(server_));
  for (SpanData& a : attempts_) spans.push_back(std::move(a));
  attempts_.clear();
  return spans;
}

}  // namespace inferencegw
