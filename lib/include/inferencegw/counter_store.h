// Where the counters behind admission live: rate-limit buckets (requests and tokens) and spend
// budgets. The in-memory store keeps them in this process (one replica's view); a shared store
// (the proxy's Redis store) keeps them where every replica sees the same numbers.
//
//   AdmissionBatch batch = ...;                        // built by Exchange::Begin
//   store.Admit(batch, [&](AdmissionVerdict v) { ... exchange.CompleteAdmission(v, now); });
//   store.Adjust(adjustments);                         // built by Exchange::Finish
//
// A batch is all-or-nothing: either every limit takes its request and tokens and every budget
// has room, or nothing is taken and the verdict names the first refusal.
#ifndef INFERENCEGW_COUNTER_STORE_H_
#define INFERENCEGW_COUNTER_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/clock.h"
#include "inferencegw/config.h"
#include "inferencegw/rate_limiter.h"

namespace inferencegw {

// One rate limit to pass: a request bucket and/or a token bucket under one name.
struct LimitCheck {
  // Store-wide name of the buckets: "route:<ns/name>", "route:<ns/name>:user:<16 hex>",
  // "key:<user>". Stable across replicas and restarts.
  std::string name;
  RateLimitPolicy policy;    // per_user is already folded into `name`
  int64_t estimated_tokens;  // asked of the token bucket (capped at its burst)
};

// One budget to check: the spend recorded in `field` of the period's counter must be below `cap`.
struct BudgetCheck {
  std::string scope;  // "route:<ns/name>" or "key:<user>"
  std::string field;  // "total", or "user:<user>" for a per-user cap
  int64_t cap_nanos = 0;          // nano-units of `currency`; > 0
  int64_t period_start_unix = 0;  // the UTC calendar period the spend belongs to
  int64_t period_end_unix = 0;    // when it resets
  std::string currency;
};

struct AdmissionBatch {
  std::vector<LimitCheck> limits;
  std::vector<BudgetCheck> budgets;
  TimeNs now = 0;  // for the in-memory store (a shared store uses its own clock)
};

// The state of one budget after admission, for headers and /admin/budgets.
struct BudgetState {
  int64_t spent_nanos = 0;
  int64_t cap_nanos = 0;
  int64_t period_end_unix = 0;
};

struct AdmissionVerdict {
  // False when the store could not answer (down, or slower than its timeout); the rest of the
  // verdict is then meaningless and the caller applies its failure policy.
  bool store_ok = true;
  bool allowed = true;
  int refused_limit = -1;   // index into batch.limits of the refusing limit, or -1
  int refused_budget = -1;  // index into batch.budgets of the exhausted budget, or -1
  std::vector<Admission> limits;     // one per batch.limits (allowed, quotas, reserved_tokens)
  std::vector<BudgetState> budgets;  // one per batch.budgets
};

// A correction after the request ended: the token reservation replaced by real usage, and the
// request's cost added to its budgets.
struct LimitAdjust {
  std::string name;  // LimitCheck::name
  RateLimitPolicy policy;
  int64_t reserved_tokens = 0;
  int64_t actual_tokens = 0;
};
struct SpendCharge {
  std::string scope;
  std::string field;
  int64_t nanos = 0;
  int64_t period_start_unix = 0;
  int64_t period_end_unix = 0;
};
struct AdjustBatch {
  std::vector<LimitAdjust> limits;
  std::vector<SpendCharge> charges;
  TimeNs now = 0;
};

// One budget counter's value, for /admin/budgets.
struct BudgetReading {
  std::string scope;
  std::string field;
  int64_t spent_nanos = 0;
};

// Thread-safe. `done` may be called on any thread (the store's own, or the caller's, before
// Admit returns); it is called exactly once.
class CounterStore {
 public:
  virtual ~CounterStore() = default;
  virtual void Admit(const AdmissionBatch& batch, std::function<void(AdmissionVerdict)> done) = 0;
  // Fire and forget; a shared store that cannot reach its server drops the adjustment (counted).
  virtual void Adjust(const AdjustBatch& batch) = 0;
  // Every budget counter of the period starting at each of `period_starts` for each scope, as
  // (scope, field, spent). `ok` false when the store could not answer.
  virtual void ReadBudgets(std::vector<std::pair<std::string, int64_t>> scopes_and_periods,
                           std::function<void(bool ok, std::vector<BudgetReading>)> done) = 0;
  // True when Admit always answers before it returns (the in-memory store).
  virtual bool synchronous() const = 0;
};

// The in-memory store: buckets in a RateLimiter (the decisions the simulator has always made),
// spend in a per-period table. Thread-safe; synchronous. Periods other than the current one of
// a scope are dropped when a newer period is charged.
class LocalCounterStore final : public CounterStore {
 public:
  explicit LocalCounterStore(RateLimiter::Options options = {});
  ~LocalCounterStore() override;
  void Admit(const AdmissionBatch& batch, std::function<void(AdmissionVerdict)> done) override;
  void Adjust(const AdjustBatch& batch) override;
  void ReadBudgets(std::vector<std::pair<std::string, int64_t>> scopes_and_periods,
                   std::function<void(bool ok, std::vector<BudgetReading>)> done) override;
  bool synchronous() const override { return true; }

  // The same as Admit, returning the verdict.
  AdmissionVerdict AdmitNow(const AdmissionBatch& batch);
  RateLimiter& limiter() { return *limiter_; }

 private:
  struct Budgets;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<Budgets> budgets_;
};

// The UTC calendar period containing `unix_seconds`: [start, end).
struct PeriodBounds {
  int64_t start_unix = 0;
  int64_t end_unix = 0;
};
PeriodBounds BudgetPeriodBounds(BudgetPeriod period, int64_t unix_seconds);

// Cost in pico-units rounded up to nano-units (what budgets count), saturating.
int64_t PicosToBudgetNanos(int64_t picos);
// A budget amount in nano-units as decimal currency text ("0.100000" with 6 decimals).
std::string FormatBudgetAmount(int64_t nanos, int decimals = 6);

// One budget the config declares, in the period containing a given time: what /admin/budgets
// lists and what a store's ReadBudgets is asked for.
struct ConfiguredBudget {
  std::string scope;  // "route:<ns/name>" or "key:<user>"
  std::string kind;   // "route" (its total and per-user caps) or "key"
  int64_t limit_nanos = 0;     // 0: no total cap
  int64_t per_user_nanos = 0;  // 0: no per-user cap
  BudgetPeriod period = BudgetPeriod::kMonth;
  std::string currency;
  PeriodBounds bounds;
};
std::vector<ConfiguredBudget> ConfiguredBudgets(const ConfigSet& config, int64_t unix_seconds);

// /admin/budgets: every configured budget with its spend (the total, and each user's under a
// per-user cap) and reset time, from `readings`; `source` names the store ("redis", "local")
// and `store_ok` says whether it answered (false: the readings are this replica's own).
std::string RenderBudgetsJson(const std::vector<ConfiguredBudget>& budgets,
                              const std::vector<BudgetReading>& readings, std::string_view source,
                              bool store_ok);

// What a shared store does when it cannot answer.
enum class StoreFailurePolicy : uint8_t {
  kFailOpen,    // admit on this replica's own in-memory counters
  kFailClosed,  // refuse with 503
};

}  // namespace inferencegw

#endif  // INFERENCEGW_COUNTER_STORE_H_
