// Usage parsing and SSE framing on the response path: one call per response (bodies) or per
// received chunk (streams).
#include <benchmark/benchmark.h>

#include <string>

#include "inferencegw/sse.h"
#include "inferencegw/usage_parser.h"

namespace inferencegw {
namespace {

// A typical chat completion (~600 bytes) with usage details.
const std::string& OpenAIBody() {
  static const std::string body =
      R"({"id":"chatcmpl-9xKq2ZbE5r4mT7uVwXyZ0aBcDeFgH","object":"chat.completion",)"
      R"("created":1700000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{)"
      R"("role":"assistant","content":"Paris is the capital of France, known for the Eiffel )"
      R"(Tower and the Louvre.","refusal":null},"logprobs":null,)"
      R"("finish_reason":"stop"}],"usage":{"prompt_tokens":1250,"completion_tokens":48,)"
      R"("total_tokens":1298,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},)"
      R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,)"
      R"("accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},)"
      R"("system_fingerprint":"fp_a1b2c3d4e5","service_tier":"default"})";
  return body;
}

const std::string& AnthropicBody() {
  static const std::string body =
      R"({"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant",)"
      R"("model":"claude-sonnet-4-5","content":[{"type":"text","text":"Paris is the capital )"
      R"(of France. It is known for the Eiffel Tower, the Louvre museum, and its cafe culture."}],)"
      R"("stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":226,)"
      R"("cache_creation_input_tokens":0,"cache_read_input_tokens":1024,"output_tokens":48,)"
      R"("service_tier":"standard"}})";
  return body;
}

// A 50-chunk stream: 48 content chunks, a finish chunk and the include_usage chunk (OpenAI), or
// message_start, 48 deltas and message_delta (Anthropic).
std::string Stream(WireFormat format) {
  std::string s;
  if (format == WireFormat::kOpenAI) {
    for (int i = 0; i < 48; ++i) {
      s += R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
           R"("model":"gpt-4o","choices":[{"index":0,"delta":{"content":" token"},)"
           R"("logprobs":null,"finish_reason":null}],"usage":null})"
           "\n\n";
    }
    s += R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
         R"("model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],)"
         R"("usage":null})"
         "\n\n";
    s += R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
         R"("model":"gpt-4o","choices":[],"usage":{"prompt_tokens":1250,"completion_tokens":48,)"
         R"("total_tokens":1298,"prompt_tokens_details":{"cached_tokens":1024}}})"
         "\n\ndata: [DONE]\n\n";
  } else {
    s += "event: message_start\n"
         R"(data: {"type":"message_start","message":{"id":"msg_1","type":"message",)"
         R"("role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,)"
         R"("usage":{"input_tokens":226,"output_tokens":1,"cache_read_input_tokens":1024}}})"
         "\n\n";
    for (int i = 0; i < 48; ++i) {
      s += "event: content_block_delta\n"
           R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
           R"("text":" token"}})"
           "\n\n";
    }
    s += "event: message_delta\n"
         R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},)"
         R"("usage":{"output_tokens":48}})"
         "\n\n";
  }
  return s;
}

void BM_ParseUsageOpenAI(benchmark::State& state) {
  const std::string& body = OpenAIBody();
  for (auto _ : state) {
    absl::StatusOr<Usage> u = ParseUsage(WireFormat::kOpenAI, body);
    benchmark::DoNotOptimize(u);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_ParseUsageOpenAI);

void BM_ParseUsageAnthropic(benchmark::State& state) {
  const std::string& body = AnthropicBody();
  for (auto _ : state) {
    absl::StatusOr<Usage> u = ParseUsage(WireFormat::kAnthropic, body);
    benchmark::DoNotOptimize(u);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["body_bytes"] = static_cast<double>(body.size());
}
BENCHMARK(BM_ParseUsageAnthropic);

// A whole 50-chunk stream fed as it arrives, one SSE event per read. Arg: 0 OpenAI, 1 Anthropic.
void BM_StreamUsage(benchmark::State& state) {
  const WireFormat format = state.range(0) == 0 ? WireFormat::kOpenAI : WireFormat::kAnthropic;
  const std::string stream = Stream(format);
  std::vector<std::string_view> reads;
  for (size_t start = 0; start < stream.size();) {
    const size_t end = stream.find("\n\n", start) + 2;
    reads.push_back(std::string_view(stream).substr(start, end - start));
    start = end;
  }
  for (auto _ : state) {
    StreamUsageParser parser(format);
    for (std::string_view read : reads) parser.Feed(read);
    parser.Finish();
    benchmark::DoNotOptimize(parser.usage());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["chunks"] = static_cast<double>(reads.size());
}
BENCHMARK(BM_StreamUsage)->Arg(0)->Arg(1);

// SSE framing alone over the OpenAI stream, fed in pieces of Arg bytes (1400 ~ a TCP segment;
// 64 cuts most lines in two).
void BM_SseParse(benchmark::State& state) {
  const std::string stream = Stream(WireFormat::kOpenAI);
  const size_t piece = static_cast<size_t>(state.range(0));
  size_t events = 0;
  for (auto _ : state) {
    SseParser parser;
    auto on_event = [&](const SseEvent& e) {
      benchmark::DoNotOptimize(e.data.data());
      ++events;
    };
    for (size_t i = 0; i < stream.size(); i += piece) {
      parser.Feed(std::string_view(stream).substr(i, piece), on_event);
    }
    parser.Finish(on_event);
  }
  benchmark::DoNotOptimize(events);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_SseParse)->Arg(64)->Arg(1400)->Arg(1 << 20);

}  // namespace
}  // namespace inferencegw

BENCHMARK_MAIN();
