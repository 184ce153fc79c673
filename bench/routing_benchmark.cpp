// Routing hot path: a full RouteTable::Decide on a seed-shaped config, model-based selection,
// experiment assignment, the stable hash, and a weighted pick.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inferencegw/config.h"
#include "inferencegw/experiment.h"
#include "inferencegw/health_tracker.h"
#include "inferencegw/route_table.h"
#include "inferencegw/stable_hash.h"
#include "inferencegw/weighted_split.h"

namespace inferencegw {
namespace {

Backend External(const std::string& name, Provider provider, const std::string& model,
                 int priority) {
  Backend b;
  b.meta.name = name;
  b.spec.type = BackendType::kExternal;
  b.spec.external = ExternalBackend{};
  b.spec.external->url = "https://" + name + ".example.com/v1";
  b.spec.external->provider = provider;
  b.spec.external->model = model;
  b.spec.priority = priority;
  return b;
}

Route ModelRoute(const std::string& name, std::vector<std::string> models,
                 std::vector<BackendRef> split) {
  Route r;
  r.meta.name = name;
  r.spec.models = std::move(models);
  RouteRule tier;
  tier.match.headers["x-user-tier"] = "premium";
  tier.backends = {split.front()};
  r.spec.rules.push_back(tier);
  RouteRule weighted;
  weighted.backends = std::move(split);
  r.spec.rules.push_back(weighted);
  r.spec.fallback = FallbackConfig{};
  return r;
}

// The seed README's multi-provider example plus an A/B experiment on its default backend and
// three model-claiming routes.
ConfigSet BenchConfig() {
  ConfigSet c;
  c.backends.push_back(External("openai-gpt4", Provider::kOpenAI, "gpt-4", 0));
  c.backends.push_back(External("openai-gpt4o", Provider::kOpenAI, "gpt-4o", 0));
  c.backends.push_back(External("anthropic-claude", Provider::kAnthropic, "claude-3-sonnet", 1));
  c.backends.push_back(External("anthropic-claude-35", Provider::kAnthropic, "claude-3-5", 1));
  c.backends.push_back(External("cohere", Provider::kCohere, "command-r", 0));
  Backend mistral;
  mistral.meta.name = "local-mistral";
  mistral.spec.type = BackendType::kKServe;
  mistral.spec.kserve = KServeBackend{};
  mistral.spec.kserve->service_name = "mistral-7b";
  mistral.spec.priority = 2;
  c.backends.push_back(mistral);

  Route chatbot;
  chatbot.meta.name = "chatbot-route";
  chatbot.spec.is_default = true;
  chatbot.spec.default_backend = BackendRef{"local-mistral", 100};
  RouteRule premium;
  premium.match.headers["x-user-tier"] = "premium";
  premium.backends = {{"openai-gpt4", 100}};
  chatbot.spec.rules.push_back(premium);
  chatbot.spec.fallback = FallbackConfig{};
  chatbot.spec.fallback->backends = {"local-mistral", "anthropic-claude", "openai-gpt4"};
  chatbot.spec.fallback->timeout_seconds = 10;
  chatbot.spec.rate_limit = RateLimitConfig{};
  chatbot.spec.rate_limit->requests_per_minute = 100;
  chatbot.spec.rate_limit->per_user = true;
  ExperimentConfig exp;
  exp.name = "mistral-vs-claude-35";
  exp.control = "local-mistral";
  exp.treatment = "anthropic-claude-35";
  exp.traffic_basis_points = 1000;
  chatbot.spec.experiments.push_back(exp);
  c.routes.push_back(chatbot);

  c.routes.push_back(
      ModelRoute("openai-route", {"gpt-4", "gpt-4*"}, {{"openai-gpt4", 70}, {"openai-gpt4o", 30}}));
  c.routes.push_back(ModelRoute("claude-route", {"claude-*"},
                                {{"anthropic-claude", 90}, {"anthropic-claude-35", 10}}));
  c.routes.push_back(ModelRoute("cohere-route", {"command-r", "command-*"}, {{"cohere", 100}}));
  return c;
}

// Requests with 8 headers each (a user header among them), cycling through users and tiers.
struct RequestSet {
  static constexpr size_t kCount = 256;
  std::vector<std::string> users;
  std::vector<std::array<Header, 8>> headers;
  std::vector<RequestView> views;

  explicit RequestSet(std::string_view model) {
    users.reserve(kCount);
    headers.resize(kCount);
    views.resize(kCount);
    for (size_t i = 0; i < kCount; ++i) users.push_back("user-" + std::to_string(i * 7919));
    for (size_t i = 0; i < kCount; ++i) {
      headers[i] = {{{"Host", "gateway.example.com"},
                     {"User-Agent", "python-httpx/0.27"},
                     {"Accept", "application/json"},
                     {"Content-Type", "application/json"},
                     {"Authorization", "Bearer sk-client-0123456789"},
                     {"X-Request-Id", "5f2c8a0e-3c1d-4b7e-9a51-0d7f6c3b2e11"},
                     {"X-User-Tier", i % 10 == 0 ? "premium" : "standard"},
                     {"X-User-Id", users[i]}}};
      views[i].path = "/v1/chat/completions";
      views[i].headers = headers[i];
      views[i].model = model;
    }
  }
};

void RunDecide(benchmark::State& state, std::string_view model) {
  HealthTracker health;
  auto table = RouteTable::Create(BenchConfig(), health);
  if (!table.ok()) {
    state.SkipWithError(std::string(table.status().message()).c_str());
    return;
  }
  const RequestSet requests(model);
  Decision d;
  uint64_t i = 0;
  int64_t treatment = 0;
  for (auto _ : state) {
    const RequestView& r = requests.views[i % RequestSet::kCount];
    DecisionStatus s = (*table)->Decide(r, SplitMix64(i), /*now=*/0, &d);
    benchmark::DoNotOptimize(s);
    benchmark::DoNotOptimize(d.plan.backends.data());
    treatment += d.arm == Arm::kTreatment;
    ++i;
  }
  state.counters["treatment_share"] =
      benchmark::Counter(static_cast<double>(treatment) / static_cast<double>(i ? i : 1));
}

// The default route (model not claimed by any route): header rule, experiment, 3-step plan.
void BM_Decide(benchmark::State& state) { RunDecide(state, "mistral-7b-instruct"); }
BENCHMARK(BM_Decide);

// A model claimed by a glob route: two rules, a weighted split, a priority-ordered chain.
void BM_DecideByModel(benchmark::State& state) { RunDecide(state, "claude-3-opus"); }
BENCHMARK(BM_DecideByModel);

void BM_AssignArm(benchmark::State& state) {
  const ExperimentSplit split = ExperimentSplit::Create("claude-3-5-test", 1000);
  uint64_t i = 0;
  int64_t treatment = 0;
  for (auto _ : state) {
    const Arm arm = AssignArm(split, SplitMix64(i++));
    benchmark::DoNotOptimize(arm);
    treatment += arm == Arm::kTreatment;
  }
  state.counters["treatment_share"] =
      benchmark::Counter(static_cast<double>(treatment) / static_cast<double>(i ? i : 1));
}
BENCHMARK(BM_AssignArm);

void BM_StableHash64(benchmark::State& state) {
  std::string key = "user-0000000000A";  // 16 bytes
  benchmark::DoNotOptimize(key.data());
  for (auto _ : state) {
    benchmark::DoNotOptimize(key.data());
    benchmark::DoNotOptimize(StableHash64(key));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 16);
}
BENCHMARK(BM_StableHash64);

// Args: the number of items. Reports the largest relative error of the observed shares.
void BM_WeightedPick(benchmark::State& state) {
  std::vector<uint32_t> weights;
  for (int64_t k = 0; k < state.range(0); ++k) weights.push_back(static_cast<uint32_t>(10 + k * 7));
  const WeightedSplit split = WeightedSplit::Create(weights);
  std::vector<int64_t> counts(weights.size(), 0);
  uint64_t i = 0;
  for (auto _ : state) {
    const size_t pick = split.Pick(SplitMix64(i++));
    benchmark::DoNotOptimize(pick);
    ++counts[pick];
  }
  double skew = 0;
  for (size_t k = 0; k < weights.size() && i > 0; ++k) {
    const double expected = static_cast<double>(i) * weights[k] / split.total_weight();
    skew = std::max(skew, std::abs(static_cast<double>(counts[k]) - expected) / expected);
  }
  state.counters["max_share_error"] = skew;
}
BENCHMARK(BM_WeightedPick)->Arg(3)->Arg(16);

}  // namespace
}  // namespace inferencegw

BENCHMARK_MAIN();
