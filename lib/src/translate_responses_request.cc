// Responses API requests -> OpenAI chat completion requests, the form every translated backend
// takes next (responses-api-and-otlp.md, "Mapping to chat-style backends").
#include <string>
#include <string_view>
#include <vector>

#include "fmt/format.h"
#include "translate_internal.h"
#include "translate_responses_internal.h"

namespace inferencegw::internal {
namespace {

using dom::array;
using dom::element;
using dom::element_type;
using dom::object;

// One chat message being assembled: consecutive function_call items join one assistant turn.
struct ChatMessage {
  std::string role;
  std::string content;  // serialized JSON value (string or parts array); "" when none
  std::vector<std::string> tool_calls;  // serialized tool_call objects
  std::string tool_call_id;             // role "tool"
};

ChatMessage NewMessage(std::string_view role) {
  ChatMessage m;
  m.role = std::string(role);
  return m;
}

// Joins the text of Responses content parts (input_text, output_text, refusal) or returns the
// string itself. False when `content` is neither, or a part is of another type.
bool JoinedText(element content, std::string* out) {
  if (content.is_string()) {
    out->append(AsString(content));
    return true;
  }
  array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) return false;
  for (element part : parts) {
    object p;
    if (part.get_object().get(p) != simdjson::SUCCESS) return false;
    const std::string_view type = StringField(p, "type");
    if (type == "refusal") {
      out->append(StringField(p, "refusal"));
    } else if (type == "input_text" || type == "output_text" || type == "text") {
      out->append(StringField(p, "text"));
    } else {
      return false;
    }
  }
  return true;
}

// User/system content: a string stays a string; parts become chat text and image_url parts.
absl::Status UserContent(element content, size_t index, std::string* out) {
  if (content.is_string()) {
    AppendJsonString(out, AsString(content));
    return absl::OkStatus();
  }
  array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) {
    return Invalid(fmt::format(
        "Invalid type for 'input[{}].content': expected a string or an array of parts.", index));
  }
  JsonWriter w(out);
  w.BeginArray();
  size_t i = 0;
  for (element part : parts) {
    object p;
    if (part.get_object().get(p) != simdjson::SUCCESS) {
      return Invalid(fmt::format("Invalid 'input[{}].content[{}]': expected an object.", index, i));
    }
    const std::string_view type = StringField(p, "type");
    if (type == "input_text" || type == "output_text" || type == "text") {
      element text;
      if (!Lookup(p, "text", &text) || !text.is_string()) {
        return Invalid(
            fmt::format("Missing required parameter: 'input[{}].content[{}].text'.", index, i));
      }
      w.BeginObject().Key("type").String("text").Key("text").String(AsString(text)).EndObject();
    } else if (type == "input_image") {
      const std::string_view url = StringField(p, "image_url");
      if (url.empty()) {
        return Invalid(fmt::format(
            "input[{}].content[{}]: only input_image parts with an image_url (a URL or a data "
            "URL) can be translated; file_id needs an OpenAI backend",
            index, i));
      }
      w.BeginObject().Key("type").String("image_url").Key("image_url").BeginObject();
      w.Key("url").String(url);
      const std::string_view detail = StringField(p, "detail");
      if (!detail.empty()) w.Key("detail").String(detail);
      w.EndObject().EndObject();
    } else {
      return Invalid(
          fmt::format("input[{}].content[{}]: parts of type '{}' are not supported by this backend",
                      index, i, type));
    }
    ++i;
  }
  w.EndArray();
  return absl::OkStatus();
}

absl::Status MessageItem(object item, size_t index, std::vector<ChatMessage>* out) {
  std::string_view role = StringField(item, "role");
  element content;
  if (!Lookup(item, "content", &content)) {
    return Invalid(fmt::format("Missing required parameter: 'input[{}].content'.", index));
  }
  ChatMessage m;
  if (role == "assistant") {
    std::string text;
    if (!JoinedText(content, &text)) {
      return Invalid(
          fmt::format("input[{}]: assistant content must be a string or output_text parts", index));
    }
    m.role = "assistant";
    AppendJsonString(&m.content, text);
    out->push_back(std::move(m));
    return absl::OkStatus();
  }
  if (role != "user" && role != "system" && role != "developer") {
    return Invalid(fmt::format("Invalid value for 'input[{}].role': '{}'.", index, role));
  }
  m.role = std::string(role);
  if (absl::Status s = UserContent(content, index, &m.content); !s.ok()) return s;
  out->push_back(std::move(m));
  return absl::OkStatus();
}

absl::Status FunctionCallItem(object item, size_t index, std::vector<ChatMessage>* out) {
  const std::string_view call_id = StringField(item, "call_id");
  const std::string_view name = StringField(item, "name");
  if (call_id.empty() || name.empty()) {
    return Invalid(fmt::format("Missing required parameter: 'input[{}].{}'.", index,
                               call_id.empty() ? "call_id" : "name"));
  }
  std::string call;
  JsonWriter w(&call);
  w.BeginObject().Key("id").String(call_id).Key("type").String("function");
  w.Key("function").BeginObject().Key("name").String(name);
  w.Key("arguments").String(StringField(item, "arguments")).EndObject().EndObject();
  // A call joins the assistant turn just before it (its text, or earlier calls).
  if (out->empty() || out->back().role != "assistant") {
    out->push_back(NewMessage("assistant"));
  }
  out->back().tool_calls.push_back(std::move(call));
  return absl::OkStatus();
}

absl::Status FunctionOutputItem(object item, size_t index, std::vector<ChatMessage>* out) {
  const std::string_view call_id = StringField(item, "call_id");
  element output;
  if (call_id.empty() || !Lookup(item, "output", &output)) {
    return Invalid(fmt::format("Missing required parameter: 'input[{}].{}'.", index,
                               call_id.empty() ? "call_id" : "output"));
  }
  std::string text;
  if (!JoinedText(output, &text)) {
    return Invalid(fmt::format(
        "input[{}]: a function_call_output must be a string or input_text parts", index));
  }
  ChatMessage m = NewMessage("tool");
  m.tool_call_id = std::string(call_id);
  AppendJsonString(&m.content, text);
  out->push_back(std::move(m));
  return absl::OkStatus();
}

absl::Status InputMessages(element input, std::vector<ChatMessage>* out) {
  if (input.is_string()) {
    ChatMessage m = NewMessage("user");
    AppendJsonString(&m.content, AsString(input));
    out->push_back(std::move(m));
    return absl::OkStatus();
  }
  array items;
  if (input.get_array().get(items) != simdjson::SUCCESS) {
    return Invalid("Invalid type for 'input': expected a string or an array of items.");
  }
  size_t index = 0;
  for (element e : items) {
    object item;
    if (e.get_object().get(item) != simdjson::SUCCESS) {
      return Invalid(fmt::format("Invalid 'input[{}]': expected an object.", index));
    }
    const std::string_view type = StringField(item, "type");
    absl::Status s;
    if (type == "function_call") {
      s = FunctionCallItem(item, index, out);
    } else if (type == "function_call_output") {
      s = FunctionOutputItem(item, index, out);
    } else if (type == "reasoning") {
      // Earlier reasoning of the model: chat backends take no reasoning input.
    } else if (type.empty() || type == "message") {
      s = MessageItem(item, index, out);
    } else {
      s = Invalid(fmt::format("input[{}]: items of type '{}' are not supported by this backend",
                              index, type));
    }
    if (!s.ok()) return s;
    ++index;
  }
  return absl::OkStatus();
}

void WriteMessages(JsonWriter& w, std::string_view instructions,
                   const std::vector<ChatMessage>& messages) {
  w.BeginArray();
  if (!instructions.empty()) {
    w.BeginObject().Key("role").String("system").Key("content").String(instructions).EndObject();
  }
  for (const ChatMessage& m : messages) {
    w.BeginObject().Key("role").String(m.role);
    if (!m.tool_call_id.empty()) w.Key("tool_call_id").String(m.tool_call_id);
    w.Key("content");
    if (m.content.empty()) {
      w.Null();
    } else {
      w.Raw(m.content);
    }
    if (!m.tool_calls.empty()) {
      w.Key("tool_calls").BeginArray();
      for (const std::string& call : m.tool_calls) w.Raw(call);
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
}

absl::Status WriteTools(JsonWriter& w, array tools) {
  w.BeginArray();
  size_t i = 0;
  for (element e : tools) {
    object tool;
    if (e.get_object().get(tool) != simdjson::SUCCESS || StringField(tool, "type") != "function") {
      return Invalid(fmt::format(
          "tools[{}]: only function tools can be translated; built-in tools need an OpenAI "
          "backend",
          i));
    }
    const std::string_view name = StringField(tool, "name");
    if (name.empty())
      return Invalid(fmt::format("Missing required parameter: 'tools[{}].name'.", i));
    w.BeginObject().Key("type").String("function").Key("function").BeginObject();
    w.Key("name").String(name);
    element value;
    if (Lookup(tool, "description", &value) && value.is_string()) {
      w.Key("description").String(AsString(value));
    }
    if (Lookup(tool, "parameters", &value) && !IsNull(value)) {
      WriteElement(w.Key("parameters"), value);
    }
    if (Lookup(tool, "strict", &value) && value.is_bool())
      w.Key("strict").Bool(value.get_bool().value_unsafe());
    w.EndObject().EndObject();
    ++i;
  }
  w.EndArray();
  return absl::OkStatus();
}

absl::Status WriteToolChoice(JsonWriter& w, element choice) {
  if (choice.is_string()) {
    w.String(AsString(choice));
    return absl::OkStatus();
  }
  object o;
  if (choice.get_object().get(o) != simdjson::SUCCESS || StringField(o, "type") != "function" ||
      StringField(o, "name").empty()) {
    return Invalid(
        "tool_choice: only \"auto\", \"none\", \"required\" and {\"type\":\"function\",\"name\"} "
        "can be translated");
  }
  w.BeginObject().Key("type").String("function").Key("function").BeginObject();
  w.Key("name").String(StringField(o, "name")).EndObject().EndObject();
  return absl::OkStatus();
}

// text.format -> response_format; `verbosity` and other members are dropped.
void WriteTextFormat(JsonWriter& w, object text, std::vector<std::string>* dropped) {
  element format_value;
  object format;
  for (auto [key, value] : text) {
    if (key != "format" && !IsNull(value)) dropped->push_back(fmt::format("text.{}", key));
  }
  if (!Lookup(text, "format", &format_value) ||
      format_value.get_object().get(format) != simdjson::SUCCESS) {
    return;
  }
  const std::string_view type = StringField(format, "type");
  if (type == "json_object") {
    w.Key("response_format").BeginObject().Key("type").String("json_object").EndObject();
  } else if (type == "json_schema") {
    w.Key("response_format").BeginObject().Key("type").String("json_schema");
    w.Key("json_schema").BeginObject();
    w.Key("name").String(StringField(format, "name").empty() ? std::string_view("response")
                                                             : StringField(format, "name"));
    for (std::string_view key : {"description", "schema", "strict"}) {
      element value;
      if (Lookup(format, key, &value) && !IsNull(value)) WriteElement(w.Key(key), value);
    }
    w.EndObject().EndObject();
  } else if (type != "text" && !type.empty()) {
    dropped->push_back("text.format");
  }
}

}  // namespace

absl::Status ResponsesToChatRequest(object request, std::string* chat_body,
                                    std::vector<std::string>* dropped) {
  std::vector<ChatMessage> messages;
  element input;
  if (!Lookup(request, "input", &input)) return Invalid("Missing required parameter: 'input'.");
  if (absl::Status s = InputMessages(input, &messages); !s.ok()) return s;
  const std::string_view instructions = StringField(request, "instructions");
  if (messages.empty() && instructions.empty()) {
    return Invalid("Invalid 'input': empty array. Expected at least one item.");
  }

  JsonWriter w(chat_body);
  w.BeginObject();
  WriteMessages(w.Key("messages"), instructions, messages);
  for (auto [key, value] : request) {
    if (key == "input" || key == "instructions" || IsNull(value)) continue;
    if (key == "model" || key == "stream" || key == "temperature" || key == "top_p" ||
        key == "parallel_tool_calls" || key == "user" || key == "safety_identifier" ||
        key == "metadata" || key == "service_tier" || key == "prompt_cache_key") {
      WriteElement(w.Key(key), value);
    } else if (key == "max_output_tokens") {
      WriteElement(w.Key("max_tokens"), value);
    } else if (key == "tools") {
      array tools;
      if (value.get_array().get(tools) != simdjson::SUCCESS) {
        return Invalid("Invalid type for 'tools': expected an array.");
      }
      if (tools.size() == 0) continue;
      if (absl::Status s = WriteTools(w.Key("tools"), tools); !s.ok()) return s;
    } else if (key == "tool_choice") {
      if (absl::Status s = WriteToolChoice(w.Key("tool_choice"), value); !s.ok()) return s;
    } else if (key == "text") {
      object text;
      if (value.get_object().get(text) != simdjson::SUCCESS) {
        return Invalid("Invalid type for 'text': expected an object.");
      }
      WriteTextFormat(w, text, dropped);
    } else if (key == "reasoning") {
      object reasoning;
      const std::string_view effort = value.get_object().get(reasoning) == simdjson::SUCCESS
                                          ? StringField(reasoning, "effort")
                                          : std::string_view();
      if (!effort.empty()) w.Key("reasoning_effort").String(effort);
    } else if (key == "store" || key == "background" || key == "stream_options") {
      // `store`: nothing is kept (and nothing can be fetched back) when the backend is not
      // OpenAI: listed when asked for. `background: false` and stream options change nothing.
      if (key == "store" && value.is_bool() && value.get_bool().value_unsafe()) {
        dropped->push_back(std::string(key));
      }
    } else {
      dropped->push_back(std::string(key));
    }
  }
  w.EndObject();
  return absl::OkStatus();
}

}  // namespace inferencegw::internal
