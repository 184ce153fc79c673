// OpenTelemetry tracing, the pure part: W3C trace context (traceparent parse and format), trace
// and span ids from entropy the caller draws, the standard samplers (decided from the trace id,
// so every replica agrees), the span data model, and its OTLP/HTTP JSON encoding.
//
//   std::optional<TraceParent> parent = ParseTraceparent(request_header);
//   TraceId trace = parent ? parent->trace_id : NewTraceId(rng(), rng());
//   if (ShouldSample(sampler, trace, parent ? &*parent : nullptr)) { /* build SpanData ... */ }
//   AppendOtlpJson(resource, spans, &body);   // POST {endpoint}/v1/traces
#ifndef INFERENCEGW_TRACING_H_
#define INFERENCEGW_TRACING_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace inferencegw {

// 128 bits; all zero is invalid.
struct TraceId {
  uint64_t high = 0;  // the first 8 bytes of the hex form
  uint64_t low = 0;   // the last 8 bytes
  bool valid() const { return high != 0 || low != 0; }
  bool operator==(const TraceId&) const = default;
};
// 64 bits; zero is invalid (and means "no parent").
using SpanId = uint64_t;

// A valid id from two (resp. one) random draws; a zero draw is replaced so the id is valid.
TraceId NewTraceId(uint64_t random_high, uint64_t random_low);
SpanId NewSpanId(uint64_t random);

std::string TraceIdHex(const TraceId& id);  // 32 lowercase hex digits
std::string SpanIdHex(SpanId id);           // 16 lowercase hex digits

// A W3C traceparent header's content.
struct TraceParent {
  TraceId trace_id;
  SpanId parent_span_id = 0;
  bool sampled = false;  // flag 01
};

// The header "00-<32 hex>-<16 hex>-<2 hex>" (surrounding blanks allowed). A later version is
// read by its first four fields, as the W3C spec asks. nullopt when malformed: wrong lengths,
// upper-case or non-hex digits, version ff, an all-zero trace or span id.
std::optional<TraceParent> ParseTraceparent(std::string_view header);

// "00-<trace>-<span>-01" (sampled) or "...-00".
std::string FormatTraceparent(const TraceId& trace, SpanId span, bool sampled);

// OTEL_TRACES_SAMPLER values.
enum class SamplerKind : uint8_t {
  kAlwaysOn,
  kAlwaysOff,
  kTraceIdRatio,
  kParentBasedAlwaysOn,  // the OpenTelemetry default
  kParentBasedAlwaysOff,
  kParentBasedTraceIdRatio,
};

struct Sampler {
  SamplerKind kind = SamplerKind::kParentBasedAlwaysOn;
  double ratio = 1.0;  // for the *TraceIdRatio kinds, in [0, 1]
};

// From OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG ("" name: the default; "" arg: ratio 1).
// InvalidArgument naming the bad value for an unknown sampler or a ratio outside [0, 1].
absl::StatusOr<Sampler> ParseSampler(std::string_view name, std::string_view arg);
std::string_view SamplerName(SamplerKind kind);  // "parentbased_traceidratio", ...

// The ratio decision, a function of the trace id only: the low 63 bits of the id's last 8 bytes
// compared with ratio * 2^63 (as the OpenTelemetry Go and Java SDKs do). Ratio 0 never samples,
// 1 always does.
bool TraceIdRatioSampled(const TraceId& trace, double ratio);

// Whether a span of `trace` is recorded and exported. `parent` is the client's traceparent (or
// nullptr); the parent-based kinds follow its sampled flag and use their root sampler without it.
bool ShouldSample(const Sampler& sampler, const TraceId& trace, const TraceParent* parent);

// OTLP enum values.
enum class SpanKind : uint8_t { kInternal = 1, kServer = 2, kClient = 3 };
enum class SpanStatus : uint8_t { kUnset = 0, kOk = 1, kError = 2 };

struct SpanAttribute {
  std::string_view key;  // REQUIRES: outlives the span (the attribute names are literals)
  std::variant<std::string, int64_t, double, bool> value;
};

// One finished span. Not thread-safe (a value).
struct SpanData {
  TraceId trace_id;
  SpanId span_id = 0;
  SpanId parent_span_id = 0;  // 0: a root span
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  int64_t start_unix_nanos = 0;
  int64_t end_unix_nanos = 0;
  std::vector<SpanAttribute> attributes;
  SpanStatus status = SpanStatus::kUnset;
  std::string status_message;  // only with kError

  void Set(std::string_view key, std::string_view value) {
    attributes.push_back({key, std::string(value)});
  }
  void Set(std::string_view key, const char* value) { Set(key, std::string_view(value)); }
  void Set(std::string_view key, int64_t value) { attributes.push_back({key, value}); }
  void Set(std::string_view key, int value) { attributes.push_back({key, int64_t{value}}); }
  void Set(std::string_view key, double value) { attributes.push_back({key, value}); }
  void Set(std::string_view key, bool value) { attributes.push_back({key, value}); }
  // The attribute's value, or nullptr (tests and span builders).
  const std::variant<std::string, int64_t, double, bool>* Find(std::string_view key) const;
};

// What the exported spans come from (the OTLP resource and scope).
struct TraceResource {
  std::string service_name = "inferencegw";
  std::string service_version;  // "" leaves service.version out
  std::string scope_name = "inferencegw";
};

// Appends an OTLP ExportTraceServiceRequest in its protobuf-JSON form: one resourceSpans with
// one scopeSpans holding `spans` (ids as hex, 64-bit integers and times as decimal strings,
// enums as integers). Strings that are not valid UTF-8 are written with '?' for each byte >= 0x80,
// so that no span makes the collector refuse its batch.
void AppendOtlpJson(const TraceResource& resource, std::span<const SpanData> spans,
                    std::string* out);

// OTEL_EXPORTER_OTLP_HEADERS: "k1=v1,k2=v2" with percent-encoded values, blanks around items
// trimmed. InvalidArgument for an item without '=' or an empty name; the message names the
// item's position, never a value (values are credentials).
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseOtlpHeaders(
    std::string_view text);

}  // namespace inferencegw

#endif  // INFERENCEGW_TRACING_H_
