// Error bodies: the gateway's own (OpenAI, Anthropic and KServe shapes) and upstream errors
// translated to the client's shape (provider-apis.md 3.7).
#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "inferencegw/translate.h"
#include "translate_test_util.h"

namespace inferencegw {
namespace {

using igw_test::Json;

// OpenAI error bodies always carry message, type, param and code (null when empty).
TEST_CASE("OpenAIErrorJson has all four keys") {
  const Json a(OpenAIErrorJson("Bad \"thing\"", "invalid_request_error"));
  CHECK(a.str("/error/message") == "Bad \"thing\"");
  CHECK(a.str("/error/type") == "invalid_request_error");
  CHECK(a.is_null("/error/param"));
  CHECK(a.is_null("/error/code"));
  const Json b(OpenAIErrorJson("m", "rate_limit_error", "rate_limit_exceeded", "model"));
  CHECK(b.str("/error/code") == "rate_limit_exceeded");
  CHECK(b.str("/error/param") == "model");
  CHECK(AnthropicErrorJson("not_found_error", "no") ==
        R"({"type":"error","error":{"type":"not_found_error","message":"no"}})");
}

// The gateway's own errors take the client API's shape and a type from the HTTP status.
TEST_CASE("ErrorJsonFor picks the shape by client API") {
  const Json openai(ErrorJsonFor(ClientApi::kChatCompletions, 429, "slow down", "rate_limited"));
  CHECK(openai.str("/error/type") == "rate_limit_error");
  CHECK(openai.str("/error/code") == "rate_limited");
  const Json anthropic(ErrorJsonFor(ClientApi::kMessages, 503, "no backend"));
  CHECK(anthropic.str("/type") == "error");
  CHECK(anthropic.str("/error/type") == "overloaded_error");
  CHECK(anthropic.str("/error/message") == "no backend");
  CHECK(ErrorJsonFor(ClientApi::kKServeV2, 404, "no model") == R"({"error":"no model"})");
  CHECK(AnthropicErrorTypeFor(400) == "invalid_request_error");
  CHECK(AnthropicErrorTypeFor(401) == "authentication_error");
  CHECK(AnthropicErrorTypeFor(403) == "permission_error");
  CHECK(AnthropicErrorTypeFor(404) == "not_found_error");
  CHECK(AnthropicErrorTypeFor(413) == "request_too_large");
  CHECK(AnthropicErrorTypeFor(422) == "invalid_request_error");
  CHECK(AnthropicErrorTypeFor(500) == "api_error");
  CHECK(AnthropicErrorTypeFor(504) == "timeout_error");
  CHECK(AnthropicErrorTypeFor(529) == "overloaded_error");
}

// An Anthropic error reaches OpenAI clients in OpenAI's shape, its type kept as the code.
TEST_CASE("Anthropic upstream error to an OpenAI client") {
  const Json j(TranslateErrorBody(
      ClientApi::kChatCompletions, WireFormat::kAnthropic, 529,
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"})"));
  CHECK(j.str("/error/message") == "Overloaded");
  CHECK(j.str("/error/type") == "server_error");
  CHECK(j.str("/error/code") == "overloaded_error");
  CHECK(j.is_null("/error/param"));
}

// An OpenAI error reaches Anthropic clients in Anthropic's shape, typed by status.
TEST_CASE("OpenAI upstream error to an Anthropic client") {
  const Json j(TranslateErrorBody(
      ClientApi::kMessages, WireFormat::kOpenAI, 429,
      R"({"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}})"));
  CHECK(j.str("/type") == "error");
  CHECK(j.str("/error/type") == "rate_limit_error");
  CHECK(j.str("/error/message") == "Rate limit reached");
  CHECK(Json(TranslateErrorBody(ClientApi::kMessages, WireFormat::kOpenAI, 503,
                                R"({"error":{"message":"busy","type":"server_error"}})"))
            .str("/error/type") == "overloaded_error");
  CHECK(Json(TranslateErrorBody(ClientApi::kMessages, WireFormat::kOpenAI, 500,
                                R"({"error":{"message":"boom","type":"server_error"}})"))
            .str("/error/type") == "api_error");
}

// A body already in the client's shape is returned byte for byte.
TEST_CASE("Same-shape upstream errors pass through") {
  const std::string openai =
      R"({"error":{"message":"Invalid key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})";
  CHECK(TranslateErrorBody(ClientApi::kChatCompletions, WireFormat::kOpenAI, 401, openai) ==
        openai);
  const std::string anthropic =
      R"({"type":"error","error":{"type":"not_found_error","message":"model: x"}})";
  CHECK(TranslateErrorBody(ClientApi::kMessages, WireFormat::kAnthropic, 404, anthropic) ==
        anthropic);
  CHECK(TranslateErrorBody(ClientApi::kKServeV1, WireFormat::kOpenAI, 400, "raw") == "raw");
}

// Cohere, vLLM-style top-level and KServe string errors, non-JSON and empty bodies all become
// well-formed errors; long bodies are cut to at most 512 bytes on a UTF-8 boundary.
TEST_CASE("Upstream errors of other shapes are normalized") {
  const Json cohere(TranslateErrorBody(ClientApi::kChatCompletions, WireFormat::kCohere, 401,
                                       R"({"message":"invalid api token"})"));
  CHECK(cohere.str("/error/message") == "invalid api token");
  CHECK(cohere.str("/error/type") == "invalid_request_error");
  const Json vllm(TranslateErrorBody(
      ClientApi::kChatCompletions, WireFormat::kOpenAI, 404,
      R"({"object":"error","message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404})"));
  CHECK(vllm.str("/error/message") == "The model `x` does not exist.");
  CHECK(vllm.str("/error/type") == "invalid_request_error");
  CHECK(vllm.str("/error/code") == "NotFoundError");
  const Json kserve(TranslateErrorBody(ClientApi::kMessages, WireFormat::kOpenAI, 400,
                                       R"({"error":"bad input"})"));
  CHECK(kserve.str("/error/message") == "bad input");
  const Json html(TranslateErrorBody(ClientApi::kChatCompletions, WireFormat::kOpenAI, 502,
                                     "  <html>Bad gateway</html>\n"));
  CHECK(html.str("/error/message") == "<html>Bad gateway</html>");
  CHECK(html.str("/error/type") == "server_error");
  const Json empty(TranslateErrorBody(ClientApi::kMessages, WireFormat::kAnthropic, 503, ""));
  CHECK(empty.str("/error/message") == "upstream returned HTTP 503");
  CHECK(empty.str("/error/type") == "overloaded_error");

  std::string long_body(510, 'a');
  long_body += "\xC3\xA9\xC3\xA9\xC3\xA9";  // multi-byte characters across the 512-byte cut
  const Json cut(
      TranslateErrorBody(ClientApi::kChatCompletions, WireFormat::kOpenAI, 500, long_body));
  const std::string message = cut.str("/error/message");
  CHECK(message.size() <= 512);
  CHECK(message == std::string(510, 'a') + "\xC3\xA9");
}

}  // namespace
}  // namespace inferencegw
