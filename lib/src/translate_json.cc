// JSON access, vocabularies and the object scanner shared by the translation files.
#include <algorithm>
#include <string>
#include <string_view>

#include "fmt/format.h"
#include "translate_internal.h"

namespace inferencegw::internal {

dom::parser& DocumentParser() {
  thread_local dom::parser parser;
  return parser;
}

dom::parser& ScratchParser() {
  thread_local dom::parser parser;
  return parser;
}

TrimParsersOnExit::~TrimParsersOnExit() {
  constexpr size_t kKeepBytes = size_t{1} << 20;
  if (DocumentParser().capacity() > kKeepBytes) DocumentParser() = dom::parser();
  if (ScratchParser().capacity() > kKeepBytes) ScratchParser() = dom::parser();
}

absl::StatusOr<dom::object> ParseObject(dom::parser& parser, std::string_view json,
                                        std::string_view what) {
  dom::element root;
  simdjson::error_code error = parser.parse(json.data(), json.size(), true).get(root);
  if (error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        fmt::format("{} is not valid JSON ({})", what, simdjson::error_message(error)));
  }
  dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("{} is not a JSON object", what));
  }
  return object;
}

std::string_view AsString(dom::element e) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return {};
  return s;
}

std::string_view StringField(dom::object object, std::string_view key) {
  dom::element e;
  if (!Lookup(object, key, &e)) return {};
  return AsString(e);
}

bool IsNull(dom::element e) { return e.type() == dom::element_type::NULL_VALUE; }

void WriteElement(JsonWriter& w, dom::element e) {
  switch (e.type()) {
    case dom::element_type::OBJECT: {
      w.BeginObject();
      const dom::object object = e.get_object().value_unsafe();
      for (dom::key_value_pair field : object) {
        w.Key(field.key);
        WriteElement(w, field.value);
      }
      w.EndObject();
      break;
    }
    case dom::element_type::ARRAY: {
      const dom::array array = e.get_array().value_unsafe();
      w.BeginArray();
      for (dom::element item : array) WriteElement(w, item);
      w.EndArray();
      break;
    }
    case dom::element_type::STRING:
      w.String(AsString(e));
      break;
    case dom::element_type::INT64:
      w.Int(e.get_int64().value_unsafe());
      break;
    case dom::element_type::UINT64:
      w.UInt(e.get_uint64().value_unsafe());
      break;
    case dom::element_type::DOUBLE:
      w.Double(e.get_double().value_unsafe());
      break;
    case dom::element_type::BOOL:
      w.Bool(e.get_bool().value_unsafe());
      break;
    case dom::element_type::NULL_VALUE:
      w.Null();
      break;
  }
}

bool WriteObjectText(JsonWriter& w, std::string_view json) {
  if (json.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    w.BeginObject().EndObject();
    return true;
  }
  dom::element root;
  if (ScratchParser().parse(json.data(), json.size(), true).get(root) != simdjson::SUCCESS ||
      root.type() != dom::element_type::OBJECT) {
    return false;
  }
  WriteElement(w, root);
  return true;
}

FinishReason FinishFromOpenAI(std::string_view r) {
  if (r == "length") return FinishReason::kLength;
  if (r == "tool_calls" || r == "function_call") return FinishReason::kToolCalls;
  if (r == "content_filter") return FinishReason::kContentFilter;
  return FinishReason::kStop;
}

FinishReason FinishFromAnthropic(std::string_view r) {
  if (r == "stop_sequence") return FinishReason::kStopSequence;
  if (r == "max_tokens" || r == "model_context_window_exceeded") return FinishReason::kLength;
  if (r == "tool_use") return FinishReason::kToolCalls;
  if (r == "refusal") return FinishReason::kContentFilter;
  return FinishReason::kStop;  // end_turn, pause_turn, anything new
}

FinishReason FinishFromCohere(std::string_view r) {
  if (r == "STOP_SEQUENCE") return FinishReason::kStopSequence;
  if (r == "MAX_TOKENS") return FinishReason::kLength;
  if (r == "TOOL_CALL") return FinishReason::kToolCalls;
  if (r == "ERROR_TOXIC") return FinishReason::kContentFilter;
  return FinishReason::kStop;  // COMPLETE, ERROR, TIMEOUT, anything new
}

std::string_view OpenAIFinishName(FinishReason r) {
  switch (r) {
    case FinishReason::kLength:
      return "length";
    case FinishReason::kToolCalls:
      return "tool_calls";
    case FinishReason::kContentFilter:
      return "content_filter";
    default:
      return "stop";
  }
}

std::string_view AnthropicStopName(FinishReason r) {
  switch (r) {
    case FinishReason::kStopSequence:
      return "stop_sequence";
    case FinishReason::kLength:
      return "max_tokens";
    case FinishReason::kToolCalls:
      return "tool_use";
    case FinishReason::kContentFilter:
      return "refusal";
    default:
      return "end_turn";
  }
}

void WriteOpenAIUsage(JsonWriter& w, const Usage& u) {
  w.BeginObject();
  w.Key("prompt_tokens").Int(u.input_tokens);
  w.Key("completion_tokens").Int(u.output_tokens);
  w.Key("total_tokens").Int(u.total());
  w.Key("prompt_tokens_details").BeginObject().Key("cached_tokens").Int(u.cached_input_tokens);
  if (u.cache_write_input_tokens > 0) w.Key("cache_write_tokens").Int(u.cache_write_input_tokens);
  w.EndObject();
  w.Key("completion_tokens_details").BeginObject().Key("reasoning_tokens").Int(u.reasoning_tokens);
  w.EndObject();
  w.EndObject();
}

void WriteAnthropicUsage(JsonWriter& w, const Usage& u) {
  const int64_t uncached =
      std::max<int64_t>(u.input_tokens - u.cached_input_tokens - u.cache_write_input_tokens, 0);
  w.BeginObject();
  w.Key("input_tokens").Int(uncached);
  w.Key("output_tokens").Int(u.output_tokens);
  if (u.cache_write_input_tokens > 0) {
    w.Key("cache_creation_input_tokens").Int(u.cache_write_input_tokens);
  }
  if (u.cached_input_tokens > 0) w.Key("cache_read_input_tokens").Int(u.cached_input_tokens);
  w.EndObject();
}

namespace {

constexpr size_t kNpos = std::string_view::npos;

size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// REQUIRES: s[i] == '"'. One past the closing quote, or kNpos.
size_t SkipString(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return kNpos;
}

// One past the value starting at s[i], or kNpos.
size_t SkipValue(std::string_view s, size_t i) {
  if (i >= s.size()) return kNpos;
  const char c = s[i];
  if (c == '"') return SkipString(s, i);
  if (c == '{' || c == '[') {
    std::string open;  // expected closers
    while (i < s.size()) {
      const char d = s[i];
      if (d == '"') {
        i = SkipString(s, i);
        if (i == kNpos) return kNpos;
        continue;
      }
      if (d == '{') open.push_back('}');
      if (d == '[') open.push_back(']');
      if (d == '}' || d == ']') {
        if (open.empty() || open.back() != d) return kNpos;
        open.pop_back();
        if (open.empty()) return i + 1;
      }
      ++i;
    }
    return kNpos;
  }
  if (c != '-' && (c < '0' || c > '9') && c != 't' && c != 'f' && c != 'n') return kNpos;
  size_t j = i;
  while (j < s.size() && std::string_view(",}] \t\r\n").find(s[j]) == kNpos) ++j;
  return j;
}

absl::Status Broken() { return absl::InvalidArgumentError("request body is not a JSON object"); }

}  // namespace

absl::Status ScanObject(std::string_view s, size_t start, bool whole, ScannedObject* out) {
  out->members.clear();
  size_t i = SkipSpace(s, start);
  if (i >= s.size() || s[i] != '{') return Broken();
  out->open = i;
  i = SkipSpace(s, i + 1);
  if (i < s.size() && s[i] == '}') {
    out->close = i;
  } else {
    while (true) {
      if (i >= s.size() || s[i] != '"') return Broken();
      JsonMember m;
      m.begin = i;
      const size_t key_end = SkipString(s, i);
      if (key_end == kNpos) return Broken();
      m.key = s.substr(i + 1, key_end - i - 2);
      i = SkipSpace(s, key_end);
      if (i >= s.size() || s[i] != ':') return Broken();
      m.value_begin = SkipSpace(s, i + 1);
      m.value_end = SkipValue(s, m.value_begin);
      if (m.value_end == kNpos) return Broken();
      out->members.push_back(m);
      i = SkipSpace(s, m.value_end);
      if (i < s.size() && s[i] == ',') {
        i = SkipSpace(s, i + 1);
        continue;
      }
      if (i < s.size() && s[i] == '}') {
        out->close = i;
        break;
      }
      return Broken();
    }
  }
  if (whole && SkipSpace(s, out->close + 1) != s.size()) return Broken();
  return absl::OkStatus();
}

bool ParseBase64DataUrl(std::string_view url, DataUrl* out) {
  if (url.substr(0, 5) != "data:") return false;
  const size_t comma = url.find(',');
  if (comma == kNpos) return false;
  std::string_view meta = url.substr(5, comma - 5);
  constexpr std::string_view kBase64 = ";base64";
  if (meta.size() < kBase64.size() || meta.substr(meta.size() - kBase64.size()) != kBase64) {
    return false;
  }
  meta.remove_suffix(kBase64.size());
  out->media_type = meta.substr(0, meta.find(';'));
  out->data = url.substr(comma + 1);
  return !out->media_type.empty() && !out->data.empty();
}

std::string_view AnthropicClientErrorType(std::string_view t) {
  static constexpr std::string_view kKnown[] = {
      "invalid_request_error", "authentication_error", "billing_error",    "permission_error",
      "not_found_error",       "request_too_large",    "rate_limit_error", "api_error",
      "timeout_error",         "overloaded_error"};
  for (std::string_view k : kKnown) {
    if (t == k) return k;
  }
  return "api_error";
}

bool IsDefaultParamValue(std::string_view key, dom::element value) {
  bool b = false;
  double d = 0;
  dom::object o;
  if (key == "logprobs" || key == "store" || key == "stream") {
    return value.get_bool().get(b) == simdjson::SUCCESS && !b;
  }
  if (key == "parallel_tool_calls") return value.get_bool().get(b) == simdjson::SUCCESS && b;
  if (key == "presence_penalty" || key == "frequency_penalty" || key == "top_logprobs") {
    return value.get_double().get(d) == simdjson::SUCCESS && d == 0;
  }
  if (key == "logit_bias" || key == "metadata") {
    return value.get_object().get(o) == simdjson::SUCCESS && o.size() == 0;
  }
  if (key == "thinking") {
    return value.get_object().get(o) == simdjson::SUCCESS && StringField(o, "type") == "disabled";
  }
  return false;
}

absl::Status ForEachFunctionTool(dom::array tools, std::string_view provider,
                                 absl::FunctionRef<absl::Status(size_t, dom::object)> fn) {
  size_t i = 0;
  for (dom::element tool : tools) {
    dom::object t, function;
    dom::element f;
    if (tool.get_object().get(t) != simdjson::SUCCESS ||
        (!StringField(t, "type").empty() && StringField(t, "type") != "function") ||
        !Lookup(t, "function", &f) || f.get_object().get(function) != simdjson::SUCCESS) {
      return Invalid(
          fmt::format("tools[{}]: only function tools can be sent to {} backends", i, provider));
    }
    if (absl::Status status = fn(i, function); !status.ok()) return status;
    ++i;
  }
  return absl::OkStatus();
}

}  // namespace inferencegw::internal
