// Request side of the translation layer: ClientApiForPath, InspectRequest, and
// BuildUpstreamBody for same-format splicing and every cross-format direction.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/exchange_report.h"
#include "inferencegw/translate.h"
#include "translate_test_util.h"

namespace inferencegw {
namespace {

using igw_test::Json;

RequestFacts Facts(ClientApi api, std::string_view body) {
  absl::StatusOr<RequestFacts> facts = InspectRequest(api, body);
  INFO(facts.status().ToString());
  REQUIRE(facts.ok());
  return *facts;
}

UpstreamRequestBody Build(ClientApi api, std::string_view body, WireFormat upstream,
                          TranslateOptions options = {}) {
  absl::StatusOr<UpstreamRequestBody> up =
      BuildUpstreamBody(api, body, Facts(api, body), upstream, options);
  INFO(up.status().ToString());
  REQUIRE(up.ok());
  return *std::move(up);
}

absl::Status BuildError(ClientApi api, std::string_view body, WireFormat upstream) {
  absl::StatusOr<UpstreamRequestBody> up =
      BuildUpstreamBody(api, body, Facts(api, body), upstream, {});
  REQUIRE_FALSE(up.ok());
  CHECK(up.status().code() == absl::StatusCode::kInvalidArgument);
  return up.status();
}

bool Dropped(const UpstreamRequestBody& up, std::string_view name) {
  for (const std::string& d : up.dropped_params) {
    if (d == name) return true;
  }
  return false;
}

// Paths map to client APIs; KServe paths accept a model name and an optional version.
TEST_CASE("ClientApiForPath recognizes the gateway's endpoints") {
  CHECK(ClientApiForPath("/v1/chat/completions") == ClientApi::kChatCompletions);
  CHECK(ClientApiForPath("/v1/chat/completions/") == ClientApi::kChatCompletions);
  CHECK(ClientApiForPath("/v1/completions") == ClientApi::kCompletions);
  CHECK(ClientApiForPath("/v1/embeddings") == ClientApi::kEmbeddings);
  CHECK(ClientApiForPath("/v1/messages") == ClientApi::kMessages);
  CHECK(ClientApiForPath("/v1/models/iris:predict") == ClientApi::kKServeV1);
  CHECK(ClientApiForPath("/v2/models/iris/infer") == ClientApi::kKServeV2);
  CHECK(ClientApiForPath("/v2/models/iris/versions/3/infer") == ClientApi::kKServeV2);
  CHECK_FALSE(ClientApiForPath("/v1/models").has_value());
  CHECK_FALSE(ClientApiForPath("/v1/models/:predict").has_value());
  CHECK_FALSE(ClientApiForPath("/v2/models/a/b/infer").has_value());
  CHECK_FALSE(ClientApiForPath("/v1/chat").has_value());
  // Dot segments would be collapsed by the upstream URL: they name no model.
  CHECK_FALSE(ClientApiForPath("/v2/models/../infer").has_value());
  CHECK_FALSE(ClientApiForPath("/v2/models/./infer").has_value());
  CHECK_FALSE(ClientApiForPath("/v1/models/..:predict").has_value());
  CHECK_FALSE(ClientApiForPath("/v2/models/iris/versions/../infer").has_value());
  CHECK_FALSE(ClientApiForPath("/v2/models/../versions/1/infer").has_value());
  CHECK(ClientWireFormat(ClientApi::kMessages) == WireFormat::kAnthropic);
  CHECK(ClientWireFormat(ClientApi::kEmbeddings) == WireFormat::kOpenAI);
}

// A chat body yields model, stream flags, max tokens (max_completion_tokens wins), n and a
// prompt estimate counting message text and tool-call arguments.
TEST_CASE("InspectRequest reads the facts of a chat request") {
  const RequestFacts f = Facts(ClientApi::kChatCompletions, R"json({
    "model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true},
    "max_tokens": 50, "max_completion_tokens": 100, "n": 2,
    "messages": [
      {"role": "system", "content": "abcd"},
      {"role": "user", "content": [{"type": "text", "text": "12345678"},
                                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
      {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}]})json");
  CHECK(f.model == "gpt-4o");
  CHECK(f.stream);
  CHECK(f.include_usage);
  CHECK(f.max_tokens == 100);
  CHECK(f.n == 2);
  CHECK(f.estimated_prompt_tokens == 4);  // (4 + 8 + 2) bytes / 4, rounded up
}

// Defaults: not streamed, no usage, no max tokens, n = 1; null optional fields are absent.
TEST_CASE("InspectRequest defaults and nulls") {
  const RequestFacts f = Facts(
      ClientApi::kChatCompletions,
      R"({"model":"m","messages":[{"role":"user","content":"hello"}],"stream":null,"n":null})");
  CHECK_FALSE(f.stream);
  CHECK_FALSE(f.include_usage);
  CHECK(f.max_tokens == -1);
  CHECK(f.n == 1);
  CHECK(f.estimated_prompt_tokens == 2);
}

// Anthropic bodies: system, text blocks, tool_use input objects and tool_result content count;
// a streamed Anthropic request always has usage.
TEST_CASE("InspectRequest reads the facts of a messages request") {
  const RequestFacts f = Facts(ClientApi::kMessages, R"json({
    "model": "claude", "max_tokens": 300, "stream": true, "system": "12345678",
    "messages": [
      {"role": "user", "content": "1234"},
      {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {"a":1}}]},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "12345678"}]}]})json");
  CHECK(f.model == "claude");
  CHECK(f.max_tokens == 300);
  CHECK(f.stream);
  CHECK(f.include_usage);
  CHECK(f.estimated_prompt_tokens == (8 + 4 + 7 + 8 + 3) / 4);  // input {"a":1} is 7 bytes
}

// Completions count token ids 4 bytes each; embeddings count every input string.
TEST_CASE("InspectRequest reads completions and embeddings") {
  RequestFacts c = Facts(ClientApi::kCompletions,
                         R"({"model":"m","prompt":[1,2,3],"max_tokens":16,"stream":true})");
  CHECK(c.estimated_prompt_tokens == 3);
  CHECK(c.max_tokens == 16);
  CHECK(c.stream);
  RequestFacts e = Facts(ClientApi::kEmbeddings, R"({"model":"m","input":["abcd","efgh"]})");
  CHECK(e.estimated_prompt_tokens == 2);
  CHECK_FALSE(e.stream);
  RequestFacts k = Facts(ClientApi::kKServeV2, R"({"inputs":[{"name":"x","data":[1]}]})");
  CHECK(k.model.empty());
}

// Invalid bodies and missing required fields are InvalidArgument with OpenAI-style messages.
TEST_CASE("InspectRequest rejects invalid requests clearly") {
  auto error = [](ClientApi api, std::string_view body) {
    absl::StatusOr<RequestFacts> f = InspectRequest(api, body);
    REQUIRE_FALSE(f.ok());
    CHECK(f.status().code() == absl::StatusCode::kInvalidArgument);
    return std::string(f.status().message());
  };
  const ClientApi chat = ClientApi::kChatCompletions;
  CHECK_THAT(error(chat, "not json"), Catch::Contains("Invalid JSON"));
  CHECK_THAT(error(chat, R"({"model":"m","messages":[)"), Catch::Contains("JSON"));
  CHECK_THAT(error(chat, R"({"model":"m","messages":[{}]} x)"), Catch::Contains("JSON"));
  CHECK_THAT(error(chat, "[1,2]"), Catch::Contains("must be a JSON object"));
  CHECK(error(chat, R"({"messages":[{}]})") == "Missing required parameter: 'model'.");
  CHECK(error(chat, R"({"model":"m"})") == "Missing required parameter: 'messages'.");
  CHECK(error(ClientApi::kMessages, R"({"model":"m"})") ==
        "Missing required parameter: 'messages'.");
  CHECK(error(ClientApi::kCompletions, R"({"model":"m"})") ==
        "Missing required parameter: 'prompt'.");
  CHECK(error(ClientApi::kEmbeddings, R"({"model":"m"})") ==
        "Missing required parameter: 'input'.");
  CHECK_THAT(error(chat, R"({"model":"m","messages":[]})"), Catch::Contains("empty array"));
  CHECK(error(chat, R"({"model":1,"messages":[{}]})") ==
        "Invalid type for 'model': expected a string.");
  CHECK(error(chat, R"({"model":"m","messages":[{}],"stream":"yes"})") ==
        "Invalid type for 'stream': expected a boolean.");
  CHECK_THAT(error(chat, R"({"model":"m","messages":[{}],"n":0})"), Catch::Contains("'n'"));
  CHECK_THAT(error(chat, R"({"model":"m","messages":[{}],"max_tokens":1.5})"),
             Catch::Contains("'max_tokens'"));
}

// OpenAI -> OpenAI without changes keeps the client's bytes exactly.
TEST_CASE("Same-format OpenAI body passes through unchanged") {
  const std::string body =
      R"({ "model" : "gpt-4o",  "messages": [{"role":"user","content":"hi"}] })";
  const UpstreamRequestBody up = Build(ClientApi::kChatCompletions, body, WireFormat::kOpenAI);
  CHECK(up.body == body);
  CHECK(up.path == "/chat/completions");
  CHECK_FALSE(up.stream);
  CHECK_FALSE(up.injected_usage);
  CHECK(up.dropped_params.empty());
}

// The model rewrite replaces only the top-level model value; nested "model" keys stay.
TEST_CASE("Same-format model rewrite splices the model value") {
  const std::string body =
      "{\n  \"messages\": [{\"role\":\"user\",\"content\":\"model\",\"model\":\"x\"}],\n"
      "  \"model\": \"gpt-4o\"\n}";
  TranslateOptions options;
  options.model_override = "served-model";
  const UpstreamRequestBody up =
      Build(ClientApi::kChatCompletions, body, WireFormat::kOpenAI, options);
  CHECK(up.body ==
        "{\n  \"messages\": [{\"role\":\"user\",\"content\":\"model\",\"model\":\"x\"}],\n"
        "  \"model\": \"served-model\"\n}");
}

// Streams get stream_options.include_usage=true spliced in before the closing brace.
TEST_CASE("Same-format stream gets include_usage injected") {
  const std::string body =
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  const UpstreamRequestBody up = Build(ClientApi::kChatCompletions, body, WireFormat::kOpenAI);
  CHECK(
      up.body ==
      R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}})");
  CHECK(up.stream);
  CHECK(up.injected_usage);

  TranslateOptions off;
  off.request_stream_usage = false;
  const UpstreamRequestBody kept =
      Build(ClientApi::kChatCompletions, body, WireFormat::kOpenAI, off);
  CHECK(kept.body == body);
  CHECK_FALSE(kept.injected_usage);
}

// An existing stream_options object keeps its other members; include_usage becomes true.
TEST_CASE("Same-format stream_options is rewritten in place") {
  const std::string body =
      R"({"model":"m","stream_options": {"include_obfuscation": false, "include_usage": false},"stream":true,"messages":[{"role":"user","content":"hi"}]})";
  TranslateOptions options;
  options.model_override = "other";
  const UpstreamRequestBody up =
      Build(ClientApi::kChatCompletions, body, WireFormat::kOpenAI, options);
  CHECK(
      up.body ==
      R"({"model":"other","stream_options": {"include_obfuscation": false,"include_usage":true},"stream":true,"messages":[{"role":"user","content":"hi"}]})");
  CHECK(up.injected_usage);

  const std::string asked =
      R"({"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]})";
  const UpstreamRequestBody same = Build(ClientApi::kChatCompletions, asked, WireFormat::kOpenAI);
  CHECK(same.body == asked);
  CHECK_FALSE(same.injected_usage);
}

// Requests that are not streamed never carry stream_options upstream, wherever it appears.
TEST_CASE("Same-format non-streamed request drops stream_options") {
  const UpstreamRequestBody first = Build(
      ClientApi::kChatCompletions,
      R"({"stream_options":{"include_usage":true}, "model":"m","messages":[{"role":"user","content":"x"}]})",
      WireFormat::kOpenAI);
  CHECK(first.body == R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
  const UpstreamRequestBody middle = Build(
      ClientApi::kCompletions,
      R"({"model":"m", "stream_options":{"include_usage":true}, "prompt":"x","stream":false})",
      WireFormat::kOpenAI);
  CHECK(middle.body == R"({"model":"m", "prompt":"x","stream":false})");
  CHECK(middle.path == "/completions");
  const UpstreamRequestBody last =
      Build(ClientApi::kChatCompletions,
            R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":null})",
            WireFormat::kOpenAI);
  CHECK(last.body == R"({"model":"m","messages":[{"role":"user","content":"x"}]})");
}

// Embeddings only get their model rewritten and go to /embeddings.
TEST_CASE("Same-format embeddings") {
  TranslateOptions options;
  options.model_override = "e5";
  const UpstreamRequestBody up =
      Build(ClientApi::kEmbeddings, R"({"model":"text-embedding-3-small","input":"hello"})",
            WireFormat::kOpenAI, options);
  CHECK(up.body == R"({"model":"e5","input":"hello"})");
  CHECK(up.path == "/embeddings");
}

// Anthropic -> Anthropic: model rewrite, and the default max_tokens when the client gave none.
TEST_CASE("Same-format Anthropic body is spliced") {
  TranslateOptions options;
  options.model_override = "claude-sonnet-4-5";
  const UpstreamRequestBody up = Build(
      ClientApi::kMessages, R"({"model":"claude","messages":[{"role":"user","content":"hi"}]})",
      WireFormat::kAnthropic, options);
  CHECK(
      up.body ==
      R"({"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}],"max_tokens":4096})");
  CHECK(up.path == "/messages");
  const std::string with_max =
      R"({"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})";
  CHECK(Build(ClientApi::kMessages, with_max, WireFormat::kAnthropic).body == with_max);
}

// KServe bodies pass through untouched and leave the path to the proxy.
TEST_CASE("KServe bodies pass through") {
  const std::string body = R"({"instances": [[1, 2]]})";
  const UpstreamRequestBody up = Build(ClientApi::kKServeV1, body, WireFormat::kOpenAI);
  CHECK(up.body == body);
  CHECK(up.path.empty());
}

// Completions and embeddings need an OpenAI-format backend; chat cannot go to a KServe format.
TEST_CASE("APIs without a translation are rejected") {
  CHECK(BuildError(ClientApi::kEmbeddings, R"({"model":"m","input":"x"})", WireFormat::kAnthropic)
            .message() ==
        "backend speaks anthropic; /v1/embeddings needs an OpenAI-compatible backend");
  CHECK(BuildError(ClientApi::kCompletions, R"({"model":"m","prompt":"x"})", WireFormat::kCohere)
            .message() ==
        "backend speaks cohere; /v1/completions needs an OpenAI-compatible backend");
  CHECK_THAT(std::string(BuildError(ClientApi::kChatCompletions,
                                    R"({"model":"m","messages":[{"role":"user","content":"x"}]})",
                                    WireFormat::kKServe)
                             .message()),
             Catch::Contains("backend speaks kserve"));
}

constexpr std::string_view kRichChat = R"json({
  "model": "gpt-4o",
  "messages": [
    {"role": "system", "content": "You are terse."},
    {"role": "developer", "content": [{"type": "text", "text": "Rule 1"},
                                      {"type": "text", "text": "Rule 2", "cache_control": {"type": "ephemeral"}}]},
    {"role": "user", "content": "Hi"},
    {"role": "user", "content": [
      {"type": "text", "text": "What is this?"},
      {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR", "detail": "auto"}},
      {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
      {"type": "image_url", "image_url": {"url": "data:application/pdf;base64,JVBER"}}]},
    {"role": "assistant", "content": "", "tool_calls": [
      {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
      {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\":21}"},
    {"role": "tool", "tool_call_id": "call_2", "content": "12:00"},
    {"role": "user", "content": "Thanks"},
    {"role": "assistant", "content": "You are welcome.  \n"}],
  "stop": "END", "temperature": 0.5, "top_p": 0.9,
  "tools": [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "get_time"}}],
  "tool_choice": "required", "parallel_tool_calls": false, "user": "user-123",
  "seed": 7, "logprobs": true, "stream": true, "stream_options": {"include_usage": true}
})json";

// OpenAI chat -> Anthropic (3.1): system extraction, role merging, tool results first,
// images, tool calls, stop, tools, tool_choice with parallel_tool_calls, user, dropped params.
TEST_CASE("OpenAI chat to Anthropic request") {
  const UpstreamRequestBody up =
      Build(ClientApi::kChatCompletions, kRichChat, WireFormat::kAnthropic);
  CHECK(up.path == "/messages");
  CHECK(up.stream);
  const Json j(up.body);
  CHECK(j.str("/model") == "gpt-4o");
  CHECK(j.num("/max_tokens") == 4096);
  REQUIRE(j.size("/system") == 3);
  CHECK(j.str("/system/0/text") == "You are terse.");
  CHECK(j.str("/system/1/text") == "Rule 1");
  CHECK(j.str("/system/2/cache_control/type") == "ephemeral");

  REQUIRE(j.size("/messages") == 4);
  CHECK(j.str("/messages/0/role") == "user");
  REQUIRE(j.size("/messages/0/content") == 5);
  CHECK(j.str("/messages/0/content/0/text") == "Hi");
  CHECK(j.str("/messages/0/content/1/text") == "What is this?");
  CHECK(j.str("/messages/0/content/2/type") == "image");
  CHECK(j.str("/messages/0/content/2/source/type") == "base64");
  CHECK(j.str("/messages/0/content/2/source/media_type") == "image/png");
  CHECK(j.str("/messages/0/content/2/source/data") == "iVBOR");
  CHECK(j.str("/messages/0/content/3/source/type") == "url");
  CHECK(j.str("/messages/0/content/3/source/url") == "https://example.com/a.jpg");
  CHECK(j.str("/messages/0/content/4/type") == "document");

  CHECK(j.str("/messages/1/role") == "assistant");
  REQUIRE(j.size("/messages/1/content") == 2);  // the empty text is dropped
  CHECK(j.str("/messages/1/content/0/type") == "tool_use");
  CHECK(j.str("/messages/1/content/0/id") == "call_1");
  CHECK(j.str("/messages/1/content/0/name") == "get_weather");
  CHECK(j.str("/messages/1/content/0/input/city") == "Paris");
  CHECK(j.minified("/messages/1/content/1/input") == "{}");

  CHECK(j.str("/messages/2/role") == "user");
  REQUIRE(j.size("/messages/2/content") == 3);
  CHECK(j.str("/messages/2/content/0/type") == "tool_result");
  CHECK(j.str("/messages/2/content/0/tool_use_id") == "call_1");
  CHECK(j.str("/messages/2/content/0/content") == "{\"temp\":21}");
  CHECK(j.str("/messages/2/content/1/tool_use_id") == "call_2");
  CHECK(j.str("/messages/2/content/2/text") == "Thanks");

  CHECK(j.str("/messages/3/role") == "assistant");
  CHECK(j.str("/messages/3/content/0/text") == "You are welcome.");  // prefill right-trimmed

  CHECK(j.minified("/stop_sequences") == R"(["END"])");
  CHECK(j.dbl("/temperature") == 0.5);
  CHECK(j.dbl("/top_p") == 0.9);
  CHECK(j.boolean("/stream"));
  CHECK(j.str("/tools/0/name") == "get_weather");
  CHECK(j.str("/tools/0/description") == "Weather");
  CHECK(j.str("/tools/0/input_schema/properties/city/type") == "string");
  CHECK(j.minified("/tools/1/input_schema") == R"({"type":"object","properties":{}})");
  CHECK(j.str("/tool_choice/type") == "any");
  CHECK(j.boolean("/tool_choice/disable_parallel_tool_use"));
  CHECK(j.str("/metadata/user_id") == "user-123");
  CHECK_FALSE(j.has("/stream_options"));
  CHECK_FALSE(j.has("/seed"));
  CHECK(Dropped(up, "seed"));
  CHECK(Dropped(up, "logprobs"));
}

// max_completion_tokens maps to max_tokens; tool_choice forms map; stop arrays lose
// whitespace-only entries; an email as `user` is not sent.
TEST_CASE("OpenAI chat to Anthropic parameter mapping") {
  auto anthropic = [](std::string_view extra) {
    const std::string body =
        std::string(R"({"model":"m","messages":[{"role":"user","content":"x"}],)") +
        std::string(extra) + "}";
    return Build(ClientApi::kChatCompletions, body, WireFormat::kAnthropic);
  };
  const UpstreamRequestBody a = anthropic(
      R"("max_completion_tokens":77,"stop":["a"," ","b"],"user":"me@example.com",
         "tools":[{"type":"function","function":{"name":"f"}}],
         "tool_choice":{"type":"function","function":{"name":"f"}})");
  const Json ja(a.body);
  CHECK(ja.num("/max_tokens") == 77);
  CHECK(ja.minified("/stop_sequences") == R"(["a","b"])");
  CHECK_FALSE(ja.has("/metadata"));
  CHECK(Dropped(a, "user"));
  CHECK(ja.minified("/tool_choice") == R"({"type":"tool","name":"f"})");

  const Json jb(
      anthropic(
          R"("tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none","parallel_tool_calls":false)")
          .body);
  CHECK(jb.minified("/tool_choice") == R"({"type":"none"})");
  const Json jc(
      anthropic(
          R"("tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false)")
          .body);
  CHECK(jc.minified("/tool_choice") == R"({"type":"auto","disable_parallel_tool_use":true})");
  const Json jd(anthropic(R"("tool_choice":"auto","stop":"  ")").body);  // no tools: no choice
  CHECK_FALSE(jd.has("/tool_choice"));
  CHECK_FALSE(jd.has("/stop_sequences"));
  TranslateOptions options;
  options.default_max_tokens = 1000;
  options.model_override = "claude-haiku";
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"x"}]})";
  const Json je(Build(ClientApi::kChatCompletions, body, WireFormat::kAnthropic, options).body);
  CHECK(je.num("/max_tokens") == 1000);
  CHECK(je.str("/model") == "claude-haiku");
}

// Requests Anthropic cannot express are rejected with a message naming the part.
TEST_CASE("OpenAI chat to Anthropic rejections") {
  CHECK(BuildError(ClientApi::kChatCompletions,
                   R"({"model":"m","n":2,"messages":[{"role":"user","content":"x"}]})",
                   WireFormat::kAnthropic)
            .message() == "n > 1 is not supported by Anthropic backends");
  CHECK_THAT(
      std::string(
          BuildError(
              ClientApi::kChatCompletions,
              R"({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})",
              WireFormat::kAnthropic)
              .message()),
      Catch::Contains("messages[0].content[0]: input_audio parts cannot be sent"));
  CHECK_THAT(
      std::string(
          BuildError(
              ClientApi::kChatCompletions,
              R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{oops"}}]}]})",
              WireFormat::kAnthropic)
              .message()),
      Catch::Contains("messages[0].tool_calls[0].function.arguments is not a JSON object"));
  CHECK_THAT(
      std::string(
          BuildError(
              ClientApi::kChatCompletions,
              R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}]})",
              WireFormat::kAnthropic)
              .message()),
      Catch::Contains("image/bmp is not supported"));
  CHECK_THAT(
      std::string(
          BuildError(
              ClientApi::kChatCompletions,
              R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","custom":{"name":"g"}}]})",
              WireFormat::kAnthropic)
              .message()),
      Catch::Contains("tools[0]: only function tools"));
  CHECK_THAT(
      std::string(
          BuildError(ClientApi::kChatCompletions,
                     R"({"model":"m","messages":[{"role":"system","content":"only system"}]})",
                     WireFormat::kAnthropic)
              .message()),
      Catch::Contains("no user or assistant content"));
}

// Invalid JSON handed straight to BuildUpstreamBody is a clear InvalidArgument, on both the
// cross-format and the splicing paths.
TEST_CASE("BuildUpstreamBody rejects invalid JSON") {
  RequestFacts facts;
  facts.model = "m";
  absl::StatusOr<UpstreamRequestBody> cross = BuildUpstreamBody(
      ClientApi::kChatCompletions, R"({"model":"m",)", facts, WireFormat::kAnthropic, {});
  REQUIRE_FALSE(cross.ok());
  CHECK(cross.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(cross.status().message()),
             Catch::Contains("request body is not valid JSON"));
  absl::StatusOr<UpstreamRequestBody> same = BuildUpstreamBody(
      ClientApi::kChatCompletions, R"({"model":"m",)", facts, WireFormat::kOpenAI, {});
  REQUIRE_FALSE(same.ok());
  CHECK(same.status().code() == absl::StatusCode::kInvalidArgument);
}

// A body larger than the parsers keep between calls translates, and the next one still does.
TEST_CASE("Large bodies translate") {
  const std::string text(3 << 20, 'x');
  const std::string big =
      R"({"model":"m","messages":[{"role":"user","content":")" + text + R"("}]})";
  const RequestFacts facts = Facts(ClientApi::kChatCompletions, big);
  CHECK(facts.estimated_prompt_tokens == (3 << 20) / 4);
  const UpstreamRequestBody up = Build(ClientApi::kChatCompletions, big, WireFormat::kAnthropic);
  CHECK(up.body.size() > text.size());
  const Json small(Build(ClientApi::kChatCompletions,
                         R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
                         WireFormat::kAnthropic)
                       .body);
  CHECK(small.str("/messages/0/content/0/text") == "hi");
}

// OpenAI chat -> Cohere v2 (4.2): roles kept (developer -> system), images, tool calls, tools,
// tool_choice upper-cased, top_p -> p, stop -> stop_sequences, response_format.
TEST_CASE("OpenAI chat to Cohere request") {
  const UpstreamRequestBody up = Build(ClientApi::kChatCompletions, R"json({
    "model": "command-a", "max_tokens": 512, "temperature": 0.3, "top_p": 0.9, "seed": 1,
    "stop": "\n\n", "user": "u", "stream": true,
    "messages": [
      {"role": "developer", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Weather?"},
                                   {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
      {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_a", "content": "21C"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}, "strict": true}}],
    "tool_choice": "required",
    "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}}
  })json",
                                       WireFormat::kCohere);
  CHECK(up.path == "/chat");
  const Json j(up.body);
  CHECK(j.str("/model") == "command-a");
  CHECK(j.boolean("/stream"));
  CHECK(j.num("/max_tokens") == 512);
  CHECK(j.dbl("/p") == 0.9);
  CHECK_FALSE(j.has("/top_p"));
  CHECK(j.num("/seed") == 1);
  CHECK(j.minified("/stop_sequences") == R"(["\n\n"])");
  CHECK(j.str("/messages/0/role") == "system");
  CHECK(j.str("/messages/0/content") == "Be brief.");
  CHECK(j.str("/messages/1/content/1/type") == "image_url");
  CHECK(j.str("/messages/1/content/1/image_url/url") == "data:image/png;base64,AA");
  CHECK_FALSE(j.has("/messages/2/content"));
  CHECK(j.str("/messages/2/tool_calls/0/function/arguments") == "{\"city\":\"Paris\"}");
  CHECK(j.str("/messages/3/role") == "tool");
  CHECK(j.str("/messages/3/tool_call_id") == "call_a");
  CHECK(j.str("/tools/0/function/name") == "get_weather");
  CHECK_FALSE(j.has("/tools/0/function/strict"));
  CHECK(j.str("/tool_choice") == "REQUIRED");
  CHECK(j.str("/response_format/type") == "json_object");
  CHECK(j.str("/response_format/json_schema/type") == "object");
  CHECK(Dropped(up, "user"));
  CHECK_FALSE(j.has("/stream_options"));

  auto choice = [](std::string_view c) {
    const std::string body =
        std::string(
            R"({"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":)") +
        std::string(c) + "}";
    return Json(Build(ClientApi::kChatCompletions, body, WireFormat::kCohere).body);
  };
  CHECK(choice(R"("none")").str("/tool_choice") == "NONE");
  CHECK_FALSE(choice(R"("auto")").has("/tool_choice"));
  CHECK(choice(R"({"type":"function","function":{"name":"f"}})").str("/tool_choice") == "REQUIRED");
  CHECK(BuildError(ClientApi::kChatCompletions,
                   R"({"model":"m","n":3,"messages":[{"role":"user","content":"x"}]})",
                   WireFormat::kCohere)
            .message() == "n > 1 is not supported by Cohere backends");
}

constexpr std::string_view kRichMessages = R"json({
  "model": "claude-x", "max_tokens": 512,
  "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "No lies."}],
  "messages": [
    {"role": "user", "content": "Weather?"},
    {"role": "assistant", "content": [
      {"type": "thinking", "thinking": "hmm", "signature": "s"},
      {"type": "text", "text": "Checking."},
      {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
    {"role": "user", "content": [
      {"type": "text", "text": "And tomorrow?"},
      {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "21C"}]},
      {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}]}],
  "stop_sequences": ["\n\nHuman:"], "temperature": 0.2, "top_k": 5, "stream": true,
  "tools": [{"name": "get_weather", "description": "d", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"}],
  "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
  "metadata": {"user_id": "u1"}, "thinking": {"type": "enabled", "budget_tokens": 100}
})json";

// Anthropic -> OpenAI (3.4): system message first, tool results as tool messages before the
// rest of the turn, images as data URLs, tool_use as tool_calls, stream usage requested.
TEST_CASE("Anthropic messages to OpenAI request") {
  const UpstreamRequestBody up = Build(ClientApi::kMessages, kRichMessages, WireFormat::kOpenAI);
  CHECK(up.path == "/chat/completions");
  const Json j(up.body);
  CHECK(j.str("/model") == "claude-x");
  REQUIRE(j.size("/messages") == 5);
  CHECK(j.str("/messages/0/role") == "system");
  CHECK(j.str("/messages/0/content") == "Be brief.\nNo lies.");
  CHECK(j.str("/messages/1/content") == "Weather?");
  CHECK(j.str("/messages/2/role") == "assistant");
  CHECK(j.str("/messages/2/content") == "Checking.");
  CHECK(j.str("/messages/2/tool_calls/0/id") == "toolu_1");
  CHECK(j.str("/messages/2/tool_calls/0/type") == "function");
  CHECK(j.str("/messages/2/tool_calls/0/function/name") == "get_weather");
  CHECK(j.str("/messages/2/tool_calls/0/function/arguments") == R"({"city":"Paris"})");
  CHECK(j.str("/messages/3/role") == "tool");
  CHECK(j.str("/messages/3/tool_call_id") == "toolu_1");
  CHECK(j.str("/messages/3/content") == "21C");
  CHECK(j.str("/messages/4/role") == "user");
  CHECK(j.str("/messages/4/content/0/text") == "And tomorrow?");
  CHECK(j.str("/messages/4/content/1/image_url/url") == "data:image/png;base64,AAA");
  CHECK(j.num("/max_tokens") == 512);
  CHECK(j.minified("/stop") == R"(["\n\nHuman:"])");
  CHECK(j.dbl("/temperature") == 0.2);
  CHECK(j.boolean("/stream"));
  CHECK(j.boolean("/stream_options/include_usage"));
  CHECK(up.injected_usage);
  REQUIRE(j.size("/tools") == 1);
  CHECK(j.str("/tools/0/function/name") == "get_weather");
  CHECK(j.str("/tools/0/function/parameters/type") == "object");
  CHECK(j.str("/tool_choice") == "required");
  CHECK_FALSE(j.boolean("/parallel_tool_calls"));
  CHECK(j.str("/user") == "u1");
  CHECK(Dropped(up, "top_k"));
  CHECK(Dropped(up, "thinking"));
  CHECK(Dropped(up, "tools (server tools)"));
}

// Anthropic tool_choice forms map to OpenAI's; a plain text user turn stays a string.
TEST_CASE("Anthropic to OpenAI tool_choice mapping") {
  auto choice = [](std::string_view c) {
    const std::string body =
        std::string(
            R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":)") +
        std::string(c) + "}";
    return Json(Build(ClientApi::kMessages, body, WireFormat::kOpenAI).body);
  };
  CHECK(choice(R"({"type":"auto"})").str("/tool_choice") == "auto");
  CHECK(choice(R"({"type":"none"})").str("/tool_choice") == "none");
  const Json named = choice(R"({"type":"tool","name":"f"})");
  CHECK(named.minified("/tool_choice") == R"({"type":"function","function":{"name":"f"}})");
  CHECK(named.str("/messages/0/content") == "a\nb");
  CHECK_FALSE(named.has("/stream_options"));
}

// Anthropic -> Cohere goes through the OpenAI form: Cohere names (top_k as k), no
// stream_options.
TEST_CASE("Anthropic messages to Cohere request") {
  const UpstreamRequestBody up = Build(ClientApi::kMessages, kRichMessages, WireFormat::kCohere);
  CHECK(up.path == "/chat");
  const Json j(up.body);
  CHECK(j.str("/messages/0/role") == "system");
  CHECK(j.str("/messages/2/tool_calls/0/function/arguments") == R"({"city":"Paris"})");
  CHECK(j.str("/messages/3/role") == "tool");
  CHECK(j.str("/tool_choice") == "REQUIRED");
  CHECK(j.minified("/stop_sequences") == R"(["\n\nHuman:"])");
  CHECK(j.boolean("/stream"));
  CHECK_FALSE(j.has("/stream_options"));
  CHECK(j.num("/k") == 5);  // Cohere takes top_k, which the OpenAI form alone would drop
  CHECK_FALSE(Dropped(up, "top_k"));
  CHECK(Dropped(up, "thinking"));
  // Lost on the second hop, named as the client sent them.
  CHECK(Dropped(up, "metadata"));
  CHECK(Dropped(up, "tool_choice"));
  CHECK_FALSE(Dropped(up, "user"));
}

std::string ChatWith(std::string_view extra) {
  return std::string(R"({"model":"m","messages":[{"role":"user","content":"x"}],)") +
         std::string(extra) + "}";
}

constexpr std::string_view kSchemaFormat =
    R"("response_format":{"type":"json_schema","json_schema":{"name":"weather","description":"A forecast","strict":true,"schema":{"type":"object","properties":{"temp":{"type":"number"}},"required":["temp"]}}})";

// response_format json_schema to Anthropic: a tool named after the schema with the schema as
// input_schema, forced by tool_choice; the body says which tool carries the answer.
TEST_CASE("OpenAI response_format json_schema becomes a forced Anthropic tool") {
  const UpstreamRequestBody up =
      Build(ClientApi::kChatCompletions, ChatWith(kSchemaFormat), WireFormat::kAnthropic);
  CHECK(up.json_tool_name == "weather");
  CHECK(up.dropped_params.empty());
  const Json j(up.body);
  REQUIRE(j.size("/tools") == 1);
  CHECK(j.str("/tools/0/name") == "weather");
  CHECK(j.str("/tools/0/description") == "A forecast");
  CHECK(j.minified("/tools/0/input_schema") ==
        R"({"type":"object","properties":{"temp":{"type":"number"}},"required":["temp"]})");
  CHECK(j.minified("/tool_choice") == R"({"type":"tool","name":"weather"})");
  CHECK_FALSE(j.has("/response_format"));
}

// json_object: a forced tool with a permissive object schema under the fixed name; a schema
// name that is not a valid tool name falls back to the fixed name; text is the default.
TEST_CASE("OpenAI response_format json_object and text to Anthropic") {
  const UpstreamRequestBody object =
      Build(ClientApi::kChatCompletions, ChatWith(R"("response_format":{"type":"json_object"})"),
            WireFormat::kAnthropic);
  CHECK(object.json_tool_name == "json_tool_call");
  const Json jo(object.body);
  CHECK(jo.str("/tools/0/name") == "json_tool_call");
  CHECK_FALSE(jo.str("/tools/0/description").empty());
  CHECK(jo.minified("/tools/0/input_schema") == R"({"type":"object"})");
  CHECK(jo.minified("/tool_choice") == R"({"type":"tool","name":"json_tool_call"})");

  const UpstreamRequestBody bad_name = Build(
      ClientApi::kChatCompletions,
      ChatWith(
          R"("response_format":{"type":"json_schema","json_schema":{"name":"a b","schema":{"type":"object"}}})"),
      WireFormat::kAnthropic);
  CHECK(bad_name.json_tool_name == "json_tool_call");
  CHECK(Json(bad_name.body).str("/tools/0/description") ==
        "Reply by calling this tool: its input is the complete answer, as JSON.");

  const UpstreamRequestBody text =
      Build(ClientApi::kChatCompletions, ChatWith(R"("response_format":{"type":"text"})"),
            WireFormat::kAnthropic);
  CHECK(text.json_tool_name.empty());
  CHECK(text.dropped_params.empty());
  CHECK_FALSE(Json(text.body).has("/tools"));

  const UpstreamRequestBody unknown =
      Build(ClientApi::kChatCompletions, ChatWith(R"("response_format":{"type":"yaml"})"),
            WireFormat::kAnthropic);
  CHECK(unknown.json_tool_name.empty());
  CHECK(Dropped(unknown, "response_format"));
}

// With client tools, the answer tool is added after them: tool_choice auto (or absent) becomes
// any (auto with extended thinking), none forces the answer tool, required or a named function
// leaves the format out (the answer is a tool call), and parallel_tool_calls=false applies.
TEST_CASE("OpenAI response_format next to client tools to Anthropic") {
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"get_weather"}}])";
  auto build = [&](std::string_view choice) {
    return Build(ClientApi::kChatCompletions,
                 ChatWith(tools + "," + std::string(kSchemaFormat) + std::string(choice)),
                 WireFormat::kAnthropic);
  };
  const UpstreamRequestBody automatic = build("");
  CHECK(automatic.json_tool_name == "weather");
  const Json ja(automatic.body);
  REQUIRE(ja.size("/tools") == 2);
  CHECK(ja.str("/tools/0/name") == "get_weather");
  CHECK(ja.str("/tools/1/name") == "weather");
  CHECK(ja.minified("/tool_choice") == R"({"type":"any"})");

  const Json jp(build(R"(,"tool_choice":"auto","parallel_tool_calls":false)").body);
  CHECK(jp.minified("/tool_choice") == R"({"type":"any","disable_parallel_tool_use":true})");

  // Anthropic refuses a forced tool with extended thinking: the answer tool is left to auto.
  const UpstreamRequestBody thinking =
      build(R"(,"thinking":{"type":"enabled","budget_tokens":1024})");
  CHECK(thinking.json_tool_name == "weather");
  CHECK(Json(thinking.body).minified("/tool_choice") == R"({"type":"auto"})");

  const UpstreamRequestBody none = build(R"(,"tool_choice":"none")");
  CHECK(none.json_tool_name == "weather");
  CHECK(Json(none.body).minified("/tool_choice") == R"({"type":"tool","name":"weather"})");

  for (std::string_view choice :
       {R"(,"tool_choice":"required")",
        R"(,"tool_choice":{"type":"function","function":{"name":"get_weather"}})"}) {
    const UpstreamRequestBody up = build(choice);
    INFO(choice);
    CHECK(up.json_tool_name.empty());
    CHECK(up.dropped_params.empty());
    CHECK(Json(up.body).size("/tools") == 1);
  }
}

// A client tool with the schema's name moves the answer tool to the fixed name; a client tool
// with the fixed name as well is a clear 400.
TEST_CASE("OpenAI response_format tool name collisions to Anthropic") {
  const UpstreamRequestBody moved = Build(
      ClientApi::kChatCompletions,
      ChatWith(std::string(R"("tools":[{"type":"function","function":{"name":"weather"}}],)") +
               std::string(kSchemaFormat)),
      WireFormat::kAnthropic);
  CHECK(moved.json_tool_name == "json_tool_call");
  CHECK(Json(moved.body).str("/tools/1/name") == "json_tool_call");

  const std::string taken = ChatWith(
      R"("tools":[{"type":"function","function":{"name":"json_tool_call"}}],"response_format":{"type":"json_object"})");
  CHECK(BuildError(ClientApi::kChatCompletions, taken, WireFormat::kAnthropic).message() ==
        "response_format: a client tool is named \"json_tool_call\", the name of the tool that "
        "carries the JSON answer for Anthropic backends");
}

// Parameters without an Anthropic equivalent are listed unless sent with their default;
// safety_identifier is the user id (before `user`); unknown keys are listed as sent.
TEST_CASE("OpenAI chat to Anthropic dropped parameters") {
  const UpstreamRequestBody up =
      Build(ClientApi::kChatCompletions,
            ChatWith(R"("logprobs":false,"presence_penalty":0,"frequency_penalty":0.5,"store":false,
                  "logit_bias":{},"parallel_tool_calls":true,"seed":3,"top_logprobs":2,
                  "reasoning_effort":"low","service_tier":"flex","x-custom":1,
                  "safety_identifier":"sid-1","user":"u-2")"),
            WireFormat::kAnthropic);
  CHECK(up.dropped_params == std::vector<std::string>{"frequency_penalty", "seed", "top_logprobs",
                                                      "reasoning_effort", "service_tier",
                                                      "x-custom", "user"});
  CHECK(Json(up.body).str("/metadata/user_id") == "sid-1");

  const UpstreamRequestBody personal =
      Build(ClientApi::kChatCompletions,
            ChatWith(R"("safety_identifier":"a@b.example","user":"u-2")"), WireFormat::kAnthropic);
  CHECK(personal.dropped_params == std::vector<std::string>{"safety_identifier"});
  CHECK(Json(personal.body).str("/metadata/user_id") == "u-2");
}

// Cohere takes response_format natively (text is the default, an unknown type is dropped);
// defaults are not listed; parallel_tool_calls=false and top_logprobs are.
TEST_CASE("OpenAI chat to Cohere response_format and dropped parameters") {
  const UpstreamRequestBody object =
      Build(ClientApi::kChatCompletions,
            ChatWith(R"("response_format":{"type":"json_object"},"logprobs":false,"store":false)"),
            WireFormat::kCohere);
  CHECK(object.dropped_params.empty());
  CHECK(object.json_tool_name.empty());
  CHECK(Json(object.body).minified("/response_format") == R"({"type":"json_object"})");

  const UpstreamRequestBody text = Build(
      ClientApi::kChatCompletions,
      ChatWith(R"("response_format":{"type":"text"},"parallel_tool_calls":false,"top_logprobs":3)"),
      WireFormat::kCohere);
  CHECK_FALSE(Json(text.body).has("/response_format"));
  CHECK(text.dropped_params == std::vector<std::string>{"parallel_tool_calls", "top_logprobs"});

  const UpstreamRequestBody unknown = Build(
      ClientApi::kChatCompletions, ChatWith(R"("response_format":"json")"), WireFormat::kCohere);
  CHECK(Dropped(unknown, "response_format"));
}

// Anthropic structured output (output_format, output_config.format) becomes response_format
// json_schema; other output_config members are lost and listed; disabled thinking is the
// default and not listed; top_k reaches Cohere as k.
TEST_CASE("Anthropic to OpenAI structured output and defaults") {
  auto messages = [](std::string_view extra) {
    return std::string(
               R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],)") +
           std::string(extra) + "}";
  };
  const UpstreamRequestBody config = Build(
      ClientApi::kMessages,
      messages(
          R"("output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}},"thinking":{"type":"disabled"})"),
      WireFormat::kOpenAI);
  CHECK(config.dropped_params.empty());
  const Json jc(config.body);
  CHECK(jc.str("/response_format/type") == "json_schema");
  CHECK(jc.str("/response_format/json_schema/name") == "response");
  CHECK(jc.minified("/response_format/json_schema/schema") == R"({"type":"object"})");

  const UpstreamRequestBody legacy = Build(
      ClientApi::kMessages,
      messages(
          R"("output_format":{"type":"json_schema","schema":{"type":"object"}},"output_config":{"effort":"low"})"),
      WireFormat::kOpenAI);
  CHECK(Json(legacy.body).str("/response_format/type") == "json_schema");
  CHECK(legacy.dropped_params == std::vector<std::string>{"output_config"});

  const UpstreamRequestBody cohere = Build(
      ClientApi::kMessages,
      messages(R"("top_k":7,"output_format":{"type":"json_schema","schema":{"type":"object"}})"),
      WireFormat::kCohere);
  CHECK(cohere.dropped_params.empty());
  const Json jk(cohere.body);
  CHECK(jk.num("/k") == 7);
  CHECK(jk.str("/response_format/type") == "json_object");
  CHECK(jk.minified("/response_format/json_schema") == R"({"type":"object"})");
}

// Metric labels: known OpenAI and Anthropic parameter names are kept, anything else is
// "other", and the label never points into the caller's string.
TEST_CASE("DroppedParamLabel bounds the label set") {
  CHECK(DroppedParamLabel("seed") == "seed");
  CHECK(DroppedParamLabel("response_format") == "response_format");
  CHECK(DroppedParamLabel("top_k") == "top_k");
  CHECK(DroppedParamLabel("tools (server tools)") == "tools (server tools)");
  CHECK(DroppedParamLabel("x-custom") == "other");
  CHECK(DroppedParamLabel("") == "other");
  CHECK(DroppedParamLabel("Seed") == "other");
  // The label views a static table, never the caller's key: overwriting the key afterwards
  // leaves it intact (the proxy keeps labels longer than the request body).
  std::string key = "logprobs";
  const std::string_view label = DroppedParamLabel(key);
  key.assign(key.size(), 'x');
  CHECK(label == "logprobs");
}

// Every key a translation can list maps to its own label (the known sets stay in sync).
TEST_CASE("Dropped parameters of every direction have their own labels") {
  const UpstreamRequestBody to_anthropic =
      Build(ClientApi::kChatCompletions,
            ChatWith(R"("seed":1,"logprobs":true,"top_logprobs":1,"presence_penalty":1,
                  "frequency_penalty":1,"logit_bias":{"1":1},"reasoning_effort":"low",
                  "metadata":{"a":"b"},"store":true,"service_tier":"flex","modalities":["text"],
                  "audio":{},"prediction":{},"web_search_options":{},"verbosity":"low",
                  "prompt_cache_key":"k","response_format":{"type":"yaml"})"),
            WireFormat::kAnthropic);
  CHECK(to_anthropic.dropped_params.size() == 17);
  for (const std::string& key : to_anthropic.dropped_params) CHECK(DroppedParamLabel(key) == key);
  const UpstreamRequestBody to_openai =
      Build(ClientApi::kMessages, kRichMessages, WireFormat::kOpenAI);
  for (const std::string& key : to_openai.dropped_params) CHECK(DroppedParamLabel(key) == key);
}

// The request log line lists dropped parameters only when there are some: at most 16, each
// cut to 64 bytes at a UTF-8 boundary, JSON-escaped.
TEST_CASE("Request log line carries dropped parameters, bounded") {
  RequestLogEntry entry;
  entry.request_id = "r1";
  entry.method = "POST";
  entry.path = "/v1/chat/completions";
  entry.status = 200;
  CHECK_FALSE(Json(RenderRequestLog(entry)).has("/dropped_params"));
  const std::vector<std::string> none;
  entry.dropped_params = &none;
  CHECK_FALSE(Json(RenderRequestLog(entry)).has("/dropped_params"));

  const std::vector<std::string> two = {"seed", "we\"ird\n"};
  entry.dropped_params = &two;
  const std::string line = RenderRequestLog(entry);
  CHECK(line.back() == '\n');
  CHECK(Json(line).minified("/dropped_params") == R"(["seed","we\"ird\n"])");

  std::vector<std::string> many;
  for (int i = 0; i < 20; ++i) many.push_back(std::string("p").append(std::to_string(i)));
  many[0] = std::string(63, 'a') + "\xc3\xa9" + "tail";  // é straddles byte 64
  many[1] = std::string(100, 'b');
  entry.dropped_params = &many;
  const Json j(RenderRequestLog(entry));
  REQUIRE(j.size("/dropped_params") == kMaxLoggedDroppedParams);
  CHECK(j.str("/dropped_params/0") == std::string(63, 'a'));
  CHECK(j.str("/dropped_params/1") == std::string(64, 'b'));
  CHECK(j.str("/dropped_params/15") == "p15");
}

// count_tokens is its own Anthropic-shaped API path, and its facts never stream or reserve.
TEST_CASE("count_tokens is recognized and inspected as an Anthropic request") {
  CHECK(ClientApiForPath("/v1/messages/count_tokens") == ClientApi::kCountTokens);
  CHECK(ClientApiForPath("/v1/messages/count_tokens/") == ClientApi::kCountTokens);
  CHECK_FALSE(ClientApiForPath("/v1/messages/count").has_value());
  CHECK(ClientWireFormat(ClientApi::kCountTokens) == WireFormat::kAnthropic);
  CHECK(ClientApiName(ClientApi::kCountTokens) == "count_tokens");
  const RequestFacts facts =
      Facts(ClientApi::kCountTokens,
            R"({"model":"claude-x","stream":true,"max_tokens":50,"system":"abcd",)"
            R"("messages":[{"role":"user","content":"abcdefgh"}]})");
  CHECK(facts.model == "claude-x");
  CHECK_FALSE(facts.stream);
  CHECK(facts.max_tokens == -1);
  CHECK(facts.estimated_prompt_tokens == 3);
  CHECK_FALSE(InspectRequest(ClientApi::kCountTokens, R"({"model":"m"})").ok());
}

// count_tokens to Anthropic rewrites only the model (no max_tokens added) and goes to
// /messages/count_tokens; to any other format it is refused, never answered with a made-up count.
TEST_CASE("BuildUpstreamBody sends count_tokens to Anthropic only") {
  constexpr std::string_view kBody =
      R"({"model":"smart","messages":[{"role":"user","content":"hi"}],"tools":[]})";
  TranslateOptions options;
  options.model_override = "claude-served";
  const UpstreamRequestBody up =
      Build(ClientApi::kCountTokens, kBody, WireFormat::kAnthropic, options);
  CHECK(up.path == "/messages/count_tokens");
  CHECK_FALSE(up.stream);
  CHECK(up.body ==
        R"({"model":"claude-served","messages":[{"role":"user","content":"hi"}],"tools":[]})");
  for (WireFormat other : {WireFormat::kOpenAI, WireFormat::kCohere, WireFormat::kKServe}) {
    CHECK(BuildError(ClientApi::kCountTokens, kBody, other).message().find(
              "needs an Anthropic backend") != std::string_view::npos);
  }
}

// KServe metadata GETs have no body to inspect, and pass through untouched.
TEST_CASE("KServe metadata requests have no body facts") {
  CHECK(ClientWireFormat(ClientApi::kKServeMetadata) == WireFormat::kKServe);
  absl::StatusOr<RequestFacts> facts = InspectRequest(ClientApi::kKServeMetadata, "");
  REQUIRE(facts.ok());
  CHECK(facts->model.empty());
  absl::StatusOr<UpstreamRequestBody> up =
      BuildUpstreamBody(ClientApi::kKServeMetadata, "", *facts, WireFormat::kOpenAI, {});
  REQUIRE(up.ok());
  CHECK(up->body.empty());
  CHECK(ErrorJsonFor(ClientApi::kKServeMetadata, 404, "gone") == R"({"error":"gone"})");
}

}  // namespace
}  // namespace inferencegw
