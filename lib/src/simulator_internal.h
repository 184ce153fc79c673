// The state of one Simulator::Run, shared by simulator.cc (the event loop) and
// simulator_summary.cc (the result). Not part of the public API.
#ifndef INFERENCEGW_SRC_SIMULATOR_INTERNAL_H_
#define INFERENCEGW_SRC_SIMULATOR_INTERNAL_H_

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "inferencegw/gateway.h"
#include "inferencegw/simulator.h"

namespace inferencegw {

namespace internal {
// Asks the kernel to back the 2 MiB-aligned part of [data, data + bytes) with transparent huge
// pages (a hint; nothing happens where THP is off or on other systems). Columns of millions of
// rows otherwise take one page fault per 4 KiB on first touch.
void AdviseHugePages(const void* data, size_t bytes);

// v holds n copies of `value`, its memory advised as above.
template <typename T>
void FillColumn(std::vector<T>* v, size_t n, T value) {
  v->reserve(n);
  AdviseHugePages(v->data(), n * sizeof(T));
  v->assign(n, value);
}
}  // namespace internal

// Not thread-safe; one per Run.
struct Simulator::RunState {
  RunState(const Simulator& simulator, const SimulationTrace& trace);

  // Builds the gateway and resolves the trace's backend names; InvalidArgument for unknown ones.
  absl::Status Init();
  void Loop();
  SimulationResult TakeResult();  // simulator_summary.cc

  // Why a backend was left out without being sent the request.
  enum class SkipWhy : uint8_t { kUnhealthy, kBreakerOpen, kOverloaded };

  // One simulated attempt's fate, fixed when the attempt starts.
  struct Outcome {
    FailureKind kind = FailureKind::kNone;
    DurationNs duration = 0;
    int http_status = 200;
    DurationNs retry_after = 0;
  };
  // A request under way: its Exchange and the pending attempt's outcome.
  struct Flight {
    std::optional<Exchange> exchange;
    uint32_t row = 0;
    bool active = false;  // began and counted in in_flight
    Outcome pending;
    // Why each backend of decision().plan.skipped was left out when the plan was made.
    absl::InlinedVector<SkipWhy, 4> planning_skips;
  };
  struct Event {
    TimeNs at = 0;
    uint64_t seq = 0;
    // A Flight slot, or for probes replica * backends + backend index.
    uint32_t target = 0;
    bool probe = false;
  };
  // The heap order: `a` comes after `b`.
  static bool Later(const Event& a, const Event& b) {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }

  void Arrive(uint32_t row, TimeNs now);
  // Asks the exchange for attempts until one is pending in the event queue or the request ends.
  void Drive(uint32_t slot, TimeNs now);
  // Applies the pending attempt's outcome at `now`; true when the exchange should try again.
  bool Complete(uint32_t slot, TimeNs now);
  // Finishes the exchange, fills the request's columns and frees the slot. `refusal` is the
  // reason of a request refused before any attempt (kThrottled: a limit or a budget).
  static constexpr std::string_view kThrottled = "throttled";
  void Record(uint32_t slot, const FinishInfo& info, TimeNs now, std::string_view refusal = {});
  // Counts the backends the plan left out as unavailable, by why (unhealthy, breaker open,
  // full), in the backends' skip counters, and keeps why in flight.planning_skips.
  void CountPlanningSkips(Flight& flight, TimeNs now);
  // The request's reason (SimulationResult::reason): its refusal when `refusal` is not empty,
  // else what left each backend of its plan out or behind; -1 when there is nothing to say.
  int32_t ReasonOf(const Flight& flight, std::string_view refusal);
  // The index of `text` in result.reason_names, added when new; `key` identifies it cheaply.
  int32_t InternReason(std::string_view key, const std::function<std::string()>& text);
  Outcome Resolve(uint32_t row, BackendIndex backend, int attempt, TimeNs send_at) const;
  uint32_t AcquireSlot();
  void Push(TimeNs at, uint32_t target, bool probe);
  void Pop();

  const Simulator& sim;
  const SimulationTrace& trace;
  SimulatedClock clock;
  // The replicas (SimulatorOptions::replicas), each with its own table and health state, and
  // what they share: the ledger, the experiment statistics and, with shared_store, the
  // counters. `table` is replica 0's (names, and the summary's final health).
  std::vector<std::unique_ptr<Gateway>> gateways;
  std::unique_ptr<CostLedger> ledger;
  ExperimentStats experiment_stats;
  std::shared_ptr<LocalCounterStore> shared_store;
  uint64_t arrivals = 0;  // for the round-robin balancer
  std::shared_ptr<const RouteTable> table;
  std::optional<RequestBuilder> builder;
  uint64_t entropy_base = 0;
  uint64_t outcome_base = 0;
  std::vector<BackendIndex> override_backend;  // by trace string id; kNoBackend: every backend

  std::deque<Flight> flights;  // stable addresses: Exchange is not movable
  std::vector<uint32_t> free_slots;
  std::vector<Event> heap;  // min-heap by (at, seq)
  uint64_t seq = 0;
  int in_flight = 0;
  TimeNs last_event = 0;

  SimulationResult result;
  std::vector<int32_t> experiment_base;  // by route: index of its first experiment
  std::vector<uint64_t> throttled_by_requests, throttled_by_tokens, throttled_by_budget;  // by route
  std::vector<uint8_t> user_throttled;                               // by trace string id
  absl::flat_hash_map<uint64_t, uint64_t> fallbacks;  // (route << 32 | from << 16 | to) -> n
  std::vector<SimulatedBackendStats> backend_stats;   // by BackendIndex
  std::vector<std::unique_ptr<LatencySketch>> backend_latency;
  std::array<uint64_t, 600> status_counts{};
  absl::flat_hash_map<std::string, int32_t, internal::StringHash, internal::StringEq>
      reason_ids;          // by ReasonOf's compact key
  std::string reason_key;                                // ReasonOf's scratch buffer
};

}  // namespace inferencegw

#endif  // INFERENCEGW_SRC_SIMULATOR_INTERNAL_H_
