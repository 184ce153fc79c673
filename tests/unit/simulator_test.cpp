#include "inferencegw/simulator.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "inferencegw/config_loader.h"
#include "inferencegw/experiment.h"

namespace inferencegw {
namespace {

// Two priced backends; the route falls back from `primary` to `backup` and limits each user to
// 60 requests a minute.
constexpr std::string_view kConfig = R"(
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: primary}
spec:
  type: external
  external: {url: "http://127.0.0.1:1/v1", provider: openai}
  cost: {inputTokenCost: "0.001", outputTokenCost: "0.002"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: backup}
spec:
  type: external
  external: {url: "http://127.0.0.1:2/v1", provider: openai}
  cost: {inputTokenCost: "0.003", outputTokenCost: "0.015"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: chat}
spec:
  default: true
  defaultBackend: {name: primary}
  fallback: {backends: [primary, backup], timeoutSeconds: 10}
  rateLimit: {requestsPerMinute: 60, perUser: true}
  experiments: []
)";

ConfigSet Config() {
  absl::StatusOr<ConfigSet> config = LoadConfigFromString(kConfig);
  REQUIRE(config.ok());
  return *config;
}

std::unique_ptr<Simulator> MakeSimulator(Scenario scenario = {}, SimulatorOptions options = {}) {
  absl::StatusOr<std::unique_ptr<Simulator>> sim =
      Simulator::Create(Config(), std::move(scenario), options);
  REQUIRE(sim.ok());
  return *std::move(sim);
}

SimulationTrace Trace(const std::vector<double>& seconds, std::string_view user = "alice") {
  SimulationTrace trace;
  for (double s : seconds) {
    SimulationTrace::Row row;
    row.timestamp = static_cast<TimeNs>(s * kNanosPerSecond);
    row.user = user;
    row.input_tokens = 1000;
    row.output_tokens = 500;
    REQUIRE(trace.Add(row).ok());
  }
  return trace;
}

SimulationResult Run(const Simulator& sim, const SimulationTrace& trace) {
  absl::StatusOr<SimulationResult> result = sim.Run(trace);
  REQUIRE(result.ok());
  return *std::move(result);
}

// A served request costs its tokens at the backend's prices, exactly, and the latency model's
// time.
TEST_CASE("cost and latency of a served request", "[simulator]") {
  Scenario scenario;
  scenario.defaults.latency = LatencyModel::Fixed(Milliseconds(250));
  auto sim = MakeSimulator(scenario);
  const SimulationResult r = Run(*sim, Trace({0, 1}));
  REQUIRE(r.status == std::vector<int32_t>{200, 200});
  CHECK(r.backend == std::vector<int32_t>{0, 0});
  CHECK(r.cost == std::vector<PicoUnits>{2'000'000'000, 2'000'000'000});  // 0.001 + 0.001
  CHECK(r.latency == std::vector<DurationNs>{Milliseconds(250), Milliseconds(250)});
  CHECK(r.summary.succeeded == 2);
  REQUIRE(r.summary.ledger_totals.size() == 1);
  CHECK(r.summary.ledger_totals[0].totals.cost == 4'000'000'000);
  CHECK(r.summary.end == Seconds(1) + Milliseconds(250));
}

// The per-user bucket admits 60 at once and refuses the 61st.
TEST_CASE("rate limit refuses the excess", "[simulator]") {
  std::vector<double> times;
  for (int i = 0; i < 61; ++i) times.push_back(i * 0.001);
  auto sim = MakeSimulator();
  const SimulationResult r = Run(*sim, Trace(times));
  CHECK(r.throttled[59] == 0);
  CHECK(r.throttled[60] == 1);
  CHECK(r.status[60] == 429);
  CHECK(r.summary.throttled == 1);
  CHECK(r.summary.throttled_users == 1);
}

// Inside an outage window the primary refuses connections and the backup answers.
TEST_CASE("outage falls back", "[simulator]") {
  Scenario scenario;
  scenario.backends["primary"].outages.push_back({Seconds(10), Seconds(20)});
  auto sim = MakeSimulator(scenario);
  const SimulationResult r = Run(*sim, Trace({5, 15, 16}, ""));
  CHECK(r.backend == std::vector<int32_t>{0, 1, 1});
  CHECK(r.attempts == std::vector<int32_t>{1, 2, 2});
  CHECK(r.fallback == std::vector<uint8_t>{0, 1, 1});
  REQUIRE(r.summary.fallbacks.size() == 1);
  CHECK(r.summary.fallbacks[0].from == "default/primary");
  CHECK(r.summary.fallbacks[0].to == "default/backup");
  CHECK(r.summary.fallbacks[0].requests == 2);
  CHECK(r.summary.backends[0].connect_errors == 2);
}

// Each request explains what kept it from its intended backend: failed attempts by outcome,
// refusals by kind, nothing for a plain answer; equal reasons share one name.
TEST_CASE("reasons explain fallbacks and refusals", "[simulator]") {
  Scenario scenario;
  scenario.backends["primary"].outages.push_back({Seconds(10), Seconds(20)});
  auto sim = MakeSimulator(scenario);
  std::vector<double> times = {5, 15, 16};
  for (int i = 0; i < 61; ++i) times.push_back(30 + i * 0.001);
  const SimulationResult r = Run(*sim, Trace(times));
  auto reason = [&r](size_t row) {
    return r.reason[row] < 0 ? std::string("-") : r.reason_names[r.reason[row]];
  };
  CHECK(reason(0) == "-");
  CHECK(reason(1) == "default/primary: attempt_failed:connect_error");
  CHECK(r.reason[2] == r.reason[1]);
  CHECK(reason(3) == "-");
  CHECK(reason(63) == "throttled");
  CHECK(r.fallback[63] == 0);
  CHECK(r.reason_names.size() == 2);
}

// Replicas behind round-robin: each counts a per-user limit on its own, so three let three
// times the limit through; with a shared store they refuse exactly as one gateway does, and
// the ledger adds up every replica.
TEST_CASE("replicas with and without a shared store", "[simulator]") {
  std::vector<double> times;
  for (int i = 0; i < 200; ++i) times.push_back(i * 0.001);
  const SimulationTrace trace = Trace(times);
  auto run = [&trace](int replicas, bool shared) {
    SimulatorOptions options;
    options.replicas = replicas;
    options.shared_store = shared;
    return Run(*MakeSimulator({}, options), trace);
  };
  const SimulationResult one = run(1, false);
  const SimulationResult separate = run(3, false);
  const SimulationResult shared = run(3, true);
  CHECK(one.summary.throttled == 140);
  CHECK(separate.summary.throttled == 20);  // 60 admitted by each replica
  CHECK(shared.summary.throttled == 140);
  CHECK(shared.status == one.status);
  CHECK(separate.replica[0] == 0);
  CHECK(separate.replica[1] == 1);
  CHECK(separate.replica[2] == 2);
  CHECK(separate.replica[3] == 0);
  CHECK(separate.summary.replicas == 3);
  REQUIRE(separate.summary.ledger_totals.size() == 1);
  CHECK(separate.summary.ledger_totals[0].totals.requests == 180);

  SimulatorOptions bad;
  bad.replicas = 0;
  CHECK_FALSE(Simulator::Create(Config(), {}, bad).ok());
}

// Runs repeat exactly for a seed, and failure draws follow the rate.
TEST_CASE("seeded runs repeat", "[simulator]") {
  Scenario scenario;
  scenario.backends["primary"].failure_rate = 0.25;
  scenario.backends["primary"].latency = LatencyModel::LogNormal(Milliseconds(300), 0.5);
  std::vector<double> times;
  for (int i = 0; i < 2000; ++i) times.push_back(i * 1.0);
  SimulationTrace trace = Trace(times, "");
  auto a = Run(*MakeSimulator(scenario, {.seed = 9}), trace);
  auto b = Run(*MakeSimulator(scenario, {.seed = 9}), trace);
  CHECK(a.latency == b.latency);
  CHECK(a.backend == b.backend);
  // Every 5xx of the primary moved on to the backup (the breaker also opens now and then, after
  // five failures in a row, and plans the backup directly).
  const SimulatedBackendStats& primary = a.summary.backends[0];
  int moved_on = 0;
  for (size_t i = 0; i < times.size(); ++i) moved_on += a.attempts[i] == 2 && a.backend[i] == 1;
  CHECK(primary.status_5xx == static_cast<uint64_t>(moved_on));
  const double rate = static_cast<double>(primary.status_5xx) / static_cast<double>(primary.sent);
  CHECK(rate > 0.21);  // 0.25, standard deviation about 0.01
  CHECK(rate < 0.29);
}

// Scenario errors name the backend; unknown override backends fail the run.
TEST_CASE("bad scenarios and overrides", "[simulator]") {
  Scenario unknown;
  unknown.backends["nope"] = {};
  absl::StatusOr<std::unique_ptr<Simulator>> sim = Simulator::Create(Config(), unknown);
  REQUIRE_FALSE(sim.ok());
  CHECK(std::string(sim.status().message()).find("unknown backend \"nope\"") != std::string::npos);
  Scenario bad_rate;
  bad_rate.backends["primary"].failure_rate = 2;
  CHECK_FALSE(Simulator::Create(Config(), bad_rate).ok());

  SimulationTrace trace;
  const OutcomeOverride o{"ghost", SimOutcome::kOk, -1};
  SimulationTrace::Row row;
  row.overrides = std::span<const OutcomeOverride>(&o, 1);
  REQUIRE(trace.Add(row).ok());
  CHECK_FALSE(MakeSimulator()->Run(trace).ok());
  row.timestamp = -1;
  CHECK_FALSE(trace.Add(row).ok());
  CHECK(trace.size() == 1);
}

// Latency models: fixed, uniform bounds, lognormal median, per-token time.
TEST_CASE("latency models", "[simulator]") {
  CHECK(LatencyModel::Fixed(5).Sample(1, 2, 0) == 5);
  const LatencyModel u = LatencyModel::Uniform(100, 200);
  CHECK(u.Sample(0, 0, 0) == 100);
  CHECK(u.Sample(~uint64_t{0}, 0, 0) == 200);
  LatencyModel per_token = LatencyModel::Fixed(Milliseconds(100));
  per_token.per_output_token = Milliseconds(10);
  CHECK(per_token.Sample(0, 0, 50) == Milliseconds(600));
  const LatencyModel ln = LatencyModel::LogNormal(Seconds(1), 0.0);
  CHECK(ln.Sample(12345, 678, 0) == Seconds(1));
  CHECK_FALSE(LatencyModel::Uniform(5, 1).Validate().ok());
  CHECK_FALSE(LatencyModel::LogNormal(1, -1).Validate().ok());
}

// The request builder puts the user in the route's user header unless the request has one.
TEST_CASE("request builder user header", "[simulator]") {
  auto sim = MakeSimulator();
  RequestBuilder builder(sim->table(), sim->config());
  CHECK_FALSE(builder.authentication());
  HeaderBuffer storage;
  RequestView view;
  REQUIRE(builder.Build("POST", "/v1/chat/completions", "m", "alice", {}, &storage, &view));
  CHECK(view.FindHeader("x-user-id") == std::optional<std::string_view>("alice"));
  const Header own[] = {{"X-User-Id", "bob"}};
  REQUIRE(builder.Build("POST", "/", "m", "alice", own, &storage, &view));
  CHECK(view.FindHeader("x-user-id") == std::optional<std::string_view>("bob"));
}

}  // namespace
}  // namespace inferencegw
