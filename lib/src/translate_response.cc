// TranslateResponseBody: whole (non-streamed) responses. Each upstream body is decoded into a
// Completion (text, reasoning, tool calls, finish reason) and encoded in the client's format
// (provider-apis.md 3.2, 3.5, 4.3).
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fmt/format.h"
#include "inferencegw/translate.h"
#include "translate_internal.h"
#include "translate_responses_internal.h"

namespace inferencegw {
namespace {

using internal::AsString;
using internal::FinishReason;
using internal::JsonWriter;
using internal::Lookup;
using internal::StringField;
using internal::dom::array;
using internal::dom::element;
using internal::dom::element_type;
using internal::dom::object;

using ToolCall = internal::CompletionToolCall;
using internal::Completion;

bool GetObject(object parent, std::string_view key, object* out) {
  element e;
  return Lookup(parent, key, &e) && e.get_object().get(*out) == simdjson::SUCCESS;
}

bool GetArray(object parent, std::string_view key, array* out) {
  element e;
  return Lookup(parent, key, &e) && e.get_array().get(*out) == simdjson::SUCCESS;
}

// OpenAI-shaped tool calls ({id, function:{name, arguments}}), as in OpenAI and Cohere.
void DecodeToolCalls(array calls, Completion* c) {
  for (element call : calls) {
    object o, function;
    if (call.get_object().get(o) != simdjson::SUCCESS || !GetObject(o, "function", &function)) {
      continue;
    }
    c->tool_calls.push_back({StringField(o, "id"), StringField(function, "name"),
                             std::string(StringField(function, "arguments"))});
  }
}

void DecodeOpenAI(object body, Completion* c) {
  c->id = StringField(body, "id");
  c->model = StringField(body, "model");
  array choices;
  object choice, message;
  if (!GetArray(body, "choices", &choices) || choices.size() == 0 ||
      choices.at(0).get_object().get(choice) != simdjson::SUCCESS) {
    return;
  }
  c->finish = internal::FinishFromOpenAI(StringField(choice, "finish_reason"));
  if (!GetObject(choice, "message", &message)) return;
  c->text = std::string(StringField(message, "content"));
  if (c->text.empty()) c->text = std::string(StringField(message, "refusal"));
  c->reasoning = std::string(StringField(message, "reasoning_content"));
  if (c->reasoning.empty()) c->reasoning = std::string(StringField(message, "reasoning"));
  array calls;
  if (GetArray(message, "tool_calls", &calls)) DecodeToolCalls(calls, c);
}

// A tool_use block named `json_tool_name` (non-empty) is the answer to an emulated
// response_format: its input is appended to the text, and the reply is not a tool call.
void DecodeAnthropic(object body, std::string_view json_tool_name, Completion* c) {
  c->id = StringField(body, "id");
  c->model = StringField(body, "model");
  c->finish = internal::FinishFromAnthropic(StringField(body, "stop_reason"));
  array content;
  if (!GetArray(body, "content", &content)) return;
  bool answered = false;
  for (element block : content) {
    object b;
    if (block.get_object().get(b) != simdjson::SUCCESS) continue;
    const std::string_view type = StringField(b, "type");
    if (type == "text") {
      c->text.append(StringField(b, "text"));
    } else if (type == "thinking") {
      c->reasoning.append(StringField(b, "thinking"));
    } else if (type == "tool_use" && !json_tool_name.empty() &&
               StringField(b, "name") == json_tool_name) {
      element input;
      JsonWriter w(&c->text);
      if (Lookup(b, "input", &input) && !internal::IsNull(input)) {
        internal::WriteElement(w, input);
      } else {
        c->text.append("{}");
      }
      answered = true;
    } else if (type == "tool_use") {
      ToolCall call{StringField(b, "id"), StringField(b, "name"), {}};
      element input;
      JsonWriter w(&call.arguments);
      if (Lookup(b, "input", &input) && !internal::IsNull(input)) {
        internal::WriteElement(w, input);
      } else {
        call.arguments = "{}";
      }
      c->tool_calls.push_back(std::move(call));
    }
  }
  if (answered && c->tool_calls.empty() && c->finish == FinishReason::kToolCalls) {
    c->finish = FinishReason::kStop;
  }
}

void DecodeCohere(object body, Completion* c) {
  c->id = StringField(body, "id");
  c->finish = internal::FinishFromCohere(StringField(body, "finish_reason"));
  object message;
  if (!GetObject(body, "message", &message)) return;
  array content;
  if (GetArray(message, "content", &content)) {
    for (element block : content) {
      object b;
      if (block.get_object().get(b) != simdjson::SUCCESS) continue;
      const std::string_view type = StringField(b, "type");
      if (type == "text") c->text.append(StringField(b, "text"));
      if (type == "thinking") c->reasoning.append(StringField(b, "thinking"));
    }
  }
  c->reasoning.append(StringField(message, "tool_plan"));
  array calls;
  if (GetArray(message, "tool_calls", &calls)) DecodeToolCalls(calls, c);
}

std::string EncodeOpenAI(const Completion& c, std::string_view model, int64_t created,
                         const Usage& usage) {
  std::string out;
  out.reserve(256 + c.text.size() + c.reasoning.size());
  JsonWriter w(&out);
  w.BeginObject().Key("id").String(c.id).Key("object").String("chat.completion");
  w.Key("created").Int(created).Key("model").String(model);
  w.Key("choices").BeginArray().BeginObject().Key("index").Int(0);
  w.Key("message").BeginObject().Key("role").String("assistant").Key("content");
  if (c.text.empty() && !c.tool_calls.empty()) {
    w.Null();
  } else {
    w.String(c.text);
  }
  w.Key("refusal").Null();
  if (!c.reasoning.empty()) w.Key("reasoning_content").String(c.reasoning);
  if (!c.tool_calls.empty()) {
    w.Key("tool_calls").BeginArray();
    for (const ToolCall& call : c.tool_calls) {
      w.BeginObject().Key("id").String(call.id).Key("type").String("function");
      w.Key("function").BeginObject().Key("name").String(call.name);
      w.Key("arguments").String(call.arguments.empty() ? "{}" : call.arguments);
      w.EndObject().EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  w.Key("logprobs").Null().Key("finish_reason").String(internal::OpenAIFinishName(c.finish));
  w.EndObject().EndArray();
  if (usage.present) internal::WriteOpenAIUsage(w.Key("usage"), usage);
  w.EndObject();
  return out;
}

std::string EncodeAnthropic(const Completion& c, std::string_view model, const Usage& usage) {
  std::string out;
  out.reserve(256 + c.text.size() + c.reasoning.size());
  JsonWriter w(&out);
  w.BeginObject().Key("id").String(c.id).Key("type").String("message");
  w.Key("role").String("assistant").Key("model").String(model);
  w.Key("content").BeginArray();
  if (!c.reasoning.empty()) {
    w.BeginObject().Key("type").String("thinking").Key("thinking").String(c.reasoning);
    w.Key("signature").String("").EndObject();
  }
  if (!c.text.empty()) {
    w.BeginObject().Key("type").String("text").Key("text").String(c.text).EndObject();
  }
  for (const ToolCall& call : c.tool_calls) {
    w.BeginObject().Key("type").String("tool_use").Key("id").String(call.id);
    w.Key("name").String(call.name).Key("input");
    if (!internal::WriteObjectText(w, call.arguments)) w.BeginObject().EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.Key("stop_reason").String(internal::AnthropicStopName(c.finish));
  w.Key("stop_sequence").Null();
  internal::WriteAnthropicUsage(w.Key("usage"), usage);
  w.EndObject();
  return out;
}

}  // namespace

absl::StatusOr<std::string> TranslateResponseBody(ClientApi api, WireFormat upstream,
                                                  std::string_view upstream_body,
                                                  std::string_view client_model,
                                                  int64_t created_unix_seconds, Usage* usage,
                                                  std::string_view json_tool_name,
                                                  bool upstream_responses) {
  internal::TrimParsersOnExit trim;
  Usage parsed;
  if (upstream != WireFormat::kKServe && ClientWireFormat(api) != WireFormat::kKServe) {
    // A 2xx answer that is not JSON is the backend's failure, never something to pass on
    // priced at nothing: the caller counts it as a protocol error (and can fall back).
    absl::StatusOr<Usage> u = ParseUsage(upstream, upstream_body);
    if (!u.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("upstream response: ", u.status().message()));
    }
    parsed = *u;
  }
  if (usage != nullptr) *usage = parsed;
  const WireFormat client = ClientWireFormat(api);
  const bool responses = api == ClientApi::kResponses;
  if (responses && upstream_responses) return std::string(upstream_body);
  if ((client == upstream && !responses) || client == WireFormat::kKServe) {
    return std::string(upstream_body);
  }
  if (api != ClientApi::kChatCompletions && api != ClientApi::kMessages && !responses) {
    return absl::InvalidArgumentError(fmt::format(
        "cannot translate a {} response for {}",
        upstream == WireFormat::kAnthropic ? "anthropic" : "non-OpenAI", ClientApiName(api)));
  }
  absl::StatusOr<object> body =
      internal::ParseObject(internal::DocumentParser(), upstream_body, "upstream response");
  if (!body.ok()) return body.status();
  Completion c;
  switch (upstream) {
    case WireFormat::kOpenAI:
      DecodeOpenAI(*body, &c);
      break;
    case WireFormat::kAnthropic:
      DecodeAnthropic(*body, json_tool_name, &c);
      break;
    case WireFormat::kCohere:
      DecodeCohere(*body, &c);
      break;
    case WireFormat::kKServe:
      break;  // handled above
  }
  const std::string_view model = client_model.empty() ? c.model : client_model;
  if (api == ClientApi::kChatCompletions) {
    return EncodeOpenAI(c, model, created_unix_seconds, parsed);
  }
  if (responses) return internal::EncodeResponsesObject(c, model, created_unix_seconds, parsed);
  return EncodeAnthropic(c, model, parsed);
}

}  // namespace inferencegw
