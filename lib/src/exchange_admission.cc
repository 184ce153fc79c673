// Exchange admission beyond the route's own rate limit: client-key policies, spend budgets,
// and admission through a (possibly shared, asynchronous) CounterStore.
#include <algorithm>
#include <limits>

#include "fmt/format.h"
#include "inferencegw/gateway.h"

namespace inferencegw {

namespace {

constexpr std::string_view kRouteScope = "route:";
constexpr std::string_view kKeyScope = "key:";
// The cap of a counter that is only counted, never enforced.
constexpr int64_t kUncapped = std::numeric_limits<int64_t>::max();

std::string Concat(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(a.size() + b.size());
  out.append(a).append(b);
  return out;
}

}  // namespace

bool Exchange::KeyAllows(const RequestView& request) {
  const ClientKey& key = *client_key_;
  const CompiledRoute& route = *decision_.route;
  if (!key.routes.empty() &&
      std::find(key.routes.begin(), key.routes.end(), route.key) == key.routes.end()) {
    refusal_ = "route";
    return false;
  }
  if (!key.models.empty() &&
      std::none_of(key.models.begin(), key.models.end(),
                   [&](const std::string& glob) { return GlobMatch(glob, request.model); })) {
    refusal_ = "model";
    return false;
  }
  return true;
}

void Exchange::BuildBatch(int64_t estimated_tokens) {
  batch_path_ = true;
  const CompiledRoute& route = *decision_.route;
  const Clock& clock = gateway_.clock();
  batch_.now = started_;
  // The wall time of `started_`, for calendar periods (simulated clocks included).
  const int64_t unix_nanos = clock.UnixNanos() - clock.Now() + started_;
  const int64_t unix_now = unix_nanos / kNanosPerSecond - (unix_nanos % kNanosPerSecond < 0);

  if (route.rate_limited) {
    route_limit_ = static_cast<int>(batch_.limits.size());
    std::string name = Concat(kRouteScope, route.key);
    if (route.rate_limit.per_user) {
      name += fmt::format(":user:{:016x}", decision_.user_hash);
    }
    RateLimitPolicy policy = route.rate_limit;
    policy.per_user = false;  // folded into the name
    batch_.limits.push_back({std::move(name), policy, estimated_tokens});
  }
  if (client_key_ != nullptr &&
      (client_key_->requests_per_minute > 0 || client_key_->tokens_per_minute > 0)) {
    RateLimitConfig config;
    config.requests_per_minute = client_key_->requests_per_minute;
    config.tokens_per_minute = client_key_->tokens_per_minute;
    batch_.limits.push_back({Concat(kKeyScope, client_key_->user),
                             RateLimitPolicy::FromConfig(config), estimated_tokens});
  }

  auto add_budget = [&](std::string_view kind, std::string scope, std::string field,
                        int64_t cap, const BudgetConfig& config) {
    const PeriodBounds bounds = BudgetPeriodBounds(config.period, unix_now);
    batch_.budgets.push_back({std::move(scope), std::move(field), cap, bounds.start_unix,
                              bounds.end_unix, config.currency});
    budget_kinds_.push_back(kind);
  };
  if (const std::optional<BudgetConfig>& b = route.config->spec.budget; b.has_value()) {
    // The route's total is always counted (for /admin/budgets), capped only when limit is set.
    add_budget("route", Concat(kRouteScope, route.key), "total",
               b->limit > 0 ? b->limit : kUncapped, *b);
    if (b->per_user > 0 && !decision_.user_key.empty()) {
      add_budget("user", Concat(kRouteScope, route.key), Concat("user:", decision_.user_key),
                 b->per_user, *b);
    }
  }
  if (client_key_ != nullptr && client_key_->budget.has_value() &&
      client_key_->budget->limit > 0) {
    add_budget("key", Concat(kKeyScope, client_key_->user), "total", client_key_->budget->limit,
               *client_key_->budget);
  }
}

BeginStatus Exchange::ApplyVerdict(AdmissionVerdict verdict) {
  verdict_ = std::move(verdict);
  // A store's answer always has one entry per check; be safe against one that does not.
  verdict_.limits.resize(batch_.limits.size());
  verdict_.budgets.resize(batch_.budgets.size());
  if (route_limit_ >= 0) admission_ = verdict_.limits[route_limit_];
  const CompiledRoute& route = *decision_.route;
  if (!verdict_.allowed) {
    const bool metrics = gateway_.metrics_enabled();
    if (verdict_.refused_budget >= 0 &&
        static_cast<size_t>(verdict_.refused_budget) < batch_.budgets.size()) {
      if (metrics) {
        gateway_.metrics()
            .budget_exceeded_total->GetCounter({route.key, budget_kinds_[verdict_.refused_budget]})
            ->Inc();
      }
      return begin_status_ = BeginStatus::kBudgetExceeded;
    }
    const int refused = verdict_.refused_limit >= 0 &&
                                static_cast<size_t>(verdict_.refused_limit) < batch_.limits.size()
                            ? verdict_.refused_limit
                            : 0;
    if (!batch_.limits.empty()) admission_ = verdict_.limits[refused];
    admission_.allowed = false;
    const bool key_limit = refused != route_limit_;
    if (key_limit) limit_scope_ = "key";
    if (metrics) {
      std::string_view limit = admission_.limited_by_tokens ? "tokens" : "requests";
      if (key_limit) limit = admission_.limited_by_tokens ? "key_tokens" : "key_requests";
      gateway_.metrics().rate_limit_hits_total->GetCounter({route.key, limit})->Inc();
    }
    return begin_status_ = BeginStatus::kRateLimited;
  }
  return Admitted();
}

BeginStatus Exchange::CompleteAdmission(AdmissionVerdict verdict) {
  if (begin_status_ != BeginStatus::kPending || finished_) return begin_status_;
  if (!verdict.store_ok) {
    store_failed_ = true;
    const bool closed = gateway_.store_failure_policy() == StoreFailurePolicy::kFailClosed;
    if (gateway_.metrics_enabled()) {
      gateway_.metrics()
          .shared_store_fallbacks_total->GetCounter({closed ? "fail_closed" : "fail_open"})
          ->Inc();
    }
    if (closed) return begin_status_ = BeginStatus::kStoreUnavailable;
    return ApplyVerdict(gateway_.local_store().AdmitNow(batch_));
  }
  via_shared_store_ = true;
  return ApplyVerdict(std::move(verdict));
}

std::optional<Exchange::BudgetStatus> Exchange::budget() const {
  if (batch_.budgets.empty() || verdict_.budgets.size() != batch_.budgets.size()) {
    return std::nullopt;
  }
  std::optional<size_t> pick;
  if (verdict_.refused_budget >= 0 &&
      static_cast<size_t>(verdict_.refused_budget) < batch_.budgets.size()) {
    pick = static_cast<size_t>(verdict_.refused_budget);
  } else {
    for (size_t i = 0; i < batch_.budgets.size(); ++i) {
      if (batch_.budgets[i].cap_nanos == kUncapped) continue;
      const BudgetState& a = verdict_.budgets[i];
      if (!pick.has_value() ||
          batch_.budgets[i].cap_nanos - a.spent_nanos <
              batch_.budgets[*pick].cap_nanos - verdict_.budgets[*pick].spent_nanos) {
        pick = i;
      }
    }
  }
  if (!pick.has_value()) return std::nullopt;
  const BudgetState& s = verdict_.budgets[*pick];
  const BudgetCheck& b = batch_.budgets[*pick];
  return BudgetStatus{budget_kinds_[*pick], b.cap_nanos, s.spent_nanos, b.period_end_unix,
                      b.currency};
}

void Exchange::AdjustCounters(const Usage& usage, TimeNs now) {
  if (!batch_path_ || begin_status_ != BeginStatus::kOk) return;
  AdjustBatch adjust;
  adjust.now = now;
  for (size_t i = 0; i < batch_.limits.size(); ++i) {
    const LimitCheck& limit = batch_.limits[i];
    if (!(limit.policy.tokens_per_minute > 0)) continue;
    const int64_t reserved = verdict_.limits[i].reserved_tokens;
    const int64_t actual = usage.present ? usage.total() : reserved;
    if (actual != reserved) adjust.limits.push_back({limit.name, limit.policy, reserved, actual});
  }
  if (result_.cost_known && result_.cost > 0) {
    const int64_t nanos = PicosToBudgetNanos(result_.cost);
    for (const BudgetCheck& b : batch_.budgets) {
      if (b.currency != result_.currency) continue;
      adjust.charges.push_back({b.scope, b.field, nanos, b.period_start_unix, b.period_end_unix});
    }
  }
  if (adjust.limits.empty() && adjust.charges.empty()) return;
  if (via_shared_store_ && gateway_.shared_store() != nullptr) {
    gateway_.shared_store()->Adjust(adjust);
  } else {
    gateway_.local_store().Adjust(adjust);
  }
}

}  // namespace inferencegw
