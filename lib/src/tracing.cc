#include "inferencegw/tracing.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include "fmt/format.h"

namespace inferencegw {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void AppendHex64(uint64_t v, std::string* out) {
  char buf[16];
  for (int i = 15; i >= 0; --i) {
    buf[i] = kHexDigits[v & 0xf];
    v >>= 4;
  }
  out->append(buf, 16);
}

// Lowercase hex only (W3C trace context forbids upper case). False on any other byte.
bool ParseHex(std::string_view s, uint64_t* out) {
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

TraceId NewTraceId(uint64_t random_high, uint64_t random_low) {
  TraceId id{random_high, random_low};
  if (!id.valid()) id.low = 1;
  return id;
}

SpanId NewSpanId(uint64_t random) { return random != 0 ? random : 1; }

std::string TraceIdHex(const TraceId& id) {
  std::string out;
  out.reserve(32);
  AppendHex64(id.high, &out);
  AppendHex64(id.low, &out);
  return out;
}

std::string SpanIdHex(SpanId id) {
  std::string out;
  out.reserve(16);
  AppendHex64(id, &out);
  return out;
}

std::optional<TraceParent> ParseTraceparent(std::string_view header) {
  header = TrimBlanks(header);
  // version(2) - trace(32) - span(16) - flags(2): 55 characters.
  constexpr size_t kLength = 55;
  if (header.size() < kLength) return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  uint64_t version = 0;
  if (!ParseHex(header.substr(0, 2), &version) || version == 0xff) return std::nullopt;
  // Version 00 has exactly these fields; a later one may append "-..." fields.
  if (header.size() > kLength && (version == 0 || header[kLength] != '-')) return std::nullopt;
  TraceParent parent;
  uint64_t flags = 0;
  if (!ParseHex(header.substr(3, 16), &parent.trace_id.high) ||
      !ParseHex(header.substr(19, 16), &parent.trace_id.low) ||
      !ParseHex(header.substr(36, 16), &parent.parent_span_id) ||
      !ParseHex(header.substr(53, 2), &flags)) {
    return std::nullopt;
  }
  if (!parent.trace_id.valid() || parent.parent_span_id == 0) return std::nullopt;
  parent.sampled = (flags & 1) != 0;
  return parent;
}

std::string FormatTraceparent(const TraceId& trace, SpanId span, bool sampled) {
  std::string out;
  out.reserve(55);
  out += "00-";
  AppendHex64(trace.high, &out);
  AppendHex64(trace.low, &out);
  out.push_back('-');
  AppendHex64(span, &out);
  out += sampled ? "-01" : "-00";
  return out;
}

absl::StatusOr<Sampler> ParseSampler(std::string_view name, std::string_view arg) {
  Sampler sampler;
  if (name.empty() || name == "parentbased_always_on") {
    sampler.kind = SamplerKind::kParentBasedAlwaysOn;
  } else if (name == "always_on") {
    sampler.kind = SamplerKind::kAlwaysOn;
  } else if (name == "always_off") {
    sampler.kind = SamplerKind::kAlwaysOff;
  } else if (name == "traceidratio") {
    sampler.kind = SamplerKind::kTraceIdRatio;
  } else if (name == "parentbased_always_off") {
    sampler.kind = SamplerKind::kParentBasedAlwaysOff;
  } else if (name == "parentbased_traceidratio") {
    sampler.kind = SamplerKind::kParentBasedTraceIdRatio;
  } else {
    return absl::InvalidArgumentError(
        fmt::format("unknown trace sampler \"{}\" (always_on, always_off, traceidratio, "
                    "parentbased_always_on, parentbased_always_off, parentbased_traceidratio)",
                    name));
  }
  arg = TrimBlanks(arg);
  if (!arg.empty()) {
    double ratio = 0;
    auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), ratio);
    if (ec != std::errc() || end != arg.data() + arg.size() || !(ratio >= 0 && ratio <= 1)) {
      return absl::InvalidArgumentError(
          fmt::format("trace sampler ratio \"{}\" is not a number in [0, 1]", arg));
    }
    sampler.ratio = ratio;
  }
  return sampler;
}

std::string_view SamplerName(SamplerKind kind) {
  switch (kind) {
    case SamplerKind::kAlwaysOn:
      return "always_on";
    case SamplerKind::kAlwaysOff:
      return "always_off";
    case SamplerKind::kTraceIdRatio:
      return "traceidratio";
    case SamplerKind::kParentBasedAlwaysOn:
      return "parentbased_always_on";
    case SamplerKind::kParentBasedAlwaysOff:
      return "parentbased_always_off";
    case SamplerKind::kParentBasedTraceIdRatio:
      return "parentbased_traceidratio";
  }
  return "unknown";
}

bool TraceIdRatioSampled(const TraceId& trace, double ratio) {
  if (!(ratio > 0)) return false;
  if (ratio >= 1) return true;
  // ratio * 2^63 fits in a uint64_t for ratio < 1.
  const auto bound = static_cast<uint64_t>(std::ldexp(ratio, 63));
  return (trace.low >> 1) < bound;
}

bool ShouldSample(const Sampler& sampler, const TraceId& trace, const TraceParent* parent) {
  switch (sampler.kind) {
    case SamplerKind::kAlwaysOn:
      return true;
    case SamplerKind::kAlwaysOff:
      return false;
    case SamplerKind::kTraceIdRatio:
      return TraceIdRatioSampled(trace, sampler.ratio);
    case SamplerKind::kParentBasedAlwaysOn:
      return parent != nullptr ? parent->sampled : true;
    case SamplerKind::kParentBasedAlwaysOff:
      return parent != nullptr ? parent->sampled : false;
    case SamplerKind::kParentBasedTraceIdRatio:
      return parent != nullptr ? parent->sampled : TraceIdRatioSampled(trace, sampler.ratio);
  }
  return false;
}

const std::variant<std::string, int64_t, double, bool>* SpanData::Find(std::string_view key) const {
  for (const SpanAttribute& a : attributes) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseOtlpHeaders(
    std::string_view text) {
  std::vector<std::pair<std::string, std::string>> headers;
  int position = 0;
  while (!text.empty()) {
    ++position;
    const size_t comma = text.find(',');
    std::string_view item = TrimBlanks(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("OTLP headers: item {} has no '=' (want name=value)", position));
    }
    const std::string_view name = TrimBlanks(item.substr(0, eq));
    if (name.empty() || name.find_first_of(" \t\r\n:") != std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("OTLP headers: item {} has an empty or invalid name", position));
    }
    const std::string_view raw = TrimBlanks(item.substr(eq + 1));
    std::string value;
    value.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      uint64_t byte = 0;
      if (raw[i] == '%' && i + 3 <= raw.size()) {
        std::string hex{static_cast<char>(std::tolower(raw[i + 1])),
                        static_cast<char>(std::tolower(raw[i + 2]))};
        if (ParseHex(hex, &byte)) {
          value.push_back(static_cast<char>(byte));
          i += 2;
          continue;
        }
      }
      value.push_back(raw[i]);
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      return absl::InvalidArgumentError(
          fmt::format("OTLP headers: item {} has a line break in its value", position));
    }
    headers.emplace_back(std::string(name), std::move(value));
  }
  return headers;
}

}  // namespace inferencegw
