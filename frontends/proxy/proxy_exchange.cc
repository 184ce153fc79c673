#include "proxy_exchange.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "fmt/format.h"
#include "inferencegw/client_auth.h"
#include "inferencegw/provider.h"
#include "inferencegw/rate_limiter.h"
#include "inferencegw/sse.h"
#include "inferencegw/status.h"
#include "span_exporter.h"
#include "worker.h"

namespace inferencegw::proxy {

namespace {

constexpr size_t kMaxErrorBodyBytes = 64 * 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The model a KServe path names: /v1/models/NAME[:predict], /v2/models/NAME[/versions/V]/infer
// (or /ready, or nothing after the name or version).
std::string_view KServeModel(std::string_view path) {
  constexpr std::string_view kV1 = "/v1/models/";
  constexpr std::string_view kV2 = "/v2/models/";
  if (path.substr(0, kV1.size()) == kV1) {
    path.remove_prefix(kV1.size());
    return path.substr(0, path.rfind(':'));
  }
  if (path.substr(0, kV2.size()) == kV2) {
    path.remove_prefix(kV2.size());
    return path.substr(0, path.find('/'));
  }
  return {};
}

// `response_began`: a status line had arrived, so a broken connection is not a connect error.
FailureKind FailureForCurl(CURLcode code, bool response_began) {
  switch (code) {
    case CURLE_OK:
      return FailureKind::kNone;
    case CURLE_OPERATION_TIMEDOUT:
      return FailureKind::kTimeout;
    case CURLE_WRITE_ERROR:
      return FailureKind::kProtocol;  // we refused the body: oversized, or an event over the cap
    default:
      return response_began ? FailureKind::kBroken : FailureKind::kConnect;
  }
}

// A valid request id echoes safely into logs and headers.
bool SaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

}  // namespace

ProxyExchange::ProxyExchange(Worker& worker, std::shared_ptr<HttpSession> session,
                             Request&& request, ClientApi api)
    : worker_(worker),
      session_(std::move(session)),
      request_(std::move(request)),
      api_(api),
      timer_(worker.wheel(), [this] { OnTimer(); }) {
  started_ = Now();
  started_unix_nanos_ = worker_.gateway().clock().UnixNanos();
  worker_.ExchangeStarted();
}

ProxyExchange::~ProxyExchange() {
  ReleaseTransfer();
  if (!finished_) worker_.ExchangeEnded();
}

TimeNs ProxyExchange::Now() const { return worker_.gateway().clock().Now(); }

void ProxyExchange::Start() {
  const std::string_view target = request_.target();
  path_ = std::string(target.substr(0, target.find('?')));
  auto id = request_.find("x-request-id");
  if (worker_.options().trust_request_id && id != request_.end() && SaneRequestId(id->value())) {
    request_id_ = std::string(id->value());
  } else {
    request_id_ = worker_.NextRequestId();
  }
  if (worker_.tracer() != nullptr) BeginTrace();

  absl::StatusOr<RequestFacts> facts = InspectRequest(api_, request_.body());
  if (!facts.ok()) {
    Reject(400, StatusMessage(facts.status()), "invalid_request_error");
    return;
  }
  facts_ = *std::move(facts);
  const bool kserve = ClientWireFormat(api_) == WireFormat::kKServe;
  if (kserve) facts_.model = std::string(KServeModel(path_));
  if (!Authenticate()) return;

  RequestView& view = view_;
  view.method = request_.method_string();
  view.path = path_;
  view.headers = headers_;
  view.model = facts_.model;
  view.authenticated = authenticated_;
  view.authenticated_user = user_;
  view.client_key = client_key_;
  exchange_.emplace(worker_.gateway(), worker_.NextEntropy(), started_);
  // Token counting and KServe metadata generate nothing: no rate limit, budget or cost.
  if (api_ == ClientApi::kCountTokens || api_ == ClientApi::kKServeMetadata) {
    AfterBegin(exchange_->BeginUnmetered(view));
    return;
  }
  const int64_t estimate = TokenReservation(facts_.estimated_prompt_tokens, facts_.max_tokens);
  const BeginStatus status = exchange_->Begin(view, estimate);
  if (status == BeginStatus::kPending) {
    AskSharedStore();
    return;
  }
  AfterBegin(status);
}

void ProxyExchange::AskSharedStore() {
  // Nothing else holds this exchange while the store answers (within its timeout).
  self_ = shared_from_this();
  std::weak_ptr<ProxyExchange> weak = weak_from_this();
  asio::io_context& io = worker_.io();
  worker_.gateway().shared_store()->Admit(
      exchange_->admission_batch(), [weak, &io](AdmissionVerdict verdict) {
        // On the store's thread: hand the verdict to this exchange's own loop.
        asio::post(io, [weak, verdict = std::move(verdict)]() mutable {
          if (auto self = weak.lock()) self->OnAdmissionVerdict(std::move(verdict));
        });
      });
}

void ProxyExchange::OnAdmissionVerdict(AdmissionVerdict verdict) {
  std::shared_ptr<ProxyExchange> keep = std::move(self_);
  if (finished_) return;
  AfterBegin(exchange_->CompleteAdmission(std::move(verdict)));
}

void ProxyExchange::AfterBegin(BeginStatus status) {
  switch (status) {
    case BeginStatus::kOk:
      break;
    case BeginStatus::kUnknownRoute:
      Reject(404, exchange_->table().ExplainStatus(view_, DecisionStatus::kUnknownRoute),
             "route_not_found");
      return;
    case BeginStatus::kNoRoute:
      Reject(404, exchange_->table().ExplainStatus(view_, DecisionStatus::kNoRoute),
             "model_not_found");
      return;
    case BeginStatus::kNoBackend:
      Reject(404, exchange_->table().ExplainStatus(view_, DecisionStatus::kNoBackend),
             "no_backend");
      return;
    case BeginStatus::kForbidden:
      Reject(403,
             exchange_->refusal() == "model"
                 ? fmt::format("this API key may not use model \"{}\"", facts_.model)
                 : fmt::format("this API key may not use route {}", exchange_->route()->key),
             "key_not_allowed");
      return;
    case BeginStatus::kRateLimited: {
      HeaderList extra;
      if (exchange_->limit_scope() == "route") {
        AppendRateLimitHeaders(*exchange_->route(), exchange_->admission(), &extra);
      } else {
        AppendRetryAfter(exchange_->admission().retry_after, &extra);  // the key's own limit
      }
      ReplyJson(429, RateLimitedErrorBody(api_, exchange_->admission(), exchange_->limit_scope()),
                extra);
      FinishInfo info;
      info.client_status = 429;
      const ExchangeResult& result = exchange_->Finish(info, Now());
      Complete(429, &result, "rate_limited");
      return;
    }
    case BeginStatus::kBudgetExceeded: {
      HeaderList extra;
      AppendBudgetHeaders(*exchange_, &extra);
      ReplyJson(429, BudgetExceededErrorBody(api_, *exchange_->budget()), extra);
      FinishInfo info;
      info.client_status = 429;
      const ExchangeResult& result = exchange_->Finish(info, Now());
      Complete(429, &result, "budget_exceeded");
      return;
    }
    case BeginStatus::kPending:  // answered by CompleteAdmission, never kPending again
    case BeginStatus::kStoreUnavailable:
      Reject(503, "the shared rate-limit store is unavailable and the policy is failClosed",
             "store_unavailable");
      return;
  }
  log_bodies_ = exchange_->route()->enable_logging;
  std::weak_ptr<ProxyExchange> weak = weak_from_this();
  session_->WatchForClientGone([weak] {
    if (auto self = weak.lock()) self->OnClientGone();
  });
  NextAttempt();
}

bool ProxyExchange::Authenticate() {
  std::shared_ptr<const ClientAuthenticator> auth = worker_.gateway().authenticator();
  if (auth->enabled()) {
    std::string_view presented;
    auto authorization = request_.find(http::field::authorization);
    if (authorization != request_.end()) presented = BearerToken(authorization->value());
    if (presented.empty()) {
      auto api_key = request_.find("x-api-key");
      if (api_key != request_.end()) presented = Trim(api_key->value());
    }
    const ClientKey* key = auth->Authenticate(presented);
    if (key == nullptr) {
      Reject(401,
             presented.empty() ? "missing gateway API key (Authorization: Bearer <key>)"
                               : "invalid gateway API key",
             "invalid_api_key");
      return false;
    }
    if (key->expires_unix_seconds > 0 &&
        started_unix_nanos_ / kNanosPerSecond >= key->expires_unix_seconds) {
      Reject(401, "gateway API key expired", "key_expired");
      return false;
    }
    auth_ = auth;
    client_key_ = key;
    authenticated_ = true;
    user_ = key->user;
    for (const auto& [name, value] : key->attributes)
      trusted_headers_.emplace_back(Lower(name), value);
  }
  // The router sees the client's headers, minus those an authenticated identity overrides.
  headers_.reserve(16);
  for (const auto& field : request_) {
    const std::string_view name = field.name_string();
    if (auth->enabled()) {
      const auto& overridden = auth->attribute_headers();
      if (std::any_of(overridden.begin(), overridden.end(),
                      [&](const std::string& h) { return IEquals(h, name); })) {
        continue;
      }
    }
    headers_.push_back({name, field.value()});
  }
  for (const auto& [name, value] : trusted_headers_) headers_.push_back({name, value});
  return true;
}

void ProxyExchange::NextAttempt() {
  attempt_ = exchange_->NextAttempt(Now());
  if (!attempt_.has_value()) {
    const int status = exchange_->ExhaustedHttpStatus();
    HeaderList headers = ResponseHeaders(nullptr);
    ReplyJson(status, ExhaustedErrorBody(*exchange_, api_, status), headers);
    FinishInfo info;
    info.client_status = status;
    const ExchangeResult& result = exchange_->Finish(info, Now());
    Complete(status, &result, "all_attempts_failed");
    return;
  }
  if (attempt_->delay > 0) {
    self_ = shared_from_this();  // nothing else holds this exchange while it waits
    timer_purpose_ = TimerPurpose::kBackoff;
    timer_.Arm(std::chrono::nanoseconds(attempt_->delay));
    return;
  }
  SendAttempt();
}

bool ProxyExchange::PrepareUpstreamBody(const CompiledBackend& backend) {
  if (ClientWireFormat(api_) == WireFormat::kKServe && backend.type == BackendType::kExternal) {
    // An external provider has no KServe inference protocol: never send it (with its API key)
    // a request it cannot serve.
    exchange_->AttemptFailed(FailureKind::kCancelled, 0, 0, Now());
    Reject(400,
           fmt::format("the KServe inference protocol needs a kserve or kubernetes backend; "
                       "{} is an external provider",
                       backend.key),
           "unsupported_for_backend");
    return false;
  }
  if (api_ == ClientApi::kCountTokens && backend.format != WireFormat::kAnthropic) {
    // Only Anthropic has a token-counting endpoint; the gateway never makes a count up.
    exchange_->AttemptFailed(FailureKind::kCancelled, 0, 0, Now());
    Reject(404,
           fmt::format("token counting is not available for this model: backend {} speaks {}, "
                       "and only Anthropic backends count tokens",
                       backend.key, WireFormatName(backend.format)),
           "count_tokens_unsupported");
    return false;
  }
  TranslateOptions options;
  options.model_override = backend.model;
  options.upstream_serves_responses = api_ == ClientApi::kResponses && ServesResponsesApi(backend);
  std::string key = fmt::format("{}|{}|{}", WireFormatName(backend.format), backend.model,
                                options.upstream_serves_responses);
  if (key == upstream_key_) return true;
  absl::StatusOr<UpstreamRequestBody> body =
      BuildUpstreamBody(api_, request_.body(), facts_, backend.format, options);
  if (!body.ok()) {
    // The request cannot be expressed for this backend: a problem with the request (or the
    // route's choice of backend), not with the backend.
    exchange_->AttemptFailed(FailureKind::kCancelled, 0, 0, Now());
    Reject(400, fmt::format("{} (backend {})", StatusMessage(body.status()), backend.key),
           "unsupported_for_backend");
    return false;
  }
  upstream_ = *std::move(body);
  upstream_key_ = std::move(key);
  upstream_format_ = backend.format;
  return true;
}

void ProxyExchange::SendAttempt() {
  const CompiledBackend& backend = *attempt_->target;
  if (!PrepareUpstreamBody(backend)) return;

  const bool kserve = ClientWireFormat(api_) == WireFormat::kKServe;
  if (kserve) {  // the path is the client's: nothing to share with other requests
    header_block_ = std::make_shared<const UpstreamHeaderBlock>(
        BuildPassthroughTarget(EndpointOf(backend), request_.target()));
  } else {
    header_block_ = worker_.upstream_headers().Get(exchange_->shared_table(), attempt_->backend,
                                                   upstream_.path, upstream_.stream);
  }
  mode_ = Mode::kHeaders;
  upstream_status_ = 0;
  upstream_headers_.clear();
  content_type_.clear();
  body_.clear();
  body_overflow_ = false;
  translator_.reset();

  easy_ = worker_.curl().AcquireEasy();
  curl_easy_setopt(easy_, CURLOPT_URL, header_block_->url().c_str());
  if (api_ == ClientApi::kKServeMetadata) {
    curl_easy_setopt(easy_, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(easy_, CURLOPT_POST, 1L);
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, upstream_.body.data());
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(upstream_.body.size()));
  }
  // This request's own headers go in front of the backend's shared block: x-request-id (once:
  // the client's value when it is sane, else ours) and the client headers the allow-list lets
  // through. Nodes point into members that outlive the transfer.
  header_lines_.clear();
  header_lines_.push_back("x-request-id: " + request_id_);
  if (trace_ != nullptr) {
    // A sampled request: the upstream continues this attempt's span (tracestate passes as is).
    header_lines_.push_back(
        "traceparent: " +
        trace_->StartAttempt(NewSpanId(worker_.NextEntropy()), backend, UnixNow()));
  }
  for (const auto& field : request_) {
    const std::string lower = Lower(field.name_string());
    if (lower != "x-request-id" && !(trace_ != nullptr && lower == "traceparent") &&
        ForwardClientHeader(backend.format, lower)) {
      header_lines_.push_back(std::string(field.name_string()) + ": " + std::string(field.value()));
    }
  }
  header_nodes_.resize(header_lines_.size());
  for (size_t i = 0; i < header_lines_.size(); ++i) {
    header_nodes_[i].data = header_lines_[i].data();
    header_nodes_[i].next =
        i + 1 < header_lines_.size() ? &header_nodes_[i + 1] : header_block_->head();
  }
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, header_nodes_.data());
  curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, &ProxyExchange::OnHeaderLine);
  curl_easy_setopt(easy_, CURLOPT_HEADERDATA, this);
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &ProxyExchange::OnBodyData);
  curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy_, CURLOPT_TCP_KEEPALIVE, 1L);
  const long timeout_ms =
      static_cast<long>(std::max<DurationNs>(1, attempt_->timeout / kNanosPerMilli));
  curl_easy_setopt(
      easy_, CURLOPT_CONNECTTIMEOUT_MS,
      std::min<long>(timeout_ms, static_cast<long>(worker_.options().connect_timeout.count())));
  if (header_block_->https()) {
    curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  } else {
    curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  }
  if (upstream_.stream) {
    // The attempt timeout bounds the wait for the first byte; after that the backend's timeout
    // bounds silence between chunks (ArmIdleTimer), so a long generation is not cut while it
    // flows. (curl's LOW_SPEED_* options cannot do this: they average the speed over seconds,
    // so one early burst hides a long silence.)
    timer_purpose_ = TimerPurpose::kFirstByte;
    timer_.Arm(std::chrono::nanoseconds(attempt_->timeout));
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, 0L);  // the pooled handle may carry one
  } else {
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, timeout_ms);
  }
  self_ = shared_from_this();
  worker_.curl().Start(easy_, this);
}

size_t ProxyExchange::OnHeaderLine(char* data, size_t size, size_t count, void* userdata) {
  auto* self = static_cast<ProxyExchange*>(userdata);
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {  // a new status line (after 1xx, or a redirect)
    self->upstream_headers_.clear();
    self->content_type_.clear();
    return line.size();
  }
  if (line == "\r\n" || line == "\n") {
    long status = 0;
    curl_easy_getinfo(self->easy_, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200) {
      self->upstream_status_ = static_cast<int>(status);
      self->Classify();
    }
    return line.size();
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = Trim(line.substr(colon + 1));
  std::string lower_name = Lower(name);
  if (lower_name == "content-type") self->content_type_ = Lower(value);
  if (self->upstream_headers_.size() < 64) {
    self->upstream_headers_.emplace_back(std::move(lower_name), std::string(value));
  }
  return line.size();
}

void ProxyExchange::Classify() {
  const FailureKind kind = FailureKindForStatus(upstream_status_);
  if (kind == FailureKind::kNone) {
    const bool sse = content_type_.rfind("text/event-stream", 0) == 0;
    if (upstream_.stream && sse) {
      mode_ = Mode::kStream;
      translator_.emplace(api_, attempt_->target->format, facts_.model, facts_.include_usage,
                          upstream_.injected_usage, started_unix_nanos_ / kNanosPerSecond,
                          upstream_.json_tool_name, upstream_.upstream_responses);
    } else {
      mode_ = Mode::kBuffer;
    }
  } else if (exchange_->WouldRetry(kind)) {
    mode_ = Mode::kRetryable;
  } else {
    mode_ = Mode::kPassError;
  }
}

size_t ProxyExchange::OnBodyData(char* data, size_t size, size_t count, void* userdata) {
  return static_cast<ProxyExchange*>(userdata)->HandleBody(std::string_view(data, size * count));
}

size_t ProxyExchange::HandleBody(std::string_view data) {
  if (finished_) return 0;  // the client is gone: abort the transfer
  switch (mode_) {
    case Mode::kHeaders:
      // A body without a final status line cannot happen with HTTP; treat it as a protocol error.
      return 0;
    case Mode::kStream: {
      if (session_->queued_bytes() > HttpSession::kHighWater) {
        // The client reads slower than the upstream writes: pause the upstream (curl delivers
        // this data again when resumed) until the client's queue drains.
        paused_ = true;
        session_->OnDrained([weak = weak_from_this()] {
          if (auto self = weak.lock(); self && self->easy_ != nullptr) {
            self->paused_ = false;
            self->last_data_at_ = self->Now();
            curl_easy_pause(self->easy_, CURLPAUSE_CONT);
          }
        });
        return CURL_WRITEFUNC_PAUSE;
      }
      last_data_at_ = Now();
      std::string out;
      translator_->Feed(data, &out);
      if (!out.empty()) {
        if (!committed_) CommitStream();
        session_->StreamChunk(std::move(out));
      }
      // An event over the cap: refuse the rest (a write error, which OnCurlDone counts as a
      // protocol failure: a fallback before the first byte, an error event after it).
      if (translator_->overflowed()) return 0;
      return data.size();
    }
    case Mode::kBuffer:
      if (body_.size() + data.size() > worker_.options().max_upstream_body_bytes) {
        body_overflow_ = true;
        return 0;
      }
      body_.append(data);
      return data.size();
    case Mode::kRetryable:
    case Mode::kPassError:
      if (body_.size() < kMaxErrorBodyBytes) {
        body_.append(data.substr(0, kMaxErrorBodyBytes - body_.size()));
      }
      return data.size();
  }
  return 0;
}

void ProxyExchange::OnCurlDone(CURLcode code) {
  std::shared_ptr<ProxyExchange> keep = std::move(self_);
  if (mode_ == Mode::kStream && !committed_) timer_.Cancel();
  const FailureKind failure =
      body_overflow_ ? FailureKind::kProtocol : FailureForCurl(code, mode_ != Mode::kHeaders);
  if (finished_) {
    ReleaseTransfer();
    return;
  }
  switch (mode_) {
    case Mode::kHeaders:
      ReleaseTransfer();
      AttemptFailed(failure == FailureKind::kNone ? FailureKind::kProtocol : failure);
      return;
    case Mode::kStream: {
      if (failure != FailureKind::kNone && !committed_) {
        ReleaseTransfer();
        AttemptFailed(failure);
        return;
      }
      FinishStream(failure);
      return;
    }
    case Mode::kBuffer:
      ReleaseTransfer();
      if (failure != FailureKind::kNone) {
        AttemptFailed(failure);
        return;
      }
      FinishBuffered();
      return;
    case Mode::kRetryable:
      ReleaseTransfer();
      AttemptFailed(FailureKindForStatus(upstream_status_));
      return;
    case Mode::kPassError:
      ReleaseTransfer();
      PassError();
      return;
  }
}

void ProxyExchange::AttemptFailed(FailureKind kind) {
  const TimeNs now = Now();
  DurationNs retry_after = 0;
  if (kind == FailureKind::kStatus429 || kind == FailureKind::kStatus5xx) {
    retry_after = UpstreamRetryAfter(
        [this](std::string_view name) -> std::optional<std::string_view> {
          for (const auto& [n, v] : upstream_headers_) {
            if (n == name) return std::string_view(v);
          }
          return std::nullopt;
        },
        worker_.gateway().clock().UnixNanos());
  }
  exchange_->AttemptFailed(kind, upstream_status_, retry_after, now);
  if (trace_ != nullptr) trace_->EndAttempt(kind, upstream_status_, UnixNow());
  NextAttempt();
}

void ProxyExchange::OnTimer() {
  const TimerPurpose purpose = timer_purpose_;
  timer_purpose_ = TimerPurpose::kNone;
  switch (purpose) {
    case TimerPurpose::kBackoff: {
      std::shared_ptr<ProxyExchange> keep = std::move(self_);
      if (!finished_) SendAttempt();
      return;
    }
    case TimerPurpose::kFirstByte:
      OnFirstByteTimeout();
      return;
    case TimerPurpose::kStreamIdle:
      OnStreamIdle();
      return;
    case TimerPurpose::kNone:
      return;
  }
}

void ProxyExchange::OnFirstByteTimeout() {
  if (finished_ || committed_ || easy_ == nullptr) return;
  worker_.curl().Abort(easy_);
  std::shared_ptr<ProxyExchange> keep = std::move(self_);
  ReleaseTransfer();
  AttemptFailed(FailureKind::kTimeout);
}

void ProxyExchange::OnClientGone() {
  if (finished_) return;
  std::shared_ptr<ProxyExchange> keep = shared_from_this();
  timer_.Cancel();
  timer_purpose_ = TimerPurpose::kNone;
  if (easy_ != nullptr) {
    worker_.curl().Abort(easy_);
    ReleaseTransfer();
  }
  self_.reset();
  FinishInfo info;
  info.client_status = 499;
  info.client_cancelled = true;
  if (translator_.has_value()) info.usage = translator_->usage();
  const ExchangeResult& result = exchange_->Finish(info, Now());
  Complete(499, &result, "client_closed");
}

void ProxyExchange::BeginTrace() {
  const SpanExporter& tracer = *worker_.tracer();
  std::optional<TraceParent> parent;
  if (auto header = request_.find("traceparent"); header != request_.end()) {
    parent = ParseTraceparent(header->value());
  }
  const TraceId trace_id =
      parent ? parent->trace_id : NewTraceId(worker_.NextEntropy(), worker_.NextEntropy());
  if (!ShouldSample(tracer.options().sampler, trace_id, parent ? &*parent : nullptr)) return;
  RequestTraceIds ids;
  ids.trace_id = trace_id;
  ids.server_span_id = NewSpanId(worker_.NextEntropy());
  ids.client_parent_span_id = parent ? parent->parent_span_id : 0;
  trace_ = std::make_unique<ExchangeTrace>(ids, request_.method_string(), path_, api_,
                                           started_unix_nanos_);
  trace_->server_span().Set("inferencegw.request_id", request_id_);
}

void ProxyExchange::EndTrace(int status, const ExchangeResult* result, std::string_view error,
                             std::string_view response_body) {
  trace_->SetRequest(facts_.model, facts_.max_tokens);
  if (log_bodies_) trace_->SetContent(request_.body(), response_body);
  trace_->Finish(exchange_.has_value() ? &*exchange_ : nullptr, result, status, error,
                 UnixNow());
  worker_.tracer()->Enqueue(trace_->Take());
  trace_.reset();
}

void ProxyExchange::ReleaseTransfer() {
  if (easy_ != nullptr) {
    worker_.curl().ReleaseEasy(easy_);
    easy_ = nullptr;
  }
}

}  // namespace inferencegw::proxy
