// Stream translation: Anthropic -> OpenAI chunks, OpenAI -> Anthropic events, Cohere -> both,
// same-format passthrough (with the injected usage chunk dropped), errors after the 200, cut
// streams, and output that does not depend on how the upstream bytes are split.
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/translate.h"
#include "translate_test_util.h"

namespace inferencegw {
namespace {

using igw_test::Event;
using igw_test::Json;
using igw_test::Sse;
using igw_test::SseEvents;

constexpr int64_t kCreated = 1'700'000'000;
using MakeTranslator = std::function<StreamTranslator()>;

struct Run {
  std::string out;
  Usage usage;
  bool error = false;
  bool complete = false;
};

// Feeds `input` in pieces that end at the given offsets, then finishes.
Run Feed(const MakeTranslator& make, std::string_view input, const std::vector<size_t>& cuts) {
  StreamTranslator t = make();
  Run r;
  size_t pos = 0;
  for (size_t cut : cuts) {
    t.Feed(input.substr(pos, cut - pos), &r.out);
    pos = cut;
  }
  t.Feed(input.substr(pos), &r.out);
  t.Finish(&r.out);
  std::string after;
  t.Feed("data: {}\n\n", &after);  // nothing after Finish
  t.Finish(&after);
  CHECK(after.empty());
  r.usage = t.usage();
  r.error = t.upstream_error();
  r.complete = t.upstream_complete();
  return r;
}

bool SameUsage(const Usage& a, const Usage& b) {
  return a.present == b.present && a.input_tokens == b.input_tokens &&
         a.output_tokens == b.output_tokens && a.cached_input_tokens == b.cached_input_tokens &&
         a.cache_write_input_tokens == b.cache_write_input_tokens;
}

// Translates `input` in one piece, then checks that splitting it at every byte boundary (in
// two pieces, and one byte at a time) gives the same bytes, usage and flags, and that every
// emitted event is JSON.
Run TranslateEverySplit(const MakeTranslator& make, std::string_view input) {
  const Run whole = Feed(make, input, {});
  igw_test::RequireJsonEvents(SseEvents(whole.out));
  for (size_t k = 1; k < input.size(); ++k) {
    const Run split = Feed(make, input, {k});
    INFO("split at byte " << k);
    REQUIRE(split.out == whole.out);
    REQUIRE(SameUsage(split.usage, whole.usage));
    REQUIRE(split.error == whole.error);
    REQUIRE(split.complete == whole.complete);
  }
  std::vector<size_t> every_byte;
  for (size_t k = 1; k < input.size(); ++k) every_byte.push_back(k);
  const Run bytes = Feed(make, input, every_byte);
  REQUIRE(bytes.out == whole.out);
  REQUIRE(SameUsage(bytes.usage, whole.usage));
  return whole;
}

MakeTranslator Maker(ClientApi api, WireFormat upstream, bool wants_usage, bool injected) {
  return [=] {
    return StreamTranslator(api, upstream, "client-model", wants_usage, injected, kCreated);
  };
}

// The data of the OpenAI chunks (the [DONE] marker excluded).
std::vector<std::string> Chunks(const std::vector<Event>& events) {
  std::vector<std::string> chunks;
  for (const Event& e : events) {
    if (e.data != "[DONE]") chunks.push_back(e.data);
  }
  return chunks;
}

const std::string kAnthropicStream = Sse({
    {"message_start",
     R"({"type":"message_start","message":{"id":"msg_01X","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1,"cache_creation_input_tokens":10,"cache_read_input_tokens":5}}})"},
    {"content_block_start",
     R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Weather needed."}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}})"},
    {"content_block_stop", R"({"type":"content_block_stop","index":0})"},
    {"content_block_start",
     R"({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})"},
    {"ping", R"({"type":"ping"})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Let me check. \u00e9"}})"},
    {"content_block_stop", R"({"type":"content_block_stop","index":1})"},
    {"content_block_start",
     R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_01A","name":"get_weather","input":{}}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\": \"Pa"}})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"ris\"}"}})"},
    {"content_block_stop", R"({"type":"content_block_stop","index":2})"},
    {"content_block_start",
     R"({"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_01B","name":"get_time","input":{}}})"},
    {"content_block_stop", R"({"type":"content_block_stop","index":3})"},
    {"message_delta",
     R"({"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":42}})"},
    {"message_stop", R"({"type":"message_stop"})"},
});

// Anthropic -> OpenAI (3.3): role chunk, reasoning, text, tool calls numbered from 0 (not the
// block index), "{}" for a call without arguments, finish chunk, usage chunk, [DONE].
TEST_CASE("Anthropic stream to OpenAI chunks") {
  const Run r = TranslateEverySplit(
      Maker(ClientApi::kChatCompletions, WireFormat::kAnthropic, /*wants_usage=*/true, false),
      kAnthropicStream);
  const std::vector<Event> events = SseEvents(r.out);
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().data == "[DONE]");
  const std::vector<std::string> chunks = Chunks(events);
  REQUIRE(chunks.size() == 10);
  const Json role(chunks[0]);
  CHECK(role.str("/id") == "msg_01X");
  CHECK(role.str("/object") == "chat.completion.chunk");
  CHECK(role.num("/created") == kCreated);
  CHECK(role.str("/model") == "client-model");
  CHECK(role.str("/choices/0/delta/role") == "assistant");
  CHECK(role.is_null("/choices/0/finish_reason"));
  CHECK(Json(chunks[1]).str("/choices/0/delta/reasoning_content") == "Weather needed.");
  CHECK(Json(chunks[2]).str("/choices/0/delta/content") == "Let me check. \xC3\xA9");
  const Json tool0(chunks[3]);
  CHECK(tool0.num("/choices/0/delta/tool_calls/0/index") == 0);
  CHECK(tool0.str("/choices/0/delta/tool_calls/0/id") == "toolu_01A");
  CHECK(tool0.str("/choices/0/delta/tool_calls/0/type") == "function");
  CHECK(tool0.str("/choices/0/delta/tool_calls/0/function/name") == "get_weather");
  CHECK(tool0.str("/choices/0/delta/tool_calls/0/function/arguments") == "");
  CHECK(Json(chunks[4]).str("/choices/0/delta/tool_calls/0/function/arguments") ==
        "{\"city\": \"Pa");
  CHECK(Json(chunks[5]).str("/choices/0/delta/tool_calls/0/function/arguments") == "ris\"}");
  const Json tool1(chunks[6]);
  CHECK(tool1.num("/choices/0/delta/tool_calls/0/index") == 1);
  CHECK(tool1.str("/choices/0/delta/tool_calls/0/id") == "toolu_01B");
  const Json empty_args(chunks[7]);
  CHECK(empty_args.num("/choices/0/delta/tool_calls/0/index") == 1);
  CHECK(empty_args.str("/choices/0/delta/tool_calls/0/function/arguments") == "{}");
  const Json finish(chunks[8]);
  CHECK(finish.size("/choices/0/delta") == 0);
  CHECK(finish.str("/choices/0/finish_reason") == "tool_calls");
  const Json usage(chunks[9]);
  CHECK(usage.size("/choices") == 0);
  CHECK(usage.num("/usage/prompt_tokens") == 40);
  CHECK(usage.num("/usage/completion_tokens") == 42);
  CHECK(usage.num("/usage/total_tokens") == 82);
  CHECK(usage.num("/usage/prompt_tokens_details/cached_tokens") == 5);
  CHECK(r.out.find(": ping\n\n") != std::string::npos);  // the ping became a keep-alive
  CHECK(r.usage.present);
  CHECK(r.usage.input_tokens == 40);
  CHECK(r.usage.cached_input_tokens == 5);
  CHECK(r.usage.cache_write_input_tokens == 10);
  CHECK(r.usage.output_tokens == 42);
  CHECK(r.complete);
  CHECK_FALSE(r.error);
}

// Without include_usage from the client there is no usage chunk, but usage is still counted.
TEST_CASE("Anthropic stream to OpenAI without a usage chunk") {
  const Run r = Feed(Maker(ClientApi::kChatCompletions, WireFormat::kAnthropic, false, false),
                     kAnthropicStream, {});
  const std::vector<std::string> chunks = Chunks(SseEvents(r.out));
  REQUIRE(chunks.size() == 9);
  CHECK(Json(chunks.back()).str("/choices/0/finish_reason") == "tool_calls");
  CHECK(r.usage.output_tokens == 42);
}

// An error event after the 200 becomes an OpenAI error chunk and the stream ends without
// [DONE]; nothing is added at Finish.
TEST_CASE("Anthropic error event mid-stream to an OpenAI client") {
  const std::string input = Sse({
      {"message_start",
       R"({"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":3,"output_tokens":1}}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}})"},
      {"error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}})"},
  });
  const Run r = TranslateEverySplit(
      Maker(ClientApi::kChatCompletions, WireFormat::kAnthropic, true, false), input);
  const std::vector<Event> events = SseEvents(r.out);
  REQUIRE(events.size() == 3);
  const Json error(events[2].data);
  CHECK(error.str("/error/message") == "Overloaded");
  CHECK(error.str("/error/type") == "overloaded_error");
  CHECK(error.is_null("/error/code"));
  CHECK(error.is_null("/error/param"));
  CHECK(r.out.find("[DONE]") == std::string::npos);
  CHECK(r.error);
  CHECK_FALSE(r.complete);
}

// A stream cut before message_delta closes cleanly at Finish with what is known; the usage
// has only the input counts and upstream_complete() is false.
TEST_CASE("Cut Anthropic stream is closed at Finish") {
  const std::string input = Sse({
      {"message_start",
       R"({"type":"message_start","message":{"id":"msg_1","usage":{"input_tokens":7,"output_tokens":1}}})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})"},
  });
  const Run r =
      Feed(Maker(ClientApi::kChatCompletions, WireFormat::kAnthropic, true, false), input, {});
  const std::vector<Event> events = SseEvents(r.out);
  REQUIRE(events.size() == 5);
  CHECK(Json(events[2].data).str("/choices/0/finish_reason") == "stop");
  CHECK(Json(events[3].data).num("/usage/prompt_tokens") == 7);
  CHECK(events[4].data == "[DONE]");
  CHECK_FALSE(r.complete);
  CHECK(r.usage.input_tokens == 7);
}

// Unknown stop reasons and unknown event types do not break the stream.
TEST_CASE("Anthropic stream tolerates unknown values") {
  const std::string input = Sse({
      {"message_start",
       R"({"type":"message_start","message":{"id":"m","usage":{"input_tokens":1,"output_tokens":0}}})"},
      {"brand_new_event", R"({"type":"brand_new_event","x":1})"},
      {"content_block_start",
       R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}})"},
      {"message_delta",
       R"({"type":"message_delta","delta":{"stop_reason":"something_new"},"usage":{"output_tokens":1}})"},
      {"message_stop", R"({"type":"message_stop"})"},
  });
  const Run r =
      Feed(Maker(ClientApi::kChatCompletions, WireFormat::kAnthropic, false, false), input, {});
  const std::vector<std::string> chunks = Chunks(SseEvents(r.out));
  REQUIRE(chunks.size() == 3);
  CHECK(Json(chunks[2]).str("/choices/0/finish_reason") == "stop");
}

std::string OpenAIChunk(std::string_view choices_and_usage) {
  return std::string(
             R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o",)") +
         std::string(choices_and_usage) + "}";
}

const std::string kOpenAIToolStream = Sse({
    {"",
     OpenAIChunk(
         R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null)")},
    {"",
     OpenAIChunk(
         R"("choices":[{"index":0,"delta":{"reasoning_content":"Thinking"},"finish_reason":null}],"usage":null)")},
    {"",
     OpenAIChunk(
         R"("choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null)")},
    {"",
     OpenAIChunk(
         R"("choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}],"usage":null)")},
    {"",
     OpenAIChunk(
         R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}],"usage":null)")},
    {"",
     OpenAIChunk(
         R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]},"finish_reason":null}],"usage":null)")},
    {"",
     OpenAIChunk(
         R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":null}],"usage":null)")},
    {"",
     OpenAIChunk(
         R"("choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Paris\"}"}}]},"finish_reason":null}],"usage":null)")},
    {"", OpenAIChunk(
             R"("choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":null)")},
    {"",
     OpenAIChunk(
         R"("choices":[],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":3}})")},
    {"", "[DONE]"},
});

// OpenAI -> Anthropic (3.6): message_start, thinking, text and tool_use blocks each opened
// and closed, tool blocks numbered after the text (interleaved fragments go to their call's
// block), message_delta with the mapped stop reason and usage (cache reads split out),
// message_stop.
TEST_CASE("OpenAI stream to Anthropic events") {
  const Run r = TranslateEverySplit(Maker(ClientApi::kMessages, WireFormat::kOpenAI, false, true),
                                    kOpenAIToolStream);
  const std::vector<Event> events = SseEvents(r.out);
  std::vector<std::string> names;
  for (const Event& e : events) names.push_back(e.event);
  const std::vector<std::string> expected = {
      "message_start",       "content_block_start", "content_block_delta", "content_block_stop",
      "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
      "content_block_start", "content_block_delta", "content_block_stop",  "content_block_start",
      "content_block_delta", "content_block_delta", "content_block_stop",  "message_delta",
      "message_stop"};
  REQUIRE(names == expected);
  for (const Event& e : events) CHECK(Json(e.data).str("/type") == e.event);
  const Json start(events[0].data);
  CHECK(start.str("/message/id") == "chatcmpl-1");
  CHECK(start.str("/message/model") == "client-model");
  CHECK(start.str("/message/role") == "assistant");
  CHECK(start.size("/message/content") == 0);
  CHECK(start.is_null("/message/stop_reason"));
  CHECK(Json(events[1].data).str("/content_block/type") == "thinking");
  CHECK(Json(events[2].data).str("/delta/thinking") == "Thinking");
  CHECK(Json(events[4].data).str("/content_block/type") == "text");
  CHECK(Json(events[4].data).num("/index") == 1);
  CHECK(Json(events[5].data).str("/delta/text") == "Hel");
  CHECK(Json(events[6].data).str("/delta/text") == "lo");
  const Json tool_a(events[8].data);
  CHECK(tool_a.num("/index") == 2);
  CHECK(tool_a.str("/content_block/type") == "tool_use");
  CHECK(tool_a.str("/content_block/id") == "call_a");
  CHECK(tool_a.str("/content_block/name") == "get_weather");
  CHECK(tool_a.size("/content_block/input") == 0);
  CHECK(Json(events[9].data).str("/delta/type") == "input_json_delta");
  CHECK(Json(events[9].data).str("/delta/partial_json") == "{\"ci");
  CHECK(Json(events[10].data).num("/index") == 2);
  const Json tool_b(events[11].data);
  CHECK(tool_b.num("/index") == 3);
  CHECK(tool_b.str("/content_block/id") == "call_b");
  CHECK(Json(events[12].data).num("/index") == 3);
  CHECK(Json(events[12].data).str("/delta/partial_json") == "{}");
  const Json late(events[13].data);  // call_a's last fragment, after call_b started
  CHECK(late.num("/index") == 2);
  CHECK(late.str("/delta/partial_json") == "ty\":\"Paris\"}");
  const Json delta(events[15].data);
  CHECK(delta.str("/delta/stop_reason") == "tool_use");
  CHECK(delta.is_null("/delta/stop_sequence"));
  CHECK(delta.num("/usage/input_tokens") == 6);
  CHECK(delta.num("/usage/cache_read_input_tokens") == 3);
  CHECK(delta.num("/usage/output_tokens") == 12);
  CHECK(r.usage.input_tokens == 9);
  CHECK(r.complete);
}

// Without a usage chunk the message closes at [DONE]; with neither, at Finish; usage zero.
TEST_CASE("OpenAI stream to Anthropic without a usage chunk") {
  const std::string body = Sse({
      {"",
       OpenAIChunk(
           R"("choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}])")},
      {"", OpenAIChunk(R"("choices":[{"index":0,"delta":{},"finish_reason":"length"}])")},
  });
  for (const std::string& input : {body + "data: [DONE]\n\n", body}) {
    const Run r =
        TranslateEverySplit(Maker(ClientApi::kMessages, WireFormat::kOpenAI, false, false), input);
    const std::vector<Event> events = SseEvents(r.out);
    REQUIRE(events.size() == 6);
    CHECK(events[3].event == "content_block_stop");
    const Json delta(events[4].data);
    CHECK(delta.str("/delta/stop_reason") == "max_tokens");
    CHECK(delta.num("/usage/output_tokens") == 0);
    CHECK(events[5].event == "message_stop");
    CHECK_FALSE(r.usage.present);
    CHECK(r.complete == (input != body));
  }
}

// An OpenAI-style error chunk after the 200 reaches an Anthropic client as an error event.
TEST_CASE("OpenAI error chunk mid-stream to an Anthropic client") {
  const std::string input = Sse({
      {"", OpenAIChunk(R"("choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}])")},
      {"", R"({"error":{"message":"engine died","type":"server_error","code":null}})"},
  });
  const Run r = Feed(Maker(ClientApi::kMessages, WireFormat::kOpenAI, false, false), input, {});
  const std::vector<Event> events = SseEvents(r.out);
  REQUIRE(events.back().event == "error");
  const Json error(events.back().data);
  CHECK(error.str("/type") == "error");
  CHECK(error.str("/error/type") == "api_error");
  CHECK(error.str("/error/message") == "engine died");
  CHECK(r.out.find("message_stop") == std::string::npos);
  CHECK(r.error);
}

const std::string kOpenAITextStream = Sse({
    {"",
     OpenAIChunk(
         R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null)")},
    {"",
     OpenAIChunk(
         R"("choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}],"usage":null)")},
    {"", OpenAIChunk(R"("choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null)")},
    {"",
     OpenAIChunk(
         R"("choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":4}})")},
    {"", "[DONE]"},
});

// OpenAI -> OpenAI with usage we injected: the usage chunk is dropped for the client but
// counted; every other event is forwarded unchanged.
TEST_CASE("OpenAI passthrough drops the injected usage chunk") {
  const Run r = TranslateEverySplit(
      Maker(ClientApi::kChatCompletions, WireFormat::kOpenAI, /*wants_usage=*/false,
            /*injected=*/true),
      kOpenAITextStream);
  const size_t usage_start = kOpenAITextStream.find(
      R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],)");
  REQUIRE(usage_start != std::string::npos);
  const size_t usage_end = kOpenAITextStream.find("\n\n", usage_start) + 2;
  std::string expected = kOpenAITextStream;
  expected.erase(usage_start, usage_end - usage_start);
  CHECK(r.out == expected);
  CHECK(r.usage.present);
  CHECK(r.usage.input_tokens == 9);
  CHECK(r.usage.cached_input_tokens == 4);
  CHECK(r.usage.output_tokens == 2);
  CHECK(r.complete);
}

// When the client asked for usage (or nothing was injected) the bytes pass through unchanged,
// whatever their framing, and usage is still counted.
TEST_CASE("OpenAI passthrough keeps the usage chunk the client asked for") {
  const Run r = TranslateEverySplit(
      Maker(ClientApi::kChatCompletions, WireFormat::kOpenAI, true, true), kOpenAITextStream);
  CHECK(r.out == kOpenAITextStream);
  CHECK(r.usage.output_tokens == 2);
  std::string crlf;
  for (char c : kOpenAITextStream) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  crlf = ": keep-alive\r\n\r\n" + crlf;
  const Run raw =
      TranslateEverySplit(Maker(ClientApi::kCompletions, WireFormat::kOpenAI, false, false), crlf);
  CHECK(raw.out == crlf);
  CHECK(raw.usage.input_tokens == 9);
}

// Passthrough notices an error chunk after the 200 and a stream cut without usage.
TEST_CASE("OpenAI passthrough error and cut streams") {
  const std::string error_stream = Sse({
      {"", OpenAIChunk(R"("choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}])")},
      {"", R"({"error":{"message":"boom","type":"server_error"}})"},
  });
  const Run e =
      Feed(Maker(ClientApi::kChatCompletions, WireFormat::kOpenAI, false, true), error_stream, {});
  CHECK(e.out == error_stream);
  CHECK(e.error);
  const std::string cut = kOpenAITextStream.substr(0, kOpenAITextStream.find("\"choices\":[]"));
  const Run c = Feed(Maker(ClientApi::kChatCompletions, WireFormat::kOpenAI, true, false), cut, {});
  CHECK(c.out == cut);
  CHECK_FALSE(c.usage.present);
  CHECK_FALSE(c.complete);
}

// Anthropic -> Anthropic passes the bytes through and counts usage.
TEST_CASE("Anthropic passthrough") {
  const Run r = TranslateEverySplit(
      Maker(ClientApi::kMessages, WireFormat::kAnthropic, false, false), kAnthropicStream);
  CHECK(r.out == kAnthropicStream);
  CHECK(r.usage.input_tokens == 40);
  CHECK(r.usage.output_tokens == 42);
  CHECK(r.complete);
  const Run e = Feed(
      Maker(ClientApi::kMessages, WireFormat::kAnthropic, false, false),
      Sse({{"error", R"({"type":"error","error":{"type":"overloaded_error","message":"x"}})"}}),
      {});
  CHECK(e.error);
}

const std::string kCohereStream = Sse({
    {"message-start",
     R"({"id":"run_1","type":"message-start","delta":{"message":{"role":"assistant","content":[],"tool_plan":"","tool_calls":[]}}})"},
    {"content-start",
     R"({"type":"content-start","index":0,"delta":{"message":{"content":{"type":"text","text":""}}}})"},
    {"content-delta",
     R"({"type":"content-delta","index":0,"delta":{"message":{"content":{"text":"Hello"}}}})"},
    {"content-end", R"({"type":"content-end","index":0})"},
    {"tool-plan-delta",
     R"({"type":"tool-plan-delta","delta":{"message":{"tool_plan":"I'll check."}}})"},
    {"tool-call-start",
     R"({"type":"tool-call-start","index":1,"delta":{"message":{"tool_calls":{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}}}})"},
    {"tool-call-delta",
     R"({"type":"tool-call-delta","index":1,"delta":{"message":{"tool_calls":{"function":{"arguments":"{\"city\":\"Paris\"}"}}}}})"},
    {"tool-call-end", R"({"type":"tool-call-end","index":1})"},
    {"message-end",
     R"({"type":"message-end","delta":{"finish_reason":"TOOL_CALL","usage":{"billed_units":{"input_tokens":10,"output_tokens":20},"tokens":{"input_tokens":12,"output_tokens":25}}}})"},
    {"", "[DONE]"},
});

// Cohere v2 -> OpenAI (4.4): text, tool plan as reasoning, the tool call numbered 0 although
// its content index is 1, finish reason, usage chunk, and a tolerated trailing [DONE].
TEST_CASE("Cohere stream to OpenAI chunks") {
  const Run r = TranslateEverySplit(
      Maker(ClientApi::kChatCompletions, WireFormat::kCohere, true, false), kCohereStream);
  const std::vector<Event> events = SseEvents(r.out);
  CHECK(events.back().data == "[DONE]");
  const std::vector<std::string> chunks = Chunks(events);
  REQUIRE(chunks.size() == 7);
  CHECK(Json(chunks[0]).str("/id") == "run_1");
  CHECK(Json(chunks[1]).str("/choices/0/delta/content") == "Hello");
  CHECK(Json(chunks[2]).str("/choices/0/delta/reasoning_content") == "I'll check.");
  const Json tool(chunks[3]);
  CHECK(tool.num("/choices/0/delta/tool_calls/0/index") == 0);
  CHECK(tool.str("/choices/0/delta/tool_calls/0/id") == "call_a");
  CHECK(Json(chunks[4]).str("/choices/0/delta/tool_calls/0/function/arguments") ==
        R"({"city":"Paris"})");
  CHECK(Json(chunks[5]).str("/choices/0/finish_reason") == "tool_calls");
  REQUIRE(r.usage.present);
  CHECK(Json(chunks[6]).num("/usage/prompt_tokens") == r.usage.input_tokens);
  CHECK(Json(chunks[6]).num("/usage/completion_tokens") == r.usage.output_tokens);
  CHECK(r.complete);
}

// Cohere v2 -> Anthropic: text, thinking and tool_use blocks, then message_delta/stop.
TEST_CASE("Cohere stream to Anthropic events") {
  const Run r = TranslateEverySplit(Maker(ClientApi::kMessages, WireFormat::kCohere, false, false),
                                    kCohereStream);
  const std::vector<Event> events = SseEvents(r.out);
  std::vector<std::string> names;
  for (const Event& e : events) names.push_back(e.event);
  const std::vector<std::string> expected = {
      "message_start",       "content_block_start", "content_block_delta", "content_block_stop",
      "content_block_start", "content_block_delta", "content_block_stop",  "content_block_start",
      "content_block_delta", "content_block_stop",  "message_delta",       "message_stop"};
  REQUIRE(names == expected);
  CHECK(Json(events[4].data).str("/content_block/type") == "thinking");
  CHECK(Json(events[7].data).str("/content_block/id") == "call_a");
  CHECK(Json(events[7].data).num("/index") == 2);
  CHECK(Json(events[10].data).str("/delta/stop_reason") == "tool_use");
  CHECK(Json(events[10].data).num("/usage/input_tokens") == r.usage.input_tokens);
}

// A Cohere message-end carrying an error string is reported as an error.
TEST_CASE("Cohere stream error") {
  const std::string input = Sse({
      {"message-start", R"({"id":"r","type":"message-start"})"},
      {"message-end",
       R"({"type":"message-end","delta":{"finish_reason":"ERROR","error":"internal failure"}})"},
  });
  const Run r =
      Feed(Maker(ClientApi::kChatCompletions, WireFormat::kCohere, true, false), input, {});
  const std::vector<Event> events = SseEvents(r.out);
  CHECK(Json(events.back().data).str("/error/message") == "internal failure");
  CHECK(r.error);
  CHECK(r.out.find("[DONE]") == std::string::npos);
}

// \r\n framing and `data:` without a space translate exactly like the canonical form.
TEST_CASE("Upstream framing does not change translated output") {
  std::string variant;
  for (char c : kAnthropicStream) {
    if (c == '\n') variant += '\r';
    variant += c;
  }
  size_t pos = 0;
  while ((pos = variant.find("data: ", pos)) != std::string::npos) variant.erase(pos + 5, 1);
  const MakeTranslator make =
      Maker(ClientApi::kChatCompletions, WireFormat::kAnthropic, true, false);
  CHECK(Feed(make, variant, {}).out == Feed(make, kAnthropicStream, {}).out);
}

MakeTranslator JsonAnswerMaker() {
  return [] {
    return StreamTranslator(ClientApi::kChatCompletions, WireFormat::kAnthropic, "client-model",
                            /*client_wants_usage=*/false, false, kCreated, "weather");
  };
}

// The answer tool's content block, as Anthropic streams a forced tool call.
std::vector<std::pair<std::string, std::string>> AnswerBlock(int index) {
  const std::string i = std::to_string(index);
  return {
      {"content_block_start",
       R"({"type":"content_block_start","index":)" + i +
           R"(,"content_block":{"type":"tool_use","id":"toolu_J","name":"weather","input":{}}})"},
      {"content_block_delta",
       R"({"type":"content_block_delta","index":)" + i +
           R"(,"delta":{"type":"input_json_delta","partial_json":"{\"temp\": 2"}})"},
      {"content_block_delta", R"({"type":"content_block_delta","index":)" + i +
                                  R"(,"delta":{"type":"input_json_delta","partial_json":"1}"}})"},
      {"content_block_stop", R"({"type":"content_block_stop","index":)" + i + "}"},
  };
}

std::string AnswerStream(const std::vector<std::pair<std::string, std::string>>& blocks,
                         std::string_view stop_reason) {
  std::vector<std::pair<std::string, std::string>> events = {
      {"message_start",
       R"({"type":"message_start","message":{"id":"msg_J","usage":{"input_tokens":5,"output_tokens":1}}})"}};
  events.insert(events.end(), blocks.begin(), blocks.end());
  events.push_back({"message_delta", R"({"type":"message_delta","delta":{"stop_reason":")" +
                                         std::string(stop_reason) +
                                         R"("},"usage":{"output_tokens":9}})"});
  events.push_back({"message_stop", R"({"type":"message_stop"})"});
  return Sse(events);
}

// An emulated response_format: the answer tool's input_json_delta fragments are content
// deltas, no tool call is announced, and tool_use ends with finish_reason "stop".
TEST_CASE("Anthropic answer tool stream to OpenAI content deltas") {
  const Run r = TranslateEverySplit(JsonAnswerMaker(), AnswerStream(AnswerBlock(0), "tool_use"));
  const std::vector<std::string> chunks = Chunks(SseEvents(r.out));
  REQUIRE(chunks.size() == 4);
  CHECK(Json(chunks[0]).str("/choices/0/delta/role") == "assistant");
  CHECK(Json(chunks[1]).str("/choices/0/delta/content") == "{\"temp\": 2");
  CHECK(Json(chunks[2]).str("/choices/0/delta/content") == "1}");
  CHECK(Json(chunks[3]).str("/choices/0/finish_reason") == "stop");
  CHECK(r.out.find("tool_calls") == std::string::npos);
  CHECK(r.complete);

  // Without the option the same stream is a tool call.
  const Run plain = Feed(Maker(ClientApi::kChatCompletions, WireFormat::kAnthropic, false, false),
                         AnswerStream(AnswerBlock(0), "tool_use"), {});
  CHECK(plain.out.find("\"finish_reason\":\"tool_calls\"") != std::string::npos);
}

// Next to a client tool call, that call keeps tool index 0 and finish_reason tool_calls; an
// answer block without fragments gives "{}"; an answer cut by max_tokens is "length".
TEST_CASE("Anthropic answer tool stream with client tools, empty input and truncation") {
  std::vector<std::pair<std::string, std::string>> blocks = {
      {"content_block_start",
       R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_C","name":"get_time","input":{}}})"},
      {"content_block_stop", R"({"type":"content_block_stop","index":0})"}};
  const std::vector<std::pair<std::string, std::string>> answer = AnswerBlock(1);
  blocks.insert(blocks.end(), answer.begin(), answer.end());
  const Run both = TranslateEverySplit(JsonAnswerMaker(), AnswerStream(blocks, "tool_use"));
  const std::vector<std::string> chunks = Chunks(SseEvents(both.out));
  REQUIRE(chunks.size() == 6);
  const Json call(chunks[1]);
  CHECK(call.num("/choices/0/delta/tool_calls/0/index") == 0);
  CHECK(call.str("/choices/0/delta/tool_calls/0/function/name") == "get_time");
  CHECK(Json(chunks[2]).str("/choices/0/delta/tool_calls/0/function/arguments") == "{}");
  CHECK(Json(chunks[3]).str("/choices/0/delta/content") == "{\"temp\": 2");
  CHECK(Json(chunks[4]).str("/choices/0/delta/content") == "1}");
  CHECK(Json(chunks[5]).str("/choices/0/finish_reason") == "tool_calls");

  const std::vector<std::pair<std::string, std::string>> empty = {
      {"content_block_start",
       R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_J","name":"weather","input":{}}})"},
      {"content_block_stop", R"({"type":"content_block_stop","index":0})"}};
  const std::vector<std::string> empty_chunks = Chunks(
      SseEvents(TranslateEverySplit(JsonAnswerMaker(), AnswerStream(empty, "tool_use")).out));
  REQUIRE(empty_chunks.size() == 3);
  CHECK(Json(empty_chunks[1]).str("/choices/0/delta/content") == "{}");
  CHECK(Json(empty_chunks[2]).str("/choices/0/finish_reason") == "stop");

  const std::vector<std::string> cut_chunks = Chunks(
      SseEvents(Feed(JsonAnswerMaker(), AnswerStream(AnswerBlock(0), "max_tokens"), {}).out));
  CHECK(Json(cut_chunks.back()).str("/choices/0/finish_reason") == "length");
}

}  // namespace
}  // namespace inferencegw
