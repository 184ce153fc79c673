// The translation layer on the request and response paths: one InspectRequest and one
// BuildUpstreamBody per request, one StreamTranslator per streamed response fed chunk by chunk.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "inferencegw/translate.h"

namespace inferencegw {
namespace {

// A chat request with a system prompt, tools and `turns` user/assistant/tool exchanges
// (about 650 bytes per turn).
std::string ChatRequest(int turns, bool stream) {
  std::string s =
      R"({"model":"gpt-4o","temperature":0.2,"max_completion_tokens":1024,)"
      R"("tools":[{"type":"function","function":{"name":"get_weather","description":"Current )"
      R"(weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},)"
      R"("unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}}],)"
      R"("messages":[{"role":"system","content":"You are a concise assistant. Answer in one )"
      R"(paragraph and call tools when the user asks about the weather."})";
  for (int i = 0; i < turns; ++i) {
    s += R"(,{"role":"user","content":"What is the weather like in Paris today, and should I )"
         R"(bring an umbrella when I walk to the Louvre this afternoon?"})"
         R"(,{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"call_)" +
         std::to_string(i) +
         R"(","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",)"
         R"(\"unit\":\"c\"}"}}]},{"role":"tool","tool_call_id":"call_)" +
         std::to_string(i) +
         R"(","content":"{\"temp\":21,\"rain_probability\":0.35,\"wind_kph\":12}"})"
         R"(,{"role":"assistant","content":"It is 21 C with a 35% chance of rain; a small )"
         R"(umbrella would be wise for the afternoon walk."})";
  }
  s += R"(,{"role":"user","content":"Thanks! And tomorrow?"}])";
  s += stream ? R"(,"stream":true})" : "}";
  return s;
}

// 50 chunks: a role chunk, 47 content chunks, the finish chunk and the include_usage chunk.
std::vector<std::string> OpenAIChunks() {
  const std::string head =
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,)"
      R"("model":"gpt-4o","choices":)";
  std::vector<std::string> chunks;
  chunks.push_back(head + R"([{"index":0,"delta":{"role":"assistant","content":""},)"
                          R"("finish_reason":null}],"usage":null})"
                          "\n\n");
  for (int i = 0; i < 47; ++i) {
    chunks.push_back(head + R"([{"index":0,"delta":{"content":" token"},"finish_reason":null}],)"
                            R"("usage":null})"
                            "\n\n");
  }
  chunks.push_back(head + R"([{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})"
                          "\n\n");
  chunks.push_back(head + R"([],"usage":{"prompt_tokens":1250,"completion_tokens":48,)"
                          R"("total_tokens":1298,"prompt_tokens_details":{"cached_tokens":1024}}})"
                          "\n\ndata: [DONE]\n\n");
  return chunks;
}

// 50 events: message_start, a text block with 45 deltas, message_delta, message_stop.
std::vector<std::string> AnthropicEvents() {
  std::vector<std::string> events;
  events.push_back(
      "event: message_start\ndata: "
      R"({"type":"message_start","message":{"id":"msg_01X","type":"message","role":"assistant",)"
      R"("content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,)"
      R"("usage":{"input_tokens":226,"output_tokens":1,"cache_read_input_tokens":1024}}})"
      "\n\n");
  events.push_back(
      "event: content_block_start\ndata: "
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text",)"
      R"("text":""}})"
      "\n\n");
  for (int i = 0; i < 45; ++i) {
    events.push_back(
        "event: content_block_delta\ndata: "
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
        R"("text":" token"}})"
        "\n\n");
  }
  events.push_back(
      "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n");
  events.push_back(
      "event: message_delta\ndata: "
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn",)"
      R"("stop_sequence":null},"usage":{"output_tokens":48}})"
      "\n\n");
  events.push_back("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
  return events;
}

size_t TotalSize(const std::vector<std::string>& pieces) {
  size_t n = 0;
  for (const std::string& p : pieces) n += p.size();
  return n;
}

// One On-Demand pass over a chat request of state.range(0) turns.
void BM_InspectRequest(benchmark::State& state) {
  const std::string body = ChatRequest(static_cast<int>(state.range(0)), true);
  for (auto _ : state) {
    absl::StatusOr<RequestFacts> facts = InspectRequest(ClientApi::kChatCompletions, body);
    benchmark::DoNotOptimize(facts);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_InspectRequest)->Arg(1)->Arg(16);

// OpenAI -> OpenAI: the model rewritten and stream_options spliced in, no re-serialization.
void BM_BuildUpstreamBodyPassthrough(benchmark::State& state) {
  const std::string body = ChatRequest(static_cast<int>(state.range(0)), true);
  const RequestFacts facts = InspectRequest(ClientApi::kChatCompletions, body).value();
  TranslateOptions options;
  options.model_override = "gpt-4o-2024-08-06";
  for (auto _ : state) {
    absl::StatusOr<UpstreamRequestBody> up =
        BuildUpstreamBody(ClientApi::kChatCompletions, body, facts, WireFormat::kOpenAI, options);
    benchmark::DoNotOptimize(up);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_BuildUpstreamBodyPassthrough)->Arg(1)->Arg(16);

// OpenAI chat -> Anthropic Messages: a DOM parse and a full rewrite.
void BM_BuildUpstreamBodyToAnthropic(benchmark::State& state) {
  const std::string body = ChatRequest(static_cast<int>(state.range(0)), true);
  const RequestFacts facts = InspectRequest(ClientApi::kChatCompletions, body).value();
  TranslateOptions options;
  options.model_override = "claude-sonnet-4-5";
  for (auto _ : state) {
    absl::StatusOr<UpstreamRequestBody> up = BuildUpstreamBody(
        ClientApi::kChatCompletions, body, facts, WireFormat::kAnthropic, options);
    benchmark::DoNotOptimize(up);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_BuildUpstreamBodyToAnthropic)->Arg(1)->Arg(16);

// A 50-chunk OpenAI stream to an OpenAI client, one Feed per chunk. Arg 0: the client asked
// for usage (bytes forwarded as they come); arg 1: usage was injected (whole events
// forwarded, the usage chunk dropped).
void BM_StreamPassthrough(benchmark::State& state) {
  const std::vector<std::string> chunks = OpenAIChunks();
  const bool injected = state.range(0) == 1;
  std::string out;
  out.reserve(TotalSize(chunks));
  for (auto _ : state) {
    StreamTranslator t(ClientApi::kChatCompletions, WireFormat::kOpenAI, "gpt-4o",
                       /*client_wants_usage=*/!injected, injected, 1700000000);
    out.clear();
    for (const std::string& c : chunks) t.Feed(c, &out);
    t.Finish(&out);
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(t.usage().output_tokens);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * chunks.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * TotalSize(chunks)));
}
BENCHMARK(BM_StreamPassthrough)->Arg(0)->Arg(1);

// A 50-event Anthropic stream to an OpenAI client (with the usage chunk), one Feed per event.
void BM_StreamAnthropicToOpenAI(benchmark::State& state) {
  const std::vector<std::string> events = AnthropicEvents();
  std::string out;
  out.reserve(4 * TotalSize(events));
  for (auto _ : state) {
    StreamTranslator t(ClientApi::kChatCompletions, WireFormat::kAnthropic, "claude", true, false,
                       1700000000);
    out.clear();
    for (const std::string& e : events) t.Feed(e, &out);
    t.Finish(&out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * events.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * TotalSize(events)));
}
BENCHMARK(BM_StreamAnthropicToOpenAI);

}  // namespace
}  // namespace inferencegw

BENCHMARK_MAIN();
