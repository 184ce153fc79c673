// The inference endpoints: auth, request validation, injected errors, then a precomputed body,
// a delayed reply or a stream.
#include <fmt/format.h>

#include <string>
#include <utility>

#include "exchange.h"
#include "http_util.h"
#include "worker.h"

namespace inferencegw::mock_llm {
namespace {

bool Streams(Api api) {
  return api == Api::kOpenAIChat || api == Api::kOpenAICompletions ||
         api == Api::kOpenAIResponses || api == Api::kAnthropicMessages || api == Api::kCohereChat;
}

const char* UnauthorizedMessage(Api api) {
  return api == Api::kAnthropicMessages
             ? "mock-llm: invalid x-api-key or missing anthropic-version header"
             : "mock-llm: incorrect API key provided";
}

// The non-stream success body for `api`: from `set`, or built into `scratch` when the request
// needs a variant the set does not hold (several inputs, a KServe request id).
std::string_view SuccessBody(Api api, const BodySet& set, const BodyParams& params,
                             const ParsedRequest& req, std::string* scratch) {
  switch (api) {
    case Api::kOpenAIChat:
      return set.openai_chat;
    case Api::kOpenAICompletions:
      return set.openai_completion;
    case Api::kOpenAIEmbeddings:
      if (req.inputs == 1) return set.openai_embedding;
      *scratch = OpenAIEmbeddingBody(params, req.inputs);
      return *scratch;
    case Api::kOpenAIResponses:
      return set.openai_responses;
    case Api::kAnthropicMessages:
      return set.anthropic_message;
    case Api::kCohereChat:
      return set.cohere_chat;
    case Api::kKServeV1:
      if (req.inputs == 1) return set.kserve_v1;
      *scratch = KServeV1Body(params, req.inputs);
      return *scratch;
    case Api::kKServeV2:
      if (req.id.empty()) return set.kserve_v2;
      *scratch = KServeV2Body(params, req.id);
      return *scratch;
  }
  return set.openai_chat;
}

std::shared_ptr<const StreamScript> StreamOf(Api api, const BodySet& set, bool include_usage) {
  switch (api) {
    case Api::kOpenAIChat:
      return set.openai_chat_stream[include_usage ? 1 : 0];
    case Api::kOpenAICompletions:
      return set.openai_completion_stream[include_usage ? 1 : 0];
    case Api::kOpenAIResponses:
      return set.openai_responses_stream;
    case Api::kAnthropicMessages:
      return set.anthropic_stream;
    case Api::kCohereChat:
      return set.cohere_stream;
    default:
      return nullptr;
  }
}

}  // namespace

void Worker::HandleInference(evhttp_request* req, Api api, std::string_view path_model) {
  const Knobs& k = snapshot_->knobs;
  if (!k.require_api_key.empty() && !Authorized(api, k.require_api_key)) {
    RespondError(req, api, 401, UnauthorizedMessage(api));
    return;
  }

  ParsedRequest parsed;
  if (absl::Status st = parser_.Parse(
          simdjson::padded_string_view(body_.data(), body_.size(), body_.capacity()), &parsed);
      !st.ok()) {
    RespondError(req, api, 400, fmt::format("mock-llm: {}", std::string(st.message())));
    return;
  }
  const bool kserve = api == Api::kKServeV1 || api == Api::kKServeV2;
  if (!kserve && !parsed.has_model) {
    RespondError(req, api, 400, "mock-llm: model: field required");
    return;
  }
  if (api == Api::kOpenAIResponses && !parsed.has_input) {
    RespondError(req, api, 400, "Missing required parameter: 'input'.");
    return;
  }
  if (api == Api::kAnthropicMessages && !parsed.has_max_tokens) {
    RespondError(req, api, 400, "max_tokens: Field required");
    return;
  }
  const std::string_view model = kserve ? path_model : std::string_view(parsed.model);

  Overrides ov;
  std::string error;
  if (!ParseOverrides(&ov, &error)) {
    RespondError(req, api, 400, error);
    return;
  }
  const int latency_ms = ov.latency_ms >= 0 ? ov.latency_ms : k.latency_ms;
  const int retry_after = ov.retry_after >= 0 ? ov.retry_after : k.retry_after;
  int status = ov.status >= 0 ? ov.status : k.status;
  if (status == 200 && shared_->failures().Draw(k.seed, k.failure_rate)) status = k.fail_status;
  if (status != 200) {
    Respond(req, status, kJson, ErrorBody(ShapeOf(api), status, DefaultErrorMessage(status)),
            retry_after, latency_ms);
    return;
  }

  // Bodies: precomputed unless a header changed what they contain. The params are only needed
  // (and only built) when this request's body must be built.
  const bool variant =
      ((api == Api::kOpenAIEmbeddings || api == Api::kKServeV1) && parsed.inputs != 1) ||
      (api == Api::kKServeV2 && !parsed.id.empty());
  BodyParams params;
  if (variant || ov.ChangesBodies()) params = ParamsFrom(k, model, snapshot_->created);
  std::unique_ptr<BodySet> scratch_set;
  const BodySet* set = nullptr;
  if (ov.ChangesBodies()) {
    if (ov.chunks >= 0) params.chunks = ov.chunks;
    if (ov.prompt_tokens >= 0) params.prompt_tokens = ov.prompt_tokens;
    if (ov.completion_tokens >= 0) params.completion_tokens = ov.completion_tokens;
    if (params.cached_tokens + params.cache_write_tokens > params.prompt_tokens) {
      RespondError(req, api, 400,
                   "mock-llm: x-mock-prompt-tokens is below cached_tokens + cache_write_tokens");
      return;
    }
    scratch_set = std::make_unique<BodySet>(BuildBodySet(params));
    set = scratch_set.get();
  } else {
    set = &BodiesFor(model, &scratch_set);
  }

  if (parsed.stream && Streams(api)) {
    Exchange::StreamPlan plan;
    plan.script = StreamOf(api, *set, parsed.include_usage);
    plan.backend = k.name;
    plan.interval_ms = k.chunk_interval_ms;
    plan.drop_after = ov.drop_after_set ? ov.drop_after : k.drop_after_chunks;
    plan.drop_with_reset = k.drop_with_reset;
    plan.stall_after = k.stall_after_chunks;
    plan.malformed_chunk = k.malformed_chunk;
    plan.malformed_sse = k.malformed == "sse";
    plan.stamp = k.stamp_chunks;
    Exchange::StartStream(this, req, std::move(plan), latency_ms);
    return;
  }
  std::string scratch_body;
  std::string_view body = SuccessBody(api, *set, params, parsed, &scratch_body);
  if (k.malformed_chunk >= 0) body = body.substr(0, body.size() / 2);  // invalid JSON
  Respond(req, 200, kJson, body, 0, latency_ms);
}

}  // namespace inferencegw::mock_llm
