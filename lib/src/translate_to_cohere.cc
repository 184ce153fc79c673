// OpenAI chat completions request -> Cohere v2 chat request (provider-apis.md 4.2).
//
// Cohere v2 keeps OpenAI's message roles and tool-call shape; parameters are renamed
// (top_p -> p, top_k -> k, stop -> stop_sequences) and tool_choice is upper-cased (auto is
// the absence of the field; a named function becomes REQUIRED).
#include <string>
#include <string_view>

#include "fmt/format.h"
#include "translate_internal.h"

namespace inferencegw::internal {
namespace {

// The message's `content`: a string, or text (and, with `allow_images`, image_url) parts.
// Writes nothing when the message has no content (or, with `skip_empty`, an empty string).
absl::Status WriteContent(JsonWriter& w, dom::object message, bool allow_images, bool skip_empty,
                          std::string_view where) {
  dom::element content;
  if (!Lookup(message, "content", &content) || IsNull(content)) return absl::OkStatus();
  if (content.type() == dom::element_type::STRING) {
    if (skip_empty && AsString(content).empty()) return absl::OkStatus();
    w.Key("content").String(AsString(content));
    return absl::OkStatus();
  }
  dom::array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) {
    return Invalid(fmt::format("{}.content: expected a string or an array of parts", where));
  }
  w.Key("content").BeginArray();
  size_t j = 0;
  for (dom::element part : parts) {
    dom::object o;
    if (part.get_object().get(o) != simdjson::SUCCESS) {
      return Invalid(fmt::format("{}.content[{}]: expected an object", where, j));
    }
    const std::string_view type = StringField(o, "type");
    dom::element image_url;
    if (type == "text") {
      w.BeginObject().Key("type").String("text").Key("text").String(StringField(o, "text"));
      w.EndObject();
    } else if (type == "image_url" && allow_images && Lookup(o, "image_url", &image_url)) {
      w.BeginObject().Key("type").String("image_url").Key("image_url");
      if (image_url.type() == dom::element_type::STRING) {
        w.BeginObject().Key("url").String(AsString(image_url)).EndObject();
      } else {
        WriteElement(w, image_url);
      }
      w.EndObject();
    } else {
      return Invalid(fmt::format("{}.content[{}]: {} parts cannot be sent to Cohere backends",
                                 where, j, type.empty() ? "untyped" : type));
    }
    ++j;
  }
  w.EndArray();
  return absl::OkStatus();
}

absl::Status WriteToolCalls(JsonWriter& w, dom::array calls, std::string_view where) {
  w.Key("tool_calls").BeginArray();
  size_t j = 0;
  for (dom::element call : calls) {
    dom::object c, function;
    dom::element f;
    if (call.get_object().get(c) != simdjson::SUCCESS || !Lookup(c, "function", &f) ||
        f.get_object().get(function) != simdjson::SUCCESS) {
      return Invalid(fmt::format("{}.tool_calls[{}]: expected a function tool call", where, j));
    }
    std::string_view arguments = StringField(function, "arguments");
    if (arguments.empty()) arguments = "{}";
    w.BeginObject().Key("id").String(StringField(c, "id")).Key("type").String("function");
    w.Key("function").BeginObject().Key("name").String(StringField(function, "name"));
    w.Key("arguments").String(arguments).EndObject().EndObject();
    ++j;
  }
  w.EndArray();
  return absl::OkStatus();
}

absl::Status WriteMessages(JsonWriter& w, dom::array list) {
  w.Key("messages").BeginArray();
  size_t i = 0;
  for (dom::element m : list) {
    const std::string where = fmt::format("messages[{}]", i++);
    dom::object message;
    if (m.get_object().get(message) != simdjson::SUCCESS) {
      return Invalid(fmt::format("{}: expected an object", where));
    }
    std::string_view role = StringField(message, "role");
    if (role == "developer") role = "system";
    if (role == "function") {
      return Invalid(fmt::format(
          "{}: function messages are not supported by Cohere backends; use tools", where));
    }
    if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
      return Invalid(fmt::format("{}: unknown role \"{}\"", where, role));
    }
    dom::element calls_element;
    dom::array calls;
    const bool has_calls = role == "assistant" && Lookup(message, "tool_calls", &calls_element) &&
                           calls_element.get_array().get(calls) == simdjson::SUCCESS &&
                           calls.size() > 0;
    w.BeginObject().Key("role").String(role);
    if (role == "tool") w.Key("tool_call_id").String(StringField(message, "tool_call_id"));
    // An assistant turn that only calls tools has no content (Cohere rejects empty text).
    if (absl::Status s = WriteContent(w, message, role == "user", has_calls, where); !s.ok()) {
      return s;
    }
    if (has_calls) {
      if (absl::Status s = WriteToolCalls(w, calls, where); !s.ok()) return s;
    }
    w.EndObject();
  }
  w.EndArray();
  return absl::OkStatus();
}

absl::Status WriteTools(JsonWriter& w, dom::array tools) {
  w.Key("tools").BeginArray();
  absl::Status status = ForEachFunctionTool(tools, "Cohere", [&w](size_t, dom::object function) {
    w.BeginObject().Key("type").String("function").Key("function").BeginObject();
    for (dom::key_value_pair field : function) {
      if (field.key == "name" || field.key == "description" || field.key == "parameters") {
        WriteElement(w.Key(field.key), field.value);
      }
    }
    w.EndObject().EndObject();
    return absl::OkStatus();
  });
  w.EndArray();
  return status;
}

// Cohere v2 takes JSON mode natively: {"type":"json_object"} with the schema, if any, as
// `json_schema` (json_schema.name, description and strict have no Cohere field). False when
// `format` is not a known response_format (nothing written).
bool WriteResponseFormat(JsonWriter& w, dom::object format) {
  const std::string_view type = StringField(format, "type");
  if (type == "text") return true;  // the default
  if (type != "json_object" && type != "json_schema") return false;
  w.Key("response_format").BeginObject().Key("type").String("json_object");
  dom::element json_schema, schema;
  dom::object json_schema_object;
  if (type == "json_schema" && Lookup(format, "json_schema", &json_schema) &&
      json_schema.get_object().get(json_schema_object) == simdjson::SUCCESS &&
      Lookup(json_schema_object, "schema", &schema)) {
    WriteElement(w.Key("json_schema"), schema);
  }
  w.EndObject();
  return true;
}

}  // namespace

absl::Status OpenAIChatToCohere(dom::object request, const RequestFacts& facts,
                                const TranslateOptions& options, UpstreamRequestBody* out) {
  out->body.reserve(out->body.size() + 1024);
  JsonWriter w(&out->body);
  w.BeginObject();
  w.Key("model").String(options.model_override.empty() ? std::string_view(facts.model)
                                                       : options.model_override);
  w.Key("stream").Bool(facts.stream);
  if (facts.max_tokens >= 0) w.Key("max_tokens").Int(facts.max_tokens);
  bool has_tools = false;
  for (dom::key_value_pair field : request) {
    const std::string_view key = field.key;
    const dom::element v = field.value;
    if (key == "model" || key == "stream" || key == "max_tokens" ||
        key == "max_completion_tokens" || key == "n" || key == "stream_options" ||
        key == "tool_choice" || IsNull(v)) {
      continue;
    }
    if (key == "messages") {
      dom::array list;
      if (v.get_array().get(list) != simdjson::SUCCESS) {
        return Invalid("Invalid type for 'messages': expected an array.");
      }
      if (absl::Status s = WriteMessages(w, list); !s.ok()) return s;
    } else if (key == "temperature" || key == "seed" || key == "frequency_penalty" ||
               key == "presence_penalty" || key == "logprobs") {
      WriteElement(w.Key(key), v);
    } else if (key == "top_p") {
      WriteElement(w.Key("p"), v);
    } else if (key == "top_k") {
      WriteElement(w.Key("k"), v);
    } else if (key == "stop") {
      w.Key("stop_sequences");
      if (v.type() == dom::element_type::STRING) {
        w.BeginArray().String(AsString(v)).EndArray();
      } else {
        WriteElement(w, v);
      }
    } else if (key == "tools") {
      dom::array tools;
      if (v.get_array().get(tools) == simdjson::SUCCESS && tools.size() > 0) {
        if (absl::Status s = WriteTools(w, tools); !s.ok()) return s;
        has_tools = true;
      }
    } else if (key == "response_format") {
      dom::object format;
      if (v.get_object().get(format) != simdjson::SUCCESS || !WriteResponseFormat(w, format)) {
        out->dropped_params.emplace_back(key);
      }
    } else if (!IsDefaultParamValue(key, v)) {
      out->dropped_params.emplace_back(key);
    }
  }
  dom::element choice;
  if (has_tools && Lookup(request, "tool_choice", &choice)) {
    const std::string_view c = AsString(choice);
    if (c == "required" || choice.type() == dom::element_type::OBJECT) {
      w.Key("tool_choice").String("REQUIRED");
    } else if (c == "none") {
      w.Key("tool_choice").String("NONE");
    }
  }
  w.EndObject();
  return absl::OkStatus();
}

}  // namespace inferencegw::internal
