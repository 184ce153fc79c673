// The simulator's bookkeeping: one request's columns when it finishes, and the run's summary.
#include <algorithm>
#include <tuple>

#include "simulator_internal.h"

namespace inferencegw {

namespace {

uint64_t FallbackKey(size_t route, BackendIndex from, BackendIndex to) {
  return (static_cast<uint64_t>(route) << 32) | (static_cast<uint64_t>(from) << 16) | to;
}

}  // namespace

void Simulator::RunState::Record(uint32_t slot, const FinishInfo& info, TimeNs now,
                                 bool throttled) {
  Flight& flight = flights[slot];
  Exchange& exchange = *flight.exchange;
  const ExchangeResult& r = exchange.Finish(info, now);
  const uint32_t row = flight.row;
  const Decision& d = exchange.decision();
  const BackendIndex served = exchange.served_by();

  result.status[row] = info.client_status;
  if (info.client_status >= 0 && info.client_status < static_cast<int>(status_counts.size())) {
    ++status_counts[static_cast<size_t>(info.client_status)];
  }
  size_t route = 0;
  if (d.route != nullptr) {
    route = static_cast<size_t>(d.route - table->routes().data());
    result.route[row] = static_cast<int32_t>(route);
    if (d.experiment != nullptr) {
      result.experiment[row] =
          experiment_base[route] + static_cast<int32_t>(d.experiment - d.route->experiments.data());
    }
  }
  result.arm[row] = static_cast<uint8_t>(d.arm);
  result.backend[row] = served == kNoBackend ? -1 : served;
  result.attempts[row] = exchange.sent_attempts();
  result.throttled[row] = throttled ? 1 : 0;
  result.latency[row] = now - exchange.started();
  if (r.cost_known) result.cost[row] = r.cost;
  if (served != kNoBackend && info.usage.present) {
    result.input_tokens[row] = info.usage.input_tokens;
    result.output_tokens[row] = info.usage.output_tokens;
  }

  // Attempts, per backend, and whether the request left its intended backend (the rule's pick
  // or the experiment arm's backend): planned elsewhere because it was unavailable, or tried
  // elsewhere after it failed.
  BackendIndex primary = d.picked;
  if (d.experiment != nullptr) {
    primary = d.arm == Arm::kTreatment ? d.experiment->treatment : d.experiment->control;
  }
  bool fell_back = !d.plan.backends.empty() && d.plan.backends[0] != primary;
  for (const AttemptRecord& a : exchange.attempts()) {
    if (a.backend != primary) fell_back = true;
    SimulatedBackendStats& b = backend_stats[a.backend];
    switch (a.failure) {
      case FailureKind::kBreakerOpen:
        ++b.breaker_open_skips;
        continue;
      case FailureKind::kOverloaded:
        ++b.overloaded_skips;
        continue;
      case FailureKind::kNone:
        ++b.ok;
        if (a.http_status >= 200 && a.http_status < 300)
          backend_latency[a.backend]->Add(a.duration);
        break;
      case FailureKind::kConnect:
        ++b.connect_errors;
        break;
      case FailureKind::kTimeout:
        ++b.timeouts;
        break;
      case FailureKind::kStatus5xx:
        ++b.status_5xx;
        break;
      case FailureKind::kStatus429:
        ++b.status_429;
        break;
      default:
        break;
    }
    ++b.sent;
  }
  if (served != kNoBackend) ++backend_stats[served].served;
  // A request refused at admission (a limit, a budget) never reached a backend: not a fallback.
  if (fell_back && exchange.sent_attempts() + static_cast<int>(exchange.attempts().size()) > 0) {
    result.fallback[row] = 1;
    ++fallbacks[FallbackKey(route, primary, served)];
  }

  if (flight.active) --in_flight;
  flight.exchange.reset();
  free_slots.push_back(slot);
}

void Simulator::RunState::CountPlanningSkips(const Exchange& exchange, TimeNs now) {
  for (BackendIndex b : exchange.decision().plan.skipped) {
    const CompiledBackend& backend = table->backend(b);
    const BackendHealthSnapshot s = backend.health->Snapshot(now);
    SimulatedBackendStats& stats = backend_stats[b];
    if (s.health == HealthState::kUnhealthy) {
      ++stats.unhealthy_skips;
    } else if (s.breaker == BreakerState::kOpen) {
      ++stats.breaker_open_skips;
    } else {
      ++stats.overloaded_skips;
    }
  }
}

SimulationResult Simulator::RunState::TakeResult() {
  SimulationSummary& s = result.summary;
  s.requests = trace.size();
  s.start = trace.size() == 0
                ? 0
                : *std::min_element(trace.timestamps().begin(), trace.timestamps().end());
  s.end = trace.size() == 0 ? 0 : last_event;
  for (size_t status = 0; status < status_counts.size(); ++status) {
    const uint64_t count = status_counts[status];
    if (count == 0) continue;
    s.status_counts.emplace_back(static_cast<int>(status), count);
    if (status >= 200 && status < 300) s.succeeded += count;
    if (status == 401) s.unauthenticated += count;
    if (status == 404) s.not_routed += count;
    if (status >= 500) s.failed += count;
  }
  for (size_t route = 0; route < throttled_by_requests.size(); ++route) {
    const uint64_t total =
        throttled_by_requests[route] + throttled_by_tokens[route] + throttled_by_budget[route];
    if (total == 0) continue;
    s.throttled += total;
    s.throttles.push_back(
        {result.route_names[route], throttled_by_requests[route], throttled_by_tokens[route],
         throttled_by_budget[route]});
  }
  // A 429 the upstream sent (and the route does not retry) is a failure, not a throttle.
  for (const auto& [status, count] : s.status_counts) {
    if (status == 429) s.failed += count - s.throttled;
  }
  s.throttled_users =
      static_cast<uint64_t>(std::count(user_throttled.begin(), user_throttled.end(), uint8_t{1}));

  std::vector<std::pair<uint64_t, uint64_t>> sorted(fallbacks.begin(), fallbacks.end());
  std::sort(sorted.begin(), sorted.end());
  for (const auto& [key, count] : sorted) {
    const size_t route = key >> 32;
    const auto from = static_cast<BackendIndex>((key >> 16) & 0xFFFF);
    const auto to = static_cast<BackendIndex>(key & 0xFFFF);
    s.fallbacks.push_back({result.route_names[route],
                           from == kNoBackend ? std::string() : result.backend_names[from],
                           to == kNoBackend ? std::string() : result.backend_names[to], count});
  }
  for (size_t i = 0; i < backend_stats.size(); ++i) {
    SimulatedBackendStats& b = backend_stats[i];
    const LatencySketch& sketch = *backend_latency[i];
    b.latency_p50 = sketch.Quantile(0.50);
    b.latency_p95 = sketch.Quantile(0.95);
    b.latency_p99 = sketch.Quantile(0.99);
    b.final_health = table->backend(static_cast<BackendIndex>(i)).health->Snapshot(s.end);
    s.backends.push_back(std::move(b));
  }
  s.ledger = gateway->ledger().Rows();
  s.ledger_totals = gateway->ledger().Totals();
  s.experiments = gateway->experiments().Report();
  s.experiment_samples = gateway->experiments().Samples();
  return std::move(result);
}

}  // namespace inferencegw
