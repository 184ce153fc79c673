#include "inferencegw/health_tracker.h"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

namespace inferencegw {
namespace {

// A spec whose breaker opens after `consecutive` failures in a row and whose failure-rate rule
// is out of the way unless a test sets it.
BackendSpec Spec(int consecutive = 3, int open_seconds = 10, int max_open_seconds = 40) {
  BackendSpec spec;
  spec.circuit_breaker.consecutive_failures = consecutive;
  spec.circuit_breaker.failure_rate_percent = 100;
  spec.circuit_breaker.minimum_requests = 1000;
  spec.circuit_breaker.window_seconds = 10;
  spec.circuit_breaker.open_seconds = open_seconds;
  spec.circuit_breaker.max_open_seconds = max_open_seconds;
  spec.circuit_breaker.half_open_requests = 1;
  return spec;
}

const AttemptOutcome kOk{FailureKind::kNone, Milliseconds(100)};
const AttemptOutcome k5xx{FailureKind::kStatus5xx, Milliseconds(5)};

// Sends one request at `now` (which must be admitted) with `outcome`.
void Send(BackendHealth& h, const AttemptOutcome& outcome, TimeNs now) {
  REQUIRE(h.TryAcquire(now));
  h.Release(outcome, now);
}

// Opens the breaker at `now` with the consecutive-failure rule.
void Trip(BackendHealth& h, int failures, TimeNs now) {
  for (int i = 0; i < failures; ++i) Send(h, k5xx, now);
  REQUIRE(h.Snapshot(now).breaker == BreakerState::kOpen);
}

// The CRD and metric names of the states.
TEST_CASE("state names", "[health]") {
  CHECK(HealthStateName(HealthState::kUnknown) == "Unknown");
  CHECK(HealthStateName(HealthState::kHealthy) == "Healthy");
  CHECK(HealthStateName(HealthState::kUnhealthy) == "Unhealthy");
  CHECK(BreakerStateName(BreakerState::kClosed) == "closed");
  CHECK(BreakerStateName(BreakerState::kOpen) == "open");
  CHECK(BreakerStateName(BreakerState::kHalfOpen) == "half_open");
}

// A fresh backend is unknown, closed, available, with empty counters.
TEST_CASE("fresh backend", "[health]") {
  BackendHealth h("default/a", Spec());
  BackendHealthSnapshot s = h.Snapshot(0);
  CHECK(h.key() == "default/a");
  CHECK(s.health == HealthState::kUnknown);
  CHECK(s.breaker == BreakerState::kClosed);
  CHECK(s.available);
  CHECK(h.IsAvailable(0));
  CHECK(s.in_flight == 0);
  CHECK(s.total_requests == 0);
  CHECK(s.last_probe == -1);
}

// Consecutive failures open the breaker; it half-opens exactly at open_until, admits one probe,
// and a successful probe closes it with counters and window reset.
TEST_CASE("breaker opens, half-opens and closes on schedule", "[health][breaker]") {
  BackendHealth h("b", Spec(/*consecutive=*/3, /*open_seconds=*/10));
  const TimeNs t0 = Seconds(100);
  Send(h, k5xx, t0);
  Send(h, k5xx, t0);
  CHECK(h.Snapshot(t0).breaker == BreakerState::kClosed);
  CHECK(h.Snapshot(t0).consecutive_failures == 2);
  Send(h, k5xx, t0);
  BackendHealthSnapshot s = h.Snapshot(t0);
  CHECK(s.breaker == BreakerState::kOpen);
  CHECK(s.open_until == t0 + Seconds(10));
  CHECK_FALSE(s.available);

  // Open: refused until open_until.
  const TimeNs open_until = t0 + Seconds(10);
  CHECK_FALSE(h.IsAvailable(open_until - 1));
  CHECK_FALSE(h.TryAcquire(open_until - 1));
  // At open_until the router sees it again, and the next TryAcquire becomes the probe.
  CHECK(h.IsAvailable(open_until));
  REQUIRE(h.TryAcquire(open_until));
  CHECK(h.Snapshot(open_until).breaker == BreakerState::kHalfOpen);
  CHECK_FALSE(h.IsAvailable(open_until));  // the single probe slot is taken
  CHECK_FALSE(h.TryAcquire(open_until));
  h.Release(kOk, open_until + Milliseconds(50));

  s = h.Snapshot(open_until + Milliseconds(50));
  CHECK(s.breaker == BreakerState::kClosed);
  CHECK(s.consecutive_failures == 0);
  CHECK(s.window_requests == 0);
  CHECK(s.available);
  CHECK(s.in_flight == 0);

  // Closed again with the initial open time: three more failures open it for 10 s, not 20 s.
  const TimeNs t1 = open_until + Seconds(1);
  Trip(h, 3, t1);
  CHECK(h.Snapshot(t1).open_until == t1 + Seconds(10));
}

// A failed probe reopens with the open time doubled each time, capped at max_open_seconds.
TEST_CASE("re-open doubles the open time up to the cap", "[health][breaker]") {
  BackendHealth h("b", Spec(/*consecutive=*/1, /*open_seconds=*/10, /*max_open_seconds=*/35));
  TimeNs now = 0;
  Trip(h, 1, now);
  std::vector<DurationNs> open_times;
  for (int i = 0; i < 4; ++i) {
    now = h.Snapshot(now).open_until;
    REQUIRE(h.TryAcquire(now));
    h.Release(AttemptOutcome{FailureKind::kTimeout, Seconds(1)}, now);
    BackendHealthSnapshot s = h.Snapshot(now);
    REQUIRE(s.breaker == BreakerState::kOpen);
    open_times.push_back(s.open_until - now);
  }
  CHECK(open_times == std::vector<DurationNs>{Seconds(20), Seconds(35), Seconds(35), Seconds(35)});

  // A successful probe resets the open time to open_seconds.
  now = h.Snapshot(now).open_until;
  Send(h, kOk, now);
  Trip(h, 1, now);
  CHECK(h.Snapshot(now).open_until == now + Seconds(10));
}

// Half-open admits at most half_open_requests probes at once, and IsAvailable follows the slots.
TEST_CASE("half-open admits only N probes", "[health][breaker]") {
  BackendSpec spec = Spec(/*consecutive=*/1, /*open_seconds=*/5);
  spec.circuit_breaker.half_open_requests = 2;
  BackendHealth h("b", spec);
  Trip(h, 1, 0);
  const TimeNs t = Seconds(5);
  CHECK(h.TryAcquire(t));
  CHECK(h.IsAvailable(t));  // one slot left
  CHECK(h.TryAcquire(t));
  CHECK_FALSE(h.IsAvailable(t));
  CHECK_FALSE(h.TryAcquire(t));
  CHECK_FALSE(h.TryAcquire(t + Seconds(100)));  // time alone does not free a slot
  CHECK(h.Snapshot(t).in_flight == 2);
  // One probe succeeds: closed, so the other probe's result no longer decides anything.
  h.Release(kOk, t + 1);
  CHECK(h.Snapshot(t + 1).breaker == BreakerState::kClosed);
  CHECK(h.IsAvailable(t + 1));
  h.Release(k5xx, t + 2);
  BackendHealthSnapshot s = h.Snapshot(t + 2);
  CHECK(s.in_flight == 0);
  // With consecutive_failures = 1 that closed-state failure opens it again.
  CHECK(s.breaker == BreakerState::kOpen);
}

// Requests admitted before the breaker opened do not take probe slots or decide the probe.
TEST_CASE("requests from before the open are not probes", "[health][breaker]") {
  BackendHealth h("b", Spec(/*consecutive=*/2, /*open_seconds=*/5));
  REQUIRE(h.TryAcquire(0));  // a long request, still running
  Trip(h, 2, 0);
  const TimeNs t = Seconds(5);
  REQUIRE(h.TryAcquire(t));  // the probe
  CHECK_FALSE(h.TryAcquire(t));
  // The old request ends with a success: not the probe's answer, still half-open, slot taken.
  h.Release(kOk, t + 1);
  CHECK(h.Snapshot(t + 1).breaker == BreakerState::kHalfOpen);
  CHECK_FALSE(h.TryAcquire(t + 1));
  // The probe fails: reopen for twice the time.
  h.Release(k5xx, t + 2);
  BackendHealthSnapshot s = h.Snapshot(t + 2);
  CHECK(s.breaker == BreakerState::kOpen);
  CHECK(s.open_until == t + 2 + Seconds(10));
  CHECK(s.in_flight == 0);
}

// The failure-rate rule opens only once the window holds minimum_requests requests.
TEST_CASE("failure-rate opening needs minimum_requests", "[health][breaker]") {
  BackendSpec spec = Spec(/*consecutive=*/1000);
  spec.circuit_breaker.failure_rate_percent = 50;
  spec.circuit_breaker.minimum_requests = 10;
  BackendHealth h("b", spec);
  // Alternate failure and success: 50% failures, never two in a row.
  for (int i = 0; i < 9; ++i) Send(h, i % 2 == 0 ? k5xx : kOk, 0);
  BackendHealthSnapshot s = h.Snapshot(0);
  CHECK(s.window_requests == 9);
  CHECK(s.window_failures == 5);
  CHECK(s.breaker == BreakerState::kClosed);  // 55% but only 9 requests
  Send(h, kOk, 0);                            // 10 requests, 5 failures: exactly 50%
  CHECK(h.Snapshot(0).breaker == BreakerState::kOpen);
}

// Below the rate the breaker stays closed even with many requests.
TEST_CASE("failure rate below the threshold keeps the breaker closed", "[health][breaker]") {
  BackendSpec spec = Spec(/*consecutive=*/1000);
  spec.circuit_breaker.failure_rate_percent = 50;
  spec.circuit_breaker.minimum_requests = 10;
  BackendHealth h("b", spec);
  for (int i = 0; i < 100; ++i) Send(h, i % 3 == 0 ? k5xx : kOk, 0);  // 34%
  CHECK(h.Snapshot(0).breaker == BreakerState::kClosed);
  CHECK(h.Snapshot(0).window_requests == 100);
}

// Failures older than window_seconds slide out, slot by slot.
TEST_CASE("old failures slide out of the window", "[health][breaker]") {
  BackendSpec spec = Spec(/*consecutive=*/1000);  // window 10 s: 1 s slots
  spec.circuit_breaker.failure_rate_percent = 50;
  spec.circuit_breaker.minimum_requests = 10;
  BackendHealth h("b", spec);
  for (int i = 0; i < 4; ++i) Send(h, k5xx, Milliseconds(500));  // slot [0 s, 1 s)
  Send(h, kOk, Milliseconds(500));
  for (int i = 0; i < 4; ++i) Send(h, kOk, Seconds(3));
  BackendHealthSnapshot s = h.Snapshot(Seconds(9) + Milliseconds(999));
  CHECK(s.window_requests == 9);
  CHECK(s.window_failures == 4);
  // At 10 s the first slot has left the window.
  s = h.Snapshot(Seconds(10));
  CHECK(s.window_requests == 4);
  CHECK(s.window_failures == 0);
  // Five failures: 5 of 9 in the window. Had the old slot stayed, 9 of 14 would have opened it.
  for (int i = 0; i < 5; ++i) Send(h, k5xx, Seconds(10));
  CHECK(h.Snapshot(Seconds(10)).breaker == BreakerState::kClosed);
  // The sixth: 6 of 10, at minimum_requests and above 50%.
  Send(h, k5xx, Seconds(10));
  CHECK(h.Snapshot(Seconds(10)).breaker == BreakerState::kOpen);
  CHECK(h.Snapshot(Seconds(10)).window_requests == 10);
}

// Probe thresholds: one good probe leaves Unknown; failure_threshold bad probes in a row make
// it Unhealthy (and unavailable); success_threshold good probes in a row make it Healthy again.
TEST_CASE("probe thresholds", "[health][probe]") {
  BackendSpec spec = Spec();
  spec.health_check = HealthCheck{};
  spec.health_check->failure_threshold = 3;
  spec.health_check->success_threshold = 2;
  BackendHealth h("b", spec);
  h.RecordProbe(true, Seconds(1));
  CHECK(h.Snapshot(Seconds(1)).health == HealthState::kHealthy);
  CHECK(h.Snapshot(Seconds(1)).last_probe == Seconds(1));
  h.RecordProbe(false, Seconds(2));
  h.RecordProbe(false, Seconds(3));
  CHECK(h.Snapshot(Seconds(3)).health == HealthState::kHealthy);
  h.RecordProbe(true, Seconds(4));  // breaks the run
  h.RecordProbe(false, Seconds(5));
  h.RecordProbe(false, Seconds(6));
  CHECK(h.Snapshot(Seconds(6)).health == HealthState::kHealthy);
  h.RecordProbe(false, Seconds(7));
  CHECK(h.Snapshot(Seconds(7)).health == HealthState::kUnhealthy);
  CHECK_FALSE(h.IsAvailable(Seconds(7)));
  CHECK_FALSE(h.Snapshot(Seconds(7)).available);
  // Panic routing: TryAcquire still admits to a probe-unhealthy backend.
  CHECK(h.TryAcquire(Seconds(7)));
  h.Release(kOk, Seconds(7));
  h.RecordProbe(true, Seconds(8));
  CHECK(h.Snapshot(Seconds(8)).health == HealthState::kUnhealthy);
  h.RecordProbe(true, Seconds(9));
  CHECK(h.Snapshot(Seconds(9)).health == HealthState::kHealthy);
  CHECK(h.IsAvailable(Seconds(9)));
}

// Without a healthCheck block the default thresholds apply (3 failures, 1 success).
TEST_CASE("default probe thresholds", "[health][probe]") {
  BackendHealth h("b", Spec());
  h.RecordProbe(false, 1);
  h.RecordProbe(false, 2);
  CHECK(h.Snapshot(2).health == HealthState::kUnknown);
  h.RecordProbe(false, 3);
  CHECK(h.Snapshot(3).health == HealthState::kUnhealthy);
  h.RecordProbe(true, 4);
  CHECK(h.Snapshot(4).health == HealthState::kHealthy);
}

// 4xx answers are successes for the breaker; kBreakerOpen / kOverloaded outcomes are ignored.
TEST_CASE("4xx does not count as a failure", "[health][breaker]") {
  BackendHealth h("b", Spec(/*consecutive=*/2));
  for (int i = 0; i < 10; ++i) Send(h, AttemptOutcome{FailureKind::kStatus4xx, 0}, 0);
  BackendHealthSnapshot s = h.Snapshot(0);
  CHECK(s.breaker == BreakerState::kClosed);
  CHECK(s.total_requests == 10);
  CHECK(s.total_failures == 0);
  CHECK(s.window_requests == 10);
  CHECK(s.latency_ewma_ms == 0);  // 4xx answers are not latency samples

  Send(h, k5xx, 0);
  Send(h, AttemptOutcome{FailureKind::kStatus4xx, 0}, 0);  // resets the run
  Send(h, k5xx, 0);
  CHECK(h.Snapshot(0).breaker == BreakerState::kClosed);
  Send(h, AttemptOutcome{FailureKind::kOverloaded, 0}, 0);  // ignored, run continues
  Send(h, AttemptOutcome{FailureKind::kBreakerOpen, 0}, 0);
  CHECK(h.Snapshot(0).total_requests == 13);
  Send(h, AttemptOutcome{FailureKind::kStatus429, 0}, 0);
  s = h.Snapshot(0);
  CHECK(s.breaker == BreakerState::kOpen);
  CHECK(s.total_failures == 3);
  CHECK(s.in_flight == 0);
}

// Every failure kind that reaches the backend counts.
TEST_CASE("connect, timeout, 5xx, 429 and protocol failures count", "[health][breaker]") {
  for (FailureKind kind : {FailureKind::kConnect, FailureKind::kTimeout, FailureKind::kStatus5xx,
                           FailureKind::kStatus429, FailureKind::kProtocol}) {
    BackendHealth h("b", Spec(/*consecutive=*/2));
    Send(h, AttemptOutcome{kind, 0}, 0);
    Send(h, AttemptOutcome{kind, 0}, 0);
    CHECK(h.Snapshot(0).breaker == BreakerState::kOpen);
    CHECK(h.Snapshot(0).total_failures == 2);
  }
}

// maxConcurrency: TryAcquire refuses at the limit and IsAvailable turns false; a Release frees it.
TEST_CASE("maxConcurrency", "[health]") {
  BackendSpec spec = Spec();
  spec.max_concurrency = 2;
  BackendHealth h("b", spec);
  CHECK(h.TryAcquire(0));
  CHECK(h.IsAvailable(0));
  CHECK(h.TryAcquire(0));
  CHECK_FALSE(h.IsAvailable(0));
  CHECK_FALSE(h.TryAcquire(0));
  CHECK(h.Snapshot(0).in_flight == 2);
  h.Release(kOk, 1);
  CHECK(h.IsAvailable(1));
  CHECK(h.TryAcquire(1));
}

// The latency EWMA starts at the first success and moves by alpha = 0.2 on later successes only.
TEST_CASE("latency ewma", "[health]") {
  BackendHealth h("b", Spec(/*consecutive=*/100));
  Send(h, AttemptOutcome{FailureKind::kNone, Milliseconds(100)}, 0);
  CHECK(h.Snapshot(0).latency_ewma_ms == Approx(100));
  Send(h, AttemptOutcome{FailureKind::kNone, Milliseconds(200)}, 0);
  CHECK(h.Snapshot(0).latency_ewma_ms == Approx(120));
  Send(h, AttemptOutcome{FailureKind::kTimeout, Seconds(30)}, 0);
  CHECK(h.Snapshot(0).latency_ewma_ms == Approx(120));
  Send(h, AttemptOutcome{FailureKind::kNone, Milliseconds(20)}, 0);
  CHECK(h.Snapshot(0).latency_ewma_ms == Approx(100));
}

// UpdatePolicy keeps the breaker, health and counters; new thresholds apply from then on.
TEST_CASE("UpdatePolicy keeps state", "[health]") {
  BackendHealth h("b", Spec(/*consecutive=*/5, /*open_seconds=*/10));
  Send(h, k5xx, 0);
  Send(h, k5xx, 0);
  h.RecordProbe(true, 0);
  REQUIRE(h.TryAcquire(0));  // still running across the update
  BackendSpec spec = Spec(/*consecutive=*/3, /*open_seconds=*/20, /*max_open_seconds=*/100);
  spec.max_concurrency = 1;
  h.UpdatePolicy(spec);
  BackendHealthSnapshot s = h.Snapshot(0);
  CHECK(s.consecutive_failures == 2);
  CHECK(s.window_requests == 2);
  CHECK(s.total_requests == 2);
  CHECK(s.health == HealthState::kHealthy);
  CHECK(s.in_flight == 1);
  CHECK_FALSE(h.IsAvailable(0));  // the new maxConcurrency of 1 is reached
  CHECK_FALSE(h.TryAcquire(0));
  h.Release(k5xx, 0);  // the third failure in a row, under the new threshold of 3
  s = h.Snapshot(0);
  CHECK(s.breaker == BreakerState::kOpen);
  CHECK(s.open_until == Seconds(20));
  // While open, a policy update keeps the breaker open until the same time.
  h.UpdatePolicy(Spec(/*consecutive=*/3, /*open_seconds=*/20, /*max_open_seconds=*/100));
  CHECK(h.Snapshot(1).breaker == BreakerState::kOpen);
  CHECK_FALSE(h.IsAvailable(Seconds(20) - 1));
  CHECK(h.IsAvailable(Seconds(20)));
}

// Get returns one shared object per key and applies the latest spec; RetainOnly forgets the rest
// while held references stay valid; List is sorted by key.
TEST_CASE("tracker identity and RetainOnly", "[health][tracker]") {
  HealthTracker tracker;
  std::shared_ptr<BackendHealth> b = tracker.Get("ns/b", Spec());
  std::shared_ptr<BackendHealth> a = tracker.Get("ns/a", Spec());
  std::shared_ptr<BackendHealth> c = tracker.Get("ns/c", Spec());
  CHECK(tracker.Get("ns/b", Spec()) == b);
  CHECK(a != b);

  BackendSpec one = Spec();
  one.max_concurrency = 1;
  REQUIRE(b->TryAcquire(0));
  CHECK(b->IsAvailable(0));
  CHECK(tracker.Get("ns/b", one) == b);  // the new spec applies to the same object
  CHECK_FALSE(b->IsAvailable(0));
  b->Release(kOk, 0);

  std::vector<std::shared_ptr<BackendHealth>> list = tracker.List();
  REQUIRE(list.size() == 3);
  CHECK(list[0]->key() == "ns/a");
  CHECK(list[1]->key() == "ns/b");
  CHECK(list[2]->key() == "ns/c");

  tracker.RetainOnly({"ns/c", "ns/a", "ns/missing"});
  list = tracker.List();
  REQUIRE(list.size() == 2);
  CHECK(list[0] == a);
  CHECK(list[1] == c);
  CHECK(b->Snapshot(0).total_requests == 1);  // the old reference is still usable
  CHECK(tracker.Get("ns/b", Spec()) != b);    // a forgotten key starts fresh
  CHECK(tracker.Get("ns/b", Spec())->Snapshot(0).total_requests == 0);
}

// Two threads acquire and release with fixed outcome patterns; afterwards nothing is in flight
// and the totals equal what the threads counted.
TEST_CASE("two-thread stress", "[health][threads]") {
  BackendSpec spec = Spec(/*consecutive=*/4, /*open_seconds=*/1, /*max_open_seconds=*/2);
  spec.circuit_breaker.half_open_requests = 2;
  spec.max_concurrency = 3;
  BackendHealth h("b", spec);
  constexpr int kIterations = 200000;
  struct Counts {
    uint64_t acquired = 0;
    uint64_t failures = 0;
  };
  Counts counts[2];
  auto worker = [&](int id) {
    Counts& c = counts[id];
    for (int i = 0; i < kIterations; ++i) {
      // Each thread's own simulated time: 100 us per iteration.
      const TimeNs now = static_cast<TimeNs>(i) * 100 * kNanosPerMicro;
      (void)h.IsAvailable(now);
      if (!h.TryAcquire(now)) continue;
      ++c.acquired;
      const bool fail = (i * (id + 3)) % 7 < 3;
      if (fail) ++c.failures;
      h.Release(
          AttemptOutcome{fail ? FailureKind::kStatus5xx : FailureKind::kNone, Milliseconds(1)},
          now);
    }
  };
  std::thread t0(worker, 0);
  std::thread t1(worker, 1);
  t0.join();
  t1.join();
  BackendHealthSnapshot s = h.Snapshot(Seconds(1000));
  CHECK(s.in_flight == 0);
  CHECK(s.total_requests == counts[0].acquired + counts[1].acquired);
  CHECK(s.total_failures == counts[0].failures + counts[1].failures);
  CHECK(s.total_requests > 0);
  CHECK(s.total_failures > 0);
}

}  // namespace
}  // namespace inferencegw
