// The OTLP/HTTP JSON encoding of spans (tracing.h).
#include <string>

#include "fmt/format.h"
#include "inferencegw/json_writer.h"
#include "inferencegw/tracing.h"

namespace inferencegw {

namespace {

void WriteValue(JsonWriter& w, const std::variant<std::string, int64_t, double, bool>& value) {
  w.BeginObject();
  if (const auto* s = std::get_if<std::string>(&value)) {
    w.Key("stringValue").String(*s);
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    w.Key("intValue").String(fmt::format("{}", *i));  // 64-bit integers are strings in OTLP JSON
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
  w.Key("traceId").String(TraceIdHex(span.trace_id));
  w.Key("spanId").String(SpanIdHex(span.span_id));
  if (span.parent_span_id != 0) w.Key("parentSpanId").String(SpanIdHex(span.parent_span_id));
  w.Key("name").String(span.name);
  w.Key("kind").Int(static_cast<int>(span.kind));
  w.Key("startTimeUnixNano").String(fmt::format("{}", span.start_unix_nanos));
  w.Key("endTimeUnixNano").String(fmt::format("{}", span.end_unix_nanos));
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
    w.Key("message").String(span.status_message);
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
