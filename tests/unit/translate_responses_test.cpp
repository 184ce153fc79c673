// The Responses API (POST /v1/responses): request facts and refusals, passthrough to backends
// that serve it, translation to chat / Anthropic / Cohere requests, and whole and streamed
// responses translated back into Responses objects and events.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/translate.h"
#include "translate_test_util.h"

namespace inferencegw {
namespace {

using igw_test::Json;
using igw_test::Sse;
using igw_test::SseEvents;

constexpr int64_t kCreated = 1'700'000'321;

RequestFacts Facts(std::string_view body) {
  absl::StatusOr<RequestFacts> facts = InspectRequest(ClientApi::kResponses, body);
  INFO(facts.status().ToString());
  REQUIRE(facts.ok());
  return *facts;
}

UpstreamRequestBody Build(std::string_view body, WireFormat upstream, bool serves = false,
                          std::string_view model_override = {}) {
  TranslateOptions options;
  options.upstream_serves_responses = serves;
  options.model_override = model_override;
  absl::StatusOr<UpstreamRequestBody> up =
      BuildUpstreamBody(ClientApi::kResponses, body, Facts(body), upstream, options);
  INFO(up.status().ToString());
  REQUIRE(up.ok());
  return *std::move(up);
}

std::string BuildError(std::string_view body, WireFormat upstream) {
  absl::StatusOr<RequestFacts> facts = InspectRequest(ClientApi::kResponses, body);
  if (!facts.ok()) return std::string(facts.status().message());
  absl::StatusOr<UpstreamRequestBody> up =
      BuildUpstreamBody(ClientApi::kResponses, body, *facts, upstream, {});
  REQUIRE_FALSE(up.ok());
  CHECK(up.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(up.status().message());
}

constexpr std::string_view kToolRequest = R"json({
  "model": "gpt-4.1", "instructions": "Be brief.", "max_output_tokens": 300,
  "input": [
    {"role": "user", "content": [
      {"type": "input_text", "text": "Weather here?"},
      {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}]},
    {"type": "function_call", "call_id": "call_1", "name": "get_weather",
     "arguments": "{\"city\":\"Paris\"}"},
    {"type": "function_call_output", "call_id": "call_1", "output": "22C, sunny"}],
  "tools": [{"type": "function", "name": "get_weather", "description": "Weather by city",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
             "strict": true}],
  "tool_choice": {"type": "function", "name": "get_weather"},
  "text": {"format": {"type": "json_schema", "name": "forecast",
                      "schema": {"type": "object"}, "strict": true}},
  "temperature": 0.2, "store": true, "truncation": "auto", "top_logprobs": 2
})json";

// The path is recognized and named.
TEST_CASE("Responses path and API name") {
  CHECK(ClientApiForPath("/v1/responses") == ClientApi::kResponses);
  CHECK(ClientApiForPath("/v1/responses/") == ClientApi::kResponses);
  CHECK(ClientApiName(ClientApi::kResponses) == "responses");
  CHECK(ClientWireFormat(ClientApi::kResponses) == WireFormat::kOpenAI);
}

// Facts: model, stream (always with usage), max_output_tokens, and a prompt estimate that
// counts instructions, input text, call arguments and call outputs.
TEST_CASE("Responses request facts") {
  const RequestFacts f = Facts(
      R"({"model":"m","stream":true,"max_output_tokens":77,"instructions":"abcd",)"
      R"("input":[{"role":"user","content":"12345678"},)"
      R"({"type":"function_call_output","call_id":"c","output":"abcd"}]})");
  CHECK(f.model == "m");
  CHECK(f.stream);
  CHECK(f.include_usage);
  CHECK(f.max_tokens == 77);
  CHECK(f.estimated_prompt_tokens == 4);  // 16 bytes of text
  CHECK(Facts(R"({"model":"m","input":"hi"})").max_tokens == -1);
}

// Stateful parameters are refused whatever the backend, naming the parameter; background
// false is harmless.
TEST_CASE("Responses stateful parameters are refused") {
  for (std::string_view key : {"previous_response_id", "conversation"}) {
    const std::string body = std::string(R"({"model":"m","input":"hi",")") + std::string(key) +
                             R"(":"resp_1"})";
    absl::StatusOr<RequestFacts> f = InspectRequest(ClientApi::kResponses, body);
    REQUIRE_FALSE(f.ok());
    CHECK(f.status().code() == absl::StatusCode::kInvalidArgument);
    std::string quoted = "'";
    quoted.append(key).push_back('\'');
    CHECK(std::string(f.status().message()).find(quoted) != std::string::npos);
  }
  absl::StatusOr<RequestFacts> bg =
      InspectRequest(ClientApi::kResponses, R"({"model":"m","input":"hi","background":true})");
  REQUIRE_FALSE(bg.ok());
  CHECK(std::string(bg.status().message()).find("'background'") != std::string::npos);
  CHECK(InspectRequest(ClientApi::kResponses, R"({"model":"m","input":"hi","background":false})")
            .ok());
  CHECK(InspectRequest(ClientApi::kResponses,
                       R"({"model":"m","input":"hi","previous_response_id":null})")
            .ok());
}

// Missing or mistyped required fields are InvalidArgument with OpenAI-style messages.
TEST_CASE("Responses request validation") {
  CHECK(BuildError(R"({"model":"m"})", WireFormat::kOpenAI) ==
        "Missing required parameter: 'input'.");
  CHECK(BuildError(R"({"model":"m","input":5})", WireFormat::kOpenAI) ==
        "Invalid type for 'input': expected a string or an array of items.");
  CHECK(BuildError(R"({"model":"m","input":"x","instructions":[1]})", WireFormat::kOpenAI) ==
        "Invalid type for 'instructions': expected a string.");
  CHECK(BuildError(R"({"model":"m","input":"x","max_output_tokens":"9"})", WireFormat::kOpenAI) ==
        "Invalid type for 'max_output_tokens': expected an integer.");
}

// A backend serving the Responses API gets the client's body spliced (model rewritten only)
// on /responses, and the result is marked for passthrough.
TEST_CASE("Responses passthrough to OpenAI") {
  const std::string body = R"({"model":"gpt-4.1","input":"hi","stream":true,"store":true})";
  const UpstreamRequestBody up = Build(body, WireFormat::kOpenAI, true, "gpt-4.1-mini");
  CHECK(up.path == "/responses");
  CHECK(up.upstream_responses);
  CHECK(up.stream);
  CHECK_FALSE(up.injected_usage);
  CHECK(up.body == R"({"model":"gpt-4.1-mini","input":"hi","stream":true,"store":true})");
  CHECK(up.dropped_params.empty());
}

// Toward an OpenAI-compatible chat backend: instructions as a system message, parts, calls and
// outputs as chat messages, tools and tool_choice in chat's shape, text.format as
// response_format, max_output_tokens as max_tokens; store:true and unknown keys listed.
TEST_CASE("Responses request to OpenAI-compatible chat") {
  const UpstreamRequestBody up = Build(kToolRequest, WireFormat::kOpenAI);
  CHECK(up.path == "/chat/completions");
  CHECK_FALSE(up.upstream_responses);
  const Json j(up.body);
  CHECK(j.str("/model") == "gpt-4.1");
  REQUIRE(j.size("/messages") == 4);
  CHECK(j.str("/messages/0/role") == "system");
  CHECK(j.str("/messages/0/content") == "Be brief.");
  CHECK(j.str("/messages/1/role") == "user");
  CHECK(j.str("/messages/1/content/0/type") == "text");
  CHECK(j.str("/messages/1/content/0/text") == "Weather here?");
  CHECK(j.str("/messages/1/content/1/type") == "image_url");
  CHECK(j.str("/messages/1/content/1/image_url/url") == "data:image/png;base64,iVBORw0KGgo=");
  CHECK(j.str("/messages/2/role") == "assistant");
  CHECK(j.is_null("/messages/2/content"));
  CHECK(j.str("/messages/2/tool_calls/0/id") == "call_1");
  CHECK(j.str("/messages/2/tool_calls/0/function/name") == "get_weather");
  CHECK(j.str("/messages/2/tool_calls/0/function/arguments") == R"({"city":"Paris"})");
  CHECK(j.str("/messages/3/role") == "tool");
  CHECK(j.str("/messages/3/tool_call_id") == "call_1");
  CHECK(j.str("/messages/3/content") == "22C, sunny");
  CHECK(j.str("/tools/0/type") == "function");
  CHECK(j.str("/tools/0/function/name") == "get_weather");
  CHECK(j.str("/tools/0/function/description") == "Weather by city");
  CHECK(j.str("/tools/0/function/parameters/type") == "object");
  CHECK(j.boolean("/tools/0/function/strict"));
  CHECK(j.str("/tool_choice/function/name") == "get_weather");
  CHECK(j.str("/response_format/type") == "json_schema");
  CHECK(j.str("/response_format/json_schema/name") == "forecast");
  CHECK(j.boolean("/response_format/json_schema/strict"));
  CHECK(j.num("/max_tokens") == 300);
  CHECK(j.dbl("/temperature") == 0.2);
  CHECK_FALSE(j.has("/store"));
  CHECK_FALSE(j.has("/top_logprobs"));
  CHECK(up.dropped_params == std::vector<std::string>{"store", "truncation", "top_logprobs"});
}

// A streamed request asks the chat backend for the usage chunk (response.completed needs it).
TEST_CASE("Responses stream to chat asks for usage") {
  const UpstreamRequestBody up =
      Build(R"({"model":"m","input":"hi","stream":true})", WireFormat::kOpenAI);
  const Json j(up.body);
  CHECK(j.boolean("/stream"));
  CHECK(j.boolean("/stream_options/include_usage"));
  CHECK(up.injected_usage);
  CHECK(j.str("/messages/0/content") == "hi");
}

// Toward Anthropic: system, tool_use / tool_result, a default max_tokens when none is given,
// and text.format json_object emulated with the forced answer tool.
TEST_CASE("Responses request to Anthropic") {
  const UpstreamRequestBody up = Build(kToolRequest, WireFormat::kAnthropic);
  CHECK(up.path == "/messages");
  const Json j(up.body);
  CHECK(j.str("/system/0/text") == "Be brief.");
  CHECK(j.str("/messages/0/role") == "user");
  CHECK(j.str("/messages/0/content/1/type") == "image");
  CHECK(j.str("/messages/1/content/0/type") == "tool_use");
  CHECK(j.str("/messages/1/content/0/input/city") == "Paris");
  CHECK(j.str("/messages/2/content/0/type") == "tool_result");
  CHECK(j.str("/messages/2/content/0/tool_use_id") == "call_1");
  CHECK(j.num("/max_tokens") == 300);

  const UpstreamRequestBody json = Build(
      R"({"model":"m","input":"hi","text":{"format":{"type":"json_object"}}})",
      WireFormat::kAnthropic);
  CHECK(json.json_tool_name == "json_tool_call");
  CHECK(Json(json.body).num("/max_tokens") == 4096);
}

// Toward Cohere: chat's form goes on to v2 chat.
TEST_CASE("Responses request to Cohere") {
  const UpstreamRequestBody up = Build(kToolRequest, WireFormat::kCohere);
  CHECK(up.path == "/chat");
  const Json j(up.body);
  CHECK(j.str("/messages/0/role") == "system");
  CHECK(j.str("/messages/3/role") == "tool");
  CHECK(j.str("/response_format/type") == "json_object");
}

// What chat backends cannot take is refused: built-in tools, file parts, file-id images,
// unknown item types, unknown roles, non-function tool choices; a KServe backend is refused.
TEST_CASE("Responses request refusals for translated backends") {
  CHECK(BuildError(R"({"model":"m","input":"x","tools":[{"type":"web_search"}]})",
                   WireFormat::kAnthropic)
            .find("tools[0]: only function tools") != std::string::npos);
  CHECK(BuildError(R"({"model":"m","input":[{"role":"user","content":[{"type":"input_file",)"
                   R"("file_id":"f"}]}]})",
                   WireFormat::kOpenAI)
            .find("'input_file' are not supported") != std::string::npos);
  CHECK(BuildError(R"({"model":"m","input":[{"role":"user","content":[{"type":"input_image",)"
                   R"("file_id":"f"}]}]})",
                   WireFormat::kOpenAI)
            .find("file_id needs an OpenAI backend") != std::string::npos);
  CHECK(BuildError(R"({"model":"m","input":[{"type":"web_search_call","id":"w"}]})",
                   WireFormat::kCohere)
            .find("'web_search_call' are not supported") != std::string::npos);
  CHECK(BuildError(R"({"model":"m","input":[{"role":"robot","content":"x"}]})",
                   WireFormat::kOpenAI) == "Invalid value for 'input[0].role': 'robot'.");
  CHECK(BuildError(R"({"model":"m","input":"x","tool_choice":{"type":"file_search"}})",
                   WireFormat::kOpenAI)
            .find("tool_choice") != std::string::npos);
  CHECK(BuildError(R"({"model":"m","input":[]})", WireFormat::kOpenAI).find("empty") !=
        std::string::npos);
  CHECK(BuildError(R"({"model":"m","input":"x"})", WireFormat::kKServe) ==
        "backend speaks kserve; /v1/responses needs an OpenAI-compatible backend");
}

// Malformed requests of many shapes are InvalidArgument, never a crash.
TEST_CASE("Responses malformed requests") {
  const std::vector<std::string_view> bodies = {
      "", "[]", "{", R"({"model":1,"input":"x"})", R"({"model":"m","input":[1]})",
      R"({"model":"m","input":[{"type":"function_call"}]})",
      R"({"model":"m","input":[{"type":"function_call_output","call_id":"c","output":{}}]})",
      R"({"model":"m","input":[{"role":"user"}]})",
      R"({"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]})",
      R"({"model":"m","input":[{"role":"assistant","content":[{"type":"input_image"}]}]})",
      R"({"model":"m","input":"x","tools":{}})", R"({"model":"m","input":"x","text":"json"})",
      R"({"model":"m","input":"x","tools":[{"type":"function"}]})"};
  for (std::string_view body : bodies) {
    INFO(body);
    for (WireFormat f : {WireFormat::kOpenAI, WireFormat::kAnthropic, WireFormat::kCohere}) {
      CHECK_FALSE(BuildError(body, f).empty());
    }
  }
}

std::string Respond(WireFormat upstream, std::string_view body, Usage* usage,
                    bool upstream_responses = false, std::string_view json_tool = {}) {
  absl::StatusOr<std::string> out =
      TranslateResponseBody(ClientApi::kResponses, upstream, body, "client-model", kCreated,
                            usage, json_tool, upstream_responses);
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  return *std::move(out);
}

// A chat completion becomes a Responses object: message and function_call items, usage with
// cached and reasoning token details.
TEST_CASE("Chat completion to Responses object") {
  Usage usage;
  const Json j(Respond(WireFormat::kOpenAI, R"json({
    "id":"chatcmpl-7","object":"chat.completion","created":1,"model":"llama",
    "choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant",
      "content":"Checking.","tool_calls":[{"id":"call_9","type":"function",
      "function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]}}],
    "usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,
             "prompt_tokens_details":{"cached_tokens":10},
             "completion_tokens_details":{"reasoning_tokens":4}}})json",
                       &usage));
  CHECK(j.str("/id") == "resp_chatcmpl-7");
  CHECK(j.str("/object") == "response");
  CHECK(j.num("/created_at") == kCreated);
  CHECK(j.str("/status") == "completed");
  CHECK(j.str("/model") == "client-model");
  REQUIRE(j.size("/output") == 2);
  CHECK(j.str("/output/0/type") == "message");
  CHECK(j.str("/output/0/role") == "assistant");
  CHECK(j.str("/output/0/content/0/type") == "output_text");
  CHECK(j.str("/output/0/content/0/text") == "Checking.");
  CHECK(j.str("/output/1/type") == "function_call");
  CHECK(j.str("/output/1/call_id") == "call_9");
  CHECK(j.str("/output/1/name") == "get_weather");
  CHECK(j.str("/output/1/arguments") == R"({"city":"Oslo"})");
  CHECK(j.num("/usage/input_tokens") == 30);
  CHECK(j.num("/usage/input_tokens_details/cached_tokens") == 10);
  CHECK(j.num("/usage/output_tokens") == 12);
  CHECK(j.num("/usage/output_tokens_details/reasoning_tokens") == 4);
  CHECK(j.num("/usage/total_tokens") == 42);
  CHECK(usage.input_tokens == 30);
  CHECK(usage.cached_input_tokens == 10);
}

// An Anthropic message cut by max_tokens is an incomplete response; input tokens include the
// cache reads and writes.
TEST_CASE("Anthropic message to incomplete Responses object") {
  Usage usage;
  const Json j(Respond(WireFormat::kAnthropic, R"json({
    "id":"msg_01","type":"message","role":"assistant","model":"claude",
    "content":[{"type":"text","text":"Once upon"}],"stop_reason":"max_tokens",
    "usage":{"input_tokens":5,"output_tokens":3,"cache_read_input_tokens":7,
             "cache_creation_input_tokens":2}})json",
                       &usage));
  CHECK(j.str("/status") == "incomplete");
  CHECK(j.str("/incomplete_details/reason") == "max_output_tokens");
  CHECK(j.str("/output/0/content/0/text") == "Once upon");
  CHECK(j.num("/usage/input_tokens") == 14);
  CHECK(j.num("/usage/input_tokens_details/cached_tokens") == 7);
  CHECK(j.num("/usage/output_tokens") == 3);
}

// The answer tool of an emulated text.format is the message text, not a function call.
TEST_CASE("Anthropic json answer tool to Responses text") {
  Usage usage;
  const Json j(Respond(WireFormat::kAnthropic, R"json({
    "id":"msg_02","type":"message","role":"assistant","model":"claude",
    "content":[{"type":"tool_use","id":"toolu_1","name":"json_tool_call","input":{"a":1}}],
    "stop_reason":"tool_use","usage":{"input_tokens":5,"output_tokens":3}})json",
                       &usage, false, "json_tool_call"));
  REQUIRE(j.size("/output") == 1);
  CHECK(j.str("/output/0/content/0/text") == R"({"a":1})");
  CHECK(j.str("/status") == "completed");
}

// A passthrough body is returned unchanged and its Responses usage is read for cost.
TEST_CASE("Responses passthrough body usage") {
  Usage usage;
  const std::string body = R"({"id":"resp_1","object":"response","output":[],)"
                           R"("usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":6},)"
                           R"("output_tokens":87,"output_tokens_details":{"reasoning_tokens":20},)"
                           R"("total_tokens":123}})";
  CHECK(Respond(WireFormat::kOpenAI, body, &usage, true) == body);
  CHECK(usage.present);
  CHECK(usage.input_tokens == 36);
  CHECK(usage.cached_input_tokens == 6);
  CHECK(usage.output_tokens == 87);
  CHECK(usage.reasoning_tokens == 20);
}

std::vector<std::string> Types(const std::vector<igw_test::Event>& events) {
  std::vector<std::string> types;
  for (const auto& e : events) {
    const Json j(e.data);
    CHECK(j.str("/type") == e.event);
    types.push_back(e.event);
  }
  return types;
}

// Chat chunks (text, then a tool call in two argument fragments, then usage) become the
// Responses event sequence with increasing sequence numbers and a final response.completed
// carrying the output items and usage.
TEST_CASE("Chat stream to Responses events") {
  const std::string input = Sse({
      {"", R"({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]})"},
      {"", R"({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"lo"}}]})"},
      {"", R"({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_5","type":"function","function":{"name":"f","arguments":"{\"a\""}}]}}]})"},
      {"", R"({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]})"},
      {"", R"({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"},
      {"", R"({"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":2}}})"},
      {"", "[DONE]"},
  });
  StreamTranslator t(ClientApi::kResponses, WireFormat::kOpenAI, "client-model", true, true,
                     kCreated);
  std::string out;
  for (char c : input) t.Feed(std::string_view(&c, 1), &out);  // byte by byte
  t.Finish(&out);
  CHECK(t.upstream_complete());
  CHECK(t.usage().input_tokens == 9);
  const auto events = SseEvents(out);
  const std::vector<std::string> expected = {
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed"};
  CHECK(Types(events) == expected);
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(Json(events[i].data).num("/sequence_number") == static_cast<int64_t>(i));
  }
  CHECK(Json(events[0].data).str("/response/status") == "in_progress");
  CHECK(Json(events[4].data).str("/delta") == "Hel");
  CHECK(Json(events[6].data).str("/text") == "Hello");
  CHECK(Json(events[10].data).str("/item_id") == "fc_call_5");
  CHECK(Json(events[12].data).str("/arguments") == R"({"a":1})");
  const Json done(events.back().data);
  CHECK(done.str("/response/id") == "resp_c1");
  CHECK(done.str("/response/status") == "completed");
  CHECK(done.str("/response/model") == "client-model");
  CHECK(done.str("/response/output/0/content/0/text") == "Hello");
  CHECK(done.str("/response/output/1/call_id") == "call_5");
  CHECK(done.num("/response/usage/input_tokens") == 9);
  CHECK(done.num("/response/usage/input_tokens_details/cached_tokens") == 2);
  CHECK(done.num("/response/usage/total_tokens") == 13);
  CHECK(out.find("[DONE]") == std::string::npos);
}

// An Anthropic stream cut by max_tokens ends with response.incomplete and its usage.
TEST_CASE("Anthropic stream to Responses events") {
  const std::string input = Sse({
      {"message_start", R"({"type":"message_start","message":{"id":"msg_9","type":"message","role":"assistant","content":[],"model":"claude","usage":{"input_tokens":11,"output_tokens":1}}})"},
      {"content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"},
      {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}})"},
      {"content_block_stop", R"({"type":"content_block_stop","index":0})"},
      {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":6}})"},
      {"message_stop", R"({"type":"message_stop"})"},
  });
  StreamTranslator t(ClientApi::kResponses, WireFormat::kAnthropic, "client-model", true, false,
                     kCreated);
  std::string out;
  t.Feed(input, &out);
  t.Finish(&out);
  const auto events = SseEvents(out);
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().event == "response.incomplete");
  const Json done(events.back().data);
  CHECK(done.str("/response/id") == "resp_msg_9");
  CHECK(done.str("/response/incomplete_details/reason") == "max_output_tokens");
  CHECK(done.str("/response/output/0/content/0/text") == "Hi");
  CHECK(done.num("/response/usage/input_tokens") == 11);
  CHECK(done.num("/response/usage/output_tokens") == 6);
}

// An upstream error event after the 200 becomes a Responses `error` event, and the stream ends.
TEST_CASE("Anthropic stream error to Responses error event") {
  const std::string input = Sse({
      {"message_start", R"({"type":"message_start","message":{"id":"msg_9","type":"message","role":"assistant","content":[],"model":"claude","usage":{"input_tokens":11,"output_tokens":1}}})"},
      {"error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"},
  });
  StreamTranslator t(ClientApi::kResponses, WireFormat::kAnthropic, "m", true, false, kCreated);
  std::string out;
  t.Feed(input, &out);
  t.Finish(&out);
  CHECK(t.upstream_error());
  const auto events = SseEvents(out);
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().event == "error");
  CHECK(Json(events.back().data).str("/message") == "Overloaded");
}

// A passthrough translator fed `input` whole and finished; checks the bytes went through as is.
StreamTranslator Passthrough(const std::string& input) {
  StreamTranslator t(ClientApi::kResponses, WireFormat::kOpenAI, "m", true, false, kCreated, {},
                     true);
  std::string out;
  t.Feed(input, &out);
  t.Finish(&out);
  CHECK(out == input);
  return t;
}

// A passthrough Responses stream is forwarded byte for byte; usage comes from
// response.completed, which also marks the stream complete.
TEST_CASE("Responses passthrough stream") {
  const std::string input = Sse({
      {"response.created", R"({"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","usage":null}})"},
      {"response.output_text.delta", R"({"type":"response.output_text.delta","sequence_number":1,"delta":"x"})"},
      {"response.completed", R"({"type":"response.completed","sequence_number":2,"response":{"id":"resp_1","status":"completed","usage":{"input_tokens":3,"input_tokens_details":{"cached_tokens":1},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":1},"total_tokens":5}}})"},
  });
  StreamTranslator t = Passthrough(input);
  CHECK(t.upstream_complete());
  CHECK_FALSE(t.upstream_error());
  CHECK(t.usage().input_tokens == 3);
  CHECK(t.usage().cached_input_tokens == 1);
  CHECK(t.usage().reasoning_tokens == 1);
  CHECK(t.usage().output_tokens == 2);
}

// A passthrough stream's events are recognized by their `type` when the upstream sends no
// event lines; response.failed marks it failed, not complete.
TEST_CASE("Responses passthrough stream without event lines") {
  const std::string input = Sse({
      {"", R"({"type":"response.created","sequence_number":0,"response":{"id":"resp_1","usage":null}})"},
      {"", R"({"type":"response.failed","sequence_number":1,"response":{"id":"resp_1","status":"failed","error":{"code":"server_error","message":"x"}}})"},
  });
  StreamTranslator t = Passthrough(input);
  CHECK(t.upstream_error());
  CHECK_FALSE(t.upstream_complete());
}

// The proxy's broken-stream event for a Responses client is an `error` event in its shape.
TEST_CASE("Responses stream error event") {
  std::string out;
  AppendStreamErrorEvent(ClientApi::kResponses, "broke", "upstream_stream_broken", &out);
  const auto events = SseEvents(out);
  REQUIRE(events.size() == 1);
  CHECK(events[0].event == "error");
  const Json j(events[0].data);
  CHECK(j.str("/type") == "error");
  CHECK(j.str("/code") == "upstream_stream_broken");
  CHECK(j.str("/message") == "broke");
}

}  // namespace
}  // namespace inferencegw
