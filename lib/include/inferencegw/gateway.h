// The request lifecycle every frontend shares: route, admit, attempt and fall back, account.
// The proxy drives it with real I/O, the offline simulator with simulated outcomes, so both give
// the same answers from the same code.
//
//   auto gw = Gateway::Create(config).value();
//   Exchange ex(*gw, /*entropy=*/rng(), clock.Now());
//   if (ex.Begin(view, facts.estimated_tokens) == BeginStatus::kOk) {
//     while (auto a = ex.NextAttempt(clock.Now())) { /* send to a->backend ... */ }
//   }
//   ex.Finish({.client_status = 200, .usage = usage}, clock.Now());
#ifndef INFERENCEGW_GATEWAY_H_
#define INFERENCEGW_GATEWAY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "inferencegw/client_auth.h"
#include "inferencegw/clock.h"
#include "inferencegw/config.h"
#include "inferencegw/cost_ledger.h"
#include "inferencegw/counter_store.h"
#include "inferencegw/experiment_stats.h"
#include "inferencegw/fallback_plan.h"
#include "inferencegw/health_tracker.h"
#include "inferencegw/metrics.h"
#include "inferencegw/rate_limiter.h"
#include "inferencegw/route_table.h"
#include "inferencegw/usage_parser.h"

namespace inferencegw {

struct GatewayOptions {
  RateLimiter::Options limiter;
  CostLedger::Options ledger;
  // Record Prometheus metrics per request. The simulator turns this off for speed.
  bool metrics = true;
  // Time for gauges computed at scrape time and for exchanges destroyed unfinished; nullptr
  // means RealClock::Get(). Not owned; must outlive the Gateway.
  const Clock* clock = nullptr;
  // Where finished requests are accounted; nullptr means this gateway's own. The simulator's
  // replicas share one of each, so that a run's cost ledger and experiment statistics cover
  // every replica. Not owned; must outlive the Gateway.
  CostLedger* ledger_sink = nullptr;
  ExperimentStats* experiments_sink = nullptr;
};

// Thread-safe. The long-lived state behind every request: the current RouteTable, backend
// health, rate-limit buckets, the cost ledger, experiment statistics and metrics. State is
// keyed by namespace/name and survives reloads.
class Gateway {
 public:
  // Compiles `config`; InvalidArgument with every config error when it does not compile.
  static absl::StatusOr<std::unique_ptr<Gateway>> Create(const ConfigSet& config,
                                                         GatewayOptions options = {});
  ~Gateway();

  // Compiles `config` and makes it current; requests already started keep their table. On
  // failure nothing changes and the error is returned. Counted in config_reloads_total.
  absl::Status Reload(const ConfigSet& config);

  // The current table. Cheap (an atomic shared_ptr load).
  std::shared_ptr<const RouteTable> table() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Keeps rate-limit buckets and budgets in `store` (shared by every replica) from now on, with
  // `policy` for when it cannot answer. Call before serving; the local store stays as the
  // fallback. Exchanges then answer Begin with kPending when they have limits or budgets.
  void SetSharedStore(std::shared_ptr<CounterStore> store, StoreFailurePolicy policy);
  CounterStore* shared_store() const { return shared_store_.get(); }
  StoreFailurePolicy store_failure_policy() const { return store_failure_policy_; }
  // This replica's own counters: the default store, and the fallback when the shared store fails.
  LocalCounterStore& local_store() { return local_store_; }

  HealthTracker& health() { return health_; }
  RateLimiter& limiter() { return local_store_.limiter(); }
  // The ledger and statistics requests are accounted in (GatewayOptions' sinks, when set).
  CostLedger& ledger() { return *ledger_sink_; }
  ExperimentStats& experiments() { return *experiments_sink_; }
  MetricsRegistry& registry() { return registry_; }
  const GatewayMetrics& metrics() const { return metrics_; }
  bool metrics_enabled() const { return options_.metrics; }
  const Clock& clock() const { return *clock_; }

  // The client-key authenticator of the current config (enabled() false when no keys).
  std::shared_ptr<const ClientAuthenticator> authenticator() const;

  // Sets the gauges computed from state (backend health, breaker state, in-flight) for `now`.
  // Registered as a collector, so RenderPrometheus calls it; exposed for tests.
  void RefreshGauges(TimeNs now);

  // /admin/backends: every backend of the current table with its health snapshot, as JSON:
  // [{"key","type","provider","url","health","breaker","available","in_flight",...}]. Never
  // contains an API key.
  std::string RenderBackendsJson(TimeNs now) const;

 private:
  explicit Gateway(GatewayOptions options);

  GatewayOptions options_;
  const Clock* clock_;
  HealthTracker health_;
  LocalCounterStore local_store_;
  std::shared_ptr<CounterStore> shared_store_;
  StoreFailurePolicy store_failure_policy_ = StoreFailurePolicy::kFailOpen;
  CostLedger ledger_;
  ExperimentStats experiments_;
  CostLedger* ledger_sink_;
  ExperimentStats* experiments_sink_;
  MetricsRegistry registry_;
  GatewayMetrics metrics_;
  // The current snapshots. A plain mutex, not std::atomic<std::shared_ptr>: libstdc++ 12's
  // atomic shared_ptr unlocks its load with a relaxed store, which ThreadSanitizer (rightly, by
  // the memory model) reports as a race with the next store. Held for a pointer copy only.
  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const RouteTable> table_;
  std::shared_ptr<const ClientAuthenticator> authenticator_;
  std::atomic<uint64_t> generation_{0};
  std::mutex reload_mu_;
};

enum class BeginStatus : uint8_t {
  kOk = 0,
  kUnknownRoute,  // 404: the route header names no route
  kNoRoute,       // 404: no route serves the model
  kNoBackend,     // 404: the route has no matching rule and no default backend
  kRateLimited,   // 429: see Exchange::admission()
  kForbidden,     // 403: the client key may not use this route or model (Exchange::refusal())
  kBudgetExceeded,     // 429 insufficient_quota: see Exchange::budget()
  kPending,            // ask gateway.shared_store() (Exchange::admission_batch()), then call
                       // Exchange::CompleteAdmission with its verdict
  kStoreUnavailable,   // 503: the shared store could not answer and the policy is failClosed
};
std::string_view BeginStatusName(BeginStatus s);

// One attempt the exchange made (or skipped), for error bodies, logs and headers.
struct AttemptRecord {
  BackendIndex backend = kNoBackend;
  FailureKind failure = FailureKind::kNone;  // kNone: the attempt that answered the client
  int http_status = 0;                       // the upstream's status, 0 when none
  DurationNs duration = 0;
};

// How the client's request ended, reported once to Exchange::Finish.
struct FinishInfo {
  int client_status = 200;  // the status the client got
  Usage usage;              // what the response reported (usage.present false when unknown)
  // A failure after the response was committed (a stream cut mid-way); counts against the
  // backend's health.
  FailureKind stream_failure = FailureKind::kNone;
  bool client_cancelled = false;  // the client went away before the end
};

// What Finish computed.
struct ExchangeResult {
  bool cost_known = false;  // the route tracks cost and the backend has prices
  PicoUnits cost = 0;
  std::string_view currency;
  Usage usage;  // info.usage, or unknown (out_of_range set) when a count was out of range
};

// Not thread-safe; one per client request, used from one thread. Holds the RouteTable it
// started with. Every Exchange is finished exactly once: by Finish, or by the destructor (as a
// client cancellation), so slots, reservations and accounting are never lost.
class Exchange {
 public:
  Exchange(Gateway& gateway, uint64_t entropy, TimeNs now);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Routes the request, checks its client key's policy (RequestView::client_key), and admits it
  // against the rate limits and budgets of its route and key (reserving `estimated_tokens` from
  // a token limit, at most the limit's burst; see TokenReservation for a saturating estimate).
  // With a shared store set on the gateway, a request that has limits or budgets gets kPending:
  // the frontend passes admission_batch() to the store and the verdict to CompleteAdmission,
  // without blocking. Call once.
  BeginStatus Begin(const RequestView& request, int64_t estimated_tokens);

  // Begin for a request that generates nothing (count_tokens, KServe metadata): routes it and
  // checks its client key's policy like Begin, but takes nothing from any rate limit or budget,
  // and Finish records no cost, ledger entry, token count or experiment outcome (backend health
  // and request metrics are kept). Returns kOk, kUnknownRoute, kNoRoute, kNoBackend or
  // kForbidden. Call once, instead of Begin.
  BeginStatus BeginUnmetered(const RequestView& request);
  bool unmetered() const { return unmetered_; }

  // REQUIRES: Begin returned kPending. Applies the shared store's verdict (a verdict with
  // store_ok false applies the gateway's failure policy: the local counters, or
  // kStoreUnavailable). Returns kOk, kRateLimited, kBudgetExceeded or kStoreUnavailable.
  BeginStatus CompleteAdmission(AdmissionVerdict verdict);
  const AdmissionBatch& admission_batch() const { return batch_; }

  // Whose rate limit refused the request (kRateLimited): "route" or "key".
  std::string_view limit_scope() const { return limit_scope_; }
  // Why Begin answered kForbidden: "route" or "model".
  std::string_view refusal() const { return refusal_; }

  // The budget that refused the request (kBudgetExceeded) or, when admitted, the budget with the
  // least left; nullopt when the request has no budget.
  struct BudgetStatus {
    std::string_view budget;  // "route", "user" or "key"
    int64_t cap_nanos = 0;
    int64_t spent_nanos = 0;
    int64_t period_end_unix = 0;
    std::string_view currency;
  };
  std::optional<BudgetStatus> budget() const;
  // True when admission used this replica's counters because the shared store failed.
  bool admitted_locally_after_store_failure() const { return store_failed_; }

  // Valid after Begin.
  const RouteTable& table() const { return *table_; }
  const std::shared_ptr<const RouteTable>& shared_table() const { return table_; }
  const Decision& decision() const { return decision_; }
  const Admission& admission() const { return admission_; }
  const CompiledRoute* route() const { return decision_.route; }

  struct Attempt {
    BackendIndex backend = kNoBackend;
    const CompiledBackend* target = nullptr;
    int number = 0;          // 0-based over the whole exchange
    int retry = 0;           // 0 for the first try on this backend
    DurationNs delay = 0;    // wait this long before sending (backoff)
    DurationNs timeout = 0;  // bound on this attempt, within the overall deadline
  };

  // The next attempt at `now`, or nullopt when none is left: the plan is exhausted, the deadline
  // passed, or the last failure is not retryable. Backends whose breaker or concurrency limit
  // refuses are skipped (recorded as attempts with kBreakerOpen / kOverloaded). The returned
  // attempt holds a slot on its backend until AttemptFailed, AttemptCommitted + Finish, or the
  // destructor.
  std::optional<Attempt> NextAttempt(TimeNs now);

  // Whether a failure of this kind would move on to another attempt (the route's retryOn).
  // Frontends pass upstream answers that would not (e.g. 400) straight to the client.
  bool WouldRetry(FailureKind kind) const;

  // The current attempt failed before anything reached the client. `retry_after` is the
  // upstream's Retry-After (0 when absent).
  void AttemptFailed(FailureKind kind, int http_status, DurationNs retry_after, TimeNs now);

  // The current attempt's response is going to the client: no more attempts.
  void AttemptCommitted(int http_status, TimeNs now);

  // Ends the exchange: releases the backend slot with the final outcome, reconciles the token
  // reservation, computes the cost, and records ledger, experiment stats and metrics. Usage
  // failing UsageInRange is accounted as not reported.
  const ExchangeResult& Finish(const FinishInfo& info, TimeNs now);

  const std::vector<AttemptRecord>& attempts() const { return attempts_; }
  // Attempts that sent a request (skipped backends excluded).
  int sent_attempts() const { return sent_attempts_; }
  // The backend that answered the client (after AttemptCommitted), else kNoBackend.
  BackendIndex served_by() const { return committed_ ? current_.backend : kNoBackend; }
  // When NextAttempt returned nullopt without a commit: the status to answer with: 504 when the
  // deadline passed or the last failure was a timeout, 503 when no backend could be tried
  // (all skipped), 429 when every attempt was a 429 answer, else 502.
  int ExhaustedHttpStatus() const;
  // When the exchange ended exhausted with ExhaustedHttpStatus() == 429: the smallest positive
  // Retry-After among the 429 answers (as passed to AttemptFailed), for the client's own
  // Retry-After; 0 when none sent one, or when the exchange did not end that way.
  DurationNs ExhaustedRetryAfter() const;
  TimeNs started() const { return started_; }
  bool finished() const { return finished_; }

 private:
  // Begin's first half: Decide and the client key's policy; kOk or the refusal (recorded).
  BeginStatus RouteAndAuthorize(const RequestView& request);
  void ReleaseCurrent(const AttemptOutcome& outcome, TimeNs now);
  void RecordAttemptMetric(BackendIndex backend, FailureKind failure);
  bool KeyAllows(const RequestView& request);
  void BuildBatch(int64_t estimated_tokens);
  BeginStatus ApplyVerdict(AdmissionVerdict verdict);
  BeginStatus Admitted();
  void AdjustCounters(const Usage& usage, TimeNs now);

  Gateway& gateway_;
  std::shared_ptr<const RouteTable> table_;
  const uint64_t entropy_;
  const TimeNs started_;
  uint64_t draws_ = 0;  // entropy values drawn so far
  bool begun_ = false;
  bool unmetered_ = false;
  BeginStatus begin_status_ = BeginStatus::kOk;
  Decision decision_;
  Admission admission_;
  int64_t reserved_tokens_ = 0;
  const ClientKey* client_key_ = nullptr;  // in the authenticator, which the frontend holds
  std::string_view refusal_;
  std::string_view limit_scope_ = "route";
  // The batch path (budgets, key limits, or a shared store): what was asked and answered.
  bool batch_path_ = false;
  bool via_shared_store_ = false;  // the shared store admitted it (adjustments go there)
  bool store_failed_ = false;
  AdmissionBatch batch_;
  std::vector<std::string_view> budget_kinds_;  // per batch_.budgets: "route", "user", "key"
  int route_limit_ = -1;  // index in batch_.limits of the route's limit, or -1
  AdmissionVerdict verdict_;
  TimeNs deadline_ = 0;
  // Attempt state.
  size_t plan_pos_ = 0;  // index into decision_.plan.backends of the current backend
  Attempt current_;
  bool has_current_ = false;  // a slot is held on current_.backend
  bool committed_ = false;
  TimeNs current_started_ = 0;
  TimeNs committed_at_ = 0;
  FailureKind last_failure_ = FailureKind::kNone;
  DurationNs last_retry_after_ = 0;
  DurationNs min_429_retry_after_ = 0;  // smallest positive Retry-After of a 429 answer
  bool deadline_passed_ = false;
  bool exhausted_ = false;
  std::vector<AttemptRecord> attempts_;
  int sent_attempts_ = 0;
  bool finished_ = false;
  ExchangeResult result_;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_GATEWAY_H_
