// The simulator's event loop: arrivals from the trace, attempt completions and probes from a
// priority queue, each request driven through Exchange exactly as
// frontends/proxy/proxy_exchange.cc drives it.
#include "inferencegw/simulator.h"

#include <algorithm>
#include <limits>
#include <numeric>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "fmt/format.h"
#include "inferencegw/stable_hash.h"
#include "simulator_internal.h"

namespace inferencegw {

namespace {

// Salts that separate the seed's streams: request entropy and simulated outcomes.
constexpr uint64_t kEntropySalt = 0x243f6a8885a308d3ULL;
constexpr uint64_t kOutcomeSalt = 0x13198a2e03707344ULL;
// Draws per attempt from a request's outcome stream: the outcome, two for the latency.
constexpr uint64_t kDrawsPerAttempt = 4;
constexpr int kMaxReplicas = 1024;
// How far ahead of the arrival being replayed the loop prefetches a row's user text.
constexpr size_t kPrefetchRows = 8;
constexpr DurationNs kNeverAnswers = std::numeric_limits<DurationNs>::max() / 4;

// A uniform double in [0, 1) from 53 bits of `r`.
double Unit(uint64_t r) { return static_cast<double>(r >> 11) * 0x1.0p-53; }

FailureKind FailureFor(SimOutcome outcome) {
  switch (outcome) {
    case SimOutcome::kConnectError:
      return FailureKind::kConnect;
    case SimOutcome::kTimeout:
      return FailureKind::kTimeout;
    case SimOutcome::kStatus5xx:
      return FailureKind::kStatus5xx;
    case SimOutcome::kStatus429:
      return FailureKind::kStatus429;
    case SimOutcome::kScenario:
    case SimOutcome::kOk:
      break;
  }
  return FailureKind::kNone;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Simulator

void internal::AdviseHugePages(const void* data, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const auto start = reinterpret_cast<uintptr_t>(data);
  const uintptr_t begin = (start + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (start + bytes) & ~(kHuge - 1);
  if (data != nullptr && end > begin) {
    madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // a hint: ignore errors
  }
#else
  (void)data;
  (void)bytes;
#endif
}

Simulator::~Simulator() = default;

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Create(const ConfigSet& config,
                                                             Scenario scenario,
                                                             SimulatorOptions options) {
  if (options.replicas < 1 || options.replicas > kMaxReplicas) {
    return absl::InvalidArgumentError(fmt::format("replicas must be between 1 and {}, got {}",
                                                  kMaxReplicas, options.replicas));
  }
  std::unique_ptr<Simulator> sim(new Simulator());
  sim->config_ = config;
  sim->options_ = options;
  absl::StatusOr<std::shared_ptr<const RouteTable>> table =
      RouteTable::Create(sim->config_, sim->health_);
  if (!table.ok()) return table.status();
  sim->table_ = *std::move(table);

  if (absl::Status s = scenario.defaults.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(fmt::format(
        "scenario defaults: {}", std::string_view(s.message().data(), s.message().size())));
  }
  sim->scenarios_.assign(sim->table_->backends().size(), scenario.defaults);
  for (const auto& [name, behaviour] : scenario.backends) {
    const std::optional<BackendIndex> index = ResolveBackendName(*sim->table_, name);
    if (!index.has_value()) {
      std::vector<std::string> known;
      for (const CompiledBackend& b : sim->table_->backends()) known.push_back(b.key);
      return absl::InvalidArgumentError(fmt::format(
          "scenario: unknown backend \"{}\" (the config has {})", name, fmt::join(known, ", ")));
    }
    if (absl::Status s = behaviour.Validate(); !s.ok()) {
      return absl::InvalidArgumentError(fmt::format(
          "scenario for {}: {}", name, std::string_view(s.message().data(), s.message().size())));
    }
    sim->scenarios_[*index] = behaviour;
  }
  return sim;
}

absl::StatusOr<SimulationResult> Simulator::Run(const SimulationTrace& trace) const {
  RunState state(*this, trace);
  if (absl::Status s = state.Init(); !s.ok()) return s;
  state.Loop();
  return state.TakeResult();
}

// ---------------------------------------------------------------------------------------------
// RunState

namespace {

// The wall time of trace time 0, for calendar periods (spend budgets): trace times from 2001 on
// (10^9 s and more, as datetimes and ISO text are read) are Unix times; smaller ones count from
// 2023-11-14T22:13:20Z.
int64_t UnixEpochOf(TimeNs start) {
  constexpr TimeNs kUnixTimesFrom = Seconds(1'000'000'000);
  return start >= kUnixTimesFrom ? 0 : Seconds(1'700'000'000);
}

}  // namespace

Simulator::RunState::RunState(const Simulator& simulator, const SimulationTrace& t)
    : sim(simulator),
      trace(t),
      clock(t.size() == 0 ? 0 : *std::min_element(t.timestamps().begin(), t.timestamps().end()),
            UnixEpochOf(t.size() == 0 ? 0
                                      : *std::min_element(t.timestamps().begin(),
                                                          t.timestamps().end()))) {}

absl::Status Simulator::RunState::Init() {
  ledger = std::make_unique<CostLedger>(CostLedger::Options{.max_users = sim.options_.max_users});
  GatewayOptions options;
  options.metrics = false;
  options.clock = &clock;
  options.ledger.max_users = sim.options_.max_users;
  options.ledger_sink = ledger.get();
  options.experiments_sink = &experiment_stats;
  if (sim.options_.shared_store) shared_store = std::make_shared<LocalCounterStore>();
  for (int i = 0; i < sim.options_.replicas; ++i) {
    absl::StatusOr<std::unique_ptr<Gateway>> gw = Gateway::Create(sim.config_, options);
    if (!gw.ok()) return gw.status();
    if (shared_store != nullptr) (*gw)->SetSharedStore(shared_store, StoreFailurePolicy::kFailOpen);
    gateways.push_back(*std::move(gw));
  }
  table = gateways.front()->table();
  builder.emplace(*table, sim.config_);
  entropy_base = SplitMix64(sim.options_.seed ^ kEntropySalt);
  outcome_base = SplitMix64(sim.options_.seed ^ kOutcomeSalt);

  // Backend names in overrides.
  override_backend.assign(trace.string_count(), kNoBackend);
  for (size_t row = 0; row < trace.size(); ++row) {
    for (const SimulationTrace::StoredOverride& o : trace.overrides(row)) {
      if (o.backend == 0 || override_backend[o.backend] != kNoBackend) continue;
      const std::optional<BackendIndex> index = ResolveBackendName(*table, trace.string(o.backend));
      if (!index.has_value()) {
        return absl::InvalidArgumentError(fmt::format("row {}: override for unknown backend \"{}\"",
                                                      row, trace.string(o.backend)));
      }
      override_backend[o.backend] = *index;
    }
  }

  const size_t n = trace.size();
  internal::FillColumn(&result.route, n, -1);
  internal::FillColumn(&result.backend, n, -1);
  internal::FillColumn(&result.experiment, n, -1);
  internal::FillColumn<uint8_t>(&result.arm, n, 0);
  internal::FillColumn(&result.attempts, n, 0);
  internal::FillColumn<uint8_t>(&result.throttled, n, 0);
  internal::FillColumn<uint8_t>(&result.fallback, n, 0);
  internal::FillColumn(&result.status, n, 0);
  internal::FillColumn<PicoUnits>(&result.cost, n, 0);
  internal::FillColumn<DurationNs>(&result.latency, n, 0);
  internal::FillColumn<int64_t>(&result.input_tokens, n, 0);
  internal::FillColumn<int64_t>(&result.output_tokens, n, 0);
  internal::FillColumn(&result.reason, n, -1);
  internal::FillColumn<uint16_t>(&result.replica, n, 0);
  const auto routes = table->routes();
  int32_t experiments = 0;
  for (const CompiledRoute& route : routes) {
    result.route_names.push_back(route.key);
    experiment_base.push_back(experiments);
    for (const CompiledExperiment& e : route.experiments) {
      result.experiment_names.push_back(e.name);
      ++experiments;
    }
  }
  for (const CompiledBackend& backend : table->backends()) {
    result.backend_names.push_back(backend.key);
    backend_stats.emplace_back().backend = backend.key;
    backend_latency.push_back(std::make_unique<LatencySketch>());
  }
  throttled_by_requests.assign(routes.size(), 0);
  throttled_by_tokens.assign(routes.size(), 0);
  throttled_by_budget.assign(routes.size(), 0);
  user_throttled.assign(trace.string_count(), 0);
  return absl::OkStatus();
}

void Simulator::RunState::Push(TimeNs at, uint32_t target, bool probe) {
  heap.push_back({at, seq++, target, probe});
  std::push_heap(heap.begin(), heap.end(), Later);
}

void Simulator::RunState::Pop() {
  std::pop_heap(heap.begin(), heap.end(), Later);
  heap.pop_back();
}

uint32_t Simulator::RunState::AcquireSlot() {
  if (!free_slots.empty()) {
    const uint32_t slot = free_slots.back();
    free_slots.pop_back();
    return slot;
  }
  flights.emplace_back();
  return static_cast<uint32_t>(flights.size() - 1);
}

void Simulator::RunState::Loop() {
  const size_t n = trace.size();
  if (n == 0) return;
  const std::vector<TimeNs>& ts = trace.timestamps();
  // Replay order: by timestamp, ties in row order (a stable sort only when needed).
  std::vector<uint32_t> order;
  if (!std::is_sorted(ts.begin(), ts.end())) {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&ts](uint32_t a, uint32_t b) { return ts[a] < ts[b]; });
  }
  const TimeNs start = clock.Now();
  last_event = start;
  const size_t backend_count = table->backends().size();
  if (sim.options_.probes) {
    for (size_t r = 0; r < gateways.size(); ++r) {
      const auto backends = table->backends();
      for (size_t i = 0; i < backends.size(); ++i) {
        if (!backends[i].health_check.has_value()) continue;
        Push(start, static_cast<uint32_t>(r * backend_count + i), true);
      }
    }
  }
  heap.reserve(1024);

  size_t next = 0;
  while (true) {
    const uint32_t row = next < n ? (order.empty() ? static_cast<uint32_t>(next) : order[next]) : 0;
    const TimeNs arrival = next < n ? ts[row] : std::numeric_limits<TimeNs>::max();
    if (!heap.empty() && heap.front().at <= arrival) {
      if (next >= n && in_flight == 0) break;  // only probes are left
      const Event event = heap.front();
      Pop();
      clock.SetTo(event.at);
      last_event = event.at;
      ++result.summary.events;
      if (event.probe) {
        const size_t index = event.target % backend_count;
        const CompiledBackend& backend = gateways[event.target / backend_count]->table()->backend(
            static_cast<BackendIndex>(index));
        backend.health->RecordProbe(!sim.scenarios_[index].InOutage(event.at), event.at);
        Push(event.at + Seconds(backend.health_check->interval_seconds), event.target, true);
      } else if (Complete(event.target, event.at)) {
        Drive(event.target, event.at);
      }
    } else if (next < n) {
      if (next + kPrefetchRows < n) {
        trace.PrefetchUser(order.empty() ? next + kPrefetchRows : order[next + kPrefetchRows]);
      }
      ++next;
      clock.SetTo(arrival);
      last_event = arrival;
      ++result.summary.events;
      Arrive(row, arrival);
    } else {
      break;
    }
  }
}

void Simulator::RunState::Arrive(uint32_t row, TimeNs now) {
  HeaderBuffer storage;
  RequestView view;
  const uint32_t user = trace.user_id(row);
  if (!builder->Build(trace.string(trace.method_id(row)), trace.string(trace.path_id(row)),
                      trace.string(trace.model_id(row)), trace.string(user), trace.headers(row),
                      &storage, &view)) {
    result.status[row] = 401;  // the proxy refuses a request without a valid client key
    ++status_counts[401];
    result.reason[row] = InternReason(std::string_view("\0unauthenticated", 16),
                                      [] { return std::string("unauthenticated"); });
    return;
  }
  const uint32_t slot = AcquireSlot();
  Flight& flight = flights[slot];
  flight.row = row;
  flight.active = false;
  flight.planning_skips.clear();
  const uint64_t entropy = SplitMix64(entropy_base + row * kGoldenGamma);
  const auto replica = static_cast<uint16_t>(arrivals++ % gateways.size());
  result.replica[row] = replica;
  Exchange& exchange = flight.exchange.emplace(*gateways[replica], entropy, now);
  FinishInfo info;
  BeginStatus begun = exchange.Begin(view, trace.estimated_tokens(row));
  if (begun == BeginStatus::kPending) {
    // The shared store answers at once (a LocalCounterStore).
    begun = exchange.CompleteAdmission(shared_store->AdmitNow(exchange.admission_batch()));
  }
  const size_t route_index =
      exchange.route() == nullptr
          ? 0
          : static_cast<size_t>(exchange.route() - exchange.table().routes().data());
  switch (begun) {
    case BeginStatus::kOk:
      CountPlanningSkips(flight, now);
      flight.active = true;
      ++in_flight;
      result.summary.max_in_flight = std::max(result.summary.max_in_flight, in_flight);
      Drive(slot, now);
      return;
    case BeginStatus::kRateLimited: {
      ++(exchange.admission().limited_by_tokens ? throttled_by_tokens
                                                : throttled_by_requests)[route_index];
      if (user != 0) user_throttled[user] = 1;
      info.client_status = 429;
      Record(slot, info, now, kThrottled);
      return;
    }
    case BeginStatus::kBudgetExceeded:
      // A spent budget refuses like a limit, with 429 (insufficient_quota).
      ++throttled_by_budget[route_index];
      if (user != 0) user_throttled[user] = 1;
      info.client_status = 429;
      Record(slot, info, now, kThrottled);
      return;
    case BeginStatus::kForbidden:
      info.client_status = 403;
      Record(slot, info, now, "key_not_allowed");
      return;
    case BeginStatus::kUnknownRoute:
      info.client_status = 404;
      Record(slot, info, now, "unknown_route");
      return;
    case BeginStatus::kNoRoute:
      info.client_status = 404;
      Record(slot, info, now, "no_route");
      return;
    case BeginStatus::kNoBackend:
      info.client_status = 404;
      Record(slot, info, now, "no_backend");
      return;
    case BeginStatus::kPending:  // answered above
    case BeginStatus::kStoreUnavailable:
      info.client_status = 503;
      Record(slot, info, now, "store_unavailable");
      return;
  }
}

Simulator::RunState::Outcome Simulator::RunState::Resolve(uint32_t row, BackendIndex backend,
                                                          int attempt, TimeNs send_at) const {
  const BackendScenario& s = sim.scenarios_[backend];
  SimOutcome forced = SimOutcome::kScenario;
  DurationNs forced_latency = -1;
  for (const SimulationTrace::StoredOverride& o : trace.overrides(row)) {
    if (o.backend == 0 || override_backend[o.backend] == backend) {
      forced = o.outcome;
      forced_latency = o.latency;
      break;
    }
  }
  const uint64_t stream = SplitMix64(outcome_base + row * kGoldenGamma);
  const uint64_t first = static_cast<uint64_t>(attempt) * kDrawsPerAttempt;
  auto draw = [stream, first](uint64_t k) {
    return SplitMix64(stream + (first + k) * kGoldenGamma);
  };

  SimOutcome kind = forced;
  if (forced == SimOutcome::kScenario) {
    kind = SimOutcome::kOk;
    if (s.InOutage(send_at)) {
      kind = SimOutcome::kConnectError;
    } else if (s.failure_rate > 0 || s.rate_429 > 0) {
      const double u = Unit(draw(0));
      if (u < s.failure_rate) {
        kind = SimOutcome::kStatus5xx;
      } else if (u < s.failure_rate + s.rate_429) {
        kind = SimOutcome::kStatus429;
      }
    }
  }
  Outcome out;
  out.kind = FailureFor(kind);
  if (forced_latency >= 0 && (forced != SimOutcome::kScenario || kind == SimOutcome::kOk)) {
    out.duration = forced_latency;
  } else {
    switch (kind) {
      case SimOutcome::kScenario:
      case SimOutcome::kOk:
        out.duration = s.latency.Sample(draw(1), draw(2), trace.output_tokens(row));
        break;
      case SimOutcome::kConnectError:
        out.duration = s.connect_latency;
        break;
      case SimOutcome::kTimeout:
        out.duration = kNeverAnswers;
        break;
      case SimOutcome::kStatus5xx:
      case SimOutcome::kStatus429:
        out.duration = s.error_latency;
        break;
    }
  }
  switch (kind) {
    case SimOutcome::kStatus5xx:
      out.http_status = s.error_status;
      out.retry_after = s.retry_after;
      break;
    case SimOutcome::kStatus429:
      out.http_status = 429;
      out.retry_after = s.retry_after;
      break;
    case SimOutcome::kConnectError:
    case SimOutcome::kTimeout:
      out.http_status = 0;
      break;
    case SimOutcome::kScenario:
    case SimOutcome::kOk:
      out.http_status = 200;
      break;
  }
  return out;
}

void Simulator::RunState::Drive(uint32_t slot, TimeNs now) {
  Flight& flight = flights[slot];
  Exchange& exchange = *flight.exchange;
  while (true) {
    const std::optional<Exchange::Attempt> attempt = exchange.NextAttempt(now);
    if (!attempt.has_value()) {
      FinishInfo info;
      info.client_status = exchange.ExhaustedHttpStatus();
      Record(slot, info, now);
      return;
    }
    const TimeNs send_at = now + attempt->delay;
    Outcome outcome = Resolve(flight.row, attempt->backend, attempt->number, send_at);
    // The attempt's timeout bounds it, as curl's does in the proxy.
    if (outcome.duration >= attempt->timeout) {
      outcome.kind = FailureKind::kTimeout;
      outcome.duration = attempt->timeout;
      outcome.http_status = 0;
      outcome.retry_after = 0;
    }
    flight.pending = outcome;
    const TimeNs done = send_at + outcome.duration;
    if (done > now) {
      Push(done, slot, false);
      return;
    }
    // Ends at once (a refused connection without backoff): no event needed.
    if (!Complete(slot, now)) return;
  }
}

bool Simulator::RunState::Complete(uint32_t slot, TimeNs now) {
  Flight& flight = flights[slot];
  Exchange& exchange = *flight.exchange;
  const Outcome& o = flight.pending;
  FinishInfo info;
  switch (o.kind) {
    case FailureKind::kNone:
      exchange.AttemptCommitted(o.http_status, now);
      info.client_status = o.http_status;
      info.usage.input_tokens = trace.input_tokens(flight.row);
      info.usage.output_tokens = trace.output_tokens(flight.row);
      info.usage.present = true;
      Record(slot, info, now);
      return false;
    case FailureKind::kStatus5xx:
    case FailureKind::kStatus429:
      if (!exchange.WouldRetry(o.kind)) {
        // The proxy passes an answer it would not retry straight to the client.
        exchange.AttemptCommitted(o.http_status, now);
        info.client_status = o.http_status;
        Record(slot, info, now);
        return false;
      }
      break;
    default:
      break;
  }
  exchange.AttemptFailed(o.kind, o.http_status, o.retry_after, now);
  return true;
}

}  // namespace inferencegw
