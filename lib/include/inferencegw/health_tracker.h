// Backend health: passive outlier detection from real outcomes, active probe results fed in by a
// frontend, and a circuit breaker (closed / open / half-open with a bounded number of probes).
// State is keyed by the backend's `namespace/name`, so it survives config reloads.
//
//   HealthTracker tracker;
//   std::shared_ptr<BackendHealth> h = tracker.Get("default/local-mistral", backend.spec);
//   if (h->TryAcquire(now)) { ...send...; h->Release(outcome, now); }
#ifndef INFERENCEGW_HEALTH_TRACKER_H_
#define INFERENCEGW_HEALTH_TRACKER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "inferencegw/clock.h"
#include "inferencegw/config.h"
#include "inferencegw/fallback_plan.h"

namespace inferencegw {

enum class HealthState : uint8_t { kUnknown = 0, kHealthy, kUnhealthy };
enum class BreakerState : uint8_t { kClosed = 0, kOpen, kHalfOpen };
std::string_view HealthStateName(HealthState s);  // "Unknown", "Healthy", "Unhealthy" (CRD values)
std::string_view BreakerStateName(BreakerState s);  // "closed", "open", "half_open"

// What a frontend reports when one attempt to a backend ends.
struct AttemptOutcome {
  FailureKind failure = FailureKind::kNone;  // kNone means success
  DurationNs latency = 0;                    // time to the complete response (or first byte)
};

// A point-in-time view of one backend, for admin output, metrics and CRD status.
struct BackendHealthSnapshot {
  HealthState health = HealthState::kUnknown;  // from probes; kUnknown until the first probe
  BreakerState breaker = BreakerState::kClosed;
  bool available = true;  // what the router sees now
  int in_flight = 0;
  int consecutive_failures = 0;
  uint32_t window_requests = 0;  // in the breaker's sliding window
  uint32_t window_failures = 0;
  uint64_t total_requests = 0;
  uint64_t total_failures = 0;
  double latency_ewma_ms = 0;  // exponentially weighted mean of successful attempts
  TimeNs last_probe = -1;      // -1 when never probed
  TimeNs open_until = 0;       // when the breaker may half-open (valid when open)
};

// Thread-safe. The health and breaker state of one backend.
class BackendHealth {
 public:
  BackendHealth(std::string key, const BackendSpec& spec);

  const std::string& key() const { return key_; }

  // Applies new thresholds (config reload) without losing state.
  void UpdatePolicy(const BackendSpec& spec);

  // Whether the router should plan this backend now: not unhealthy by probes, breaker not open
  // (or its open time has passed), and not at maxConcurrency. Reserves nothing.
  bool IsAvailable(TimeNs now) const;

  // Reserves the right to send one request now. False when the breaker is open, when half-open
  // probes are all taken, or at maxConcurrency. Every true must be followed by one Release.
  bool TryAcquire(TimeNs now);
  // Ends a request started with TryAcquire and feeds its outcome to the detector and breaker.
  // kBreakerOpen / kOverloaded outcomes are not failures of the backend and are ignored.
  void Release(const AttemptOutcome& outcome, TimeNs now);

  // One active probe's result (a 2xx answer to healthCheck.path within its timeout is ok;
  // 401, 404 and every other status are not).
  void RecordProbe(bool ok, TimeNs now);

  BackendHealthSnapshot Snapshot(TimeNs now) const;

 private:
  // Everything below `mu_` is guarded by it; `available_from_` is written under it and read
  // without it.
  void ApplyPolicyLocked(const BackendSpec& spec);
  void MaybeOpenLocked(TimeNs now);
  void OpenLocked(TimeNs now);
  void CloseLocked();
  void RecordWindowLocked(bool failed, TimeNs now);
  void WindowTotalsLocked(TimeNs now, uint32_t* requests, uint32_t* failures) const;
  void ResetWindowLocked();
  TimeNs AvailableFromLocked() const;
  void RefreshAvailabilityLocked();

  const std::string key_;
  mutable std::mutex mu_;
  // Policy.
  CircuitBreakerConfig breaker_config_;
  int probe_failure_threshold_ = 3;
  int probe_success_threshold_ = 1;
  int max_concurrency_ = 100;
  // Probe state.
  HealthState health_ = HealthState::kUnknown;
  int probe_failures_in_row_ = 0;
  int probe_successes_in_row_ = 0;
  TimeNs last_probe_ = -1;
  // Breaker state.
  BreakerState breaker_ = BreakerState::kClosed;
  TimeNs open_until_ = 0;
  DurationNs current_open_ = 0;
  int half_open_in_flight_ = 0;  // probes admitted in this half-open period, still running
  int stale_in_flight_ = 0;      // requests admitted before this half-open period, still running
  int consecutive_failures_ = 0;
  // Sliding window: kWindowSlots slots of window_seconds / kWindowSlots each.
  static constexpr int kWindowSlots = 10;
  struct Slot {
    int64_t epoch = -1;
    uint32_t requests = 0;
    uint32_t failures = 0;
  };
  DurationNs slot_length_ = 1;
  Slot slots_[kWindowSlots];
  // Counters.
  int in_flight_ = 0;
  uint64_t total_requests_ = 0;
  uint64_t total_failures_ = 0;
  uint64_t latency_samples_ = 0;
  double latency_ewma_ms_ = 0;
  // Lock-free fast path for IsAvailable: the first time at which the backend is available,
  // given the state at the last change (INT64_MAX while unhealthy, full or out of probe slots;
  // open_until_ while open; INT64_MIN otherwise). On its own cache line: routers on every
  // thread read it while the owner of `mu_` writes the fields above.
  alignas(64) std::atomic<TimeNs> available_from_;
};

// Thread-safe. Owns BackendHealth objects by key; compiled RouteTables hold shared_ptrs to them.
class HealthTracker {
 public:
  // The state for `key`, created on first use; later calls apply `spec`'s thresholds.
  std::shared_ptr<BackendHealth> Get(const std::string& key, const BackendSpec& spec);

  // Forgets every key not in `keys` (backends removed from the config). State still referenced
  // by an old snapshot stays alive until that snapshot is released.
  void RetainOnly(const std::vector<std::string>& keys);

  // Every tracked backend, sorted by key.
  std::vector<std::shared_ptr<BackendHealth>> List() const;

 private:
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<BackendHealth>> states_;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_HEALTH_TRACKER_H_
