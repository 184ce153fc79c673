// The per-request cost of tracing: what a worker does for one request (parse the client's
// traceparent, decide sampling, and when sampled build the server span and one attempt span
// with their attributes) and what the exporter thread does per request (OTLP JSON encoding,
// amortized over a batch). Sampling 0 pays the parse and the decision only.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "inferencegw/config_loader.h"
#include "inferencegw/exchange_trace.h"
#include "inferencegw/gateway.h"
#include "inferencegw/tracing.h"

namespace inferencegw {
namespace {

constexpr std::string_view kConfig = R"(
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: primary}
spec:
  type: external
  external: {url: "http://10.0.0.7:8000/v1", provider: openai, model: gpt-4o}
  cost: {inputTokenCost: "0.001", outputTokenCost: "0.002"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: chat}
spec:
  default: true
  defaultBackend: {name: primary}
)";

constexpr std::string_view kTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

struct Setup {
  Setup() {
    GatewayOptions options;
    options.metrics = false;
    options.clock = &clock;
    gateway = *Gateway::Create(*LoadConfigFromString(kConfig), options);
    view.path = "/v1/chat/completions";
    view.model = "gpt-4o";
    ex = std::make_unique<Exchange>(*gateway, 1, clock.Now());
    ex->Begin(view, 10);
    attempt = ex->NextAttempt(clock.Now());
    ex->AttemptCommitted(200, clock.Now());
    FinishInfo info;
    info.usage.input_tokens = 1250;
    info.usage.output_tokens = 48;
    info.usage.present = true;
    result = ex->Finish(info, clock.Now());
  }
  SimulatedClock clock;
  std::unique_ptr<Gateway> gateway;
  RequestView view;
  std::unique_ptr<Exchange> ex;
  std::optional<Exchange::Attempt> attempt;
  ExchangeResult result;
};

// One request's worker-side tracing work at sampling ratio arg/100 (a fresh trace per request,
// as when clients send no traceparent; the client's header is parsed as when they do). The
// counter `sampled` says which share of requests built spans. With the second argument 1, the
// spans are also encoded in batches of 512, the exporter thread's work.
void BM_TraceRequest(benchmark::State& state) {
  Setup s;
  const Sampler sampler{SamplerKind::kTraceIdRatio, static_cast<double>(state.range(0)) / 100};
  const TraceResource resource;
  std::vector<SpanData> batch;
  batch.reserve(1024);
  std::string body;
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  int64_t sampled = 0;
  for (auto _ : state) {
    std::optional<TraceParent> parent = ParseTraceparent(kTraceparent);
    benchmark::DoNotOptimize(parent);
    const TraceId trace = NewTraceId(next(), next());
    if (!ShouldSample(sampler, trace, nullptr)) continue;
    ++sampled;
    ExchangeTrace t(RequestTraceIds{trace, NewSpanId(next()), 0}, "POST", "/v1/chat/completions",
                    ClientApi::kChatCompletions, 1);
    t.server_span().Set("inferencegw.request_id", "a1b2c3d4-000001");
    t.SetRequest("gpt-4o", 256);
    std::string traceparent = t.StartAttempt(NewSpanId(next()), *s.attempt->target, 2);
    benchmark::DoNotOptimize(traceparent);
    t.Finish(s.ex.get(), &s.result, 200, "", 3);
    for (SpanData& span : t.Take()) batch.push_back(std::move(span));
    if (state.range(1) == 0) {
      batch.clear();
    } else if (batch.size() >= 512) {
      body.clear();
      AppendOtlpJson(resource, batch, &body);
      benchmark::DoNotOptimize(body.data());
      batch.clear();
    }
  }
  state.counters["sampled"] =
      benchmark::Counter(static_cast<double>(sampled) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_TraceRequest)->ArgNames({"percent", "encode"})->ArgsProduct({{0, 10, 100}, {0, 1}});

// Encoding alone: bytes and time per span in a batch of 512 exchange spans.
void BM_OtlpJsonEncode(benchmark::State& state) {
  Setup s;
  std::vector<SpanData> batch;
  for (int i = 0; i < 256; ++i) {
    ExchangeTrace t(RequestTraceIds{NewTraceId(i + 1, 7), NewSpanId(i + 1), 0}, "POST",
                    "/v1/chat/completions", ClientApi::kChatCompletions, 1);
    t.StartAttempt(NewSpanId(i + 1000), *s.attempt->target, 2);
    t.Finish(s.ex.get(), &s.result, 200, "", 3);
    for (SpanData& span : t.Take()) batch.push_back(std::move(span));
  }
  const TraceResource resource;
  std::string body;
  for (auto _ : state) {
    body.clear();
    AppendOtlpJson(resource, batch, &body);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
  state.counters["bytes_per_span"] =
      static_cast<double>(body.size()) / static_cast<double>(batch.size());
}
BENCHMARK(BM_OtlpJsonEncode);

}  // namespace
}  // namespace inferencegw

BENCHMARK_MAIN();
