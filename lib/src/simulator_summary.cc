// The simulator's bookkeeping: one request's columns when it finishes, and the run's summary.
#include <algorithm>
#include <tuple>

#include "fmt/format.h"

#include "simulator_internal.h"

namespace inferencegw {

namespace {

uint64_t FallbackKey(size_t route, BackendIndex from, BackendIndex to) {
  return (static_cast<uint64_t>(route) << 32) | (static_cast<uint64_t>(from) << 16) | to;
}

}  // namespace

void Simulator::RunState::Record(uint32_t slot, const FinishInfo& info, TimeNs now,
                                 std::string_view refusal) {
  const bool throttled = refusal == kThrottled;
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
    route = static_cast<size_t>(d.route - exchange.table().routes().data());
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

  result.reason[row] = ReasonOf(flight, refusal);

  if (flight.active) --in_flight;
  flight.exchange.reset();
  free_slots.push_back(slot);
}

void Simulator::RunState::CountPlanningSkips(Flight& flight, TimeNs now) {
  for (BackendIndex b : flight.exchange->decision().plan.skipped) {
    const CompiledBackend& backend = flight.exchange->table().backend(b);
    const BackendHealthSnapshot s = backend.health->Snapshot(now);
    SimulatedBackendStats& stats = backend_stats[b];
    if (s.health == HealthState::kUnhealthy) {
      ++stats.unhealthy_skips;
      flight.planning_skips.push_back(SkipWhy::kUnhealthy);
    } else if (s.breaker == BreakerState::kOpen) {
      ++stats.breaker_open_skips;
      flight.planning_skips.push_back(SkipWhy::kBreakerOpen);
    } else {
      ++stats.overloaded_skips;
      flight.planning_skips.push_back(SkipWhy::kOverloaded);
    }
  }
}

namespace {

// The "why" of one backend in a reason: `code` is a SkipWhy (0-2) or 3 for a failed attempt
// with `failure` and `http_status`.
constexpr uint8_t kAttemptFailedCode = 3;

std::string WhyText(uint8_t code, FailureKind failure, int http_status) {
  switch (code) {
    case 0:
      return "unhealthy";
    case 1:
      return "breaker_open";
    case 2:
      return "overloaded";
    default:
      break;
  }
  switch (failure) {
    case FailureKind::kConnect:
      return "attempt_failed:connect_error";
    case FailureKind::kTimeout:
      return "attempt_failed:timeout";
    default:
      return http_status > 0 ? fmt::format("attempt_failed:{}", http_status)
                             : std::string("attempt_failed");
  }
}

// One (backend, why) item of a reason as fixed-size bytes: backend (2), code (1), failure (1),
// status (2).
void AppendItem(std::string* key, BackendIndex backend, uint8_t code, FailureKind failure,
                int http_status) {
  const auto status = static_cast<uint16_t>(std::clamp(http_status, 0, 0xFFFF));
  const char bytes[6] = {static_cast<char>(backend & 0xFF), static_cast<char>(backend >> 8),
                         static_cast<char>(code),           static_cast<char>(failure),
                         static_cast<char>(status & 0xFF),  static_cast<char>(status >> 8)};
  key->append(bytes, sizeof(bytes));
}

}  // namespace

int32_t Simulator::RunState::InternReason(std::string_view key,
                                          const std::function<std::string()>& text) {
  if (auto it = reason_ids.find(key); it != reason_ids.end()) return it->second;
  const auto id = static_cast<int32_t>(result.reason_names.size());
  result.reason_names.push_back(text());
  reason_ids.emplace(std::string(key), id);
  return id;
}

int32_t Simulator::RunState::ReasonOf(const Flight& flight, std::string_view refusal) {
  // Keys: '\0' and the refusal, or '\1' and 6 bytes per item (AppendItem).
  if (!refusal.empty()) {
    reason_key.assign(1, '\0');
    reason_key.append(refusal);
    return InternReason(reason_key, [refusal] { return std::string(refusal); });
  }
  const Exchange& exchange = *flight.exchange;
  reason_key.assign(1, '\1');
  const auto& skipped = exchange.decision().plan.skipped;
  for (size_t i = 0; i < skipped.size() && i < flight.planning_skips.size(); ++i) {
    AppendItem(&reason_key, skipped[i], static_cast<uint8_t>(flight.planning_skips[i]),
               FailureKind::kNone, 0);
  }
  for (const AttemptRecord& a : exchange.attempts()) {
    switch (a.failure) {
      case FailureKind::kNone:
        break;  // the attempt that answered the client
      case FailureKind::kBreakerOpen:
        AppendItem(&reason_key, a.backend, static_cast<uint8_t>(SkipWhy::kBreakerOpen), a.failure,
                   0);
        break;
      case FailureKind::kOverloaded:
        AppendItem(&reason_key, a.backend, static_cast<uint8_t>(SkipWhy::kOverloaded), a.failure,
                   0);
        break;
      default:
        AppendItem(&reason_key, a.backend, kAttemptFailedCode, a.failure, a.http_status);
        break;
    }
  }
  if (reason_key.size() == 1) return -1;
  return InternReason(reason_key, [this] {
    std::string text;
    for (size_t i = 1; i + 6 <= reason_key.size(); i += 6) {
      const auto* b = reinterpret_cast<const uint8_t*>(reason_key.data() + i);
      const auto backend = static_cast<BackendIndex>(b[0] | (b[1] << 8));
      if (!text.empty()) text += "; ";
      text += result.backend_names[backend];
      text += ": ";
      text += WhyText(b[2], static_cast<FailureKind>(b[3]), b[4] | (b[5] << 8));
    }
    return text;
  });
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
  s.ledger = ledger->Rows();
  s.ledger_totals = ledger->Totals();
  s.experiments = experiment_stats.Report();
  s.experiment_samples = experiment_stats.Samples();
  s.replicas = static_cast<int>(gateways.size());
  return std::move(result);
}

}  // namespace inferencegw
