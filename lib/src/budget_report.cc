// The configured budgets and their /admin/budgets rendering.
#include <algorithm>

#include "inferencegw/counter_store.h"
#include "inferencegw/provider.h"
#include "json_writer.h"

namespace inferencegw {

std::vector<ConfiguredBudget> ConfiguredBudgets(const ConfigSet& config, int64_t unix_seconds) {
  std::vector<ConfiguredBudget> out;
  for (const Route& route : config.routes) {
    if (!route.spec.budget.has_value()) continue;
    const BudgetConfig& b = *route.spec.budget;
    out.push_back({"route:" + route.meta.Key(), "route", b.limit, b.per_user, b.period, b.currency,
                   BudgetPeriodBounds(b.period, unix_seconds)});
  }
  for (const ClientKey& key : config.client_keys) {
    if (!key.budget.has_value() || key.budget->limit <= 0) continue;
    const BudgetConfig& b = *key.budget;
    out.push_back({"key:" + key.user, "key", b.limit, 0, b.period, b.currency,
                   BudgetPeriodBounds(b.period, unix_seconds)});
  }
  return out;
}

std::string RenderBudgetsJson(const std::vector<ConfiguredBudget>& budgets,
                              const std::vector<BudgetReading>& readings, std::string_view source,
                              bool store_ok) {
  std::string out;
  internal::JsonWriter w(&out);
  w.BeginObject().Key("store").String(source).Key("store_ok").Bool(store_ok);
  w.Key("budgets").BeginArray();
  for (const ConfiguredBudget& b : budgets) {
    int64_t total = 0;
    std::vector<std::pair<std::string_view, int64_t>> users;
    for (const BudgetReading& r : readings) {
      if (r.scope != b.scope) continue;
      if (r.field == "total") {
        total = r.spent_nanos;
      } else if (r.field.rfind("user:", 0) == 0) {
        users.emplace_back(std::string_view(r.field).substr(5), r.spent_nanos);
      }
    }
    std::sort(users.begin(), users.end(), [](const auto& a, const auto& c) {
      return a.second != c.second ? a.second > c.second : a.first < c.first;
    });
    w.BeginObject()
        .Key("scope")
        .String(b.scope)
        .Key("kind")
        .String(b.kind)
        .Key("period")
        .String(BudgetPeriodName(b.period))
        .Key("currency")
        .String(b.currency)
        .Key("period_start")
        .String(FormatRfc3339(b.bounds.start_unix))
        .Key("resets_at")
        .String(FormatRfc3339(b.bounds.end_unix))
        .Key("spent")
        .String(FormatBudgetAmount(total));
    if (b.limit_nanos > 0) {
      w.Key("limit").String(FormatBudgetAmount(b.limit_nanos));
      w.Key("remaining").String(FormatBudgetAmount(std::max<int64_t>(0, b.limit_nanos - total)));
      w.Key("exhausted").Bool(total >= b.limit_nanos);
    }
    if (b.per_user_nanos > 0) {
      w.Key("per_user_limit").String(FormatBudgetAmount(b.per_user_nanos));
      w.Key("users").BeginArray();
      for (const auto& [user, spent] : users) {
        w.BeginObject()
            .Key("user")
            .String(user)
            .Key("spent")
            .String(FormatBudgetAmount(spent))
            .Key("exhausted")
            .Bool(spent >= b.per_user_nanos)
            .EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  return out;
}

}  // namespace inferencegw
