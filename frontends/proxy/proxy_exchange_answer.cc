// The answering half of ProxyExchange: committing and forwarding streams (and their idle
// timeout and broken-stream error events), buffered answers, passed-through upstream errors,
// the gateway's own error replies, response headers, and the request's log line.
#include <algorithm>

#include "fmt/format.h"
#include "inferencegw/sse.h"
#include "inferencegw/status.h"
#include "proxy_exchange.h"
#include "worker.h"

namespace inferencegw::proxy {

void ProxyExchange::Reject(int status, std::string_view message, std::string_view code,
                           const HeaderList& extra) {
  ReplyJson(status, ErrorJsonFor(api_, status, message, code), extra);
  const ExchangeResult* result = nullptr;
  if (exchange_.has_value() && !exchange_->finished()) {
    FinishInfo info;
    info.client_status = status;
    result = &exchange_->Finish(info, Now());
  }
  Complete(status, result, code);
}

HeaderList ProxyExchange::ResponseHeaders(const ExchangeResult* result) const {
  HeaderList headers;
  headers.emplace_back("x-request-id", request_id_);
  if (exchange_.has_value() && exchange_->route() != nullptr) {
    AppendDecisionHeaders(*exchange_, result, &headers);
    AppendRateLimitHeaders(*exchange_->route(), exchange_->admission(), &headers);
    AppendBudgetHeaders(*exchange_, &headers);
  }
  return headers;
}

void ProxyExchange::ReplyJson(int status, std::string body, const HeaderList& extra) {
  Response response(static_cast<http::status>(status), request_.version());
  response.set(http::field::content_type, "application/json");
  response.set("x-request-id", request_id_);
  for (const auto& [name, value] : extra) response.set(name, value);
  response.body() = std::move(body);
  session_->Reply(std::move(response));
}

void ProxyExchange::CommitStream() {
  committed_ = true;
  const TimeNs now = Now();
  first_byte_at_ = now;
  last_data_at_ = now;
  ArmIdleTimer();  // replaces the first-byte timer
  exchange_->AttemptCommitted(upstream_status_, now);
  http::response<http::empty_body> head(http::status::ok, request_.version());
  head.set(http::field::content_type, "text/event-stream; charset=utf-8");
  head.set(http::field::cache_control, "no-cache");
  head.set("x-accel-buffering", "no");
  for (const auto& [name, value] : ResponseHeaders(nullptr)) head.set(name, value);
  session_->BeginStream(std::move(head));
}

void ProxyExchange::ArmIdleTimer() {
  // One timer per silence, not per chunk: when it fires while data still flows, it waits out
  // the rest of the period from the last data.
  const DurationNs left = last_data_at_ + attempt_->target->timeout - Now();
  timer_purpose_ = TimerPurpose::kStreamIdle;
  timer_.Arm(std::chrono::nanoseconds(std::max<DurationNs>(left, 0)));
}

void ProxyExchange::OnStreamIdle() {
  if (finished_ || easy_ == nullptr) return;
  if (paused_) last_data_at_ = Now();  // silent because we paused it for a slow client
  if (Now() - last_data_at_ < attempt_->target->timeout) {
    ArmIdleTimer();
    return;
  }
  worker_.curl().Abort(easy_);
  std::shared_ptr<ProxyExchange> keep = std::move(self_);
  FinishStream(FailureKind::kTimeout);
}

void ProxyExchange::EndStreamWithError(FailureKind kind) {
  const std::string message = fmt::format("the upstream stream from {} broke: {}",
                                          attempt_->target->key, FailureKindName(kind));
  std::string out;
  AppendStreamErrorEvent(api_, message, "upstream_stream_broken", &out);
  session_->StreamChunk(std::move(out));
  session_->EndStream();
}

void ProxyExchange::FinishStream(FailureKind failure) {
  std::string out;
  if (failure == FailureKind::kNone) translator_->Finish(&out);
  if (!committed_) CommitStream();
  if (!out.empty()) session_->StreamChunk(std::move(out));
  FinishInfo info;
  info.client_status = 200;
  info.usage = translator_->usage();
  if (failure != FailureKind::kNone) {
    info.stream_failure = failure;
    EndStreamWithError(failure);
  } else {
    session_->EndStream();
  }
  ReleaseTransfer();
  session_->StopWatching();
  const ExchangeResult& result = exchange_->Finish(info, Now());
  Complete(200, &result,
           failure != FailureKind::kNone   ? "stream_broken"
           : translator_->upstream_error() ? "upstream_stream_error"
                                           : std::string_view());
}

void ProxyExchange::FinishBuffered() {
  Usage usage;
  absl::StatusOr<std::string> body = TranslateResponseBody(
      api_, attempt_->target->format, body_, facts_.model, started_unix_nanos_ / kNanosPerSecond,
      &usage, upstream_.json_tool_name, upstream_.upstream_responses);
  if (!body.ok()) {
    AttemptFailed(FailureKind::kProtocol);
    return;
  }
  const TimeNs now = Now();
  first_byte_at_ = now;
  exchange_->AttemptCommitted(upstream_status_, now);
  FinishInfo info;
  info.client_status = upstream_status_;
  info.usage = usage;
  const ExchangeResult& result = exchange_->Finish(info, now);
  std::string response_body = *std::move(body);
  std::string logged = log_bodies_ ? response_body : std::string();
  ReplyJson(upstream_status_, std::move(response_body), ResponseHeaders(&result));
  Complete(upstream_status_, &result, {}, logged);
}

void ProxyExchange::PassError() {
  const TimeNs now = Now();
  first_byte_at_ = now;
  exchange_->AttemptCommitted(upstream_status_, now);
  FinishInfo info;
  info.client_status = upstream_status_;
  const ExchangeResult& result = exchange_->Finish(info, now);
  std::string body = TranslateErrorBody(api_, attempt_->target->format, upstream_status_, body_);
  std::string logged = log_bodies_ ? body : std::string();
  ReplyJson(upstream_status_, std::move(body), ResponseHeaders(&result));
  Complete(upstream_status_, &result, "upstream_error", logged);
}

void ProxyExchange::Complete(int status, const ExchangeResult* result, std::string_view error,
                             std::string_view response_body) {
  if (finished_) return;
  finished_ = true;
  timer_.Cancel();
  // Parameters the last body sent upstream could not carry: counted once per request, with
  // bounded labels (a client's unknown keys count as "other").
  if (!upstream_key_.empty() && !upstream_.dropped_params.empty() &&
      worker_.gateway().metrics_enabled()) {
    const std::string_view provider = WireFormatName(upstream_format_);
    for (const std::string& key : upstream_.dropped_params) {
      worker_.gateway()
          .metrics()
          .dropped_params_total->GetCounter({provider, DroppedParamLabel(key)})
          ->Inc();
    }
  }
  if (worker_.options().access_log) {
    RequestLogEntry entry;
    entry.unix_nanos = started_unix_nanos_;
    entry.request_id = request_id_;
    entry.method = request_.method_string();
    entry.path = path_;
    entry.api = ClientApiName(api_);
    entry.model = facts_.model;
    entry.client = session_->remote_address();
    entry.exchange = exchange_.has_value() ? &*exchange_ : nullptr;
    entry.result = result;
    entry.status = status;
    entry.stream = facts_.stream;
    const TimeNs now = Now();
    entry.latency = now - started_;
    entry.time_to_first_byte = first_byte_at_ >= 0 ? first_byte_at_ - started_ : -1;
    entry.error = error;
    if (!upstream_key_.empty()) entry.dropped_params = &upstream_.dropped_params;
    if (log_bodies_) {
      entry.request_body = request_.body();
      entry.response_body = response_body;
    }
    worker_.Log(RenderRequestLog(entry));
  }
  if (trace_ != nullptr) EndTrace(status, result, error, response_body);
  worker_.ExchangeEnded();
}

}  // namespace inferencegw::proxy
