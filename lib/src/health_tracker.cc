#include "inferencegw/health_tracker.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace inferencegw {
namespace {

constexpr TimeNs kNever = std::numeric_limits<TimeNs>::max();
constexpr TimeNs kAlways = std::numeric_limits<TimeNs>::min();
constexpr double kLatencyAlpha = 0.2;

// Outcomes that count against the backend in the breaker and the failure totals.
bool IsBackendFailure(FailureKind kind) {
  switch (kind) {
    case FailureKind::kConnect:
    case FailureKind::kTimeout:
    case FailureKind::kStatus5xx:
    case FailureKind::kStatus429:
    case FailureKind::kProtocol:
    case FailureKind::kBroken:
      return true;
    default:
      return false;
  }
}

// Outcomes that say nothing about the backend: no request reached it.
bool IsIgnored(FailureKind kind) {
  return kind == FailureKind::kBreakerOpen || kind == FailureKind::kOverloaded;
}

// Floor division for possibly negative times.
int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// The configured breaker with every field in its documented range, so a config that skipped
// validation cannot divide by zero or never close.
CircuitBreakerConfig Sanitize(const CircuitBreakerConfig& in) {
  CircuitBreakerConfig c = in;
  c.consecutive_failures = std::max(1, c.consecutive_failures);
  c.failure_rate_percent = std::clamp(c.failure_rate_percent, 1, 100);
  c.minimum_requests = std::max(1, c.minimum_requests);
  c.window_seconds = std::max(1, c.window_seconds);
  c.open_seconds = std::max(1, c.open_seconds);
  c.max_open_seconds = std::max(c.open_seconds, c.max_open_seconds);
  c.half_open_requests = std::max(1, c.half_open_requests);
  return c;
}

}  // namespace

std::string_view HealthStateName(HealthState s) {
  switch (s) {
    case HealthState::kHealthy:
      return "Healthy";
    case HealthState::kUnhealthy:
      return "Unhealthy";
    case HealthState::kUnknown:
      break;
  }
  return "Unknown";
}

std::string_view BreakerStateName(BreakerState s) {
  switch (s) {
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
    case BreakerState::kClosed:
      break;
  }
  return "closed";
}

// ---------------------------------------------------------------------------------------------
// BackendHealth

BackendHealth::BackendHealth(std::string key, const BackendSpec& spec)
    : key_(std::move(key)), available_from_(kAlways) {
  std::lock_guard<std::mutex> lock(mu_);
  ApplyPolicyLocked(spec);
  RefreshAvailabilityLocked();
}

void BackendHealth::UpdatePolicy(const BackendSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  ApplyPolicyLocked(spec);
  RefreshAvailabilityLocked();
}

void BackendHealth::ApplyPolicyLocked(const BackendSpec& spec) {
  const CircuitBreakerConfig config = Sanitize(spec.circuit_breaker);
  const bool window_changed = config.window_seconds != breaker_config_.window_seconds;
  breaker_config_ = config;
  // Slot epochs are counted in slot lengths; a new length makes the old counts meaningless.
  slot_length_ = std::max<DurationNs>(1, Seconds(config.window_seconds) / kWindowSlots);
  if (window_changed) ResetWindowLocked();
  const DurationNs open = Seconds(config.open_seconds);
  const DurationNs max_open = Seconds(config.max_open_seconds);
  current_open_ =
      breaker_ == BreakerState::kClosed ? open : std::clamp(current_open_, open, max_open);

  const HealthCheck check = spec.health_check.value_or(HealthCheck{});
  probe_failure_threshold_ = std::max(1, check.failure_threshold);
  probe_success_threshold_ = std::max(1, check.success_threshold);
  max_concurrency_ = std::max(1, spec.max_concurrency);
}

bool BackendHealth::IsAvailable(TimeNs now) const {
  return now >= available_from_.load(std::memory_order_relaxed);
}

bool BackendHealth::TryAcquire(TimeNs now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (in_flight_ >= max_concurrency_) return false;
  if (breaker_ == BreakerState::kOpen) {
    if (now < open_until_) return false;
    breaker_ = BreakerState::kHalfOpen;
    half_open_in_flight_ = 0;
    stale_in_flight_ = in_flight_;  // started before the breaker opened; not probes
  }
  if (breaker_ == BreakerState::kHalfOpen) {
    if (half_open_in_flight_ >= breaker_config_.half_open_requests) return false;
    ++half_open_in_flight_;
  }
  ++in_flight_;
  RefreshAvailabilityLocked();
  return true;
}

void BackendHealth::Release(const AttemptOutcome& outcome, TimeNs now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (in_flight_ > 0) --in_flight_;
  // In half-open, a release cannot say whether it ends a probe or a request admitted before;
  // count it against the older requests first, so probe slots are never over-granted.
  bool is_probe = false;
  if (breaker_ == BreakerState::kHalfOpen) {
    if (stale_in_flight_ > 0) {
      --stale_in_flight_;
    } else if (half_open_in_flight_ > 0) {
      --half_open_in_flight_;
      is_probe = true;
    }
  }
  if (IsIgnored(outcome.failure)) {
    RefreshAvailabilityLocked();
    return;
  }

  const bool failed = IsBackendFailure(outcome.failure);
  ++total_requests_;
  if (failed) ++total_failures_;
  if (outcome.failure == FailureKind::kNone) {
    const double ms = static_cast<double>(outcome.latency) / kNanosPerMilli;
    latency_ewma_ms_ =
        latency_samples_ == 0 ? ms : latency_ewma_ms_ + kLatencyAlpha * (ms - latency_ewma_ms_);
    ++latency_samples_;
  }

  switch (breaker_) {
    case BreakerState::kClosed:
      consecutive_failures_ = failed ? consecutive_failures_ + 1 : 0;
      RecordWindowLocked(failed, now);
      MaybeOpenLocked(now);
      break;
    case BreakerState::kHalfOpen:
      if (!is_probe) break;
      if (failed) {
        current_open_ = std::min(current_open_ * 2, Seconds(breaker_config_.max_open_seconds));
        OpenLocked(now);
      } else {
        CloseLocked();
      }
      break;
    case BreakerState::kOpen:
      // A request admitted before the breaker opened: nothing new to decide.
      break;
  }
  RefreshAvailabilityLocked();
}

void BackendHealth::RecordProbe(bool ok, TimeNs now) {
  std::lock_guard<std::mutex> lock(mu_);
  last_probe_ = now;
  if (ok) {
    probe_failures_in_row_ = 0;
    ++probe_successes_in_row_;
    if (health_ == HealthState::kUnknown || probe_successes_in_row_ >= probe_success_threshold_) {
      health_ = HealthState::kHealthy;
    }
  } else {
    probe_successes_in_row_ = 0;
    ++probe_failures_in_row_;
    if (probe_failures_in_row_ >= probe_failure_threshold_) health_ = HealthState::kUnhealthy;
  }
  RefreshAvailabilityLocked();
}

BackendHealthSnapshot BackendHealth::Snapshot(TimeNs now) const {
  std::lock_guard<std::mutex> lock(mu_);
  BackendHealthSnapshot s;
  s.health = health_;
  s.breaker = breaker_;
  s.available = now >= AvailableFromLocked();
  s.in_flight = in_flight_;
  s.consecutive_failures = consecutive_failures_;
  WindowTotalsLocked(now, &s.window_requests, &s.window_failures);
  s.total_requests = total_requests_;
  s.total_failures = total_failures_;
  s.latency_ewma_ms = latency_ewma_ms_;
  s.last_probe = last_probe_;
  s.open_until = open_until_;
  return s;
}

void BackendHealth::MaybeOpenLocked(TimeNs now) {
  if (consecutive_failures_ >= breaker_config_.consecutive_failures) {
    OpenLocked(now);
    return;
  }
  uint32_t requests = 0;
  uint32_t failures = 0;
  WindowTotalsLocked(now, &requests, &failures);
  if (requests >= static_cast<uint32_t>(breaker_config_.minimum_requests) &&
      static_cast<uint64_t>(failures) * 100 >=
          static_cast<uint64_t>(breaker_config_.failure_rate_percent) * requests) {
    OpenLocked(now);
  }
}

void BackendHealth::OpenLocked(TimeNs now) {
  breaker_ = BreakerState::kOpen;
  open_until_ = now + current_open_;
  half_open_in_flight_ = 0;
  stale_in_flight_ = 0;
}

void BackendHealth::CloseLocked() {
  breaker_ = BreakerState::kClosed;
  consecutive_failures_ = 0;
  half_open_in_flight_ = 0;
  stale_in_flight_ = 0;
  current_open_ = Seconds(breaker_config_.open_seconds);
  ResetWindowLocked();
}

void BackendHealth::RecordWindowLocked(bool failed, TimeNs now) {
  const int64_t epoch = FloorDiv(now, slot_length_);
  Slot& slot = slots_[static_cast<size_t>(epoch - FloorDiv(epoch, kWindowSlots) * kWindowSlots)];
  if (slot.epoch != epoch) slot = Slot{epoch, 0, 0};
  ++slot.requests;
  if (failed) ++slot.failures;
}

void BackendHealth::WindowTotalsLocked(TimeNs now, uint32_t* requests, uint32_t* failures) const {
  const int64_t epoch = FloorDiv(now, slot_length_);
  *requests = 0;
  *failures = 0;
  for (const Slot& slot : slots_) {
    if (slot.epoch > epoch - kWindowSlots && slot.epoch <= epoch) {
      *requests += slot.requests;
      *failures += slot.failures;
    }
  }
}

void BackendHealth::ResetWindowLocked() {
  for (Slot& slot : slots_) slot = Slot{};
}

TimeNs BackendHealth::AvailableFromLocked() const {
  if (health_ == HealthState::kUnhealthy || in_flight_ >= max_concurrency_) return kNever;
  switch (breaker_) {
    case BreakerState::kOpen:
      return open_until_;
    case BreakerState::kHalfOpen:
      return half_open_in_flight_ < breaker_config_.half_open_requests ? kAlways : kNever;
    case BreakerState::kClosed:
      break;
  }
  return kAlways;
}

void BackendHealth::RefreshAvailabilityLocked() {
  const TimeNs from = AvailableFromLocked();
  // Store only on change: readers on other cores keep their cached copy in the common case.
  if (available_from_.load(std::memory_order_relaxed) != from) {
    available_from_.store(from, std::memory_order_relaxed);
  }
}

// ---------------------------------------------------------------------------------------------
// HealthTracker

std::shared_ptr<BackendHealth> HealthTracker::Get(const std::string& key, const BackendSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = states_.find(key);
  if (it != states_.end()) {
    it->second->UpdatePolicy(spec);
    return it->second;
  }
  auto health = std::make_shared<BackendHealth>(key, spec);
  states_.emplace(key, health);
  return health;
}

void HealthTracker::RetainOnly(const std::vector<std::string>& keys) {
  absl::flat_hash_map<std::string, std::shared_ptr<BackendHealth>> kept;
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& key : keys) {
    auto it = states_.find(key);
    if (it != states_.end()) kept.emplace(key, std::move(it->second));
  }
  states_ = std::move(kept);
}

std::vector<std::shared_ptr<BackendHealth>> HealthTracker::List() const {
  std::vector<std::shared_ptr<BackendHealth>> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out.reserve(states_.size());
    for (const auto& [key, health] : states_) out.push_back(health);
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->key() < b->key(); });
  return out;
}

}  // namespace inferencegw
