// ClientApi helpers and InspectRequest: one On-Demand pass over a request body.
#include <simdjson.h>

#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "inferencegw/translate.h"
#include "translate_internal.h"

namespace inferencegw {
namespace {

namespace od = simdjson::ondemand;
using internal::Invalid;

absl::Status BadJson(simdjson::error_code error) {
  if (error == simdjson::INCORRECT_TYPE) return Invalid("Request body must be a JSON object.");
  return Invalid(fmt::format("Invalid JSON in request body ({}).", simdjson::error_message(error)));
}

// Accumulates the prompt-text bytes of a value: strings (quotes excluded, escapes as written),
// 4 bytes per number (a token id), and in objects only the members that hold prompt text.
simdjson::error_code CountText(od::value& v, int64_t* bytes, int depth) {
  if (depth > 16) return simdjson::SUCCESS;  // deeper values hold no prompt text we count
  od::json_type type;
  if (auto e = v.type().get(type)) return e;
  switch (type) {
    case od::json_type::string: {
      std::string_view raw = v.raw_json_token();
      const size_t close = raw.rfind('"');
      if (close != std::string_view::npos && close > 0) *bytes += static_cast<int64_t>(close) - 1;
      return simdjson::SUCCESS;
    }
    case od::json_type::number:
      *bytes += 4;
      return simdjson::SUCCESS;
    case od::json_type::array: {
      od::array array;
      if (auto e = v.get_array().get(array)) return e;
      for (auto item_result : array) {
        od::value item;
        if (auto e = item_result.get(item)) return e;
        if (auto e = CountText(item, bytes, depth + 1)) return e;
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object object;
      if (auto e = v.get_object().get(object)) return e;
      for (auto field_result : object) {
        od::field field;
        if (auto e = std::move(field_result).get(field)) return e;
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) return e;
        if (key == "input") {  // Anthropic tool_use input: count the object's text
          od::value input = field.value();
          od::json_type input_type;
          if (auto e = input.type().get(input_type)) return e;
          if (input_type == od::json_type::object) {
            od::object input_object;
            std::string_view raw;
            if (auto e = input.get_object().get(input_object)) return e;
            if (auto e = input_object.raw_json().get(raw)) return e;
            *bytes += static_cast<int64_t>(raw.size());
            continue;
          }
          if (auto e = CountText(input, bytes, depth + 1)) return e;
        } else if (key == "text" || key == "content" || key == "arguments" || key == "function" ||
                   key == "tool_calls" || key == "output") {
          if (auto e = CountText(field.value(), bytes, depth + 1)) return e;
        }
      }
      return simdjson::SUCCESS;
    }
    default:
      return simdjson::SUCCESS;
  }
}

bool IsNullValue(od::value& v) {
  od::json_type type;
  return v.type().get(type) == simdjson::SUCCESS && type == od::json_type::null;
}

absl::Status ReadInt(od::value& v, std::string_view name, int64_t* out) {
  if (v.get_int64().get(*out) != simdjson::SUCCESS) {
    return Invalid(fmt::format("Invalid type for '{}': expected an integer.", name));
  }
  return absl::OkStatus();
}

// A Responses parameter that needs state kept between requests, which the gateway does not keep.
absl::Status StatefulRefused(std::string_view key) {
  return Invalid(fmt::format(
      "Unsupported parameter: '{}'. This gateway keeps no response state; send the whole "
      "conversation in 'input'.",
      key));
}

// The largest max_tokens / max_completion_tokens accepted: INT32_MAX, what providers' own
// fields hold. A larger value is a 400, so a token reservation built from it stays small.
constexpr int64_t kMaxRequestMaxTokens = 2'147'483'647;

// ReadInt for max_tokens and max_completion_tokens: InvalidArgument above kMaxRequestMaxTokens.
absl::Status ReadMaxTokens(od::value& v, std::string_view name, int64_t* out) {
  if (auto s = ReadInt(v, name, out); !s.ok()) return s;
  if (*out > kMaxRequestMaxTokens) {
    return Invalid(fmt::format("Invalid '{}': must be at most {}.", name, kMaxRequestMaxTokens));
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view ClientApiName(ClientApi api) {
  switch (api) {
    case ClientApi::kChatCompletions:
      return "chat_completions";
    case ClientApi::kCompletions:
      return "completions";
    case ClientApi::kEmbeddings:
      return "embeddings";
    case ClientApi::kMessages:
      return "messages";
    case ClientApi::kKServeV1:
      return "kserve_v1";
    case ClientApi::kKServeV2:
      return "kserve_v2";
    case ClientApi::kResponses:
      return "responses";
    case ClientApi::kCountTokens:
      return "count_tokens";
    case ClientApi::kKServeMetadata:
      return "kserve_metadata";
  }
  return "unknown";
}

std::string_view DroppedParamLabel(std::string_view key) {
  // OpenAI chat completions and Anthropic messages request parameters (provider-apis.md 1.2,
  // 2.2), and the entry BuildUpstreamBody adds for Anthropic server tools.
  static constexpr std::string_view kKnown[] = {
      "audio",
      "cache_control",
      "container",
      "context_management",
      "frequency_penalty",
      "function_call",
      "functions",
      "logit_bias",
      "logprobs",
      "max_completion_tokens",
      "max_tokens",
      "mcp_servers",
      "metadata",
      "modalities",
      "n",
      "output_config",
      "output_format",
      "parallel_tool_calls",
      "prediction",
      "presence_penalty",
      "prompt_cache_key",
      "reasoning_effort",
      "response_format",
      "safety_identifier",
      "seed",
      "service_tier",
      "stop",
      "stop_sequences",
      "store",
      "stream_options",
      "temperature",
      "thinking",
      "tool_choice",
      "tools",
      "tools (server tools)",
      "top_k",
      "top_logprobs",
      "top_p",
      "user",
      "verbosity",
      "web_search_options",
  };
  for (std::string_view k : kKnown) {
    if (key == k) return k;
  }
  return "other";
}

// A model name or version usable as one path segment: not empty, not "." or "..", no '/'.
static bool IsPathSegment(std::string_view s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string_view::npos;
}

std::optional<ClientApi> ClientApiForPath(std::string_view path) {
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/v1/chat/completions") return ClientApi::kChatCompletions;
  if (path == "/v1/completions") return ClientApi::kCompletions;
  if (path == "/v1/embeddings") return ClientApi::kEmbeddings;
  if (path == "/v1/messages") return ClientApi::kMessages;
  if (path == "/v1/responses") return ClientApi::kResponses;
  if (path == "/v1/messages/count_tokens") return ClientApi::kCountTokens;
  constexpr std::string_view kV1 = "/v1/models/", kPredict = ":predict";
  if (path.starts_with(kV1) && path.ends_with(kPredict) &&
      path.size() > kV1.size() + kPredict.size()) {
    std::string_view name = path.substr(kV1.size(), path.size() - kV1.size() - kPredict.size());
    if (IsPathSegment(name)) return ClientApi::kKServeV1;
  }
  constexpr std::string_view kV2 = "/v2/models/", kInfer = "/infer";
  if (path.starts_with(kV2) && path.ends_with(kInfer) && path.size() > kV2.size() + kInfer.size()) {
    std::string_view rest = path.substr(kV2.size(), path.size() - kV2.size() - kInfer.size());
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      return IsPathSegment(rest) ? std::optional(ClientApi::kKServeV2) : std::nullopt;
    }
    std::string_view version = rest.substr(slash);  // "/versions/{v}"
    constexpr std::string_view kVersions = "/versions/";
    if (IsPathSegment(rest.substr(0, slash)) && version.starts_with(kVersions) &&
        IsPathSegment(version.substr(kVersions.size()))) {
      return ClientApi::kKServeV2;
    }
  }
  return std::nullopt;
}

WireFormat ClientWireFormat(ClientApi api) {
  switch (api) {
    case ClientApi::kMessages:
    case ClientApi::kCountTokens:
      return WireFormat::kAnthropic;
    case ClientApi::kKServeV1:
    case ClientApi::kKServeV2:
    case ClientApi::kKServeMetadata:
      return WireFormat::kKServe;
    default:
      return WireFormat::kOpenAI;
  }
}

absl::StatusOr<RequestFacts> InspectRequest(ClientApi api, std::string_view body) {
  if (api == ClientApi::kKServeMetadata) return RequestFacts{};
  thread_local od::parser parser;
  thread_local std::string buffer;
  // Large bodies do not leave their buffers behind in every thread.
  struct Trim {
    ~Trim() {
      constexpr size_t kKeepBytes = size_t{1} << 20;
      if (parser.capacity() > kKeepBytes) parser = od::parser();
      if (buffer.size() > kKeepBytes) std::string().swap(buffer);
    }
  } trim;
  internal::TrimParsersOnExit trim_scratch;
  if (buffer.size() < body.size() + simdjson::SIMDJSON_PADDING) {
    buffer.resize(body.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(buffer.data(), body.data(), body.size());
  std::memset(buffer.data() + body.size(), 0, simdjson::SIMDJSON_PADDING);

  od::document doc;
  if (auto e = parser.iterate(buffer.data(), body.size(), buffer.size()).get(doc)) {
    return BadJson(e);
  }
  od::object object;
  if (auto e = doc.get_object().get(object)) {
    // Not an object: say whether it is JSON at all (a cold path; the DOM parser validates).
    internal::dom::element root;
    if (e == simdjson::INCORRECT_TYPE) {
      e = internal::ScratchParser().parse(body.data(), body.size(), true).get(root);
      if (e == simdjson::SUCCESS) e = simdjson::INCORRECT_TYPE;
    }
    return BadJson(e);
  }

  const bool chat = api == ClientApi::kChatCompletions;
  const bool count_tokens = api == ClientApi::kCountTokens;
  const bool messages = api == ClientApi::kMessages || count_tokens;
  const bool responses = api == ClientApi::kResponses;
  RequestFacts facts;
  bool has_model = false, has_messages = false, has_prompt = false, has_input = false;
  int64_t max_completion_tokens = -1, max_tokens = -1;
  int64_t text_bytes = 0;
  for (auto field_result : object) {
    od::field field;
    if (auto e = std::move(field_result).get(field)) return BadJson(e);
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return BadJson(e);
    od::value v = field.value();
    if (key == "model") {
      std::string_view model;
      if (v.get_string().get(model) != simdjson::SUCCESS) {
        return Invalid("Invalid type for 'model': expected a string.");
      }
      facts.model = std::string(model);
      has_model = true;
    } else if (IsNullValue(v)) {
      continue;  // an explicit null is the same as an absent optional field
    } else if (key == "stream") {
      if (v.get_bool().get(facts.stream) != simdjson::SUCCESS) {
        return Invalid("Invalid type for 'stream': expected a boolean.");
      }
    } else if (key == "stream_options" && !messages) {
      od::object options;
      if (v.get_object().get(options) != simdjson::SUCCESS) {
        return Invalid("Invalid type for 'stream_options': expected an object.");
      }
      for (auto option_result : options) {
        od::field option;
        if (auto e = std::move(option_result).get(option)) return BadJson(e);
        std::string_view option_key;
        if (auto e = option.unescaped_key().get(option_key)) return BadJson(e);
        if (option_key != "include_usage") continue;
        od::value flag = option.value();
        if (IsNullValue(flag)) continue;
        if (flag.get_bool().get(facts.include_usage) != simdjson::SUCCESS) {
          return Invalid("Invalid type for 'stream_options.include_usage': expected a boolean.");
        }
      }
    } else if (key == "max_completion_tokens" && chat) {
      if (auto s = ReadMaxTokens(v, key, &max_completion_tokens); !s.ok()) return s;
    } else if (key == "max_output_tokens" && responses) {
      if (auto s = ReadMaxTokens(v, key, &max_tokens); !s.ok()) return s;
    } else if (responses && (key == "previous_response_id" || key == "conversation")) {
      return StatefulRefused(key);
    } else if (responses && key == "background") {
      bool background = false;
      if (v.get_bool().get(background) != simdjson::SUCCESS) {
        return Invalid("Invalid type for 'background': expected a boolean.");
      }
      if (background) return StatefulRefused(key);
    } else if (responses && (key == "input" || key == "instructions")) {
      od::json_type type;
      if (auto e = v.type().get(type)) return BadJson(e);
      if (key == "input" && type != od::json_type::string && type != od::json_type::array) {
        return Invalid("Invalid type for 'input': expected a string or an array of items.");
      }
      if (key == "instructions" && type != od::json_type::string) {
        return Invalid("Invalid type for 'instructions': expected a string.");
      }
      if (auto e = CountText(v, &text_bytes, 0)) return BadJson(e);
      if (key == "input") has_input = true;
    } else if (key == "max_tokens" && (chat || messages || api == ClientApi::kCompletions)) {
      if (auto s = ReadMaxTokens(v, key, &max_tokens); !s.ok()) return s;
    } else if (key == "n" && (chat || api == ClientApi::kCompletions)) {
      int64_t n = 1;
      if (auto s = ReadInt(v, key, &n); !s.ok()) return s;
      if (n < 1 || n > 128) return Invalid("Invalid 'n': must be between 1 and 128.");
      facts.n = static_cast<int>(n);
    } else if (key == "messages" && (chat || messages)) {
      od::array list;
      if (v.get_array().get(list) != simdjson::SUCCESS) {
        return Invalid("Invalid type for 'messages': expected an array.");
      }
      size_t count = 0;
      for (auto item_result : list) {
        od::value item;
        if (auto e = item_result.get(item)) return BadJson(e);
        if (auto e = CountText(item, &text_bytes, 0)) return BadJson(e);
        ++count;
      }
      if (count == 0) {
        return Invalid("Invalid 'messages': empty array. Expected an array with minimum length 1.");
      }
      has_messages = true;
    } else if ((key == "system" && messages) || (key == "prompt" && !chat && !messages) ||
               (key == "input" && api == ClientApi::kEmbeddings)) {
      if (auto e = CountText(v, &text_bytes, 0)) return BadJson(e);
      if (key == "prompt") has_prompt = true;
      if (key == "input") has_input = true;
    }
  }
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS) {
    return Invalid("Invalid JSON in request body (trailing content).");
  }

  if (api == ClientApi::kKServeV1 || api == ClientApi::kKServeV2) return facts;
  if (!has_model) return Invalid("Missing required parameter: 'model'.");
  if ((chat || messages) && !has_messages) {
    return Invalid("Missing required parameter: 'messages'.");
  }
  if (api == ClientApi::kCompletions && !has_prompt) {
    return Invalid("Missing required parameter: 'prompt'.");
  }
  if ((api == ClientApi::kEmbeddings || responses) && !has_input) {
    return Invalid("Missing required parameter: 'input'.");
  }
  if (api == ClientApi::kEmbeddings) facts.stream = false;
  if (count_tokens) facts.stream = false;
  if (messages || responses) facts.include_usage = facts.stream;
  facts.max_tokens = max_completion_tokens >= 0 ? max_completion_tokens : max_tokens;
  if (count_tokens) facts.max_tokens = -1;
  facts.estimated_prompt_tokens = (text_bytes + 3) / 4;
  return facts;
}

}  // namespace inferencegw
