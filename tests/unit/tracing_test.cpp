// Tests for tracing.h: W3C traceparent parsing and formatting, ids from entropy, the samplers,
// OTLP JSON encoding and OTEL_EXPORTER_OTLP_HEADERS; and for exchange_trace.h: the span tree and
// attributes of a request that falls back.
#include "inferencegw/tracing.h"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/config_loader.h"
#include "inferencegw/exchange_trace.h"
#include "inferencegw/gateway.h"

namespace inferencegw {
namespace {

constexpr std::string_view kW3cExample = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

std::string StringAttr(const SpanData& span, std::string_view key) {
  const auto* v = span.Find(key);
  return v != nullptr && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v)
                                                                 : "<missing>";
}

int64_t IntAttr(const SpanData& span, std::string_view key) {
  const auto* v = span.Find(key);
  return v != nullptr && std::holds_alternative<int64_t>(*v) ? std::get<int64_t>(*v) : -1;
}

// The W3C example header parses into its trace id, parent span id and sampled flag, and
// formatting those fields gives the same header back.
TEST_CASE("ParseTraceparent reads the W3C example and FormatTraceparent writes it back") {
  std::optional<TraceParent> p = ParseTraceparent(kW3cExample);
  REQUIRE(p.has_value());
  CHECK(TraceIdHex(p->trace_id) == "0af7651916cd43dd8448eb211c80319c");
  CHECK(SpanIdHex(p->parent_span_id) == "b7ad6b7169203331");
  CHECK(p->sampled);
  CHECK(FormatTraceparent(p->trace_id, p->parent_span_id, true) == kW3cExample);
  CHECK(FormatTraceparent(p->trace_id, p->parent_span_id, false).ends_with("-00"));
}

// Malformed headers are refused: wrong length, upper-case hex, version ff, zero ids, bad
// separators, and extra fields on version 00; a later version's extra fields are accepted.
TEST_CASE("ParseTraceparent refuses malformed headers") {
  CHECK_FALSE(ParseTraceparent("").has_value());
  CHECK_FALSE(ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331").has_value());
  CHECK_FALSE(ParseTraceparent("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"));
  CHECK_FALSE(ParseTraceparent("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
  CHECK_FALSE(ParseTraceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01"));
  CHECK_FALSE(ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"));
  CHECK_FALSE(ParseTraceparent("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
  CHECK_FALSE(ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x"));
  CHECK_FALSE(ParseTraceparent("00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01"));
  CHECK(ParseTraceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-later"));
  CHECK(ParseTraceparent(" 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00 "));
  CHECK_FALSE(ParseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00")->sampled);
}

// Ids come from the entropy passed in, and a zero draw still gives a valid id.
TEST_CASE("NewTraceId and NewSpanId use the entropy given and are never zero") {
  CHECK(TraceIdHex(NewTraceId(0x1234, 0xabcdef)) ==
        "0000000000001234"
        "0000000000abcdef");
  CHECK(NewTraceId(0, 0).valid());
  CHECK(NewSpanId(42) == 42);
  CHECK(NewSpanId(0) != 0);
}

// Sampler names and ratios parse as OTEL_TRACES_SAMPLER(_ARG) spell them; bad ones are refused
// with a message naming the value.
TEST_CASE("ParseSampler reads the standard sampler names") {
  CHECK(ParseSampler("", "")->kind == SamplerKind::kParentBasedAlwaysOn);
  CHECK(ParseSampler("always_off", "")->kind == SamplerKind::kAlwaysOff);
  absl::StatusOr<Sampler> ratio = ParseSampler("parentbased_traceidratio", "0.25");
  REQUIRE(ratio.ok());
  CHECK(ratio->kind == SamplerKind::kParentBasedTraceIdRatio);
  CHECK(ratio->ratio == 0.25);
  CHECK(SamplerName(ratio->kind) == "parentbased_traceidratio");
  absl::Status unknown = ParseSampler("sometimes", "").status();
  CHECK(unknown.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(unknown.message()).find("sometimes") != std::string::npos);
  CHECK_FALSE(ParseSampler("traceidratio", "1.5").ok());
  CHECK_FALSE(ParseSampler("traceidratio", "half").ok());
}

// The ratio decision depends on the trace id's low 63 bits only (the same on every replica),
// samples about `ratio` of random ids, and 0 / 1 mean never / always.
TEST_CASE("TraceIdRatioSampled is a function of the trace id with the given share") {
  const TraceId low{0xffffffffffffffffULL, 0x0000000000000010ULL};
  const TraceId high{1, 0xfffffffffffffff0ULL};
  CHECK(TraceIdRatioSampled(low, 0.01));
  CHECK_FALSE(TraceIdRatioSampled(high, 0.99));
  CHECK_FALSE(TraceIdRatioSampled(low, 0.0));
  CHECK(TraceIdRatioSampled(high, 1.0));
  // A fixed pseudo-random sequence of ids: the sampled share is close to the ratio.
  uint64_t x = 88172645463325252ULL;
  int sampled = 0;
  for (int i = 0; i < 20000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sampled += TraceIdRatioSampled(TraceId{1, x}, 0.25) ? 1 : 0;
  }
  CHECK(sampled > 4600);
  CHECK(sampled < 5400);
}

// The parent-based samplers follow the client's sampled flag and use their root sampler only
// without a parent; the plain ratio sampler ignores the parent.
TEST_CASE("ShouldSample respects the parent's flag with parentbased samplers") {
  const TraceId trace{1, 0xfffffffffffffff0ULL};  // not sampled by a ratio below 1
  TraceParent yes{trace, 7, true};
  TraceParent no{trace, 7, false};
  const Sampler pb_ratio{SamplerKind::kParentBasedTraceIdRatio, 0.0};
  CHECK(ShouldSample(pb_ratio, trace, &yes));
  CHECK_FALSE(ShouldSample(pb_ratio, trace, &no));
  CHECK_FALSE(ShouldSample(pb_ratio, trace, nullptr));
  CHECK(ShouldSample(Sampler{SamplerKind::kParentBasedTraceIdRatio, 1.0}, trace, nullptr));
  CHECK_FALSE(ShouldSample(Sampler{SamplerKind::kTraceIdRatio, 0.5}, trace, &yes));
  CHECK(ShouldSample(Sampler{}, trace, nullptr));  // parentbased_always_on
  CHECK_FALSE(ShouldSample(Sampler{}, trace, &no));
  CHECK(ShouldSample(Sampler{SamplerKind::kAlwaysOn, 0}, trace, &no));
  CHECK_FALSE(ShouldSample(Sampler{SamplerKind::kAlwaysOff, 1}, trace, &yes));
}

// The OTLP JSON has the protobuf-JSON shape collectors accept: hex ids, decimal-string times and
// integers, integer enums, typed attribute values, and the resource's service.name.
TEST_CASE("AppendOtlpJson writes an ExportTraceServiceRequest") {
  SpanData span;
  span.trace_id = TraceId{0x0af7651916cd43ddULL, 0x8448eb211c80319cULL};
  span.span_id = 0xb7ad6b7169203331ULL;
  span.parent_span_id = 0x1;
  span.name = "chat \"gpt\"";
  span.kind = SpanKind::kClient;
  span.start_unix_nanos = 1544712660000000000;
  span.end_unix_nanos = 1544712661000000000;
  span.Set("gen_ai.usage.input_tokens", int64_t{36});
  span.Set("gen_ai.request.model", "gpt-4o");
  span.Set("ratio", 0.5);
  span.Set("flag", true);
  span.status = SpanStatus::kError;
  span.status_message = "timeout";
  TraceResource resource;
  resource.service_name = "gw-test";
  std::string out;
  AppendOtlpJson(resource, std::vector<SpanData>{span}, &out);

  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(out);
  simdjson::dom::element rs = doc["resourceSpans"].at(0);
  CHECK(std::string_view(rs["resource"]["attributes"].at(0)["key"]) == "service.name");
  CHECK(std::string_view(rs["resource"]["attributes"].at(0)["value"]["stringValue"]) == "gw-test");
  simdjson::dom::element s = rs["scopeSpans"].at(0)["spans"].at(0);
  CHECK(std::string_view(s["traceId"]) == "0af7651916cd43dd8448eb211c80319c");
  CHECK(std::string_view(s["spanId"]) == "b7ad6b7169203331");
  CHECK(std::string_view(s["parentSpanId"]) == "0000000000000001");
  CHECK(std::string_view(s["name"]) == "chat \"gpt\"");
  CHECK(int64_t(s["kind"]) == 3);
  CHECK(std::string_view(s["startTimeUnixNano"]) == "1544712660000000000");
  CHECK(std::string_view(s["endTimeUnixNano"]) == "1544712661000000000");
  CHECK(std::string_view(s["attributes"].at(0)["value"]["intValue"]) == "36");
  CHECK(std::string_view(s["attributes"].at(1)["value"]["stringValue"]) == "gpt-4o");
  CHECK(double(s["attributes"].at(2)["value"]["doubleValue"]) == 0.5);
  CHECK(bool(s["attributes"].at(3)["value"]["boolValue"]));
  CHECK(int64_t(s["status"]["code"]) == 2);
  CHECK(std::string_view(s["status"]["message"]) == "timeout");
}

// OTEL_EXPORTER_OTLP_HEADERS items are split, trimmed and percent-decoded; a bad item is refused
// by position without its value in the message.
TEST_CASE("ParseOtlpHeaders decodes items and never echoes a value") {
  auto headers = ParseOtlpHeaders(" api-key = s%3Dcr%2Ct ,x-tenant=a b,,");
  REQUIRE(headers.ok());
  REQUIRE(headers->size() == 2);
  CHECK((*headers)[0] == std::pair<std::string, std::string>("api-key", "s=cr,t"));
  CHECK((*headers)[1] == std::pair<std::string, std::string>("x-tenant", "a b"));
  CHECK(ParseOtlpHeaders("")->empty());
  absl::Status bad = ParseOtlpHeaders("a=1,topsecretvalue").status();
  CHECK(bad.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(bad.message()).find("item 2") != std::string::npos);
  CHECK(std::string(bad.message()).find("topsecret") == std::string::npos);
  CHECK_FALSE(ParseOtlpHeaders("=v").ok());
  CHECK_FALSE(ParseOtlpHeaders("a=x%0Dy").ok());
}

constexpr std::string_view kConfig = R"(
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: primary}
spec:
  type: external
  external: {url: "http://127.0.0.1:1/v1", provider: openai, model: gpt-4o}
  cost: {inputTokenCost: "0.001", outputTokenCost: "0.002"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: backup}
spec:
  type: external
  external: {url: "https://user:pw@backup.example:8443/v1", provider: anthropic, model: claude}
  cost: {inputTokenCost: "0.001", outputTokenCost: "0.002"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: chat}
spec:
  default: true
  defaultBackend: {name: primary}
  fallback: {backends: [primary, backup], timeoutSeconds: 10}
)";

// A request whose first attempt times out and whose second answers gives a server span with two
// attempt children: ids chained to the client's span, GenAI and gateway attributes, outcomes,
// the upstream traceparents naming each attempt span, and no content without enableLogging.
TEST_CASE("ExchangeTrace builds the server span and one child per attempt") {
  absl::StatusOr<ConfigSet> config = LoadConfigFromString(kConfig);
  REQUIRE(config.ok());
  SimulatedClock clock;
  GatewayOptions options;
  options.clock = &clock;
  std::unique_ptr<Gateway> gateway = *Gateway::Create(*config, options);
  RequestView view;
  view.path = "/v1/chat/completions";
  view.model = "client-model";

  const TraceParent parent = *ParseTraceparent(kW3cExample);
  RequestTraceIds ids{parent.trace_id, NewSpanId(0x1111), parent.parent_span_id};
  ExchangeTrace trace(ids, "POST", "/v1/chat/completions", ClientApi::kChatCompletions, 1000);
  trace.SetRequest("client-model", 64);

  Exchange ex(*gateway, /*entropy=*/3, clock.Now());
  REQUIRE(ex.Begin(view, 10) == BeginStatus::kOk);
  std::optional<Exchange::Attempt> a1 = ex.NextAttempt(clock.Now());
  REQUIRE(a1.has_value());
  const std::string tp1 = trace.StartAttempt(NewSpanId(0x2222), *a1->target, 1100);
  ex.AttemptFailed(FailureKind::kTimeout, 0, 0, clock.Now());
  trace.EndAttempt(FailureKind::kTimeout, 0, 1200);
  std::optional<Exchange::Attempt> a2 = ex.NextAttempt(clock.Now());
  REQUIRE(a2.has_value());
  const std::string tp2 = trace.StartAttempt(NewSpanId(0x3333), *a2->target, 1300);
  ex.AttemptCommitted(200, clock.Now());
  FinishInfo info;
  info.usage.input_tokens = 12;
  info.usage.output_tokens = 5;
  info.usage.present = true;
  const ExchangeResult& result = ex.Finish(info, clock.Now());
  trace.Finish(&ex, &result, 200, "", 1500);

  CHECK(tp1 == "00-0af7651916cd43dd8448eb211c80319c-0000000000002222-01");
  CHECK(tp2 == "00-0af7651916cd43dd8448eb211c80319c-0000000000003333-01");
  std::vector<SpanData> spans = trace.Take();
  REQUIRE(spans.size() == 3);
  const SpanData& server = spans[0];
  CHECK(server.kind == SpanKind::kServer);
  CHECK(server.name == "POST /v1/chat/completions");
  CHECK(server.trace_id == parent.trace_id);
  CHECK(server.parent_span_id == parent.parent_span_id);
  CHECK(server.start_unix_nanos == 1000);
  CHECK(server.end_unix_nanos == 1500);
  CHECK(StringAttr(server, "http.request.method") == "POST");
  CHECK(StringAttr(server, "url.path") == "/v1/chat/completions");
  CHECK(IntAttr(server, "http.response.status_code") == 200);
  CHECK(StringAttr(server, "gen_ai.operation.name") == "chat");
  CHECK(StringAttr(server, "gen_ai.request.model") == "client-model");
  CHECK(IntAttr(server, "gen_ai.request.max_tokens") == 64);
  CHECK(StringAttr(server, "gen_ai.response.model") == "claude");
  CHECK(StringAttr(server, "gen_ai.provider.name") == "anthropic");
  CHECK(IntAttr(server, "gen_ai.usage.input_tokens") == 12);
  CHECK(IntAttr(server, "gen_ai.usage.output_tokens") == 5);
  CHECK(StringAttr(server, "inferencegw.route") == "default/chat");
  CHECK(StringAttr(server, "inferencegw.backend") == "default/backup");
  CHECK(IntAttr(server, "inferencegw.attempts") == 2);
  CHECK(StringAttr(server, "inferencegw.cost") == "0.000022000");
  CHECK(server.status == SpanStatus::kUnset);
  CHECK(server.Find("inferencegw.request.body") == nullptr);

  const SpanData& first = spans[1];
  CHECK(first.kind == SpanKind::kClient);
  CHECK(first.parent_span_id == server.span_id);
  CHECK(first.span_id == 0x2222);
  CHECK(first.name == "chat gpt-4o");
  CHECK(first.start_unix_nanos == 1100);
  CHECK(first.end_unix_nanos == 1200);
  CHECK(StringAttr(first, "inferencegw.attempt.outcome") == "timeout");
  CHECK(StringAttr(first, "server.address") == "127.0.0.1");
  CHECK(IntAttr(first, "server.port") == 1);
  CHECK(StringAttr(first, "gen_ai.provider.name") == "openai");
  CHECK(first.status == SpanStatus::kError);

  const SpanData& second = spans[2];
  CHECK(second.parent_span_id == server.span_id);
  CHECK(second.name == "chat claude");
  CHECK(StringAttr(second, "inferencegw.attempt.outcome") == "success");
  CHECK(StringAttr(second, "server.address") == "backup.example");  // no user info
  CHECK(IntAttr(second, "server.port") == 8443);
  CHECK(IntAttr(second, "http.response.status_code") == 200);
  CHECK(IntAttr(second, "gen_ai.usage.output_tokens") == 5);
  CHECK(IntAttr(second, "inferencegw.attempt.number") == 1);
  CHECK(second.status == SpanStatus::kUnset);
}

// Content is exported only when the frontend passes it (a route with enableLogging); a request
// refused before routing still gets a server span, an error one for a 5xx.
TEST_CASE("ExchangeTrace adds content only when asked and handles unrouted requests") {
  RequestTraceIds ids{NewTraceId(1, 2), NewSpanId(3), 0};
  ExchangeTrace with(ids, "POST", "/v1/chat/completions", ClientApi::kChatCompletions, 0);
  with.SetContent(R"({"messages":[]})", R"({"choices":[]})");
  with.Finish(nullptr, nullptr, 400, "invalid_request_error", 10);
  std::vector<SpanData> spans = with.Take();
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].parent_span_id == 0);
  CHECK(StringAttr(spans[0], "inferencegw.request.body") == R"({"messages":[]})");
  CHECK(StringAttr(spans[0], "inferencegw.response.body") == R"({"choices":[]})");
  CHECK(StringAttr(spans[0], "inferencegw.error") == "invalid_request_error");
  CHECK(spans[0].status == SpanStatus::kUnset);

  ExchangeTrace failed(ids, "POST", "/v1/embeddings", ClientApi::kEmbeddings, 0);
  failed.Finish(nullptr, nullptr, 503, "store_unavailable", 10);
  spans = failed.Take();
  CHECK(StringAttr(spans[0], "gen_ai.operation.name") == "embeddings");
  CHECK(spans[0].status == SpanStatus::kError);
  CHECK(StringAttr(spans[0], "error.type") == "503");
  CHECK(spans[0].Find("inferencegw.request.body") == nullptr);
}

// Content over the cap is cut on a UTF-8 character boundary and flagged as truncated.
TEST_CASE("ExchangeTrace cuts long content at a character boundary") {
  RequestTraceIds ids{NewTraceId(1, 2), NewSpanId(3), 0};
  ExchangeTrace trace(ids, "POST", "/v1/chat/completions", ClientApi::kChatCompletions, 0);
  // "é" is two bytes; the cap falls inside the last one.
  std::string body(ExchangeTrace::kMaxContentBytes - 1, 'a');
  body += "\xc3\xa9tail";
  trace.SetContent(body, "short");
  trace.Finish(nullptr, nullptr, 200, "", 1);
  std::vector<SpanData> spans = trace.Take();
  const std::string cut = StringAttr(spans[0], "inferencegw.request.body");
  CHECK(cut == std::string(ExchangeTrace::kMaxContentBytes - 1, 'a'));
  const auto* flag = spans[0].Find("inferencegw.request.body_truncated");
  REQUIRE(flag != nullptr);
  CHECK(std::get<bool>(*flag));
  CHECK(spans[0].Find("inferencegw.response.body_truncated") == nullptr);
}

// A string that is not valid UTF-8 is written with '?' for its high bytes, so the JSON stays
// valid for the collector; valid UTF-8 passes unchanged.
TEST_CASE("AppendOtlpJson keeps the document valid UTF-8") {
  SpanData span;
  span.trace_id = NewTraceId(1, 2);
  span.span_id = 3;
  span.name = "POST /v1/\xff\xfe";
  span.Set("url.path", "/caf\xc3\xa9");
  std::string out;
  AppendOtlpJson(TraceResource{}, std::vector<SpanData>{span}, &out);
  simdjson::dom::parser parser;
  simdjson::dom::element s =
      parser.parse(out)["resourceSpans"].at(0)["scopeSpans"].at(0)["spans"].at(0);
  CHECK(std::string_view(s["name"]) == "POST /v1/??");
  CHECK(std::string_view(s["attributes"].at(0)["value"]["stringValue"]) == "/caf\xc3\xa9");
}

}  // namespace
}  // namespace inferencegw
