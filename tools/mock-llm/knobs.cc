#include "knobs.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <string>
#include <system_error>
#include <vector>

#include "json_out.h"

namespace inferencegw::mock_llm {
namespace {

enum class Type { kInt, kInt64, kUint64, kDouble, kBool, kString };

// One knob: its names, help text, type, range and the member it sets. Exactly one member
// pointer is set, matching `type`.
struct Spec {
  std::string_view name;  // underscore spelling; the flag is "--" + name with dashes
  std::string_view metavar;
  std::string_view help;
  Type type;
  int64_t min = 0;
  int64_t max = 0;
  int Knobs::*int_member = nullptr;
  int64_t Knobs::*int64_member = nullptr;
  uint64_t Knobs::*uint64_member = nullptr;
  double Knobs::*double_member = nullptr;
  bool Knobs::*bool_member = nullptr;
  std::string Knobs::*string_member = nullptr;
};

constexpr int64_t kMaxDelayMs = 3'600'000;
constexpr int64_t kMaxTokens = 1'000'000'000;

Spec IntKnob(std::string_view name, std::string_view metavar, std::string_view help, int64_t min,
             int64_t max, int Knobs::*member) {
  Spec s{name, metavar, help, Type::kInt, min, max};
  s.int_member = member;
  return s;
}
Spec TokensKnob(std::string_view name, std::string_view help, int64_t Knobs::*member) {
  Spec s{name, "N", help, Type::kInt64, 0, kMaxTokens};
  s.int64_member = member;
  return s;
}

const std::vector<Spec>& Specs() {
  static const std::vector<Spec>* const specs = [] {
    auto* v = new std::vector<Spec>();
    v->push_back(IntKnob("latency_ms", "MS",
                         "delay before the response, or before the first event of a stream", 0,
                         kMaxDelayMs, &Knobs::latency_ms));
    v->push_back(IntKnob("chunk_interval_ms", "MS", "delay between stream content chunks", 0,
                         kMaxDelayMs, &Knobs::chunk_interval_ms));
    v->push_back(IntKnob("chunks", "N",
                         "content chunks per stream; the content text has the same pieces", 0,
                         100'000, &Knobs::chunks));
    Spec rate{"failure_rate", "P",
              "fraction 0..1 of inference requests answered with --fail-status (seeded draw)",
              Type::kDouble};
    rate.double_member = &Knobs::failure_rate;
    v->push_back(rate);
    Spec seed{"seed", "N", "seed of the failure draw sequence (unsigned 64-bit)", Type::kUint64};
    seed.uint64_member = &Knobs::seed;
    v->push_back(seed);
    v->push_back(IntKnob("fail_status", "CODE", "status of failures drawn by --failure-rate", 400,
                         599, &Knobs::fail_status));
    v->push_back(IntKnob("status", "CODE",
                         "force every inference response to this status with the provider's "
                         "error body; 200 = normal",
                         200, 599, &Knobs::status));
    v->push_back(IntKnob("retry_after", "SECONDS",
                         "retry-after header sent with 429 and 503 errors; 0 = not sent", 0, 86'400,
                         &Knobs::retry_after));
    v->push_back(TokensKnob("prompt_tokens",
                            "prompt tokens reported in usage (includes cached and cache-write)",
                            &Knobs::prompt_tokens));
    v->push_back(TokensKnob("completion_tokens", "completion tokens reported in usage",
                            &Knobs::completion_tokens));
    v->push_back(TokensKnob("cached_tokens", "prompt tokens reported as read from a cache",
                            &Knobs::cached_tokens));
    v->push_back(TokensKnob("cache_write_tokens", "prompt tokens reported as written to a cache",
                            &Knobs::cache_write_tokens));
    Spec model{"model", "NAME", "served model name (GET /v1/models)", Type::kString};
    model.string_member = &Knobs::model;
    v->push_back(model);
    Spec name{"name", "NAME",
              "this mock's name: x-mock-backend response header, \"Hello from NAME\" content",
              Type::kString};
    name.string_member = &Knobs::name;
    v->push_back(name);
    v->push_back(
        IntKnob("health_status", "CODE", "status of GET /health", 200, 599, &Knobs::health_status));
    Spec stamp{"stamp_chunks", "",
               "prefix each stream content chunk's text with \"t=<CLOCK_MONOTONIC ns> \" at "
               "send time",
               Type::kBool};
    stamp.bool_member = &Knobs::stamp_chunks;
    v->push_back(stamp);
    v->push_back(IntKnob("drop_after_chunks", "N",
                         "close a stream's connection abruptly after N content chunks (before "
                         "the finish events); -1 = never",
                         -1, 1'000'000, &Knobs::drop_after_chunks));
    Spec reset{"drop_with_reset", "",
               "--drop-after-chunks resets the connection (TCP RST) instead of closing it",
               Type::kBool};
    reset.bool_member = &Knobs::drop_with_reset;
    v->push_back(reset);
    v->push_back(IntKnob("stall_after_chunks", "N",
                         "after N content chunks a stream goes silent and keeps its connection "
                         "open until the client leaves; -1 = never",
                         -1, 1'000'000, &Knobs::stall_after_chunks));
    v->push_back(IntKnob("malformed_chunk", "N",
                         "send stream content chunk N malformed (see --malformed); a non-streamed "
                         "answer is cut to half its JSON; -1 = never",
                         -1, 1'000'000, &Knobs::malformed_chunk));
    Spec malformed{"malformed", "KIND",
                   "json: the chunk's JSON is cut short; sse: the chunk is replaced by junk "
                   "bytes (NUL, invalid UTF-8, bare CRs, an unterminated data line)",
                   Type::kString};
    malformed.string_member = &Knobs::malformed;
    v->push_back(malformed);
    Spec key{"require_api_key", "KEY",
             "require Authorization: Bearer KEY (OpenAI, Cohere) or x-api-key: KEY plus "
             "anthropic-version (Anthropic); empty = no auth",
             Type::kString};
    key.string_member = &Knobs::require_api_key;
    v->push_back(key);
    return v;
  }();
  return *specs;
}

std::string Normalize(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c == '-') c = '_';
  }
  return out;
}

const Spec* FindSpec(std::string_view name) {
  const std::string normalized = Normalize(name);
  for (const Spec& s : Specs()) {
    if (s.name == normalized) return &s;
  }
  return nullptr;
}

std::string FlagName(const Spec& s) {
  std::string flag = "--" + std::string(s.name);
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

absl::Status Invalid(const Spec& s, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", s.name, why));
}

absl::Status SetInt(const Spec& s, Knobs& k, int64_t v) {
  if (v < s.min || v > s.max) {
    return Invalid(s, fmt::format("{} is outside [{}, {}]", v, s.min, s.max));
  }
  if (s.name == "status" && v != 200 && v < 400) {
    return Invalid(s, fmt::format("{} must be 200 or an error status 400..599", v));
  }
  if (s.type == Type::kInt) {
    k.*s.int_member = static_cast<int>(v);
  } else {
    k.*s.int64_member = v;
  }
  return absl::OkStatus();
}

absl::Status SetDouble(const Spec& s, Knobs& k, double v) {
  if (!(v >= 0.0 && v <= 1.0)) return Invalid(s, fmt::format("{} is outside [0, 1]", v));
  k.*s.double_member = v;
  return absl::OkStatus();
}

absl::Status SetString(const Spec& s, Knobs& k, std::string_view v) {
  for (const char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Invalid(s, "control characters are not allowed");
    }
  }
  if (v.empty() && s.name != "require_api_key") return Invalid(s, "must not be empty");
  if (v.size() > 256) return Invalid(s, "longer than 256 bytes");
  k.*s.string_member = std::string(v);
  return absl::OkStatus();
}

bool ParseInt64(std::string_view text, int64_t* out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

bool ParseBoolText(std::string_view text, bool* out) {
  if (text == "true" || text == "1" || text == "yes" || text == "on") {
    *out = true;
    return true;
  }
  if (text == "false" || text == "0" || text == "no" || text == "off") {
    *out = false;
    return true;
  }
  return false;
}

// Sets `s` from a JSON value of the matching type.
absl::Status SetFromJson(const Spec& s, Knobs& k, simdjson::dom::element value) {
  using simdjson::dom::element_type;
  const element_type t = value.type();
  switch (s.type) {
    case Type::kInt:
    case Type::kInt64: {
      int64_t v = 0;
      if (t == element_type::INT64) {
        v = value.get_int64().value_unsafe();
      } else if (t == element_type::UINT64) {
        return Invalid(s, "value too large");
      } else {
        return Invalid(s, "expected an integer");
      }
      return SetInt(s, k, v);
    }
    case Type::kUint64:
      if (t == element_type::INT64 && value.get_int64().value_unsafe() >= 0) {
        k.*s.uint64_member = static_cast<uint64_t>(value.get_int64().value_unsafe());
        return absl::OkStatus();
      }
      if (t == element_type::UINT64) {
        k.*s.uint64_member = value.get_uint64().value_unsafe();
        return absl::OkStatus();
      }
      return Invalid(s, "expected a non-negative integer");
    case Type::kDouble: {
      double v = 0;
      if (value.get_double().get(v) != simdjson::SUCCESS) return Invalid(s, "expected a number");
      return SetDouble(s, k, v);
    }
    case Type::kBool: {
      bool v = false;
      if (value.get_bool().get(v) != simdjson::SUCCESS) return Invalid(s, "expected a boolean");
      k.*s.bool_member = v;
      return absl::OkStatus();
    }
    case Type::kString: {
      std::string_view v;
      if (value.get_string().get(v) != simdjson::SUCCESS) return Invalid(s, "expected a string");
      return SetString(s, k, v);
    }
  }
  return Invalid(s, "unsupported knob type");
}

}  // namespace

bool ParseBoundedInt(std::string_view text, int64_t max, int64_t* out) {
  int64_t v = 0;
  if (!ParseInt64(text, &v) || v < 0 || v > max) return false;
  *out = v;
  return true;
}

bool IsKnob(std::string_view name) { return FindSpec(name) != nullptr; }

bool IsBoolKnob(std::string_view name) {
  const Spec* s = FindSpec(name);
  return s != nullptr && s->type == Type::kBool;
}

absl::Status SetKnobFromText(Knobs& knobs, std::string_view name, std::string_view value) {
  const Spec* s = FindSpec(name);
  if (s == nullptr) return absl::InvalidArgumentError(fmt::format("unknown knob \"{}\"", name));
  switch (s->type) {
    case Type::kInt:
    case Type::kInt64: {
      int64_t v = 0;
      if (!ParseInt64(value, &v))
        return Invalid(*s, fmt::format("\"{}\" is not an integer", value));
      return SetInt(*s, knobs, v);
    }
    case Type::kUint64: {
      uint64_t v = 0;
      const char* end = value.data() + value.size();
      auto [ptr, ec] = std::from_chars(value.data(), end, v);
      if (value.empty() || ec != std::errc() || ptr != end) {
        return Invalid(*s, fmt::format("\"{}\" is not an unsigned integer", value));
      }
      knobs.*s->uint64_member = v;
      return absl::OkStatus();
    }
    case Type::kDouble: {
      double v = 0;
      const char* end = value.data() + value.size();
      auto [ptr, ec] = std::from_chars(value.data(), end, v);
      if (value.empty() || ec != std::errc() || ptr != end) {
        return Invalid(*s, fmt::format("\"{}\" is not a number", value));
      }
      return SetDouble(*s, knobs, v);
    }
    case Type::kBool: {
      bool v = false;
      if (!ParseBoolText(value, &v)) {
        return Invalid(*s, fmt::format("\"{}\" is not a boolean", value));
      }
      knobs.*s->bool_member = v;
      return absl::OkStatus();
    }
    case Type::kString:
      return SetString(*s, knobs, value);
  }
  return Invalid(*s, "unsupported knob type");
}

absl::Status ValidateKnobs(const Knobs& knobs) {
  if (knobs.cached_tokens + knobs.cache_write_tokens > knobs.prompt_tokens) {
    return absl::InvalidArgumentError(
        fmt::format("cached_tokens ({}) + cache_write_tokens ({}) exceed prompt_tokens ({})",
                    knobs.cached_tokens, knobs.cache_write_tokens, knobs.prompt_tokens));
  }
  if (knobs.malformed != "json" && knobs.malformed != "sse") {
    return absl::InvalidArgumentError(
        fmt::format("malformed: \"{}\" is not json or sse", knobs.malformed));
  }
  return absl::OkStatus();
}

absl::Status ApplyConfigJson(std::string_view json, Knobs& knobs, KnobChange* change) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string padded(json);
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("config body is not valid JSON");
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("config body must be a JSON object");
  }
  Knobs next = knobs;
  KnobChange touched;
  for (const auto field : obj) {
    const Spec* s = FindSpec(field.key);
    if (s == nullptr) {
      return absl::InvalidArgumentError(fmt::format("unknown knob \"{}\"", field.key));
    }
    if (absl::Status st = SetFromJson(*s, next, field.value); !st.ok()) return st;
    if (s->name == "seed" || s->name == "failure_rate") touched.failure_sequence = true;
  }
  if (absl::Status st = ValidateKnobs(next); !st.ok()) return st;
  knobs = std::move(next);
  if (change != nullptr) *change = touched;
  return absl::OkStatus();
}

std::string KnobsToJson(const Knobs& knobs) {
  std::string out;
  JsonOut j(out);
  j.Raw("{");
  bool first = true;
  for (const Spec& s : Specs()) {
    if (!first) j.Raw(",");
    first = false;
    j.Str(s.name).Raw(":");
    switch (s.type) {
      case Type::kInt:
        j.Int(knobs.*s.int_member);
        break;
      case Type::kInt64:
        j.Int(knobs.*s.int64_member);
        break;
      case Type::kUint64:
        j.Raw(fmt::format("{}", knobs.*s.uint64_member));
        break;
      case Type::kDouble:
        j.Double(knobs.*s.double_member);
        break;
      case Type::kBool:
        j.Bool(knobs.*s.bool_member);
        break;
      case Type::kString:
        j.Str(knobs.*s.string_member);
        break;
    }
  }
  j.Raw("}");
  return out;
}

std::string KnobsHelp() {
  const Knobs defaults;
  std::string out;
  for (const Spec& s : Specs()) {
    std::string def;
    switch (s.type) {
      case Type::kInt:
        def = fmt::format("{}", defaults.*s.int_member);
        break;
      case Type::kInt64:
        def = fmt::format("{}", defaults.*s.int64_member);
        break;
      case Type::kUint64:
        def = fmt::format("{}", defaults.*s.uint64_member);
        break;
      case Type::kDouble:
        def = fmt::format("{}", defaults.*s.double_member);
        break;
      case Type::kBool:
        def = defaults.*s.bool_member ? "on" : "off";
        break;
      case Type::kString:
        def = (defaults.*s.string_member).empty() ? "none" : defaults.*s.string_member;
        break;
    }
    const std::string flag =
        s.metavar.empty() ? FlagName(s) : fmt::format("{} {}", FlagName(s), s.metavar);
    out += fmt::format("  {:<28} {} (default {})\n", flag, s.help, def);
  }
  return out;
}

}  // namespace inferencegw::mock_llm
