// Whole-response translation: Anthropic and Cohere -> OpenAI chat completions, OpenAI and
// Cohere -> Anthropic messages, finish/stop reason maps and usage conversion.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "inferencegw/translate.h"
#include "translate_test_util.h"

namespace inferencegw {
namespace {

using igw_test::Json;

constexpr int64_t kCreated = 1'700'000'123;

std::string Translate(ClientApi api, WireFormat upstream, std::string_view body,
                      Usage* usage = nullptr) {
  absl::StatusOr<std::string> out =
      TranslateResponseBody(api, upstream, body, "client-model", kCreated, usage);
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  return *std::move(out);
}

constexpr std::string_view kAnthropicResponse = R"json({
  "id": "msg_01X", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
  "content": [
    {"type": "thinking", "thinking": "Need weather.", "signature": "sig"},
    {"type": "text", "text": "Let me "},
    {"type": "text", "text": "check."},
    {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris", "days": [1, 2]}}],
  "stop_reason": "tool_use", "stop_sequence": null,
  "usage": {"input_tokens": 25, "output_tokens": 40, "cache_creation_input_tokens": 10,
            "cache_read_input_tokens": 5}
})json";

// Anthropic -> OpenAI (3.2): text joined, tool_use as tool_calls with serialized input,
// thinking as reasoning_content, stop reason mapped, cache tokens inside prompt_tokens once.
TEST_CASE("Anthropic response to OpenAI chat completion") {
  Usage usage;
  const Json j(
      Translate(ClientApi::kChatCompletions, WireFormat::kAnthropic, kAnthropicResponse, &usage));
  CHECK(j.str("/id") == "msg_01X");
  CHECK(j.str("/object") == "chat.completion");
  CHECK(j.num("/created") == kCreated);
  CHECK(j.str("/model") == "client-model");
  REQUIRE(j.size("/choices") == 1);
  CHECK(j.num("/choices/0/index") == 0);
  CHECK(j.str("/choices/0/message/role") == "assistant");
  CHECK(j.str("/choices/0/message/content") == "Let me check.");
  CHECK(j.is_null("/choices/0/message/refusal"));
  CHECK(j.str("/choices/0/message/reasoning_content") == "Need weather.");
  CHECK(j.str("/choices/0/message/tool_calls/0/id") == "toolu_01A");
  CHECK(j.str("/choices/0/message/tool_calls/0/type") == "function");
  CHECK(j.str("/choices/0/message/tool_calls/0/function/name") == "get_weather");
  CHECK(j.str("/choices/0/message/tool_calls/0/function/arguments") ==
        R"({"city":"Paris","days":[1,2]})");
  CHECK(j.str("/choices/0/finish_reason") == "tool_calls");
  CHECK(j.is_null("/choices/0/logprobs"));
  CHECK(j.num("/usage/prompt_tokens") == 40);  // 25 + 10 written + 5 read
  CHECK(j.num("/usage/completion_tokens") == 40);
  CHECK(j.num("/usage/total_tokens") == 80);
  CHECK(j.num("/usage/prompt_tokens_details/cached_tokens") == 5);
  CHECK(j.num("/usage/prompt_tokens_details/cache_write_tokens") == 10);
  CHECK(usage.present);
  CHECK(usage.input_tokens == 40);
  CHECK(usage.cached_input_tokens == 5);
  CHECK(usage.cache_write_input_tokens == 10);
  CHECK(usage.output_tokens == 40);
}

// Every Anthropic stop_reason has an OpenAI finish_reason; unknown values become "stop".
TEST_CASE("Anthropic stop_reason to OpenAI finish_reason") {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"end_turn", "stop"},
      {"stop_sequence", "stop"},
      {"max_tokens", "length"},
      {"tool_use", "tool_calls"},
      {"refusal", "content_filter"},
      {"pause_turn", "stop"},
      {"model_context_window_exceeded", "length"},
      {"brand_new_reason", "stop"}};
  for (const auto& [anthropic, openai] : cases) {
    const std::string body =
        std::string(R"({"id":"m","content":[{"type":"text","text":"x"}],"stop_reason":")") +
        std::string(anthropic) + R"(","usage":{"input_tokens":1,"output_tokens":1}})";
    INFO(anthropic);
    CHECK(Json(Translate(ClientApi::kChatCompletions, WireFormat::kAnthropic, body))
              .str("/choices/0/finish_reason") == openai);
  }
}

// OpenAI -> Anthropic (3.5): text then tool_use blocks (bad arguments become {}), finish
// reason mapped, cached tokens split out of input_tokens exactly once.
TEST_CASE("OpenAI chat completion to Anthropic message") {
  Usage usage;
  const Json j(Translate(ClientApi::kMessages, WireFormat::kOpenAI, R"json({
    "id": "chatcmpl-123", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": null,
      "message": {"role": "assistant", "content": "Sure.", "refusal": null,
        "reasoning_content": "think",
        "tool_calls": [
          {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{\"x\": 1}"}},
          {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "not json"}}]}}],
    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
              "prompt_tokens_details": {"cached_tokens": 30}}})json",
                         &usage));
  CHECK(j.str("/id") == "chatcmpl-123");
  CHECK(j.str("/type") == "message");
  CHECK(j.str("/role") == "assistant");
  CHECK(j.str("/model") == "client-model");
  REQUIRE(j.size("/content") == 4);
  CHECK(j.str("/content/0/type") == "thinking");
  CHECK(j.str("/content/0/thinking") == "think");
  CHECK(j.str("/content/1/text") == "Sure.");
  CHECK(j.str("/content/2/type") == "tool_use");
  CHECK(j.str("/content/2/id") == "call_a");
  CHECK(j.num("/content/2/input/x") == 1);
  CHECK(j.minified("/content/3/input") == "{}");
  CHECK(j.str("/stop_reason") == "tool_use");
  CHECK(j.is_null("/stop_sequence"));
  CHECK(j.num("/usage/input_tokens") == 70);
  CHECK(j.num("/usage/cache_read_input_tokens") == 30);
  CHECK_FALSE(j.has("/usage/cache_creation_input_tokens"));
  CHECK(j.num("/usage/output_tokens") == 20);
  CHECK(usage.input_tokens == 100);
  CHECK(usage.cached_input_tokens == 30);
}

// Every OpenAI finish_reason has an Anthropic stop_reason; unknown values become end_turn.
TEST_CASE("OpenAI finish_reason to Anthropic stop_reason") {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"stop", "end_turn"},          {"length", "max_tokens"},      {"tool_calls", "tool_use"},
      {"function_call", "tool_use"}, {"content_filter", "refusal"}, {"surprise", "end_turn"}};
  for (const auto& [openai, anthropic] : cases) {
    const std::string body =
        std::string(
            R"({"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":")") +
        std::string(openai) + R"("}]})";
    INFO(openai);
    CHECK(Json(Translate(ClientApi::kMessages, WireFormat::kOpenAI, body)).str("/stop_reason") ==
          anthropic);
  }
}

constexpr std::string_view kCohereResponse = R"json({
  "id": "5a50", "finish_reason": "TOOL_CALL",
  "message": {"role": "assistant", "content": [{"type": "text", "text": "Checking."}],
    "tool_plan": "I will call get_weather.",
    "tool_calls": [{"id": "call_a", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
    "citations": []},
  "usage": {"billed_units": {"input_tokens": 10, "output_tokens": 20},
            "tokens": {"input_tokens": 12, "output_tokens": 25}, "cached_tokens": 0}
})json";

// Cohere v2 -> OpenAI (4.3): text, tool plan as reasoning, tool calls, finish reason, and the
// usage that ParseUsage reports for Cohere.
TEST_CASE("Cohere response to OpenAI chat completion") {
  Usage usage;
  const Json j(
      Translate(ClientApi::kChatCompletions, WireFormat::kCohere, kCohereResponse, &usage));
  const Usage expected = ParseUsage(WireFormat::kCohere, kCohereResponse).value();
  CHECK(j.str("/id") == "5a50");
  CHECK(j.str("/choices/0/message/content") == "Checking.");
  CHECK(j.str("/choices/0/message/reasoning_content") == "I will call get_weather.");
  CHECK(j.str("/choices/0/message/tool_calls/0/function/arguments") == R"({"city":"Paris"})");
  CHECK(j.str("/choices/0/finish_reason") == "tool_calls");
  REQUIRE(expected.present);
  CHECK(usage.input_tokens == expected.input_tokens);
  CHECK(usage.output_tokens == expected.output_tokens);
  CHECK(j.num("/usage/prompt_tokens") == expected.input_tokens);
  CHECK(j.num("/usage/completion_tokens") == expected.output_tokens);

  const std::pair<std::string_view, std::string_view> cases[] = {
      {"COMPLETE", "stop"}, {"STOP_SEQUENCE", "stop"}, {"MAX_TOKENS", "length"},
      {"ERROR", "stop"},    {"TIMEOUT", "stop"},       {"ERROR_TOXIC", "content_filter"},
      {"SOMETHING", "stop"}};
  for (const auto& [cohere, openai] : cases) {
    const std::string body =
        std::string(R"({"id":"x","finish_reason":")") + std::string(cohere) +
        R"(","message":{"role":"assistant","content":[{"type":"text","text":"y"}]}})";
    INFO(cohere);
    CHECK(Json(Translate(ClientApi::kChatCompletions, WireFormat::kCohere, body))
              .str("/choices/0/finish_reason") == openai);
  }
}

// Cohere v2 -> Anthropic: thinking, text and tool_use blocks with parsed input.
TEST_CASE("Cohere response to Anthropic message") {
  const Json j(Translate(ClientApi::kMessages, WireFormat::kCohere, kCohereResponse));
  CHECK(j.str("/content/0/type") == "thinking");
  CHECK(j.str("/content/1/text") == "Checking.");
  CHECK(j.str("/content/2/type") == "tool_use");
  CHECK(j.str("/content/2/input/city") == "Paris");
  CHECK(j.str("/stop_reason") == "tool_use");
}

// A content-less tool-call response has null content for OpenAI clients.
TEST_CASE("Tool-only Anthropic response has null content") {
  const Json j(Translate(
      ClientApi::kChatCompletions, WireFormat::kAnthropic,
      R"({"id":"m","content":[{"type":"tool_use","id":"t","name":"f","input":{}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}})"));
  CHECK(j.is_null("/choices/0/message/content"));
  CHECK(j.str("/choices/0/message/tool_calls/0/function/arguments") == "{}");
}

// Same format: the body comes back byte for byte and usage is still parsed.
TEST_CASE("Same-format responses pass through with usage") {
  const std::string body =
      R"({"id":"c","object":"chat.completion","model":"served","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}})";
  Usage usage;
  CHECK(Translate(ClientApi::kChatCompletions, WireFormat::kOpenAI, body, &usage) == body);
  CHECK(usage.present);
  CHECK(usage.input_tokens == 9);
  CHECK(usage.output_tokens == 3);
  Usage anthropic_usage;
  CHECK(Translate(ClientApi::kMessages, WireFormat::kAnthropic, kAnthropicResponse,
                  &anthropic_usage) == kAnthropicResponse);
  CHECK(anthropic_usage.input_tokens == 40);
  Usage none;
  CHECK_FALSE(TranslateResponseBody(ClientApi::kEmbeddings, WireFormat::kOpenAI, "not json",
                                    "client-model", kCreated, &none)
                  .ok());
  CHECK_FALSE(none.present);
  CHECK(Translate(ClientApi::kKServeV2, WireFormat::kOpenAI, R"({"outputs":[]})") ==
        R"({"outputs":[]})");
}

// A cross-format body that is not JSON is InvalidArgument.
TEST_CASE("Invalid upstream response is rejected") {
  absl::StatusOr<std::string> out = TranslateResponseBody(
      ClientApi::kChatCompletions, WireFormat::kAnthropic, "{oops", "m", kCreated, nullptr);
  REQUIRE_FALSE(out.ok());
  CHECK(out.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(out.status().message()), Catch::Contains("upstream response"));
}

std::string TranslateJsonAnswer(std::string_view body) {
  absl::StatusOr<std::string> out =
      TranslateResponseBody(ClientApi::kChatCompletions, WireFormat::kAnthropic, body,
                            "client-model", kCreated, nullptr, "weather");
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  return *std::move(out);
}

// An emulated response_format: the answer tool's input is the message content (a JSON
// string), not a tool call, and tool_use becomes finish_reason "stop".
TEST_CASE("Anthropic answer tool becomes OpenAI content") {
  constexpr std::string_view kBody =
      R"({"id":"m","content":[{"type":"tool_use","id":"t","name":"weather","input":{"temp":21.5,"sky":"cl\"ear"}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}})";
  const Json j(TranslateJsonAnswer(kBody));
  CHECK(j.str("/choices/0/message/content") == R"({"temp":21.5,"sky":"cl\"ear"})");
  CHECK_FALSE(j.has("/choices/0/message/tool_calls"));
  CHECK(j.str("/choices/0/finish_reason") == "stop");
  CHECK(j.num("/usage/completion_tokens") == 2);

  // Without the option the same body is an ordinary tool call.
  const Json plain(Translate(ClientApi::kChatCompletions, WireFormat::kAnthropic, kBody));
  CHECK(plain.is_null("/choices/0/message/content"));
  CHECK(plain.str("/choices/0/message/tool_calls/0/function/name") == "weather");
  CHECK(plain.str("/choices/0/finish_reason") == "tool_calls");
}

// Next to a client tool call the answer is content and the client's call stays a tool call
// (finish_reason tool_calls); an answer cut by max_tokens is "length"; no input is "{}".
TEST_CASE("Anthropic answer tool with client tools, truncation and empty input") {
  const Json both(TranslateJsonAnswer(
      R"({"id":"m","content":[{"type":"tool_use","id":"t1","name":"get_time","input":{}},{"type":"tool_use","id":"t2","name":"weather","input":{"temp":1}}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}})"));
  CHECK(both.str("/choices/0/message/content") == R"({"temp":1})");
  REQUIRE(both.size("/choices/0/message/tool_calls") == 1);
  CHECK(both.str("/choices/0/message/tool_calls/0/function/name") == "get_time");
  CHECK(both.str("/choices/0/finish_reason") == "tool_calls");

  const Json cut(TranslateJsonAnswer(
      R"({"id":"m","content":[{"type":"tool_use","id":"t","name":"weather","input":{}}],"stop_reason":"max_tokens","usage":{"input_tokens":1,"output_tokens":2}})"));
  CHECK(cut.str("/choices/0/message/content") == "{}");
  CHECK(cut.str("/choices/0/finish_reason") == "length");

  const Json missing(TranslateJsonAnswer(
      R"({"id":"m","content":[{"type":"tool_use","id":"t","name":"weather"}],"stop_reason":"tool_use","usage":{"input_tokens":1,"output_tokens":2}})"));
  CHECK(missing.str("/choices/0/message/content") == "{}");
  CHECK(missing.str("/choices/0/finish_reason") == "stop");
}

// A 2xx body that is not JSON is an error even when the formats match (no translation), so the
// proxy counts it as a protocol failure instead of passing it on priced at nothing (issue 8).
TEST_CASE("Passthrough of a body that is not JSON is an error") {
  for (std::string_view garbage : {"not json", "{\"id\":", "", "<html>502</html>"}) {
    INFO(garbage);
    Usage usage;
    CHECK_FALSE(TranslateResponseBody(ClientApi::kChatCompletions, WireFormat::kOpenAI, garbage,
                                      "client-model", kCreated, &usage)
                    .ok());
    CHECK_FALSE(TranslateResponseBody(ClientApi::kMessages, WireFormat::kAnthropic, garbage,
                                      "client-model", kCreated, &usage)
                    .ok());
  }
  // KServe bodies pass through unchecked (the v2 protocol has a binary extension).
  CHECK(TranslateResponseBody(ClientApi::kKServeV2, WireFormat::kKServe, "raw", "m", kCreated,
                              nullptr)
            .ok());
}

}  // namespace
}  // namespace inferencegw
