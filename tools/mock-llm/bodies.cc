// Shared body pieces, the precomputed BodySet, KServe bodies and provider-shaped error bodies
// (provider-apis.md sections 1.5, 2.5, 4.1 and 5.1).
#include "bodies.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "json_out.h"

namespace inferencegw::mock_llm {

BodyParams ParamsFrom(const Knobs& knobs, std::string_view model, int64_t created) {
  BodyParams p;
  p.model = std::string(model);
  p.name = knobs.name;
  p.chunks = knobs.chunks;
  p.prompt_tokens = knobs.prompt_tokens;
  p.completion_tokens = knobs.completion_tokens;
  p.cached_tokens = knobs.cached_tokens;
  p.cache_write_tokens = knobs.cache_write_tokens;
  p.created = created;
  return p;
}

std::string ChunkText(std::string_view name, int i) {
  if (i == 0) return fmt::format("Hello from {}", name);
  return fmt::format(" {}", i);
}

std::string ContentText(std::string_view name, int chunks) {
  std::string text;
  for (int i = 0; i < std::max(chunks, 1); ++i) text += ChunkText(name, i);
  return text;
}

std::string_view StreamScript::EscapedChunkText(int i, std::string& scratch) const {
  if (i == 0) return first_text;
  scratch = ChunkText("", i);  // " <i>": nothing to escape
  return scratch;
}

void InitChunks(StreamScript& s, const BodyParams& p) {
  s.chunks = p.chunks;
  s.first_text.clear();
  AppendJsonEscaped(s.first_text, ChunkText(p.name, 0));
}

BodySet BuildBodySet(const BodyParams& p) {
  BodySet set;
  set.openai_chat = OpenAIChatBody(p);
  set.openai_completion = OpenAICompletionBody(p);
  set.openai_embedding = OpenAIEmbeddingBody(p, 1);
  set.openai_responses = OpenAIResponsesBody(p);
  set.openai_responses_stream = std::make_shared<const StreamScript>(OpenAIResponsesStream(p));
  set.anthropic_message = AnthropicMessageBody(p);
  set.cohere_chat = CohereChatBody(p);
  set.kserve_v1 = KServeV1Body(p, 1);
  set.kserve_v2 = KServeV2Body(p, "");
  for (int usage = 0; usage < 2; ++usage) {
    set.openai_chat_stream[usage] =
        std::make_shared<const StreamScript>(OpenAIChatStream(p, usage == 1));
    set.openai_completion_stream[usage] =
        std::make_shared<const StreamScript>(OpenAICompletionStream(p, usage == 1));
  }
  set.anthropic_stream = std::make_shared<const StreamScript>(AnthropicStream(p));
  set.cohere_stream = std::make_shared<const StreamScript>(CohereStream(p));
  return set;
}

std::string KServeV1Body(const BodyParams& p, int instances) {
  std::string out;
  JsonOut j(out);
  const std::string text = ContentText(p.name, p.chunks);
  j.Raw(R"({"predictions":[)");
  for (int i = 0; i < instances; ++i) {
    if (i > 0) j.Raw(",");
    j.Str(text);
  }
  j.Raw("]}");
  return out;
}

std::string KServeV2Body(const BodyParams& p, std::string_view request_id) {
  std::string out;
  JsonOut j(out);
  j.Raw(R"({"model_name":)").Str(p.model);
  if (!request_id.empty()) j.Raw(R"(,"id":)").Str(request_id);
  j.Raw(R"(,"outputs":[{"name":"output0","shape":[1],"datatype":"BYTES","data":[)")
      .Str(ContentText(p.name, p.chunks))
      .Raw("]}]}");
  return out;
}

std::string DefaultErrorMessage(int status) {
  switch (status) {
    case 400:
      return "mock-llm: bad request (injected status 400)";
    case 401:
      return "mock-llm: invalid API key (injected status 401)";
    case 404:
      return "mock-llm: model not found (injected status 404)";
    case 429:
      return "mock-llm: rate limit reached (injected status 429)";
    case 500:
      return "mock-llm: internal server error (injected status 500)";
    case 503:
      return "mock-llm: the engine is currently overloaded (injected status 503)";
    default:
      return fmt::format("mock-llm: injected status {}", status);
  }
}

namespace {

void OpenAIErrorKind(int status, std::string_view* type, std::string_view* code) {
  *type = "invalid_request_error";
  *code = "";
  if (status == 401) {
    *code = "invalid_api_key";
  } else if (status == 404) {
    *code = "model_not_found";
  } else if (status == 429) {
    *type = "requests";
    *code = "rate_limit_exceeded";
  } else if (status >= 500) {
    *type = "server_error";
  }
}

std::string_view AnthropicErrorType(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 503:
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

}  // namespace

std::string ErrorBody(ErrorShape shape, int status, std::string_view message) {
  std::string out;
  JsonOut j(out);
  switch (shape) {
    case ErrorShape::kOpenAI: {
      std::string_view type, code;
      OpenAIErrorKind(status, &type, &code);
      j.Raw(R"({"error":{"message":)").Str(message).Raw(R"(,"type":)").Str(type);
      j.Raw(R"(,"param":null,"code":)");
      if (code.empty()) {
        j.Raw("null");
      } else {
        j.Str(code);
      }
      j.Raw("}}");
      break;
    }
    case ErrorShape::kAnthropic:
      j.Raw(R"({"type":"error","error":{"type":)")
          .Str(AnthropicErrorType(status))
          .Raw(R"(,"message":)")
          .Str(message)
          .Raw(R"(},"request_id":"req_mock"})");
      break;
    case ErrorShape::kCohere:
      j.Raw(R"({"message":)").Str(message).Raw("}");
      break;
    case ErrorShape::kKServe:
      j.Raw(R"({"error":)").Str(message).Raw("}");
      break;
  }
  return out;
}

}  // namespace inferencegw::mock_llm
