#include "worker.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fmt/format.h>
#include <strings.h>

#include <string>
#include <utility>

#include "count_tokens.h"
#include "exchange.h"
#include "http_util.h"
#include "json_out.h"

namespace inferencegw::mock_llm {
namespace {

// Bounds of the per-worker cache of bodies for models other than the served one.
constexpr size_t kMaxCachedModels = 1024;
constexpr size_t kMaxCachedBytes = 64 << 20;
constexpr size_t kMaxCachedModelName = 256;

size_t BodyBytes(const BodySet& set) {
  return set.openai_chat.size() + set.openai_completion.size() + set.openai_embedding.size() +
         set.openai_responses.size() + set.anthropic_message.size() + set.cohere_chat.size() +
         set.kserve_v1.size() + set.kserve_v2.size();
}

enum class Route {
  kNotFound,
  kRoot,
  kHealth,
  kModels,
  kV2Ready,
  kV2Live,
  kModelInfo,     // GET /v1/models/NAME (OpenAI and KServe v1 fields), also under /openai
  kV2ModelReady,  // GET /v2/models/NAME[/versions/V]/ready
  kV2ModelMeta,   // GET /v2/models/NAME[/versions/V]
  kCountTokens,   // POST /v1/messages/count_tokens
  kInference,
  kAdmin,
};

struct RouteMatch {
  Route route = Route::kNotFound;
  Api api = Api::kOpenAIChat;
  std::string_view model;  // KServe model name from the path
};

RouteMatch MatchRoute(std::string_view path) {
  RouteMatch m;
  std::string_view openai = path;
  if (openai.substr(0, 7) == "/openai") openai.remove_prefix(7);  // KServe's HF runtime prefix
  if (openai == "/v1/chat/completions") {
    m = {Route::kInference, Api::kOpenAIChat, {}};
  } else if (openai == "/v1/completions") {
    m = {Route::kInference, Api::kOpenAICompletions, {}};
  } else if (openai == "/v1/embeddings") {
    m = {Route::kInference, Api::kOpenAIEmbeddings, {}};
  } else if (openai == "/v1/responses") {
    m = {Route::kInference, Api::kOpenAIResponses, {}};
  } else if (openai == "/v1/models") {
    m.route = Route::kModels;
  } else if (path == "/v1/messages") {
    m = {Route::kInference, Api::kAnthropicMessages, {}};
  } else if (path == "/v1/messages/count_tokens") {
    m.route = Route::kCountTokens;
  } else if (path == "/v2/chat") {
    m = {Route::kInference, Api::kCohereChat, {}};
  } else if (path == "/health") {
    m.route = Route::kHealth;
  } else if (path == "/") {
    m.route = Route::kRoot;
  } else if (path == "/v2/health/ready") {
    m.route = Route::kV2Ready;
  } else if (path == "/v2/health/live") {
    m.route = Route::kV2Live;
  } else if (path.substr(0, 6) == "/mock/") {
    m.route = Route::kAdmin;
  } else if (path.substr(0, 11) == "/v1/models/" && path.size() > 19 &&
             path.substr(path.size() - 8) == ":predict") {
    m = {Route::kInference, Api::kKServeV1, path.substr(11, path.size() - 19)};
  } else if (path.substr(0, 11) == "/v2/models/" && path.size() > 17 &&
             path.substr(path.size() - 6) == "/infer") {
    // /v2/models/NAME/infer or /v2/models/NAME/versions/V/infer
    std::string_view rest = path.substr(11, path.size() - 17);
    m = {Route::kInference, Api::kKServeV2, rest.substr(0, rest.find('/'))};
  } else if (openai.substr(0, 11) == "/v1/models/" && openai.size() > 11) {
    m.route = Route::kModelInfo;
    m.model = openai.substr(11);
  } else if (path.substr(0, 11) == "/v2/models/" && path.size() > 17 &&
             path.substr(path.size() - 6) == "/ready") {
    m.route = Route::kV2ModelReady;
    m.model = path.substr(11, path.size() - 17);
    m.model = m.model.substr(0, m.model.find('/'));  // NAME of NAME/versions/V
  } else if (path.substr(0, 11) == "/v2/models/" && path.size() > 11) {
    // NAME or NAME/versions/V
    const std::string_view rest = path.substr(11);
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos ||
        (rest.substr(slash, 10) == "/versions/" && rest.size() > slash + 10 &&
         rest.find('/', slash + 10) == std::string_view::npos)) {
      m.route = Route::kV2ModelMeta;
      m.model = rest.substr(0, slash);
    }
  }
  return m;
}

const char* MethodName(evhttp_cmd_type method) {
  switch (method) {
    case EVHTTP_REQ_GET:
      return "GET";
    case EVHTTP_REQ_POST:
      return "POST";
    case EVHTTP_REQ_HEAD:
      return "HEAD";
    case EVHTTP_REQ_PUT:
      return "PUT";
    case EVHTTP_REQ_DELETE:
      return "DELETE";
    case EVHTTP_REQ_OPTIONS:
      return "OPTIONS";
    case EVHTTP_REQ_PATCH:
      return "PATCH";
    default:
      return "OTHER";
  }
}

bool ParseHeaderInt(const char* text, int64_t max, int64_t* out) {
  return ParseBoundedInt(std::string_view(text), max, out);
}

}  // namespace

ErrorShape ShapeOf(Api api) {
  switch (api) {
    case Api::kAnthropicMessages:
      return ErrorShape::kAnthropic;
    case Api::kCohereChat:
      return ErrorShape::kCohere;
    case Api::kKServeV1:
    case Api::kKServeV2:
      return ErrorShape::kKServe;
    default:
      return ErrorShape::kOpenAI;
  }
}

Worker::Worker(SharedState* shared, int index)
    : shared_(shared), stats_(shared->worker_stats(index)) {}

Worker::~Worker() {
  // evhttp_free frees every connection; their close callbacks delete in-flight exchanges.
  if (http_ != nullptr) evhttp_free(http_);
  const std::vector<Exchange*> left(exchanges_.begin(), exchanges_.end());
  for (Exchange* e : left) e->Discard();
  if (base_ != nullptr) event_base_free(base_);
}

absl::Status Worker::Init(int listen_fd) {
  // The epoll changelist folds the enable/disable churn evhttp does on every request into one
  // epoll_ctl per fd per loop iteration.
  event_config* cfg = event_config_new();
  if (cfg != nullptr) {
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base_ = event_base_new_with_config(cfg);
    event_config_free(cfg);
  }
  if (base_ == nullptr) {
    evutil_closesocket(listen_fd);
    return absl::InternalError("event_base_new failed");
  }
  http_ = evhttp_new(base_);
  if (http_ == nullptr) {
    evutil_closesocket(listen_fd);
    return absl::InternalError("evhttp_new failed");
  }
  evhttp_set_allowed_methods(http_, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                        EVHTTP_REQ_PATCH);
  evhttp_set_max_body_size(http_, 64 << 20);
  evhttp_set_gencb(http_, &Worker::OnRequest, this);
  if (evhttp_accept_socket_with_handle(http_, listen_fd) == nullptr) {
    evutil_closesocket(listen_fd);
    return absl::InternalError("evhttp_accept_socket_with_handle failed");
  }
  snapshot_ = shared_->config().Get();
  generation_ = snapshot_->generation;
  return absl::OkStatus();
}

void Worker::Run() { event_base_dispatch(base_); }

void Worker::Stop() { event_base_loopexit(base_, nullptr); }

void Worker::OnRequest(evhttp_request* req, void* arg) { static_cast<Worker*>(arg)->Handle(req); }

const Snapshot& Worker::Current() {
  if (shared_->config().generation() != generation_) {
    snapshot_ = shared_->config().Get();
    generation_ = snapshot_->generation;
    model_bodies_.clear();
    model_bytes_ = 0;
  }
  return *snapshot_;
}

void Worker::ScanHeaders(evhttp_request* req) {
  headers_.clear();
  mock_headers_.clear();
  authorization_ = x_api_key_ = anthropic_version_ = nullptr;
  const evkeyvalq* headers = evhttp_request_get_input_headers(req);
  for (const evkeyval* h = headers->tqh_first; h != nullptr; h = h->next.tqe_next) {
    headers_.emplace_back(h->key, h->value);
    switch (h->key[0]) {
      case 'a':
      case 'A':
        if (strcasecmp(h->key, "authorization") == 0) {
          authorization_ = h->value;
        } else if (strcasecmp(h->key, "anthropic-version") == 0) {
          anthropic_version_ = h->value;
        }
        break;
      case 'x':
      case 'X':
        if (strncasecmp(h->key, "x-mock-", 7) == 0) {
          mock_headers_.emplace_back(h->key + 7, h->value);
        } else if (strcasecmp(h->key, "x-api-key") == 0) {
          x_api_key_ = h->value;
        }
        break;
      default:
        break;
    }
  }
}

void Worker::ReadBody(evhttp_request* req) {
  evbuffer* in = evhttp_request_get_input_buffer(req);
  const size_t len = evbuffer_get_length(in);
  if (body_.capacity() < len + simdjson::SIMDJSON_PADDING) {
    body_.reserve(len + simdjson::SIMDJSON_PADDING);
  }
  body_.resize(len);
  if (len > 0) evbuffer_copyout(in, body_.data(), len);
}

void Worker::Handle(evhttp_request* req) {
  const Snapshot& snap = Current();
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* raw_path = uri != nullptr ? evhttp_uri_get_path(uri) : nullptr;
  const std::string_view path = (raw_path != nullptr && raw_path[0] != '\0') ? raw_path : "/";
  const evhttp_cmd_type method = evhttp_request_get_command(req);
  const RouteMatch match = MatchRoute(path);
  ReadBody(req);
  if (match.route == Route::kAdmin) {
    HandleAdmin(req, method, path);
    return;
  }
  ScanHeaders(req);
  stats_.Record(MethodName(method), path, headers_, body_, MonotonicNanos());

  const bool get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
  const Knobs& k = snap.knobs;
  switch (match.route) {
    case Route::kInference:
      if (method != EVHTTP_REQ_POST) {
        RespondError(req, match.api, 405, "method not allowed: use POST");
        return;
      }
      HandleInference(req, match.api, match.model);
      return;
    case Route::kCountTokens:
      if (method != EVHTTP_REQ_POST) {
        RespondError(req, Api::kAnthropicMessages, 405, "method not allowed: use POST");
        return;
      }
      HandleCountTokens(req);
      return;
    case Route::kNotFound:
      Respond(req, 404, kJson,
              ErrorBody(ErrorShape::kOpenAI, 404, fmt::format("mock-llm: no route for {}", path)),
              0, 0);
      return;
    default:
      break;
  }
  if (!get) {
    Respond(req, 405, kJson, ErrorBody(ErrorShape::kOpenAI, 405, "method not allowed: use GET"), 0,
            0);
    return;
  }
  switch (match.route) {
    case Route::kRoot:
      Respond(req, 200, kText, "mock-llm is running", 0, 0);
      break;
    case Route::kHealth:
      Respond(req, k.health_status, kText, k.health_status == 200 ? "ok" : "unhealthy", 0, 0);
      break;
    case Route::kModels:
      Respond(req, 200, kJson, snap.models, 0, 0);
      break;
    case Route::kV2Ready:
      Respond(req, 200, kJson, R"({"ready":true})", 0, 0);
      break;
    case Route::kV2Live:
      Respond(req, 200, kJson, R"({"live":true})", 0, 0);
      break;
    case Route::kModelInfo: {
      std::string body;
      JsonOut(body)
          .Raw(R"({"id":)")
          .Str(match.model)
          .Raw(R"(,"object":"model","created":)")
          .Int(snap.created)
          .Raw(R"(,"owned_by":"mock-llm","name":)")
          .Str(match.model)
          .Raw(R"(,"ready":true})");
      Respond(req, 200, kJson, body, 0, 0);
      break;
    }
    case Route::kV2ModelReady: {
      std::string body;
      JsonOut(body).Raw(R"({"name":)").Str(match.model).Raw(R"(,"ready":true})");
      Respond(req, 200, kJson, body, 0, 0);
      break;
    }
    case Route::kV2ModelMeta: {
      // The Open Inference Protocol model metadata, the same tensors for every model.
      std::string body;
      JsonOut(body)
          .Raw(R"({"name":)")
          .Str(match.model)
          .Raw(R"(,"versions":["1"],"platform":"mock-llm",)"
               R"("inputs":[{"name":"input0","datatype":"FP32","shape":[-1,4]}],)"
               R"("outputs":[{"name":"output0","datatype":"FP32","shape":[-1,3]}]})");
      Respond(req, 200, kJson, body, 0, 0);
      break;
    }
    default:
      break;
  }
}

void Worker::HandleAdmin(evhttp_request* req, evhttp_cmd_type method, std::string_view path) {
  const bool get = method == EVHTTP_REQ_GET;
  const bool post = method == EVHTTP_REQ_POST;
  if (path == "/mock/stats" && get) {
    Respond(req, 200, kJson, shared_->StatsJson(), 0, 0);
  } else if (path == "/mock/config" && get) {
    Respond(req, 200, kJson, Current().knobs_json, 0, 0);
  } else if (path == "/mock/config" && post) {
    KnobChange change;
    absl::StatusOr<std::shared_ptr<const Snapshot>> next = shared_->config().Update(body_, &change);
    if (!next.ok()) {
      std::string body;
      JsonOut(body).Raw(R"({"error":)").Str(std::string(next.status().message())).Raw("}");
      Respond(req, 400, kJson, body, 0, 0);
      return;
    }
    if (change.failure_sequence) shared_->failures().Reset();
    Respond(req, 200, kJson, (*next)->knobs_json, 0, 0);
  } else if (path == "/mock/reset" && post) {
    shared_->Reset();
    Respond(req, 200, kJson, R"({"ok":true})", 0, 0);
  } else if (path == "/mock/stats" || path == "/mock/config" || path == "/mock/reset") {
    Respond(req, 405, kJson, R"({"error":"method not allowed"})", 0, 0);
  } else {
    Respond(req, 404, kJson, R"({"error":"unknown admin path"})", 0, 0);
  }
}

void Worker::HandleCountTokens(evhttp_request* req) {
  const Knobs& k = snapshot_->knobs;
  if (!k.require_api_key.empty() && !Authorized(Api::kAnthropicMessages, k.require_api_key)) {
    RespondError(req, Api::kAnthropicMessages, 401,
                 "mock-llm: invalid x-api-key or missing anthropic-version header");
    return;
  }
  absl::StatusOr<int64_t> tokens = CountInputTokens(body_);
  if (!tokens.ok()) {
    RespondError(req, Api::kAnthropicMessages, 400, std::string(tokens.status().message()));
    return;
  }
  Respond(req, 200, kJson, fmt::format(R"({{"input_tokens":{}}})", *tokens), 0, 0);
}

bool Worker::Authorized(Api api, const std::string& key) const {
  switch (api) {
    case Api::kAnthropicMessages:
      return x_api_key_ != nullptr && key == x_api_key_ && anthropic_version_ != nullptr &&
             anthropic_version_[0] != '\0';
    case Api::kKServeV1:
    case Api::kKServeV2:
      return true;
    default:
      return authorization_ != nullptr && strncasecmp(authorization_, "Bearer ", 7) == 0 &&
             key == authorization_ + 7;
  }
}

bool Worker::ParseOverrides(Overrides* ov, std::string* error) const {
  for (const auto& [name, value] : mock_headers_) {
    int64_t v = 0;
    bool ok = true;
    if (strcasecmp(name, "status") == 0) {
      ok = ParseHeaderInt(value, 599, &v) && (v == 200 || v >= 400);
      ov->status = static_cast<int>(v);
    } else if (strcasecmp(name, "latency-ms") == 0) {
      ok = ParseHeaderInt(value, 3'600'000, &v);
      ov->latency_ms = static_cast<int>(v);
    } else if (strcasecmp(name, "chunks") == 0) {
      ok = ParseHeaderInt(value, 100'000, &v);
      ov->chunks = static_cast<int>(v);
    } else if (strcasecmp(name, "drop-after-chunks") == 0) {
      ov->drop_after_set = true;
      if (std::string_view(value) == "-1") {
        ov->drop_after = -1;
      } else {
        ok = ParseHeaderInt(value, 1'000'000, &v);
        ov->drop_after = static_cast<int>(v);
      }
    } else if (strcasecmp(name, "retry-after") == 0) {
      ok = ParseHeaderInt(value, 86'400, &v);
      ov->retry_after = static_cast<int>(v);
    } else if (strcasecmp(name, "prompt-tokens") == 0) {
      ok = ParseHeaderInt(value, 1'000'000'000, &v);
      ov->prompt_tokens = v;
    } else if (strcasecmp(name, "completion-tokens") == 0) {
      ok = ParseHeaderInt(value, 1'000'000'000, &v);
      ov->completion_tokens = v;
    }
    if (!ok) {
      *error = fmt::format("mock-llm: invalid x-mock-{} header \"{}\"", name, value);
      return false;
    }
  }
  return true;
}

const BodySet& Worker::BodiesFor(std::string_view model, std::unique_ptr<BodySet>* scratch) {
  const Snapshot& snap = *snapshot_;
  if (model == snap.knobs.model) return snap.bodies;
  if (auto it = model_bodies_.find(model); it != model_bodies_.end()) return *it->second;
  auto set = std::make_unique<BodySet>(BuildBodySet(ParamsFrom(snap.knobs, model, snap.created)));
  if (model.size() > kMaxCachedModelName) {
    *scratch = std::move(set);
    return **scratch;
  }
  if (model_bodies_.size() >= kMaxCachedModels || model_bytes_ >= kMaxCachedBytes) {
    model_bodies_.clear();
    model_bytes_ = 0;
  }
  model_bytes_ += BodyBytes(*set);
  return *model_bodies_.emplace(std::string(model), std::move(set)).first->second;
}

void Worker::Respond(evhttp_request* req, int status, const char* content_type,
                     std::string_view body, int retry_after, int delay_ms) {
  if (delay_ms > 0) {
    Exchange::StartReply(
        this, req, {status, content_type, std::string(body), snapshot_->knobs.name, retry_after},
        delay_ms);
    return;
  }
  AddResponseHeaders(req, content_type, snapshot_->knobs.name, status, retry_after);
  SendComplete(req, status, body);
}

void Worker::RespondError(evhttp_request* req, Api api, int status, std::string_view message) {
  Respond(req, status, kJson, ErrorBody(ShapeOf(api), status, message), 0, 0);
}

}  // namespace inferencegw::mock_llm
