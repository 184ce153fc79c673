#include "inferencegw/usage_parser.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>
#include <string>

#include "fmt/format.h"

namespace inferencegw {

std::string_view WireFormatName(WireFormat f) {
  switch (f) {
    case WireFormat::kOpenAI:
      return "openai";
    case WireFormat::kAnthropic:
      return "anthropic";
    case WireFormat::kCohere:
      return "cohere";
    case WireFormat::kKServe:
      return "kserve";
  }
  return "unknown";
}

bool UsageInRange(const Usage& usage) {
  for (const int64_t count : {usage.input_tokens, usage.output_tokens, usage.cached_input_tokens,
                              usage.cache_write_input_tokens, usage.reasoning_tokens}) {
    if (count < 0 || count > kMaxUsageTokens) return false;
  }
  return true;
}

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Bodies above this size are parsed with a parser of their own, so that the per-thread parser
// (and the memory it keeps) stays small; typical responses and stream events are far below it.
constexpr size_t kThreadParserMaxBytes = size_t{1} << 20;

// Parses `json` into a DOM owned by a per-thread parser (or by `*large` for big inputs); the
// element lives until the next parse on this thread. simdjson copies the input into its own
// padded buffer, so any string_view is accepted.
simdjson::error_code ParseJson(std::string_view json, std::unique_ptr<simdjson::dom::parser>* large,
                               element* root) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::parser* p = &parser;
  if (json.size() > kThreadParserMaxBytes) {
    *large = std::make_unique<simdjson::dom::parser>();
    p = large->get();
  }
  return p->parse(json.data(), json.size()).get(*root);
}

// Any count above kMaxUsageTokens is held as this, so that sums of a few counts cannot
// overflow before UsageInRange rejects them.
constexpr int64_t kTooMany = kMaxUsageTokens + 1;

// A token count as int64: integers and (as Cohere sends them) floating-point numbers, clamped to
// [0, kTooMany]. Returns false when the element is not a number (null, absent, ...).
bool ToCount(element e, int64_t* out) {
  switch (e.type()) {
    case element_type::INT64: {
      const int64_t v = e.get_int64().value_unsafe();
      *out = std::clamp<int64_t>(v, 0, kTooMany);
      return true;
    }
    case element_type::UINT64:
      *out = kTooMany;  // above INT64_MAX
      return true;
    case element_type::DOUBLE: {
      const double v = e.get_double().value_unsafe();
      if (!(v > 0)) {
        *out = 0;
      } else if (v >= static_cast<double>(kTooMany)) {
        *out = kTooMany;
      } else {
        *out = std::llround(v);
      }
      return true;
    }
    default:
      return false;
  }
}

// The count at obj[key]; false (and *out untouched) when absent or not a number.
bool GetCount(object obj, std::string_view key, int64_t* out) {
  element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS) return false;
  return ToCount(e, out);
}

int64_t CountOrZero(object obj, std::string_view key) {
  int64_t v = 0;
  GetCount(obj, key, &v);
  return v;
}

// obj[key] as an object; false when absent, null or another type.
bool GetObject(object obj, std::string_view key, object* out) {
  return obj.at_key(key).get_object().get(*out) == simdjson::SUCCESS;
}

// OpenAI `usage` (also vLLM, Ollama, KServe's OpenAI routes): every count is assigned.
// The Responses API names them input_tokens / output_tokens, with input_tokens_details and
// output_tokens_details; the counts mean the same.
void ApplyOpenAIUsage(object usage, Usage* u) {
  object details;
  if (usage.at_key("prompt_tokens").error() == simdjson::NO_SUCH_FIELD &&
      usage.at_key("input_tokens").error() != simdjson::NO_SUCH_FIELD) {
    u->input_tokens = CountOrZero(usage, "input_tokens");
    u->output_tokens = CountOrZero(usage, "output_tokens");
    u->cached_input_tokens = 0;
    u->cache_write_input_tokens = 0;
    u->reasoning_tokens = 0;
    if (GetObject(usage, "input_tokens_details", &details)) {
      u->cached_input_tokens = CountOrZero(details, "cached_tokens");
    }
    if (GetObject(usage, "output_tokens_details", &details)) {
      u->reasoning_tokens = CountOrZero(details, "reasoning_tokens");
    }
    u->present = true;
    return;
  }
  u->input_tokens = CountOrZero(usage, "prompt_tokens");
  u->output_tokens = CountOrZero(usage, "completion_tokens");  // absent for embeddings
  u->cached_input_tokens = 0;
  u->cache_write_input_tokens = 0;
  u->reasoning_tokens = 0;
  if (GetObject(usage, "prompt_tokens_details", &details)) {
    u->cached_input_tokens = CountOrZero(details, "cached_tokens");
    u->cache_write_input_tokens = CountOrZero(details, "cache_write_tokens");
  }
  if (GetObject(usage, "completion_tokens_details", &details)) {
    u->reasoning_tokens = CountOrZero(details, "reasoning_tokens");
  }
  u->present = true;
}

// Anthropic `usage`: input_tokens excludes cache reads and writes. Only the fields present are
// assigned (message_delta carries cumulative counts and may omit the input ones); the input
// total is rebuilt from the three parts, the part not given keeping its previous value.
void ApplyAnthropicUsage(object usage, Usage* u) {
  int64_t uncached = u->input_tokens - u->cached_input_tokens - u->cache_write_input_tokens;
  if (uncached < 0) uncached = 0;
  GetCount(usage, "input_tokens", &uncached);
  GetCount(usage, "cache_read_input_tokens", &u->cached_input_tokens);
  GetCount(usage, "cache_creation_input_tokens", &u->cache_write_input_tokens);
  GetCount(usage, "output_tokens", &u->output_tokens);
  object details;
  if (GetObject(usage, "output_tokens_details", &details)) {
    GetCount(details, "thinking_tokens", &u->reasoning_tokens);
  }
  u->input_tokens = uncached + u->cached_input_tokens + u->cache_write_input_tokens;
  u->present = true;
}

// Cohere: `billed_units` (what is charged), else `tokens` (raw counts), inside `holder`, which is
// v2 `usage` or v1 `meta`. Returns false when neither is there.
bool ApplyCohereUnits(object holder, Usage* u) {
  object units;
  if (!GetObject(holder, "billed_units", &units) && !GetObject(holder, "tokens", &units)) {
    return false;
  }
  u->input_tokens = CountOrZero(units, "input_tokens");
  u->output_tokens = CountOrZero(units, "output_tokens");
  u->cached_input_tokens = 0;
  u->cache_write_input_tokens = 0;
  u->reasoning_tokens = 0;
  u->present = true;
  return true;
}

// Cohere usage anywhere a response or an event carries it: v2 `usage`, v1 `meta`, the v2
// stream's message-end `delta.usage`, the v1 stream's stream-end `response.meta`.
void ApplyCohere(object root, Usage* u) {
  object holder;
  if (GetObject(root, "usage", &holder) && ApplyCohereUnits(holder, u)) return;
  if (GetObject(root, "meta", &holder) && ApplyCohereUnits(holder, u)) return;
  object inner;
  if (GetObject(root, "delta", &inner) && GetObject(inner, "usage", &holder) &&
      ApplyCohereUnits(holder, u)) {
    return;
  }
  if (GetObject(root, "response", &inner) && GetObject(inner, "meta", &holder)) {
    ApplyCohereUnits(holder, u);
  }
}

// Applies a parsed body or stream event's usage. `event` is the SSE event name ("" for bodies).
// Out-of-range usage replaces the report with an empty, out_of_range one, which stays so.
void ApplyUsageChecked(WireFormat format, std::string_view event, element root, Usage* u);

void ApplyUsage(WireFormat format, std::string_view event, element root, Usage* u) {
  object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS) return;
  object usage;
  switch (format) {
    case WireFormat::kOpenAI:
      // `usage` is null on every stream chunk but the last (include_usage), or cumulative on each
      // (vLLM continuous_usage_stats): either way the latest non-null one is the answer.
      // Responses API: a body carries `usage`, the final stream events `response.usage`.
      if (GetObject(obj, "usage", &usage)) {
        ApplyOpenAIUsage(usage, u);
      } else if (object response;
                 GetObject(obj, "response", &response) && GetObject(response, "usage", &usage)) {
        ApplyOpenAIUsage(usage, u);
      }
      return;
    case WireFormat::kAnthropic: {
      // A body and message_delta carry `usage`; message_start carries `message.usage`. The JSON
      // `type` repeats the event name, so the event name itself is not needed.
      (void)event;
      object message;
      if (GetObject(obj, "usage", &usage)) {
        ApplyAnthropicUsage(usage, u);
      } else if (GetObject(obj, "message", &message) && GetObject(message, "usage", &usage)) {
        ApplyAnthropicUsage(usage, u);
      }
      return;
    }
    case WireFormat::kCohere:
      ApplyCohere(obj, u);
      return;
    case WireFormat::kKServe:
      return;
  }
}

void ApplyUsageChecked(WireFormat format, std::string_view event, element root, Usage* u) {
  if (u->out_of_range) return;
  ApplyUsage(format, event, root, u);
  if (!UsageInRange(*u)) {
    *u = Usage{};
    u->out_of_range = true;
  }
}

// data.find(key, from), with glibc's memmem: std::string_view::find stops at every '"' of the
// JSON to compare, which made this scan cost more than the SSE framing.
size_t Find(std::string_view data, std::string_view key, size_t from) {
  const void* hit = memmem(data.data() + from, data.size() - from, key.data(), key.size());
  return hit == nullptr ? std::string_view::npos
                        : static_cast<size_t>(static_cast<const char*>(hit) - data.data());
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Whether a stream event may carry usage, decided without parsing it; false positives only cost
// a parse. Most events of a stream are content deltas, so this is what the stream pays per event.
//  - Anthropic and Cohere name their events: only message_start / message_delta (Anthropic) and
//    message-end / stream-end (Cohere) carry usage.
//  - An OpenAI include_usage stream ends every chunk but the last with `"usage":null}`: when the
//    data ends so, its root object's usage is null (the last '}' closes the root).
//  - Otherwise the data must name `"usage"` (or Cohere v1's `"billed_units"`) with a non-null
//    value.
bool MayCarryUsage(WireFormat format, std::string_view event, std::string_view data) {
  if (!event.empty()) {
    if (format == WireFormat::kAnthropic) {
      return event == "message_start" || event == "message_delta";
    }
    if (format == WireFormat::kCohere) return event == "message-end" || event == "stream-end";
  }
  std::string_view tail = data;
  while (!tail.empty() && IsJsonSpace(tail.back())) tail.remove_suffix(1);
  if (tail.ends_with("\"usage\":null}") || tail.ends_with("\"usage\": null}")) return false;

  static constexpr std::string_view kKeys[] = {"\"usage\"", "\"billed_units\""};
  const size_t keys = format == WireFormat::kCohere ? 2 : 1;
  for (std::string_view key : std::span(kKeys, keys)) {
    size_t pos = 0;
    while ((pos = Find(data, key, pos)) != std::string_view::npos) {
      pos += key.size();
      size_t i = pos;
      while (i < data.size() && IsJsonSpace(data[i])) ++i;
      if (i < data.size() && data[i] == ':') {
        ++i;
        while (i < data.size() && IsJsonSpace(data[i])) ++i;
        if (data.substr(i, 4) == "null") continue;
      }
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<Usage> ParseUsage(WireFormat format, std::string_view body) {
  Usage usage;
  if (format == WireFormat::kKServe) return usage;  // KServe reports no tokens: never parsed
  std::unique_ptr<simdjson::dom::parser> large;
  element root;
  if (const simdjson::error_code error = ParseJson(body, &large, &root); error) {
    return absl::InvalidArgumentError(fmt::format("{} response body is not valid JSON: {}",
                                                  WireFormatName(format),
                                                  simdjson::error_message(error)));
  }
  ApplyUsageChecked(format, "", root, &usage);
  return usage;
}

bool ApplyStreamEventUsage(WireFormat format, std::string_view event, std::string_view data,
                           Usage* usage) {
  if (format == WireFormat::kKServe || data == "[DONE]") return true;
  std::unique_ptr<simdjson::dom::parser> large;
  element root;
  if (ParseJson(data, &large, &root) != simdjson::SUCCESS) return false;
  ApplyUsageChecked(format, event, root, usage);
  return true;
}

void StreamUsageParser::Feed(std::string_view bytes) {
  sse_.Feed(bytes, [this](const SseEvent& e) {
    if (MayCarryUsage(format_, e.event, e.data))
      ApplyStreamEventUsage(format_, e.event, e.data, &usage_);
  });
}

void StreamUsageParser::Finish() {
  sse_.Finish([this](const SseEvent& e) {
    if (MayCarryUsage(format_, e.event, e.data))
      ApplyStreamEventUsage(format_, e.event, e.data, &usage_);
  });
}

}  // namespace inferencegw
