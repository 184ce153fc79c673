// Config loading speed: parsing, validating and rendering manifest sets of growing size (a reload
// of a large cluster's routes must stay well under a second).
#include <benchmark/benchmark.h>

#include <string>

#include "inferencegw/config_loader.h"

namespace inferencegw {
namespace {

// `n` backends, `n` routes (each with a rule, a fallback chain and an experiment) and one Secret.
std::string Manifests(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out +=
        "apiVersion: gateway.inference-gateway.io/v1alpha1\n"
        "kind: InferenceBackend\n"
        "metadata:\n"
        "  name: backend-" +
        std::to_string(i) +
        "\n"
        "spec:\n"
        "  type: external\n"
        "  external:\n"
        "    url: https://api.example.com/v1\n"
        "    provider: openai\n"
        "    apiKeySecret: {name: keys, key: api-key}\n"
        "  cost: {inputTokenCost: \"0.003\", outputTokenCost: \"0.015\"}\n"
        "  healthCheck: {path: /health, intervalSeconds: 10}\n"
        "---\n";
  }
  for (int i = 0; i < n; ++i) {
    const std::string a = "backend-" + std::to_string(i);
    const std::string b = "backend-" + std::to_string((i + 1) % n);
    out +=
        "apiVersion: gateway.inference-gateway.io/v1alpha1\n"
        "kind: InferenceRoute\n"
        "metadata:\n"
        "  name: route-" +
        std::to_string(i) +
        "\n"
        "spec:\n"
        "  models: [model-" +
        std::to_string(i) +
        "]\n"
        "  rules:\n"
        "    - match: {headers: {x-tier: premium}, headerRegex: {x-org: \"acme-.*\"}}\n"
        "      backends: [{name: " +
        a + ", weight: 80}, {name: " + b +
        ", weight: 20}]\n"
        "  defaultBackend: {name: " +
        a +
        "}\n"
        "  fallback: {backends: [" +
        a + ", " + b +
        "], timeoutSeconds: 10}\n"
        "  rateLimit: {requestsPerMinute: 100, perUser: true}\n"
        "  experiments: [{name: e, control: " +
        a + ", treatment: " + b +
        ", trafficPercent: 12.5}]\n"
        "---\n";
  }
  out += "apiVersion: v1\nkind: Secret\nmetadata: {name: keys}\nstringData: {api-key: sk}\n";
  return out;
}

void BM_ParseManifests(benchmark::State& state) {
  const std::string yaml = Manifests(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    absl::StatusOr<ConfigSet> config = ParseManifests(yaml, "bench.yaml");
    benchmark::DoNotOptimize(config);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * yaml.size()));
  state.counters["objects"] = static_cast<double>(2 * state.range(0) + 1);
}
BENCHMARK(BM_ParseManifests)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_ValidateConfig(benchmark::State& state) {
  const ConfigSet config = *ParseManifests(Manifests(static_cast<int>(state.range(0))), "b.yaml");
  for (auto _ : state) {
    std::vector<ConfigIssue> issues = ValidateConfig(config);
    benchmark::DoNotOptimize(issues);
  }
}
BENCHMARK(BM_ValidateConfig)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_RenderManifests(benchmark::State& state) {
  const ConfigSet config = *ParseManifests(Manifests(static_cast<int>(state.range(0))), "b.yaml");
  for (auto _ : state) {
    std::string yaml = RenderManifests(config);
    benchmark::DoNotOptimize(yaml);
  }
}
BENCHMARK(BM_RenderManifests)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_RenderConfigJson(benchmark::State& state) {
  const ConfigSet config = *ParseManifests(Manifests(static_cast<int>(state.range(0))), "b.yaml");
  for (auto _ : state) {
    std::string json = RenderConfigJson(config);
    benchmark::DoNotOptimize(json);
  }
}
BENCHMARK(BM_RenderConfigJson)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_ParsePrice(benchmark::State& state) {
  for (auto _ : state) {
    absl::StatusOr<PriceNanos> price = ParsePrice("0.000125");
    benchmark::DoNotOptimize(price);
  }
}
BENCHMARK(BM_ParsePrice);

}  // namespace
}  // namespace inferencegw

BENCHMARK_MAIN();
