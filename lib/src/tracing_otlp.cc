// The OTLP/HTTP JSON encoding of spans (tracing.h).
#include <string>

#include "fmt/format.h"
#include "inferencegw/json_writer.h"
#include "inferencegw/tracing.h"
#include "simdjson.h"

namespace inferencegw {

namespace {

// Lowercase hex of `v` into `buf` (16 characters).
std::string_view Hex64(uint64_t v, char* buf) {
  constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    buf[i] = kDigits[v & 0xf];
    v >>= 4;
  }
  return std::string_view(buf, 16);
}

// `s` when it is valid UTF-8, else a copy in `scratch` with every byte >= 0x80 replaced by '?':
// one invalid string must not make the collector refuse the whole batch.
std::string_view Utf8Safe(std::string_view s, std::string* scratch) {
  if (simdjson::validate_utf8(s.data(), s.size())) return s;
  scratch->assign(s);
  for (char& c : *scratch) {
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  }
  return *scratch;
}

void WriteValue(JsonWriter& w, const std::variant<std::string, int64_t, double, bool>& value) {
  w.BeginObject();
  if (const auto* s = std::get_if<std::string>(&value)) {
    std::string scratch;
    w.Key("stringValue").String(Utf8Safe(*s, &scratch));
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    w.Key("intValue")
        .String(fmt::format_int(*i).c_str());  // 64-bit integers are strings in OTLP JSON
  } else if (const auto* d = std::get_if<double>(&value)) {
    w.Key("doubleValue").Double(*d);
  } else {
    w.Key("boolValue").Bool(std::get<bool>(value));
  }
  w.EndObject();
}

void WriteStringAttribute(JsonWriter& w, std::string_view key, std::string_view value) {
  w.BeginObject()
      .Key("key")
      .String(key)
      .Key("value")
      .BeginObject()
      .Key("stringValue")
      .String(value);
  w.EndObject().EndObject();
}

void WriteSpan(JsonWriter& w, const SpanData& span) {
  w.BeginObject();
  char ids[32];
  Hex64(span.trace_id.high, ids);
  Hex64(span.trace_id.low, ids + 16);
  w.Key("traceId").String(std::string_view(ids, 32));
  w.Key("spanId").String(Hex64(span.span_id, ids));
  if (span.parent_span_id != 0) w.Key("parentSpanId").String(Hex64(span.parent_span_id, ids));
  std::string scratch;
  w.Key("name").String(Utf8Safe(span.name, &scratch));
  w.Key("kind").Int(static_cast<int>(span.kind));
  w.Key("startTimeUnixNano").String(fmt::format_int(span.start_unix_nanos).c_str());
  w.Key("endTimeUnixNano").String(fmt::format_int(span.end_unix_nanos).c_str());
  w.Key("attributes").BeginArray();
  for (const SpanAttribute& a : span.attributes) {
    w.BeginObject().Key("key").String(a.key).Key("value");
    WriteValue(w, a.value);
    w.EndObject();
  }
  w.EndArray();
  w.Key("status").BeginObject();
  if (span.status != SpanStatus::kUnset) w.Key("code").Int(static_cast<int>(span.status));
  if (span.status == SpanStatus::kError && !span.status_message.empty()) {
    w.Key("message").String(Utf8Safe(span.status_message, &scratch));
  }
  w.EndObject();
  w.EndObject();
}

}  // namespace

void AppendOtlpJson(const TraceResource& resource, std::span<const SpanData> spans,
                    std::string* out) {
  JsonWriter w(out);
  w.BeginObject().Key("resourceSpans").BeginArray().BeginObject();
  w.Key("resource").BeginObject().Key("attributes").BeginArray();
  WriteStringAttribute(w, "service.name", resource.service_name);
  if (!resource.service_version.empty()) {
    WriteStringAttribute(w, "service.version", resource.service_version);
  }
  WriteStringAttribute(w, "telemetry.sdk.language", "cpp");
  w.EndArray().EndObject();
  w.Key("scopeSpans").BeginArray().BeginObject();
  w.Key("scope").BeginObject().Key("name").String(resource.scope_name);
  if (!resource.service_version.empty()) w.Key("version").String(resource.service_version);
  w.EndObject();
  w.Key("spans").BeginArray();
  for (const SpanData& span : spans) WriteSpan(w, span);
  w.EndArray();
  w.EndObject().EndArray();  // scopeSpans
  w.EndObject().EndArray().EndObject();
}

}  // namespace inferencegw
