// Token usage from provider responses: plain JSON bodies and SSE streams fed chunk by chunk.
// Counts follow OpenAI's convention: `input_tokens` is every prompt token, and the cached and
// cache-write counts are parts of it, never added to it again.
//
//   Usage u = ParseUsage(WireFormat::kAnthropic, body).value_or(Usage{});
//   StreamUsageParser s(WireFormat::kOpenAI);
//   for (auto chunk : chunks) s.Feed(chunk);
//   s.Finish();  // s.usage().present tells whether the stream reported usage
#ifndef INFERENCEGW_USAGE_PARSER_H_
#define INFERENCEGW_USAGE_PARSER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "inferencegw/sse.h"

namespace inferencegw {

// The wire format of a response body or stream.
enum class WireFormat : uint8_t {
  kOpenAI,     // chat completions, completions, embeddings (also vLLM, Ollama /v1, KServe /openai)
  kAnthropic,  // Messages API
  kCohere,     // v2 chat
  kKServe,     // v1 predict / v2 infer: no token usage (cost per request)
};
std::string_view WireFormatName(WireFormat f);  // "openai", "anthropic", "cohere", "kserve"

// The largest token count believed in one response's usage: a billion tokens, far above any
// model's context. A report with a count above it (a buggy or hostile backend) is treated as
// no usage report at all, so that no sum or cost built from it can saturate.
inline constexpr int64_t kMaxUsageTokens = 1'000'000'000;

struct Usage {
  int64_t input_tokens = 0;              // all prompt tokens, cached ones included
  int64_t output_tokens = 0;             // completion tokens, reasoning included
  int64_t cached_input_tokens = 0;       // part of input_tokens read from a prompt cache
  int64_t cache_write_input_tokens = 0;  // part of input_tokens written to a prompt cache
  int64_t reasoning_tokens = 0;          // part of output_tokens
  bool present = false;                  // the response reported usage at all
  // The response reported usage with a count above kMaxUsageTokens: every count is 0 and
  // `present` is false, as if there were no report.
  bool out_of_range = false;

  int64_t total() const { return input_tokens + output_tokens; }
};

// Whether every count of `usage` is in [0, kMaxUsageTokens]. Parsed usage always is.
bool UsageInRange(const Usage& usage);

// Usage from a complete (non-streamed) response body: OpenAI `usage.prompt_tokens /
// completion_tokens / prompt_tokens_details.cached_tokens|cache_write_tokens`; Anthropic
// `usage.input_tokens + cache_creation_input_tokens + cache_read_input_tokens, output_tokens`;
// Cohere `usage.billed_units` (v2) or `meta.billed_units` (v1). Returns Usage{present=false}
// when the body has no usage, Usage{present=false, out_of_range=true} when a count exceeds
// kMaxUsageTokens, InvalidArgument when it is not JSON.
absl::StatusOr<Usage> ParseUsage(WireFormat format, std::string_view body);

// Applies the usage carried by one SSE event of a stream to `usage` (OpenAI's final usage chunk,
// vLLM's cumulative continuous usage, Anthropic's message_start and cumulative message_delta,
// Cohere's message-end). Counts are assigned, never summed. A count above kMaxUsageTokens makes
// `usage` out_of_range for good: later events of the stream no longer change it. Returns false
// when `data` is not JSON; events without usage leave `usage` unchanged.
bool ApplyStreamEventUsage(WireFormat format, std::string_view event, std::string_view data,
                           Usage* usage);

// Not thread-safe; one per stream. Usage from an SSE stream fed in arbitrary pieces.
class StreamUsageParser {
 public:
  explicit StreamUsageParser(WireFormat format) : format_(format) {}
  void Feed(std::string_view bytes);
  void Finish();
  const Usage& usage() const { return usage_; }

 private:
  WireFormat format_;
  SseParser sse_;
  Usage usage_;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_USAGE_PARSER_H_
