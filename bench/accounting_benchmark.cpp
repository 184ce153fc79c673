// Per-request accounting: the cost ledger, experiment statistics and metrics updates, and the
// Prometheus scrape.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "fmt/format.h"
#include "inferencegw/cost_ledger.h"
#include "inferencegw/experiment_stats.h"
#include "inferencegw/metrics.h"

namespace inferencegw {
namespace {

Usage TypicalUsage() {
  Usage u;
  u.input_tokens = 1250;
  u.output_tokens = 300;
  u.cached_input_tokens = 1024;
  u.present = true;
  return u;
}

// Keys of a realistic config: 20 routes, 8 backends, 2 experiments, 5000 users (more than the
// 1000 tracked, so Space-Saving evictions happen).
struct Keys {
  std::vector<std::string> routes;
  std::vector<std::string> backends;
  std::vector<std::string> users;
  Keys() {
    for (int i = 0; i < 20; ++i) routes.push_back(fmt::format("team{}/route-{}", i % 4, i));
    for (int i = 0; i < 8; ++i) backends.push_back(fmt::format("default/backend-{}", i));
    for (int i = 0; i < 5000; ++i) users.push_back(fmt::format("user-{}", i * 7919 % 100'003));
  }
};

// CostLedger::Record from 1 and 2 threads on the shared ledger (one mutex).
void BM_LedgerRecord(benchmark::State& state) {
  static CostLedger* ledger = nullptr;
  static const Keys* keys = nullptr;
  if (state.thread_index() == 0) {
    ledger = new CostLedger();
    keys = new Keys();
  }
  const Usage usage = TypicalUsage();
  uint64_t i = static_cast<uint64_t>(state.thread_index()) * 7777;
  for (auto _ : state) {
    ++i;
    // Skewed users: a few heavy ones and a long tail.
    const size_t user = (i % 4 == 0) ? i % 5000 : i % 50;
    ledger->Record({keys->routes[i % 20], keys->backends[i % 8], i % 3 ? "exp-a" : "",
                    i % 2 ? Arm::kControl : Arm::kTreatment, keys->users[user], "USD"},
                   usage, 1'650'000'000);
  }
  if (state.thread_index() == 0) {
    state.counters["rows"] = static_cast<double>(ledger->Rows().size());
    delete ledger;
    delete keys;
  }
}
BENCHMARK(BM_LedgerRecord)->Threads(1)->Threads(2)->UseRealTime();

void BM_ExperimentStatsRecord(benchmark::State& state) {
  ExperimentStats stats;
  const Usage usage = TypicalUsage();
  uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    stats.Record("default/chat", "claude-test", i % 2 ? Arm::kControl : Arm::kTreatment,
                 static_cast<DurationNs>(i * 7919 % 3'000'000'000), i % 50 == 0, usage, 1000);
  }
}
BENCHMARK(BM_ExperimentStatsRecord);

// Inc on a cached Counter* (the frontends' fast path).
void BM_CounterInc(benchmark::State& state) {
  MetricsRegistry registry;
  GatewayMetrics m(registry);
  Counter* c = m.requests_total->GetCounter({"default/chat", "default/gpt4", "200"});
  for (auto _ : state) c->Inc();
  benchmark::DoNotOptimize(c->Value());
}
BENCHMARK(BM_CounterInc);

// The per-request label lookup plus Inc, among 160 existing series.
void BM_CounterLookupInc(benchmark::State& state) {
  MetricsRegistry registry;
  GatewayMetrics m(registry);
  const Keys keys;
  for (const std::string& r : keys.routes) {
    for (const std::string& b : keys.backends) m.requests_total->GetCounter({r, b, "200"});
  }
  uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    m.requests_total->GetCounter({keys.routes[i % 20], keys.backends[i % 8], "200"})->Inc();
  }
}
BENCHMARK(BM_CounterLookupInc);

void BM_HistogramObserve(benchmark::State& state) {
  MetricsRegistry registry;
  GatewayMetrics m(registry);
  Histogram* h = m.request_duration_seconds->GetHistogram({"default/chat", "default/gpt4"});
  double v = 0.001;
  for (auto _ : state) {
    h->Observe(v);
    v = v < 100 ? v * 1.37 : 0.001;
  }
  benchmark::DoNotOptimize(h->Count());
}
BENCHMARK(BM_HistogramObserve);

// A scrape of a realistic registry: 20 routes x 8 backends with request counters for 3
// statuses, both latency histograms, token and cost counters, and per-backend gauges.
void BM_RenderPrometheus(benchmark::State& state) {
  MetricsRegistry registry;
  GatewayMetrics m(registry);
  const Keys keys;
  for (const std::string& r : keys.routes) {
    for (const std::string& b : keys.backends) {
      for (const char* status : {"200", "429", "500"})
        m.requests_total->GetCounter({r, b, status})->Inc(17);
      m.request_duration_seconds->GetHistogram({r, b})->Observe(1.3);
      m.time_to_first_byte_seconds->GetHistogram({r, b})->Observe(0.2);
      m.tokens_total->GetCounter({r, b, "input"})->Inc(12345);
      m.tokens_total->GetCounter({r, b, "output"})->Inc(678);
      m.cost_total->GetCounter({r, b, "USD"})->Inc(0.0123);
    }
  }
  for (const std::string& b : keys.backends) {
    m.backend_health->GetGauge({b})->Set(1);
    m.circuit_breaker_state->GetGauge({b})->Set(0);
    m.active_requests->GetGauge({b})->Set(4);
  }
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = registry.RenderPrometheus();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_RenderPrometheus);

}  // namespace
}  // namespace inferencegw

BENCHMARK_MAIN();
