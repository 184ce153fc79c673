// Response bodies of every provider format the mock speaks, built once per (knobs, model) and
// reused for every request (the hot path only copies bytes).
//
//   BodySet set = BuildBodySet(ParamsFrom(knobs, "gpt-4o", now_seconds));
//   Send(set.openai_chat);                       // non-streamed chat.completion
//   const StreamScript& s = *set.openai_chat_stream[/*include_usage=*/1];
#ifndef INFERENCEGW_TOOLS_MOCK_LLM_BODIES_H_
#define INFERENCEGW_TOOLS_MOCK_LLM_BODIES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "knobs.h"

namespace inferencegw::mock_llm {

// Everything a success body depends on.
struct BodyParams {
  std::string model;  // echoed: the request's model, or the KServe model name from the path
  std::string name;   // the mock's name ("Hello from NAME")
  int chunks = 5;     // content pieces (stream chunks; the non-stream text joins the same pieces)
  int64_t prompt_tokens = 0;  // includes cached and cache-write tokens
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t created = 0;  // unix seconds, the "created" field
};

// Returns the params for `model` under `knobs`.
BodyParams ParamsFrom(const Knobs& knobs, std::string_view model, int64_t created);

// Text of content piece `i` (0-based): "Hello from NAME" for 0, then " 1", " 2", ...
std::string ChunkText(std::string_view name, int i);
// The non-streamed content text: pieces 0..max(chunks,1)-1 joined, so it equals the text a
// client assembles from a stream with the same number of chunks (when chunks >= 1).
std::string ContentText(std::string_view name, int chunks);

// A stream as wire bytes (SSE events, already framed). Content chunk i is
// chunk_prefix + (optional "t=<ns> " stamp) + EscapedChunkText(i) + chunk_suffix, so a script
// costs the same whatever the chunk count. Immutable once built; shared by every stream that
// uses it. Thread-safe to read.
struct StreamScript {
  std::string preamble;      // events before the first content chunk
  std::string chunk_prefix;  // bytes of a content chunk event before its text
  std::string chunk_suffix;  // bytes of a content chunk event after its text
  std::string first_text;    // JSON-escaped text of chunk 0 ("Hello from NAME")
  int chunks = 0;            // content chunks in the stream
  std::string trailer;       // events after the last content chunk, terminator included

  // Returns the JSON-escaped text of content chunk `i` (ChunkText(name, i)), using `scratch`
  // for chunks after the first. REQUIRES: 0 <= i < chunks.
  std::string_view EscapedChunkText(int i, std::string& scratch) const;
};

// All precomputed bodies for one (knobs, model). Immutable once built.
struct BodySet {
  std::string openai_chat;
  std::string openai_completion;
  std::string openai_embedding;  // one input
  std::string openai_responses;  // POST /v1/responses
  std::string anthropic_message;
  std::string cohere_chat;
  std::string kserve_v1;                                            // one instance
  std::string kserve_v2;                                            // no request id
  std::shared_ptr<const StreamScript> openai_chat_stream[2];        // index: include_usage
  std::shared_ptr<const StreamScript> openai_completion_stream[2];  // index: include_usage
  std::shared_ptr<const StreamScript> openai_responses_stream;
  std::shared_ptr<const StreamScript> anthropic_stream;
  std::shared_ptr<const StreamScript> cohere_stream;
};

BodySet BuildBodySet(const BodyParams& p);

// Sets `s.chunks` and `s.first_text` from `p` (shared by the stream builders).
void InitChunks(StreamScript& s, const BodyParams& p);

// OpenAI (bodies_openai.cc).
std::string OpenAIChatBody(const BodyParams& p);
std::string OpenAICompletionBody(const BodyParams& p);
std::string OpenAIEmbeddingBody(const BodyParams& p, int inputs);
StreamScript OpenAIChatStream(const BodyParams& p, bool include_usage);
StreamScript OpenAICompletionStream(const BodyParams& p, bool include_usage);
std::string OpenAIModelsBody(std::string_view model, int64_t created);

// OpenAI Responses API (bodies_responses.cc): the response object, and its events from
// response.created to response.completed (usage in the last one; no [DONE]).
std::string OpenAIResponsesBody(const BodyParams& p);
StreamScript OpenAIResponsesStream(const BodyParams& p);

// Anthropic, Cohere v2, KServe (bodies_other.cc).
std::string AnthropicMessageBody(const BodyParams& p);
StreamScript AnthropicStream(const BodyParams& p);
std::string CohereChatBody(const BodyParams& p);
StreamScript CohereStream(const BodyParams& p);
std::string KServeV1Body(const BodyParams& p, int instances);
std::string KServeV2Body(const BodyParams& p, std::string_view request_id);

// Error bodies in each provider's shape.
enum class ErrorShape { kOpenAI, kAnthropic, kCohere, kKServe };
std::string ErrorBody(ErrorShape shape, int status, std::string_view message);
// A short human message for `status` ("mock error: status 503 (...)").
std::string DefaultErrorMessage(int status);

}  // namespace inferencegw::mock_llm

#endif  // INFERENCEGW_TOOLS_MOCK_LLM_BODIES_H_
