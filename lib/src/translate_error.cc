// Error bodies: the gateway's own, and upstream errors in the client's shape (3.7).
#include <string>
#include <string_view>

#include "fmt/format.h"
#include "inferencegw/sse.h"
#include "inferencegw/status.h"
#include "inferencegw/translate.h"
#include "translate_internal.h"

namespace inferencegw {
namespace {

using internal::dom::element;
using internal::dom::element_type;
using internal::dom::object;

constexpr size_t kMaxMessageBytes = 512;

// What an upstream error body says, whatever its shape.
struct UpstreamError {
  std::string message;
  std::string type;  // the upstream's error type or code; "" when none
  std::string param;
  bool openai_shape = false;     // {"error":{"message":..}}
  bool anthropic_shape = false;  // {"type":"error","error":{"type":..,"message":..}}
};

// `text` cut to at most kMaxMessageBytes without splitting a UTF-8 sequence, trimmed.
std::string_view Excerpt(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  text.remove_prefix(first);
  if (text.size() > kMaxMessageBytes) {
    size_t cut = kMaxMessageBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut);
  }
  return text.substr(0, text.find_last_not_of(" \t\r\n") + 1);
}

UpstreamError ReadUpstreamError(int status, std::string_view body) {
  UpstreamError e;
  element root, error, field;
  object o, inner;
  if (internal::DocumentParser().parse(body.data(), body.size(), true).get(root) ==
          simdjson::SUCCESS &&
      root.get_object().get(o) == simdjson::SUCCESS) {
    if (internal::Lookup(o, "error", &error)) {
      if (error.get_object().get(inner) == simdjson::SUCCESS) {
        e.message = std::string(internal::StringField(inner, "message"));
        e.type = std::string(internal::StringField(inner, "code"));
        if (e.type.empty()) e.type = std::string(internal::StringField(inner, "type"));
        e.param = std::string(internal::StringField(inner, "param"));
        e.openai_shape =
            internal::Lookup(inner, "message", &field) && field.type() == element_type::STRING;
        e.anthropic_shape = e.openai_shape && internal::StringField(o, "type") == "error" &&
                            !internal::StringField(inner, "type").empty();
      } else {
        e.message = std::string(internal::AsString(error));  // KServe, older Ollama
      }
    } else {
      e.message = std::string(internal::StringField(o, "message"));  // Cohere, older vLLM
      if (e.message.empty()) e.message = std::string(internal::StringField(o, "detail"));
      e.type = std::string(internal::StringField(o, "type"));
    }
  } else {
    e.message = std::string(Excerpt(body));
  }
  if (e.message.size() > kMaxMessageBytes) e.message = std::string(Excerpt(e.message));
  if (e.message.empty()) e.message = fmt::format("upstream returned HTTP {}", status);
  return e;
}

}  // namespace

std::string OpenAIErrorJson(std::string_view message, std::string_view type, std::string_view code,
                            std::string_view param) {
  std::string out;
  internal::JsonWriter w(&out);
  w.BeginObject().Key("error").BeginObject().Key("message").String(message);
  w.Key("type").String(type).Key("param");
  if (param.empty()) {
    w.Null();
  } else {
    w.String(param);
  }
  w.Key("code");
  if (code.empty()) {
    w.Null();
  } else {
    w.String(code);
  }
  w.EndObject().EndObject();
  return out;
}

std::string AnthropicErrorJson(std::string_view type, std::string_view message) {
  std::string out;
  internal::JsonWriter w(&out);
  w.BeginObject().Key("type").String("error").Key("error").BeginObject();
  w.Key("type").String(type).Key("message").String(message).EndObject().EndObject();
  return out;
}

std::string_view AnthropicErrorTypeFor(int http_status) {
  switch (http_status) {
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    case 504:
      return "timeout_error";
    default:
      return http_status >= 500 ? "api_error" : "invalid_request_error";
  }
}

std::string ErrorJsonFor(ClientApi api, int http_status, std::string_view message,
                         std::string_view code) {
  switch (ClientWireFormat(api)) {
    case WireFormat::kAnthropic:
      return AnthropicErrorJson(AnthropicErrorTypeFor(http_status), message);
    case WireFormat::kKServe: {
      std::string out;
      internal::JsonWriter(&out).BeginObject().Key("error").String(message).EndObject();
      return out;
    }
    default:
      return OpenAIErrorJson(message, OpenAIErrorTypeFor(http_status), code);
  }
}

void AppendStreamErrorEvent(ClientApi api, std::string_view message, std::string_view code,
                            std::string* out) {
  if (api == ClientApi::kMessages) {
    AppendSseEvent(out, "error", AnthropicErrorJson("api_error", message));
    return;
  }
  if (api == ClientApi::kResponses) {
    std::string data;
    internal::JsonWriter w(&data);
    w.BeginObject().Key("type").String("error").Key("code").String(code);
    w.Key("message").String(message).Key("param").Null().EndObject();
    AppendSseEvent(out, "error", data);
    return;
  }
  AppendSseEvent(out, "", OpenAIErrorJson(message, "server_error", code));
}

std::string TranslateErrorBody(ClientApi api, WireFormat upstream, int status,
                               std::string_view body) {
  const WireFormat client = ClientWireFormat(api);
  if (client == WireFormat::kKServe) return std::string(body);
  internal::TrimParsersOnExit trim;
  const UpstreamError e = ReadUpstreamError(status, body);
  if (client == WireFormat::kAnthropic) {
    if (upstream == WireFormat::kAnthropic && e.anthropic_shape) return std::string(body);
    return AnthropicErrorJson(AnthropicErrorTypeFor(status), e.message);
  }
  if (upstream == WireFormat::kOpenAI && e.openai_shape) return std::string(body);
  return OpenAIErrorJson(e.message, OpenAIErrorTypeFor(status), e.type, e.param);
}

}  // namespace inferencegw
