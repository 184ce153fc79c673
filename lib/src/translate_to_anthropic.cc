// OpenAI chat completions request -> Anthropic Messages request (provider-apis.md 3.1).
//
// system and developer messages become the top-level `system` blocks; runs of user and tool
// messages merge into one user turn (tool results first), runs of assistant messages into one
// assistant turn; empty text is dropped and a final assistant prefill is right-trimmed.
// response_format json_object / json_schema is emulated with a tool whose input is the answer
// (UpstreamRequestBody::json_tool_name).
#include <string>
#include <string_view>
#include <utility>

#include "fmt/format.h"
#include "translate_internal.h"

namespace inferencegw::internal {
namespace {

bool IsBlank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::string_view RightTrim(std::string_view s) {
  const size_t end = s.find_last_not_of(" \t\r\n");
  return end == std::string_view::npos ? std::string_view() : s.substr(0, end + 1);
}

// Starts a new element of a comma-separated list held in `list`.
JsonWriter ListItem(std::string* list) {
  if (!list->empty()) list->push_back(',');
  return JsonWriter(list);
}

void AppendTextBlock(std::string* blocks, std::string_view text, const dom::element* cache) {
  if (IsBlank(text)) return;  // Anthropic rejects empty and whitespace-only text blocks
  JsonWriter w = ListItem(blocks);
  w.BeginObject().Key("type").String("text").Key("text").String(text);
  if (cache != nullptr) WriteElement(w.Key("cache_control"), *cache);
  w.EndObject();
}

// An OpenAI image_url part as an Anthropic image (or PDF document) block.
absl::Status AppendImageBlock(std::string* blocks, dom::object part, std::string_view where) {
  dom::element image_url;
  std::string_view url;
  if (Lookup(part, "image_url", &image_url)) {
    url = image_url.type() == dom::element_type::OBJECT
              ? StringField(image_url.get_object().value_unsafe(), "url")
              : AsString(image_url);
  }
  if (url.empty()) return Invalid(fmt::format("{}: image_url part without a url", where));
  DataUrl data;
  if (ParseBase64DataUrl(url, &data)) {
    const std::string_view t = data.media_type;
    const bool pdf = t == "application/pdf";
    if (!pdf && t != "image/jpeg" && t != "image/png" && t != "image/gif" && t != "image/webp") {
      return Invalid(fmt::format(
          "{}: media type {} is not supported by Anthropic (jpeg, png, gif, webp images; pdf)",
          where, t));
    }
    JsonWriter w = ListItem(blocks);
    w.BeginObject().Key("type").String(pdf ? "document" : "image");
    w.Key("source").BeginObject().Key("type").String("base64").Key("media_type").String(t);
    w.Key("data").String(data.data).EndObject().EndObject();
    return absl::OkStatus();
  }
  if (!url.starts_with("https://") && !url.starts_with("http://")) {
    return Invalid(fmt::format("{}: image url must be http(s) or a base64 data URL", where));
  }
  std::string_view path = url.substr(0, url.find_first_of("?#"));
  const bool pdf = path.ends_with(".pdf");
  JsonWriter w = ListItem(blocks);
  w.BeginObject().Key("type").String(pdf ? "document" : "image");
  w.Key("source").BeginObject().Key("type").String("url").Key("url").String(url).EndObject();
  w.EndObject();
  return absl::OkStatus();
}

// Text parts (and, for user content, image parts) of an OpenAI content array. With
// `trim_last`, the last text part is right-trimmed (a final assistant prefill).
absl::Status AppendContentParts(std::string* blocks, dom::array parts, bool allow_images,
                                bool trim_last, std::string_view where) {
  size_t last_text = SIZE_MAX, i = 0;
  for (dom::element part : parts) {
    dom::object o;
    if (part.get_object().get(o) == simdjson::SUCCESS && StringField(o, "type") == "text") {
      last_text = i;
    }
    ++i;
  }
  i = 0;
  for (dom::element part : parts) {
    const std::string part_where = fmt::format("{}.content[{}]", where, i);
    dom::object o;
    if (part.get_object().get(o) != simdjson::SUCCESS) {
      return Invalid(fmt::format("{}: expected an object", part_where));
    }
    const std::string_view type = StringField(o, "type");
    if (type == "text" || type == "refusal") {
      std::string_view text = StringField(o, type == "text" ? "text" : "refusal");
      if (trim_last && i == last_text) text = RightTrim(text);
      dom::element cache;
      AppendTextBlock(blocks, text, Lookup(o, "cache_control", &cache) ? &cache : nullptr);
    } else if (type == "image_url" && allow_images) {
      if (absl::Status s = AppendImageBlock(blocks, o, part_where); !s.ok()) return s;
    } else {
      return Invalid(fmt::format("{}: {} parts cannot be sent to Anthropic backends", part_where,
                                 type.empty() ? "untyped" : type));
    }
    ++i;
  }
  return absl::OkStatus();
}

absl::Status AppendContent(std::string* blocks, dom::object message, bool allow_images,
                           bool trim_last, std::string_view where) {
  dom::element content;
  if (!Lookup(message, "content", &content) || IsNull(content)) return absl::OkStatus();
  if (content.type() == dom::element_type::STRING) {
    std::string_view text = AsString(content);
    AppendTextBlock(blocks, trim_last ? RightTrim(text) : text, nullptr);
    return absl::OkStatus();
  }
  dom::array parts;
  if (content.get_array().get(parts) != simdjson::SUCCESS) {
    return Invalid(fmt::format("{}.content: expected a string or an array of parts", where));
  }
  return AppendContentParts(blocks, parts, allow_images, trim_last, where);
}

absl::Status AppendToolResult(std::string* results, dom::object message, std::string_view where) {
  const std::string_view id = StringField(message, "tool_call_id");
  if (id.empty()) return Invalid(fmt::format("{}: tool message without tool_call_id", where));
  std::string content_blocks;
  dom::element content;
  std::string_view text;
  bool is_string = false;
  if (Lookup(message, "content", &content) && content.type() == dom::element_type::STRING) {
    text = AsString(content);
    is_string = true;
  } else if (absl::Status s = AppendContent(&content_blocks, message, true, false, where);
             !s.ok()) {
    return s;
  }
  JsonWriter w = ListItem(results);
  w.BeginObject().Key("type").String("tool_result").Key("tool_use_id").String(id);
  if (is_string && !text.empty()) w.Key("content").String(text);
  if (!content_blocks.empty()) w.Key("content").BeginArray().Raw(content_blocks).EndArray();
  w.EndObject();
  return absl::OkStatus();
}

absl::Status AppendToolUses(std::string* blocks, dom::array calls, std::string_view where) {
  size_t j = 0;
  for (dom::element call : calls) {
    const std::string call_where = fmt::format("{}.tool_calls[{}]", where, j++);
    dom::object c, function;
    dom::element f;
    if (call.get_object().get(c) != simdjson::SUCCESS || !Lookup(c, "function", &f) ||
        f.get_object().get(function) != simdjson::SUCCESS) {
      return Invalid(fmt::format("{}: expected a function tool call", call_where));
    }
    const std::string_view id = StringField(c, "id");
    const std::string_view name = StringField(function, "name");
    if (id.empty() || name.empty()) {
      return Invalid(fmt::format("{}: a tool call needs an id and a function name", call_where));
    }
    JsonWriter w = ListItem(blocks);
    w.BeginObject().Key("type").String("tool_use").Key("id").String(id).Key("name").String(name);
    w.Key("input");
    if (!WriteObjectText(w, StringField(function, "arguments"))) {
      return Invalid(fmt::format("{}.function.arguments is not a JSON object", call_where));
    }
    w.EndObject();
  }
  return absl::OkStatus();
}

// One Anthropic turn being assembled from a run of OpenAI messages.
struct Turn {
  std::string_view role;
  std::string tool_results;  // first: they must open the user turn after a tool_use
  std::string blocks;

  void FlushTo(JsonWriter& messages) {
    if (!tool_results.empty() || !blocks.empty()) {
      messages.BeginObject().Key("role").String(role).Key("content").BeginArray();
      if (!tool_results.empty()) messages.Raw(tool_results);
      if (!blocks.empty()) messages.Raw(blocks);
      messages.EndArray().EndObject();
    }
    tool_results.clear();
    blocks.clear();
  }
};

absl::Status WriteMessages(dom::array list, JsonWriter& w, std::string* system, bool* any) {
  // The last non-system message: if it is an assistant's, its text is a prefill to trim.
  size_t last = SIZE_MAX, i = 0;
  for (dom::element m : list) {
    dom::object o;
    if (m.get_object().get(o) == simdjson::SUCCESS) {
      const std::string_view role = StringField(o, "role");
      if (role != "system" && role != "developer") last = i;
    }
    ++i;
  }
  Turn turn;
  w.Key("messages").BeginArray();
  const size_t array_start = w.out()->size();
  i = 0;
  for (dom::element m : list) {
    const std::string where = fmt::format("messages[{}]", i);
    dom::object message;
    if (m.get_object().get(message) != simdjson::SUCCESS) {
      return Invalid(fmt::format("{}: expected an object", where));
    }
    const std::string_view role = StringField(message, "role");
    absl::Status s;
    if (role == "system" || role == "developer") {
      s = AppendContent(system, message, false, false, where);
    } else if (role == "user" || role == "tool") {
      if (turn.role != "user") turn.FlushTo(w);
      turn.role = "user";
      s = role == "user" ? AppendContent(&turn.blocks, message, true, false, where)
                         : AppendToolResult(&turn.tool_results, message, where);
    } else if (role == "assistant") {
      if (turn.role != "assistant") turn.FlushTo(w);
      turn.role = "assistant";
      dom::element calls_element;
      dom::array calls;
      const bool has_calls = Lookup(message, "tool_calls", &calls_element) &&
                             calls_element.get_array().get(calls) == simdjson::SUCCESS &&
                             calls.size() > 0;
      s = AppendContent(&turn.blocks, message, false, i == last && !has_calls, where);
      if (s.ok() && has_calls) s = AppendToolUses(&turn.blocks, calls, where);
    } else if (role == "function") {
      s =
          Invalid(fmt::format("{}: function messages are not supported by Anthropic backends; "
                              "use tools and tool messages",
                              where));
    } else {
      s = Invalid(fmt::format("{}: unknown role \"{}\"", where, role));
    }
    if (!s.ok()) return s;
    ++i;
  }
  turn.FlushTo(w);
  *any = w.out()->size() > array_start;
  w.EndArray();
  return absl::OkStatus();
}

bool LooksPersonal(std::string_view user) {
  if (user.find('@') != std::string_view::npos) return true;  // an email address
  int digits = 0;
  for (char c : user) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (std::string_view("+-() .").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return digits >= 7;  // a phone number
}

// An Anthropic tool_choice: auto, any, none, or tool with a name.
struct ToolChoice {
  std::string_view type = "auto";
  std::string_view name;
};

// The client's OpenAI tool_choice. InvalidArgument for values Anthropic has no form for.
absl::StatusOr<ToolChoice> ReadToolChoice(dom::element choice) {
  if (choice.type() == dom::element_type::STRING) {
    const std::string_view c = AsString(choice);
    if (c == "auto") return ToolChoice{"auto", {}};
    if (c == "required" || c == "any") return ToolChoice{"any", {}};
    if (c == "none") return ToolChoice{"none", {}};
    return Invalid(fmt::format("tool_choice \"{}\" is not supported by Anthropic backends", c));
  }
  dom::object o, function;
  dom::element f;
  if (choice.get_object().get(o) != simdjson::SUCCESS || StringField(o, "type") != "function" ||
      !Lookup(o, "function", &f) || f.get_object().get(function) != simdjson::SUCCESS ||
      StringField(function, "name").empty()) {
    return Invalid(
        "tool_choice must be auto, required, none or a named function for Anthropic backends");
  }
  return ToolChoice{"tool", StringField(function, "name")};
}

void WriteToolChoice(JsonWriter& w, const ToolChoice& choice, bool parallel_off) {
  w.Key("tool_choice").BeginObject().Key("type").String(choice.type);
  if (!choice.name.empty()) w.Key("name").String(choice.name);
  if (parallel_off && choice.type != "none") w.Key("disable_parallel_tool_use").Bool(true);
  w.EndObject();
}

// The client's function tools, as Anthropic tools, into the open `tools` array.
absl::Status WriteTools(JsonWriter& w, dom::array tools) {
  return ForEachFunctionTool(tools, "Anthropic", [&w](size_t i, dom::object function) {
    const std::string_view name = StringField(function, "name");
    if (name.empty()) return Invalid(fmt::format("tools[{}]: function without a name", i));
    w.BeginObject().Key("name").String(name);
    dom::element description, parameters;
    if (Lookup(function, "description", &description) && !IsNull(description)) {
      WriteElement(w.Key("description"), description);
    }
    w.Key("input_schema");
    if (Lookup(function, "parameters", &parameters) && !IsNull(parameters)) {
      WriteElement(w, parameters);
    } else {
      w.Raw(R"({"type":"object","properties":{}})");
    }
    w.EndObject();
    return absl::OkStatus();
  });
}

bool ToolNameTaken(dom::array tools, std::string_view name) {
  for (dom::element tool : tools) {
    dom::object t, function;
    dom::element f;
    if (tool.get_object().get(t) == simdjson::SUCCESS && Lookup(t, "function", &f) &&
        f.get_object().get(function) == simdjson::SUCCESS &&
        StringField(function, "name") == name) {
      return true;
    }
  }
  return false;
}

// The tool that carries a response_format answer (json_object or json_schema).
constexpr std::string_view kJsonToolName = "json_tool_call";
constexpr std::string_view kJsonToolDescription =
    "Reply by calling this tool: its input is the complete answer, as JSON.";

struct JsonAnswerTool {
  std::string_view name = kJsonToolName;
  std::string_view description = kJsonToolDescription;
  dom::element schema;
  bool has_schema = false;
};

// OpenAI's json_schema names ([a-zA-Z0-9_-]{1,64}) are valid Anthropic tool names.
bool IsToolName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

enum class FormatKind : uint8_t { kText, kJson, kUnknown };

// The client's response_format. kJson fills `tool`: json_schema gives its name (when it is a
// valid tool name), description and schema; json_object a permissive object schema.
FormatKind ReadResponseFormat(dom::element value, JsonAnswerTool* tool) {
  dom::object format;
  if (value.get_object().get(format) != simdjson::SUCCESS) return FormatKind::kUnknown;
  const std::string_view type = StringField(format, "type");
  if (type == "text") return FormatKind::kText;
  if (type == "json_object") return FormatKind::kJson;
  if (type != "json_schema") return FormatKind::kUnknown;
  dom::element json_schema;
  dom::object spec;
  if (Lookup(format, "json_schema", &json_schema) &&
      json_schema.get_object().get(spec) == simdjson::SUCCESS) {
    if (IsToolName(StringField(spec, "name"))) tool->name = StringField(spec, "name");
    if (!StringField(spec, "description").empty()) {
      tool->description = StringField(spec, "description");
    }
    tool->has_schema =
        Lookup(spec, "schema", &tool->schema) && tool->schema.type() == dom::element_type::OBJECT;
  }
  return FormatKind::kJson;
}

void WriteJsonAnswerTool(JsonWriter& w, const JsonAnswerTool& tool) {
  w.BeginObject().Key("name").String(tool.name).Key("description").String(tool.description);
  w.Key("input_schema");
  if (tool.has_schema) {
    WriteElement(w, tool.schema);
  } else {
    w.Raw(R"({"type":"object"})");
  }
  w.EndObject();
}

}  // namespace

absl::Status OpenAIChatToAnthropic(dom::object request, const RequestFacts& facts,
                                   const TranslateOptions& options, UpstreamRequestBody* out) {
  out->body.reserve(out->body.size() + 1024);
  JsonWriter w(&out->body);
  w.BeginObject();
  w.Key("model").String(options.model_override.empty() ? std::string_view(facts.model)
                                                       : options.model_override);
  w.Key("max_tokens").Int(facts.max_tokens >= 0 ? facts.max_tokens : options.default_max_tokens);

  std::string system;
  bool has_tools = false;
  dom::element tools, tool_choice, response_format;
  bool has_tool_choice = false, parallel_off = false, has_response_format = false;
  std::string_view user, safety_identifier;
  bool thinking = false;
  for (dom::key_value_pair field : request) {
    const std::string_view key = field.key;
    const dom::element v = field.value;
    if (key == "model" || key == "max_tokens" || key == "max_completion_tokens" || key == "n" ||
        key == "stream_options") {
      continue;  // written above, or meaningless for Anthropic
    }
    if (IsNull(v)) continue;
    if (key == "messages") {
      dom::array list;
      if (v.get_array().get(list) != simdjson::SUCCESS) {
        return Invalid("Invalid type for 'messages': expected an array.");
      }
      bool any = false;
      if (absl::Status s = WriteMessages(list, w, &system, &any); !s.ok()) return s;
      if (!any) return Invalid("messages: no user or assistant content to send");
    } else if (key == "stop") {
      std::string stops;
      if (v.type() == dom::element_type::STRING) {
        if (!IsBlank(AsString(v))) ListItem(&stops).String(AsString(v));
      } else if (v.type() == dom::element_type::ARRAY) {
        const dom::array list = v.get_array().value_unsafe();
        for (dom::element s : list) {
          if (!IsBlank(AsString(s))) ListItem(&stops).String(AsString(s));
        }
      }
      if (!stops.empty()) w.Key("stop_sequences").BeginArray().Raw(stops).EndArray();
    } else if (key == "temperature" || key == "top_p" || key == "top_k" || key == "thinking") {
      WriteElement(w.Key(key), v);
      if (key == "thinking") thinking = !IsDefaultParamValue(key, v);
    } else if (key == "stream") {
      w.Key("stream").Bool(facts.stream);
    } else if (key == "tools") {
      dom::array list;
      if (v.get_array().get(list) == simdjson::SUCCESS && list.size() > 0) {
        tools = v;
        has_tools = true;
      }
    } else if (key == "tool_choice") {
      tool_choice = v;
      has_tool_choice = true;
    } else if (key == "parallel_tool_calls") {
      bool parallel = true;
      parallel_off = v.get_bool().get(parallel) == simdjson::SUCCESS && !parallel;
    } else if (key == "user" || key == "safety_identifier") {
      (key == "user" ? user : safety_identifier) = AsString(v);
      if (AsString(v).empty()) out->dropped_params.emplace_back(key);
    } else if (key == "response_format") {
      response_format = v;
      has_response_format = true;
    } else if (!IsDefaultParamValue(key, v)) {
      out->dropped_params.emplace_back(key);
    }
  }
  if (!system.empty()) w.Key("system").BeginArray().Raw(system).EndArray();
  // metadata.user_id: safety_identifier (OpenAI's successor of `user`) first, then user; an
  // email address or a phone number is never sent (Anthropic asks for an opaque id).
  std::string_view user_id;
  const std::pair<std::string_view, std::string_view> ids[] = {
      {"safety_identifier", safety_identifier}, {"user", user}};
  for (const auto& [key, value] : ids) {
    if (value.empty()) continue;
    if (user_id.empty() && !LooksPersonal(value)) {
      user_id = value;
    } else {
      out->dropped_params.emplace_back(key);
    }
  }
  if (!user_id.empty()) w.Key("metadata").BeginObject().Key("user_id").String(user_id).EndObject();

  ToolChoice choice;
  if (has_tools && has_tool_choice) {
    absl::StatusOr<ToolChoice> read = ReadToolChoice(tool_choice);
    if (!read.ok()) return read.status();
    choice = *read;
  }
  // response_format json_object / json_schema: a tool whose input is the answer, forced (or,
  // next to the client's tools under auto, `any`: the model calls a client tool or answers;
  // with extended thinking, which Anthropic does not allow with a forced tool, `auto`). When
  // the client requires a tool call, the answer is that call: the format has no say.
  JsonAnswerTool answer;
  bool emulate = false;
  if (has_response_format) {
    switch (ReadResponseFormat(response_format, &answer)) {
      case FormatKind::kText:
        break;
      case FormatKind::kJson:
        emulate = choice.type == "auto" || choice.type == "none";
        break;
      case FormatKind::kUnknown:
        out->dropped_params.emplace_back("response_format");
        break;
    }
  }
  const dom::array client_tools = has_tools ? tools.get_array().value_unsafe() : dom::array();
  if (emulate && has_tools && ToolNameTaken(client_tools, answer.name)) {
    if (answer.name == kJsonToolName || ToolNameTaken(client_tools, kJsonToolName)) {
      return Invalid(fmt::format(
          "response_format: a client tool is named \"{}\", the name of the tool that carries "
          "the JSON answer for Anthropic backends",
          kJsonToolName));
    }
    answer.name = kJsonToolName;
  }
  if (has_tools || emulate) {
    w.Key("tools").BeginArray();
    if (has_tools) {
      if (absl::Status s = WriteTools(w, client_tools); !s.ok()) return s;
    }
    if (emulate) WriteJsonAnswerTool(w, answer);
    w.EndArray();
  }
  if (emulate) {
    out->json_tool_name = std::string(answer.name);
    ToolChoice forced = has_tools && choice.type == "auto" ? ToolChoice{"any", {}}
                                                           : ToolChoice{"tool", answer.name};
    if (thinking) forced = ToolChoice{"auto", {}};
    WriteToolChoice(w, forced, parallel_off);
  } else if (has_tools && (has_tool_choice || parallel_off)) {
    WriteToolChoice(w, choice, parallel_off);
  }
  w.EndObject();
  return absl::OkStatus();
}

}  // namespace inferencegw::internal
