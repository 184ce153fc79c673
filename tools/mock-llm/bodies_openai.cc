// OpenAI-shaped bodies: chat.completion, text_completion, embeddings, models, and their streams
// (provider-apis.md sections 1.3, 1.4 and 1.7).
#include <string>

#include "bodies.h"
#include "json_out.h"

namespace inferencegw::mock_llm {
namespace {

constexpr std::string_view kEmbedding =
    "[0.0123,-0.0456,0.0789,-0.0101,0.0202,-0.0303,0.0404,-0.0505]";

std::string ChatId(const BodyParams& p) { return "chatcmpl-mock-" + p.name; }
std::string CompletionId(const BodyParams& p) { return "cmpl-mock-" + p.name; }

void AppendChatUsage(JsonOut& j, const BodyParams& p) {
  j.Raw(R"({"prompt_tokens":)")
      .Int(p.prompt_tokens)
      .Raw(R"(,"completion_tokens":)")
      .Int(p.completion_tokens)
      .Raw(R"(,"total_tokens":)")
      .Int(p.prompt_tokens + p.completion_tokens)
      .Raw(R"(,"prompt_tokens_details":{"cached_tokens":)")
      .Int(p.cached_tokens)
      .Raw(R"(,"audio_tokens":0)");
  if (p.cache_write_tokens > 0) j.Raw(R"(,"cache_write_tokens":)").Int(p.cache_write_tokens);
  j.Raw(R"(},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,)"
        R"("accepted_prediction_tokens":0,"rejected_prediction_tokens":0}})");
}

void AppendPlainUsage(JsonOut& j, const BodyParams& p) {
  j.Raw(R"({"prompt_tokens":)")
      .Int(p.prompt_tokens)
      .Raw(R"(,"completion_tokens":)")
      .Int(p.completion_tokens)
      .Raw(R"(,"total_tokens":)")
      .Int(p.prompt_tokens + p.completion_tokens)
      .Raw("}");
}

// Opens one stream chunk object up to and including `"choices":[`.
void OpenChunk(JsonOut& j, std::string_view id, std::string_view object, const BodyParams& p) {
  j.Raw(R"(data: {"id":)")
      .Str(id)
      .Raw(R"(,"object":)")
      .Str(object)
      .Raw(R"(,"created":)")
      .Int(p.created)
      .Raw(R"(,"model":)")
      .Str(p.model)
      .Raw(R"(,"choices":[)");
}

// Closes a chunk opened by OpenChunk: `]`, the null usage when include_usage, `}` and framing.
void CloseChunk(JsonOut& j, bool include_usage) {
  j.Raw(include_usage ? R"(],"usage":null})" : "]}").Raw("\n\n");
}

void AppendUsageChunk(std::string& out, std::string_view id, std::string_view object,
                      const BodyParams& p, bool chat) {
  JsonOut j(out);
  OpenChunk(j, id, object, p);
  j.Raw(R"(],"usage":)");
  if (chat) {
    AppendChatUsage(j, p);
  } else {
    AppendPlainUsage(j, p);
  }
  j.Raw("}\n\n");
}

}  // namespace

std::string OpenAIChatBody(const BodyParams& p) {
  std::string out;
  JsonOut j(out);
  j.Raw(R"({"id":)")
      .Str(ChatId(p))
      .Raw(R"(,"object":"chat.completion","created":)")
      .Int(p.created)
      .Raw(R"(,"model":)")
      .Str(p.model)
      .Raw(R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)")
      .Str(ContentText(p.name, p.chunks))
      .Raw(R"(,"refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":)");
  AppendChatUsage(j, p);
  j.Raw(R"(,"system_fingerprint":"fp_mock","service_tier":"default"})");
  return out;
}

std::string OpenAICompletionBody(const BodyParams& p) {
  std::string out;
  JsonOut j(out);
  j.Raw(R"({"id":)")
      .Str(CompletionId(p))
      .Raw(R"(,"object":"text_completion","created":)")
      .Int(p.created)
      .Raw(R"(,"model":)")
      .Str(p.model)
      .Raw(R"(,"choices":[{"index":0,"text":)")
      .Str(ContentText(p.name, p.chunks))
      .Raw(R"(,"logprobs":null,"finish_reason":"stop"}],"usage":)");
  AppendPlainUsage(j, p);
  j.Raw("}");
  return out;
}

std::string OpenAIEmbeddingBody(const BodyParams& p, int inputs) {
  std::string out;
  JsonOut j(out);
  j.Raw(R"({"object":"list","model":)").Str(p.model).Raw(R"(,"data":[)");
  for (int i = 0; i < inputs; ++i) {
    if (i > 0) j.Raw(",");
    j.Raw(R"({"object":"embedding","index":)").Int(i).Raw(R"(,"embedding":)").Raw(kEmbedding);
    j.Raw("}");
  }
  j.Raw(R"(],"usage":{"prompt_tokens":)")
      .Int(p.prompt_tokens)
      .Raw(R"(,"total_tokens":)")
      .Int(p.prompt_tokens)
      .Raw("}}");
  return out;
}

StreamScript OpenAIChatStream(const BodyParams& p, bool include_usage) {
  const std::string id = ChatId(p);
  constexpr std::string_view kObject = "chat.completion.chunk";
  StreamScript s;
  {
    JsonOut j(s.preamble);
    OpenChunk(j, id, kObject, p);
    j.Raw(R"({"index":0,"delta":{"role":"assistant","content":"","refusal":null},)"
          R"("logprobs":null,"finish_reason":null})");
    CloseChunk(j, include_usage);
  }
  InitChunks(s, p);
  {
    JsonOut j(s.chunk_prefix);
    OpenChunk(j, id, kObject, p);
    j.Raw(R"({"index":0,"delta":{"content":")");
    JsonOut suffix(s.chunk_suffix);
    suffix.Raw(R"("},"logprobs":null,"finish_reason":null})");
    CloseChunk(suffix, include_usage);
  }
  JsonOut j(s.trailer);
  OpenChunk(j, id, kObject, p);
  j.Raw(R"({"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"})");
  CloseChunk(j, include_usage);
  if (include_usage) AppendUsageChunk(s.trailer, id, kObject, p, /*chat=*/true);
  s.trailer += "data: [DONE]\n\n";
  return s;
}

StreamScript OpenAICompletionStream(const BodyParams& p, bool include_usage) {
  const std::string id = CompletionId(p);
  constexpr std::string_view kObject = "text_completion";
  StreamScript s;  // a completion stream has no role chunk: the preamble is empty
  InitChunks(s, p);
  {
    JsonOut j(s.chunk_prefix);
    OpenChunk(j, id, kObject, p);
    j.Raw(R"({"index":0,"text":")");
    JsonOut suffix(s.chunk_suffix);
    suffix.Raw(R"(","logprobs":null,"finish_reason":null})");
    CloseChunk(suffix, include_usage);
  }
  JsonOut j(s.trailer);
  OpenChunk(j, id, kObject, p);
  j.Raw(R"({"index":0,"text":"","logprobs":null,"finish_reason":"stop"})");
  CloseChunk(j, include_usage);
  if (include_usage) AppendUsageChunk(s.trailer, id, kObject, p, /*chat=*/false);
  s.trailer += "data: [DONE]\n\n";
  return s;
}

std::string OpenAIModelsBody(std::string_view model, int64_t created) {
  std::string out;
  JsonOut(out)
      .Raw(R"({"object":"list","data":[{"id":)")
      .Str(model)
      .Raw(R"(,"object":"model","created":)")
      .Int(created)
      .Raw(R"(,"owned_by":"mock-llm"}]})");
  return out;
}

}  // namespace inferencegw::mock_llm
