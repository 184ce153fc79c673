#include "inferencegw/counter_store.h"

#include <algorithm>
#include <limits>
#include <mutex>

#include "absl/container/flat_hash_map.h"
#include "civil_time_internal.h"
#include "inferencegw/cost_ledger.h"
#include "inferencegw/stable_hash.h"

namespace inferencegw {

namespace {

constexpr int64_t kSecondsPerDay = 86'400;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The local name of a limit's buckets in the RateLimiter.
RateLimitKey LocalKey(std::string_view name) { return {StableHash64(name), 0}; }

}  // namespace

PeriodBounds BudgetPeriodBounds(BudgetPeriod period, int64_t unix_seconds) {
  const int64_t day = FloorDiv(unix_seconds, kSecondsPerDay);
  switch (period) {
    case BudgetPeriod::kHour: {
      const int64_t start = FloorDiv(unix_seconds, 3600) * 3600;
      return {start, start + 3600};
    }
    case BudgetPeriod::kDay:
      return {day * kSecondsPerDay, (day + 1) * kSecondsPerDay};
    case BudgetPeriod::kWeek: {
      // 1970-01-01 was a Thursday: Monday-based weekday is (day + 3) mod 7.
      const int64_t monday = day - ((day % 7 + 7 + 3) % 7);
      return {monday * kSecondsPerDay, (monday + 7) * kSecondsPerDay};
    }
    case BudgetPeriod::kMonth: {
      const internal::CivilDate date = internal::CivilFromDays(day);
      const int64_t year = date.year;
      const int64_t month = date.month;
      const int64_t start = internal::DaysFromCivil(year, month, 1);
      const int64_t end = month == 12 ? internal::DaysFromCivil(year + 1, 1, 1)
                                      : internal::DaysFromCivil(year, month + 1, 1);
      return {start * kSecondsPerDay, end * kSecondsPerDay};
    }
  }
  return {unix_seconds, unix_seconds + 1};
}

int64_t PicosToBudgetNanos(int64_t picos) {
  if (picos <= 0) return 0;
  return picos / 1000 + (picos % 1000 != 0 ? 1 : 0);
}

std::string FormatBudgetAmount(int64_t nanos, int decimals) {
  constexpr int64_t kPicosPerNano = 1000;
  const int64_t limit = std::numeric_limits<int64_t>::max() / kPicosPerNano;
  return FormatCost(std::clamp(nanos, -limit, limit) * kPicosPerNano, decimals);
}

// Spend per (scope, field, period). Entries of ended periods are dropped every 1024 charges.
struct LocalCounterStore::Budgets {
  struct Entry {
    std::string scope;
    std::string field;
    int64_t period_start = 0;
    int64_t period_end = 0;
    int64_t spent = 0;
  };
  static uint64_t Hash(std::string_view scope, std::string_view field, int64_t period_start) {
    return Fmix64(StableHash64(scope) * 31 + StableHash64(field)) ^
           SplitMix64(static_cast<uint64_t>(period_start));
  }
  int64_t Spent(std::string_view scope, std::string_view field, int64_t period_start) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = entries.find(Hash(scope, field, period_start));
    return it == entries.end() ? 0 : it->second.spent;
  }
  void Charge(const SpendCharge& c) {
    if (c.nanos <= 0) return;
    std::lock_guard<std::mutex> lock(mu);
    Entry& e = entries[Hash(c.scope, c.field, c.period_start_unix)];
    if (e.scope.empty()) {
      e.scope = c.scope;
      e.field = c.field;
      e.period_start = c.period_start_unix;
      e.period_end = c.period_end_unix;
    }
    e.spent = e.spent > std::numeric_limits<int64_t>::max() - c.nanos
                  ? std::numeric_limits<int64_t>::max()
                  : e.spent + c.nanos;
    newest_start = std::max(newest_start, c.period_start_unix);
    if (++charges % 1024 == 0) {
      // Drop periods that ended before the newest period charged began.
      for (auto it = entries.begin(); it != entries.end();) {
        if (it->second.period_end <= newest_start) {
          entries.erase(it++);
        } else {
          ++it;
        }
      }
    }
  }

  std::mutex mu;
  absl::flat_hash_map<uint64_t, Entry> entries;  // guarded by mu
  int64_t newest_start = std::numeric_limits<int64_t>::min();
  uint64_t charges = 0;
};

LocalCounterStore::LocalCounterStore(RateLimiter::Options options)
    : limiter_(std::make_unique<RateLimiter>(options)), budgets_(std::make_unique<Budgets>()) {}

LocalCounterStore::~LocalCounterStore() = default;

AdmissionVerdict LocalCounterStore::AdmitNow(const AdmissionBatch& batch) {
  AdmissionVerdict v;
  v.budgets.reserve(batch.budgets.size());
  for (size_t i = 0; i < batch.budgets.size(); ++i) {
    const BudgetCheck& b = batch.budgets[i];
    BudgetState state;
    state.spent_nanos = budgets_->Spent(b.scope, b.field, b.period_start_unix);
    state.cap_nanos = b.cap_nanos;
    state.period_end_unix = b.period_end_unix;
    if (v.allowed && state.spent_nanos >= b.cap_nanos) {
      v.allowed = false;
      v.refused_budget = static_cast<int>(i);
    }
    v.budgets.push_back(state);
  }
  v.limits.resize(batch.limits.size());
  if (!v.allowed) return v;
  for (size_t i = 0; i < batch.limits.size(); ++i) {
    const LimitCheck& l = batch.limits[i];
    v.limits[i] = limiter_->Admit(l.policy, LocalKey(l.name), l.estimated_tokens, batch.now);
    if (!v.limits[i].allowed) {
      v.allowed = false;
      v.refused_limit = static_cast<int>(i);
      for (size_t j = 0; j < i; ++j) {
        const LimitCheck& taken = batch.limits[j];
        limiter_->Refund(taken.policy, LocalKey(taken.name), v.limits[j].reserved_tokens,
                         batch.now);
      }
      break;
    }
  }
  return v;
}

void LocalCounterStore::Admit(const AdmissionBatch& batch,
                              std::function<void(AdmissionVerdict)> done) {
  done(AdmitNow(batch));
}

void LocalCounterStore::Adjust(const AdjustBatch& batch) {
  for (const LimitAdjust& l : batch.limits) {
    limiter_->Reconcile(l.policy, LocalKey(l.name), l.reserved_tokens, l.actual_tokens,
                        batch.now);
  }
  for (const SpendCharge& c : batch.charges) budgets_->Charge(c);
}

void LocalCounterStore::ReadBudgets(
    std::vector<std::pair<std::string, int64_t>> scopes_and_periods,
    std::function<void(bool ok, std::vector<BudgetReading>)> done) {
  std::vector<BudgetReading> out;
  {
    std::lock_guard<std::mutex> lock(budgets_->mu);
    for (const auto& [hash, e] : budgets_->entries) {
      for (const auto& [scope, start] : scopes_and_periods) {
        if (e.scope == scope && e.period_start == start) {
          out.push_back({e.scope, e.field, e.spent});
          break;
        }
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const BudgetReading& a, const BudgetReading& b) {
    return a.scope != b.scope ? a.scope < b.scope : a.field < b.field;
  });
  done(true, std::move(out));
}

}  // namespace inferencegw
