// Simulator::Run on a simple route (one backend, no experiment): simulated requests per second
// of the C++ event loop alone, without the Python module (bench/python_simulator_bench.py
// measures it through Python). Arg: 0 no limit, 1 a per-user limit that refuses nothing, 2 one
// that refuses about half.
#include <benchmark/benchmark.h>

#include <string>

#include "inferencegw/config_loader.h"
#include "inferencegw/simulator.h"

namespace inferencegw {
namespace {

constexpr std::string_view kConfig = R"(
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: only}
spec:
  type: external
  external: {url: "http://127.0.0.1:1/v1", provider: openai, model: m}
  cost: {inputTokenCost: "0.001", outputTokenCost: "0.002"}
  maxConcurrency: 1000
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: simple}
spec:
  default: true
  defaultBackend: {name: only}
)";

// 1000 users, one request per simulated millisecond, 200 ms latency: ~200 in flight.
void BM_SimulatorRun(benchmark::State& state) {
  std::string yaml(kConfig);
  if (state.range(0) == 1) yaml += "  rateLimit: {requestsPerMinute: 600, perUser: true}\n";
  if (state.range(0) == 2) yaml += "  rateLimit: {requestsPerMinute: 30, perUser: true}\n";
  const ConfigSet config = LoadConfigFromString(yaml).value();
  Scenario scenario;
  scenario.defaults.latency = LatencyModel::Fixed(Milliseconds(200));
  auto sim = Simulator::Create(config, scenario).value();
  constexpr int kRequests = 200'000;
  std::vector<std::string> users;
  for (int u = 0; u < 1000; ++u) users.push_back("user-" + std::to_string(u));
  SimulationTrace trace;
  trace.Reserve(kRequests);
  for (int i = 0; i < kRequests; ++i) {
    SimulationTrace::Row row;
    row.timestamp = static_cast<TimeNs>(i) * kNanosPerMilli;
    row.user = users[static_cast<size_t>(i) % users.size()];
    row.model = "m";
    row.input_tokens = 500;
    row.output_tokens = 200;
    if (!trace.Add(row).ok()) state.SkipWithError("trace");
  }
  uint64_t throttled = 0;
  for (auto _ : state) {
    absl::StatusOr<SimulationResult> result = sim->Run(trace);
    benchmark::DoNotOptimize(result);
    throttled = result->summary.throttled;
  }
  state.SetItemsProcessed(state.iterations() * kRequests);
  state.counters["throttled_pct"] = 100.0 * static_cast<double>(throttled) / kRequests;
}
BENCHMARK(BM_SimulatorRun)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace inferencegw
BENCHMARK_MAIN();
