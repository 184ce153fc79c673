// Anthropic Messages request -> OpenAI chat completions request (provider-apis.md 3.4).
//
// `system` becomes one leading system message; a user turn's tool_result blocks become tool
// messages placed before the rest of the turn; assistant tool_use blocks become tool_calls with
// the input serialized as the arguments string.
#include <string>
#include <string_view>

#include "fmt/format.h"
#include "translate_internal.h"

namespace inferencegw::internal {
namespace {

// The text of a string or of the text blocks of an array, joined with `separator`.
std::string JoinText(dom::element content, std::string_view separator) {
  if (content.type() == dom::element_type::STRING) return std::string(AsString(content));
  std::string text;
  dom::array blocks;
  if (content.get_array().get(blocks) != simdjson::SUCCESS) return text;
  bool first = true;
  for (dom::element b : blocks) {
    dom::object o;
    if (b.get_object().get(o) != simdjson::SUCCESS || StringField(o, "type") != "text") continue;
    if (!first) text.append(separator);
    text.append(StringField(o, "text"));
    first = false;
  }
  return text;
}

// The OpenAI image_url for an Anthropic image block, or "" when its source is unusable.
std::string ImageUrl(dom::object block) {
  dom::element source_element;
  dom::object source;
  if (!Lookup(block, "source", &source_element) ||
      source_element.get_object().get(source) != simdjson::SUCCESS) {
    return {};
  }
  const std::string_view type = StringField(source, "type");
  if (type == "url") return std::string(StringField(source, "url"));
  if (type == "base64") {
    return fmt::format("data:{};base64,{}", StringField(source, "media_type"),
                       StringField(source, "data"));
  }
  return {};
}

absl::Status WriteUserTurn(JsonWriter& w, dom::array blocks, std::string_view where) {
  // Tool results first: each answers a tool call of the previous assistant turn.
  size_t j = 0;
  bool has_image = false;
  for (dom::element b : blocks) {
    dom::object o;
    if (b.get_object().get(o) != simdjson::SUCCESS) {
      return Invalid(fmt::format("{}.content[{}]: expected an object", where, j));
    }
    const std::string_view type = StringField(o, "type");
    if (type == "tool_result") {
      w.BeginObject().Key("role").String("tool");
      w.Key("tool_call_id").String(StringField(o, "tool_use_id"));
      dom::element content;
      w.Key("content").String(Lookup(o, "content", &content) ? JoinText(content, "\n") : "");
      w.EndObject();
    } else if (type == "image") {
      has_image = true;
    } else if (type != "text") {
      return Invalid(fmt::format("{}.content[{}]: {} blocks need an Anthropic backend", where, j,
                                 type.empty() ? "untyped" : type));
    }
    ++j;
  }
  std::string text;
  size_t text_blocks = 0;
  if (!has_image) {
    for (dom::element b : blocks) {
      dom::object o = b.get_object().value_unsafe();
      if (StringField(o, "type") != "text") continue;
      if (text_blocks++ > 0) text.push_back('\n');
      text.append(StringField(o, "text"));
    }
    if (text_blocks > 0) w.BeginObject().Key("role").String("user").Key("content").String(text);
    if (text_blocks > 0) w.EndObject();
    return absl::OkStatus();
  }
  w.BeginObject().Key("role").String("user").Key("content").BeginArray();
  j = 0;
  for (dom::element b : blocks) {
    dom::object o = b.get_object().value_unsafe();
    const std::string_view type = StringField(o, "type");
    if (type == "text") {
      w.BeginObject().Key("type").String("text").Key("text").String(StringField(o, "text"));
      w.EndObject();
    } else if (type == "image") {
      const std::string url = ImageUrl(o);
      if (url.empty()) {
        return Invalid(
            fmt::format("{}.content[{}]: image without a base64 or url source", where, j));
      }
      w.BeginObject().Key("type").String("image_url");
      w.Key("image_url").BeginObject().Key("url").String(url).EndObject().EndObject();
    }
    ++j;
  }
  w.EndArray().EndObject();
  return absl::OkStatus();
}

void WriteAssistantTurn(JsonWriter& w, dom::array blocks) {
  std::string text, arguments;
  bool has_calls = false;
  for (dom::element b : blocks) {
    dom::object o;
    if (b.get_object().get(o) != simdjson::SUCCESS) continue;
    const std::string_view type = StringField(o, "type");
    if (type == "text") text.append(StringField(o, "text"));
    if (type == "tool_use") has_calls = true;
  }
  w.BeginObject().Key("role").String("assistant").Key("content");
  if (text.empty() && has_calls) {
    w.Null();
  } else {
    w.String(text);
  }
  if (has_calls) {
    w.Key("tool_calls").BeginArray();
    for (dom::element b : blocks) {
      dom::object o;
      if (b.get_object().get(o) != simdjson::SUCCESS || StringField(o, "type") != "tool_use") {
        continue;
      }
      arguments.clear();
      JsonWriter args(&arguments);
      dom::element input;
      if (Lookup(o, "input", &input) && !IsNull(input)) {
        WriteElement(args, input);
      } else {
        arguments = "{}";
      }
      w.BeginObject().Key("id").String(StringField(o, "id")).Key("type").String("function");
      w.Key("function").BeginObject().Key("name").String(StringField(o, "name"));
      w.Key("arguments").String(arguments).EndObject().EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

absl::Status WriteMessages(JsonWriter& w, dom::object request) {
  w.Key("messages").BeginArray();
  dom::element system;
  if (Lookup(request, "system", &system) && !IsNull(system)) {
    const std::string text = JoinText(system, "\n");
    if (!text.empty()) w.BeginObject().Key("role").String("system").Key("content").String(text);
    if (!text.empty()) w.EndObject();
  }
  dom::element messages;
  dom::array list;
  if (!Lookup(request, "messages", &messages) ||
      messages.get_array().get(list) != simdjson::SUCCESS) {
    return Invalid("Invalid type for 'messages': expected an array.");
  }
  size_t i = 0;
  for (dom::element m : list) {
    const std::string where = fmt::format("messages[{}]", i++);
    dom::object message;
    dom::element content;
    if (m.get_object().get(message) != simdjson::SUCCESS || !Lookup(message, "content", &content)) {
      return Invalid(fmt::format("{}: expected an object with role and content", where));
    }
    const std::string_view role = StringField(message, "role");
    if (role != "user" && role != "assistant") {
      return Invalid(fmt::format("{}: role must be user or assistant", where));
    }
    if (content.type() == dom::element_type::STRING) {
      w.BeginObject().Key("role").String(role).Key("content").String(AsString(content));
      w.EndObject();
      continue;
    }
    dom::array blocks;
    if (content.get_array().get(blocks) != simdjson::SUCCESS) {
      return Invalid(fmt::format("{}.content: expected a string or an array of blocks", where));
    }
    if (role == "user") {
      if (absl::Status s = WriteUserTurn(w, blocks, where); !s.ok()) return s;
    } else {
      WriteAssistantTurn(w, blocks);
    }
  }
  w.EndArray();
  return absl::OkStatus();
}

// Custom tools as OpenAI function tools; server tools (versioned `type`) are left out.
void WriteTools(JsonWriter& w, dom::array tools, bool* any, bool* skipped) {
  std::string list;
  for (dom::element tool : tools) {
    dom::object t;
    if (tool.get_object().get(t) != simdjson::SUCCESS) continue;
    const std::string_view type = StringField(t, "type");
    if ((!type.empty() && type != "custom") || StringField(t, "name").empty()) {
      *skipped = true;
      continue;
    }
    if (!*any) w.Key("tools").BeginArray();
    *any = true;
    w.BeginObject().Key("type").String("function").Key("function").BeginObject();
    w.Key("name").String(StringField(t, "name"));
    dom::element description, schema;
    if (Lookup(t, "description", &description) && !IsNull(description)) {
      WriteElement(w.Key("description"), description);
    }
    w.Key("parameters");
    if (Lookup(t, "input_schema", &schema) && !IsNull(schema)) {
      WriteElement(w, schema);
    } else {
      w.Raw(R"({"type":"object","properties":{}})");
    }
    w.EndObject().EndObject();
  }
  if (*any) w.EndArray();
}

void WriteToolChoice(JsonWriter& w, dom::object choice) {
  const std::string_view type = StringField(choice, "type");
  if (type == "any") {
    w.Key("tool_choice").String("required");
  } else if (type == "none") {
    w.Key("tool_choice").String("none");
  } else if (type == "tool") {
    w.Key("tool_choice").BeginObject().Key("type").String("function");
    w.Key("function").BeginObject().Key("name").String(StringField(choice, "name"));
    w.EndObject().EndObject();
  } else {
    w.Key("tool_choice").String("auto");
  }
  dom::element disable;
  bool disabled = false;
  if (Lookup(choice, "disable_parallel_tool_use", &disable) &&
      disable.get_bool().get(disabled) == simdjson::SUCCESS && disabled && type != "none") {
    w.Key("parallel_tool_calls").Bool(false);
  }
}

// Anthropic structured output ({"type":"json_schema","schema":{..}}, in `output_format` or
// `output_config.format`) as OpenAI's response_format json_schema. False when `format` has
// another shape (nothing written).
bool WriteResponseFormat(JsonWriter& w, dom::element format) {
  dom::object o;
  dom::element schema;
  if (format.get_object().get(o) != simdjson::SUCCESS || StringField(o, "type") != "json_schema" ||
      !Lookup(o, "schema", &schema) || schema.type() != dom::element_type::OBJECT) {
    return false;
  }
  w.Key("response_format").BeginObject().Key("type").String("json_schema");
  w.Key("json_schema").BeginObject().Key("name").String("response");
  WriteElement(w.Key("schema"), schema);
  w.EndObject().EndObject();
  return true;
}

}  // namespace

absl::Status AnthropicToOpenAIChat(dom::object request, const RequestFacts& facts,
                                   const TranslateOptions& options, bool keep_top_k,
                                   UpstreamRequestBody* out) {
  out->body.reserve(out->body.size() + 1024);
  JsonWriter w(&out->body);
  w.BeginObject();
  w.Key("model").String(options.model_override.empty() ? std::string_view(facts.model)
                                                       : options.model_override);
  if (absl::Status s = WriteMessages(w, request); !s.ok()) return s;
  if (facts.max_tokens >= 0) w.Key("max_tokens").Int(facts.max_tokens);
  if (facts.stream) {
    w.Key("stream").Bool(true);
    if (options.request_stream_usage) {
      w.Key("stream_options").BeginObject().Key("include_usage").Bool(true).EndObject();
      out->injected_usage = true;
    }
  }
  bool has_tools = false, has_format = false;
  dom::element tool_choice;
  for (dom::key_value_pair field : request) {
    const std::string_view key = field.key;
    const dom::element v = field.value;
    if (key == "model" || key == "messages" || key == "system" || key == "max_tokens" ||
        key == "stream" || key == "tool_choice" || IsNull(v)) {
      continue;
    }
    if (key == "temperature" || key == "top_p" || (key == "top_k" && keep_top_k)) {
      WriteElement(w.Key(key), v);
    } else if (key == "stop_sequences") {
      dom::array stops;
      if (v.get_array().get(stops) == simdjson::SUCCESS && stops.size() > 0) {
        WriteElement(w.Key("stop"), v);
      }
    } else if (key == "tools") {
      dom::array tools;
      bool skipped = false;
      // A repeated "tools" key is ignored: the first one's array is closed already.
      if (!has_tools && v.get_array().get(tools) == simdjson::SUCCESS) {
        WriteTools(w, tools, &has_tools, &skipped);
      }
      if (skipped) out->dropped_params.emplace_back("tools (server tools)");
    } else if (key == "metadata") {
      dom::object metadata;
      std::string_view user;
      if (v.get_object().get(metadata) == simdjson::SUCCESS &&
          !(user = StringField(metadata, "user_id")).empty()) {
        w.Key("user").String(user);
      }
    } else if (key == "output_format" && !has_format) {
      has_format = WriteResponseFormat(w, v);
      if (!has_format) out->dropped_params.emplace_back(key);
    } else if (key == "output_config") {
      // Only `format` has an OpenAI equivalent; any other member (effort) is lost.
      dom::object config;
      bool lost = v.get_object().get(config) != simdjson::SUCCESS;
      if (!lost) {
        for (dom::key_value_pair member : config) {
          if (member.key == "format" && !has_format && WriteResponseFormat(w, member.value)) {
            has_format = true;
          } else if (!IsNull(member.value)) {
            lost = true;
          }
        }
      }
      if (lost) out->dropped_params.emplace_back(key);
    } else if (!IsDefaultParamValue(key, v)) {
      out->dropped_params.emplace_back(key);
    }
  }
  dom::object choice;
  if (has_tools && Lookup(request, "tool_choice", &tool_choice) &&
      tool_choice.get_object().get(choice) == simdjson::SUCCESS) {
    WriteToolChoice(w, choice);
  }
  w.EndObject();
  return absl::OkStatus();
}

}  // namespace inferencegw::internal
