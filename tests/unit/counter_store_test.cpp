// Tests for the counter store seam (counter_store.h) and the admission it drives in Exchange:
// calendar periods, the in-memory store's all-or-nothing batches, spend budgets, client-key
// policies, and the two-phase admission through a shared store with its failure policies.
#include "inferencegw/counter_store.h"

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/config_loader.h"
#include "inferencegw/exchange_report.h"
#include "inferencegw/gateway.h"
#include "inferencegw/provider.h"

namespace inferencegw {
namespace {

constexpr int64_t kNanosPerUnit = 1'000'000'000;  // budget nano-units per currency unit

// 2026-12-03T22:00:00Z, a Thursday.
constexpr int64_t kThursday = 1'796'335'200;

TEST_CASE("budget periods are UTC calendar hours, days, Monday weeks and months", "[budget]") {
  CHECK(BudgetPeriodBounds(BudgetPeriod::kHour, kThursday + 59).start_unix == kThursday);
  CHECK(BudgetPeriodBounds(BudgetPeriod::kHour, kThursday + 59).end_unix == kThursday + 3600);
  const PeriodBounds day = BudgetPeriodBounds(BudgetPeriod::kDay, kThursday);
  CHECK(day.start_unix == kThursday - 22 * 3600);
  CHECK(day.end_unix == kThursday + 2 * 3600);
  const PeriodBounds week = BudgetPeriodBounds(BudgetPeriod::kWeek, kThursday);
  CHECK(week.start_unix == day.start_unix - 3 * 86400);  // Monday 2026-11-30
  CHECK(week.end_unix == week.start_unix + 7 * 86400);
  const PeriodBounds december = BudgetPeriodBounds(BudgetPeriod::kMonth, kThursday);
  CHECK(FormatRfc3339(december.start_unix) == "2026-12-01T00:00:00Z");
  CHECK(FormatRfc3339(december.end_unix) == "2027-01-01T00:00:00Z");
  // 2028-02-15: a leap February.
  const PeriodBounds february = BudgetPeriodBounds(BudgetPeriod::kMonth, 1'834'185'600);
  CHECK(FormatRfc3339(february.start_unix) == "2028-02-01T00:00:00Z");
  CHECK(FormatRfc3339(february.end_unix) == "2028-03-01T00:00:00Z");
}

TEST_CASE("costs count against budgets in nano-units, rounded up", "[budget]") {
  CHECK(PicosToBudgetNanos(0) == 0);
  CHECK(PicosToBudgetNanos(-5) == 0);
  CHECK(PicosToBudgetNanos(1) == 1);
  CHECK(PicosToBudgetNanos(2000) == 2);
  CHECK(PicosToBudgetNanos(2001) == 3);
}

RateLimitPolicy Rpm(int rpm) {
  RateLimitConfig c;
  c.requests_per_minute = rpm;
  return RateLimitPolicy::FromConfig(c);
}

// A refused batch takes nothing: the limit that allowed it before the refusal is refunded.
TEST_CASE("the in-memory store admits a batch all or nothing", "[budget]") {
  LocalCounterStore store;
  AdmissionBatch roomy{{{"a", Rpm(10), 0}}, {}, 0};
  AdmissionBatch both{{{"a", Rpm(10), 0}, {"b", Rpm(1), 0}}, {}, 0};
  REQUIRE(store.AdmitNow(both).allowed);  // a: 9 left, b: 0 left
  const AdmissionVerdict refused = store.AdmitNow(both);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.refused_limit == 1);
  CHECK(refused.refused_budget == -1);
  CHECK(refused.limits[1].retry_after > 0);
  // `a` still has 9: the refused batch gave its request back.
  CHECK(store.AdmitNow(roomy).limits[0].requests.remaining == 8);
}

TEST_CASE("budgets pass below their cap and refuse at it", "[budget]") {
  LocalCounterStore store;
  const BudgetCheck check{"route:default/chat", "total", 5 * kNanosPerUnit, 0, 86400, "USD"};
  AdmissionBatch batch{{{"a", Rpm(100), 0}}, {check}, 0};
  REQUIRE(store.AdmitNow(batch).allowed);
  AdjustBatch spend{{}, {{check.scope, check.field, 5 * kNanosPerUnit - 1, 0, 86400}}, 0};
  store.Adjust(spend);
  const AdmissionVerdict almost = store.AdmitNow(batch);
  CHECK(almost.allowed);
  CHECK(almost.budgets[0].spent_nanos == 5 * kNanosPerUnit - 1);
  store.Adjust({{}, {{check.scope, check.field, 1, 0, 86400}}, 0});
  const AdmissionVerdict spent = store.AdmitNow(batch);
  CHECK_FALSE(spent.allowed);
  CHECK(spent.refused_budget == 0);
  CHECK(spent.limits[0].requests.limit == -1);  // the limit was not even asked
  // Another period starts from zero.
  BudgetCheck tomorrow = check;
  tomorrow.period_start_unix = 86400;
  tomorrow.period_end_unix = 2 * 86400;
  CHECK(store.AdmitNow({{}, {tomorrow}, 0}).allowed);
  std::vector<BudgetReading> readings;
  store.ReadBudgets({{check.scope, 0}},
                    [&](bool ok, std::vector<BudgetReading> r) {
                      CHECK(ok);
                      readings = std::move(r);
                    });
  REQUIRE(readings.size() == 1);
  CHECK(readings[0].spent_nanos == 5 * kNanosPerUnit);
}

// One priced backend ($1 per 1000 output tokens) behind a route with a $5 daily budget and a
// $2 per-user daily budget.
constexpr std::string_view kConfig = R"(
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: priced}
spec:
  type: external
  external: {url: "http://127.0.0.1:1/v1", provider: openai}
  cost: {inputTokenCost: "0", outputTokenCost: "1.00"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: chat}
spec:
  default: true
  defaultBackend: {name: priced}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: other}
spec:
  defaultBackend: {name: priced}
)";

struct Fixture {
  explicit Fixture(std::optional<BudgetConfig> budget, std::vector<ClientKey> keys = {}) {
    absl::StatusOr<ConfigSet> loaded = LoadConfigFromString(kConfig);
    REQUIRE(loaded.ok());
    config = *std::move(loaded);
    config.routes[0].spec.budget = budget;
    config.client_keys = std::move(keys);
    GatewayOptions options;
    options.clock = &clock;
    absl::StatusOr<std::unique_ptr<Gateway>> created = Gateway::Create(config, options);
    REQUIRE(created.ok());
    gateway = *std::move(created);
    view.path = "/v1/chat/completions";
    view.model = "gpt-4o";
  }

  // Serves one request that reports `output_tokens` of output.
  BeginStatus Serve(int64_t output_tokens, std::string_view user = "") {
    headers.clear();
    if (!user.empty()) headers.push_back({"x-user-id", user});
    view.headers = headers;
    Exchange ex(*gateway, 7, clock.Now());
    const BeginStatus status = ex.Begin(view, 100);
    if (status != BeginStatus::kOk) return status;
    REQUIRE(ex.NextAttempt(clock.Now()).has_value());
    ex.AttemptCommitted(200, clock.Now());
    FinishInfo info;
    info.usage.output_tokens = output_tokens;
    info.usage.present = true;
    ex.Finish(info, clock.Now());
    return status;
  }

  SimulatedClock clock{0, kThursday * kNanosPerSecond};
  ConfigSet config;
  std::unique_ptr<Gateway> gateway;
  std::vector<Header> headers;
  RequestView view;
};

BudgetConfig DailyBudget(int64_t limit_units, int64_t per_user_units) {
  BudgetConfig b;
  b.limit = limit_units * kNanosPerUnit;
  b.per_user = per_user_units * kNanosPerUnit;
  b.period = BudgetPeriod::kDay;
  return b;
}

// Spend is charged from usage; the request that would start past the budget is refused, and the
// budget comes back the next day.
TEST_CASE("a route's budget refuses once spent and resets with its period", "[budget]") {
  Fixture f(DailyBudget(5, 0));
  for (int i = 0; i < 2; ++i) CHECK(f.Serve(2000) == BeginStatus::kOk);  // $2 each
  CHECK(f.Serve(2000) == BeginStatus::kOk);  // starts at $4 spent: admitted, ends at $6
  Exchange refused(*f.gateway, 8, f.clock.Now());
  REQUIRE(refused.Begin(f.view, 100) == BeginStatus::kBudgetExceeded);
  const std::optional<Exchange::BudgetStatus> b = refused.budget();
  REQUIRE(b.has_value());
  CHECK(b->budget == "route");
  CHECK(b->spent_nanos == 6 * kNanosPerUnit);
  CHECK(b->cap_nanos == 5 * kNanosPerUnit);
  CHECK(FormatRfc3339(b->period_end_unix) == "2026-12-04T00:00:00Z");
  const std::string body = BudgetExceededErrorBody(ClientApi::kChatCompletions, *b);
  CHECK(body.find(R"("type":"insufficient_quota")") != std::string::npos);
  CHECK(body.find(R"("code":"budget_exceeded")") != std::string::npos);
  HeaderList headers;
  AppendBudgetHeaders(refused, &headers);
  CHECK(headers.size() == 4);
  f.clock.AdvanceBy(Seconds(2 * 3600));  // 2026-12-04T00:00:00Z
  CHECK(f.Serve(10) == BeginStatus::kOk);
}

TEST_CASE("a per-user budget refuses one user and not another", "[budget]") {
  Fixture f(DailyBudget(0, 2));
  CHECK(f.Serve(2000, "alice") == BeginStatus::kOk);
  CHECK(f.Serve(10, "alice") == BeginStatus::kBudgetExceeded);
  CHECK(f.Serve(10, "bob") == BeginStatus::kOk);
  CHECK(f.Serve(10) == BeginStatus::kOk);  // no user: only the (uncapped) total applies
}

ClientKey Key(std::string user) {
  ClientKey k;
  k.user = std::move(user);
  k.sha256_hex = std::string(64, 'a');
  return k;
}

TEST_CASE("a key's routes and models bound what it may ask for", "[keys]") {
  ClientKey key = Key("alice");
  key.routes = {"default/other"};
  key.models = {"claude-*"};
  Fixture f(std::nullopt, {key});
  const ClientKey& held = f.config.client_keys[0];
  f.view.authenticated = true;
  f.view.authenticated_user = "alice";
  f.view.client_key = &held;
  {
    Exchange ex(*f.gateway, 7, 0);
    CHECK(ex.Begin(f.view, 0) == BeginStatus::kForbidden);  // the default route is not listed
    CHECK(ex.refusal() == "route");
  }
  const std::vector<Header> named{{"x-inferencegw-route", "other"}};
  f.view.headers = named;
  {
    Exchange ex(*f.gateway, 7, 0);
    CHECK(ex.Begin(f.view, 0) == BeginStatus::kForbidden);  // the route is, the model is not
    CHECK(ex.refusal() == "model");
  }
  f.view.model = "claude-3-haiku";
  Exchange ex(*f.gateway, 7, 0);
  CHECK(ex.Begin(f.view, 0) == BeginStatus::kOk);
}

TEST_CASE("a key's own limit and budget apply on every route", "[keys]") {
  ClientKey key = Key("alice");
  key.requests_per_minute = 2;
  BudgetConfig budget;
  budget.limit = 1 * kNanosPerUnit;
  key.budget = budget;
  Fixture f(std::nullopt, {key});
  f.view.authenticated = true;
  f.view.authenticated_user = "alice";
  f.view.client_key = &f.config.client_keys[0];
  CHECK(f.Serve(10) == BeginStatus::kOk);
  CHECK(f.Serve(10) == BeginStatus::kOk);
  Exchange limited(*f.gateway, 7, f.clock.Now());
  REQUIRE(limited.Begin(f.view, 0) == BeginStatus::kRateLimited);
  CHECK(limited.limit_scope() == "key");
  f.clock.AdvanceBy(Seconds(60));
  CHECK(f.Serve(1000) == BeginStatus::kOk);  // $1: the key's budget is now spent
  Exchange broke(*f.gateway, 7, f.clock.Now());
  REQUIRE(broke.Begin(f.view, 0) == BeginStatus::kBudgetExceeded);
  CHECK(broke.budget()->budget == "key");
}

// A shared store that answers when told to, and records what it was asked.
class ManualStore : public CounterStore {
 public:
  void Admit(const AdmissionBatch& batch, std::function<void(AdmissionVerdict)> done) override {
    asked = batch;
    pending = std::move(done);
  }
  void Adjust(const AdjustBatch& batch) override { adjusted.push_back(batch); }
  void ReadBudgets(std::vector<std::pair<std::string, int64_t>>,
                   std::function<void(bool, std::vector<BudgetReading>)> done) override {
    done(false, {});
  }
  bool synchronous() const override { return false; }

  AdmissionBatch asked;
  std::function<void(AdmissionVerdict)> pending;
  std::vector<AdjustBatch> adjusted;
};

TEST_CASE("a shared store admits in two phases and its failure follows the policy", "[store]") {
  Fixture f(DailyBudget(5, 0));
  auto store = std::make_shared<ManualStore>();
  f.gateway->SetSharedStore(store, StoreFailurePolicy::kFailOpen);

  Exchange ex(*f.gateway, 7, 0);
  REQUIRE(ex.Begin(f.view, 100) == BeginStatus::kPending);
  CHECK(ex.admission_batch().budgets.size() == 1);
  CHECK(ex.admission_batch().budgets[0].scope == "route:default/chat");
  CHECK_FALSE(ex.NextAttempt(0).has_value());  // nothing is sent before the verdict
  AdmissionVerdict yes;
  yes.budgets.push_back({0, 5 * kNanosPerUnit, 0});
  REQUIRE(ex.CompleteAdmission(yes) == BeginStatus::kOk);
  REQUIRE(ex.NextAttempt(0).has_value());
  ex.AttemptCommitted(200, 0);
  FinishInfo info;
  info.usage.output_tokens = 1000;
  info.usage.present = true;
  ex.Finish(info, 0);
  REQUIRE(store->adjusted.size() == 1);  // the spend goes to the store that admitted it
  REQUIRE(store->adjusted[0].charges.size() == 1);
  CHECK(store->adjusted[0].charges[0].nanos == kNanosPerUnit);

  AdmissionVerdict down;
  down.store_ok = false;
  Exchange open(*f.gateway, 8, 0);
  REQUIRE(open.Begin(f.view, 100) == BeginStatus::kPending);
  CHECK(open.CompleteAdmission(down) == BeginStatus::kOk);  // failOpen: local counters
  CHECK(open.admitted_locally_after_store_failure());

  AdmissionVerdict exhausted;
  exhausted.allowed = false;
  exhausted.refused_budget = 0;
  exhausted.budgets.push_back({5 * kNanosPerUnit, 5 * kNanosPerUnit, 0});
  Exchange broke(*f.gateway, 9, 0);
  REQUIRE(broke.Begin(f.view, 100) == BeginStatus::kPending);
  CHECK(broke.CompleteAdmission(exhausted) == BeginStatus::kBudgetExceeded);

  f.gateway->SetSharedStore(store, StoreFailurePolicy::kFailClosed);
  Exchange closed(*f.gateway, 10, 0);
  REQUIRE(closed.Begin(f.view, 100) == BeginStatus::kPending);
  CHECK(closed.CompleteAdmission(down) == BeginStatus::kStoreUnavailable);
}

}  // namespace
}  // namespace inferencegw
