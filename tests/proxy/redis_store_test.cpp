// Tests for the proxy's Redis counter store (frontends/proxy/redis_store.h) against a real
// redis-server that each case starts on a free loopback port and always stops: admission
// semantics (those of RateLimiter), budgets, key expiry, script reloads, and failures (a killed
// server, a restarted one, a slow one). Fails, saying why, when redis-server is not installed.
#include "redis_store.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <future>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "inferencegw/rate_limiter.h"
#include "redis_scripts.h"
#include "redis_server.h"

namespace inferencegw::proxy {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using testing::RedisServer;
using testing::ReplyPtr;
using testing::WaitUntil;

// A store on `server`, started, with the log lines it writes.
struct StoreUnderTest {
  explicit StoreUnderTest(RedisServer& server, std::chrono::milliseconds timeout = 2000ms,
                          std::string password = "") {
    RedisCounterStore::Options options;
    options.port = server.port();
    options.timeout = timeout;
    options.password = std::move(password);
    store = std::make_unique<RedisCounterStore>(options, registry, [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu);
      lines.emplace_back(line);
    });
    store->Start();
  }
  std::string Log() {
    std::lock_guard<std::mutex> lock(mu);
    std::string all;
    for (const std::string& line : lines) all += line + "\n";
    return all;
  }
  // The value of an unlabelled series, or of `name{labels}`, from the registry's exposition.
  double Metric(const std::string& series) {
    std::istringstream text(registry.RenderPrometheus());
    std::string line;
    while (std::getline(text, line)) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return -1;
  }

  MetricsRegistry registry;
  std::mutex mu;
  std::vector<std::string> lines;
  std::unique_ptr<RedisCounterStore> store;
};

// Admit, waiting for the answer (at most 10 s).
AdmissionVerdict AdmitNow(RedisCounterStore& store, const AdmissionBatch& batch) {
  auto promise = std::make_shared<std::promise<AdmissionVerdict>>();
  auto future = promise->get_future();
  store.Admit(batch, [promise](AdmissionVerdict v) { promise->set_value(std::move(v)); });
  REQUIRE(future.wait_for(10s) == std::future_status::ready);
  return future.get();
}

std::vector<BudgetReading> ReadNow(RedisCounterStore& store,
                                   std::vector<std::pair<std::string, int64_t>> scopes) {
  auto promise = std::make_shared<std::promise<std::vector<BudgetReading>>>();
  auto future = promise->get_future();
  store.ReadBudgets(std::move(scopes), [promise](bool ok, std::vector<BudgetReading> r) {
    CHECK(ok);
    promise->set_value(std::move(r));
  });
  REQUIRE(future.wait_for(10s) == std::future_status::ready);
  return future.get();
}

LimitCheck Requests(std::string name, double per_minute, double burst) {
  LimitCheck c;
  c.name = std::move(name);
  c.policy.requests_per_minute = per_minute;
  c.policy.request_burst = burst;
  c.estimated_tokens = 0;
  return c;
}

LimitCheck Tokens(std::string name, double per_minute, double burst, int64_t estimate) {
  LimitCheck c;
  c.name = std::move(name);
  c.policy.tokens_per_minute = per_minute;
  c.policy.token_burst = burst;
  c.estimated_tokens = estimate;
  return c;
}

AdmissionBatch Batch(std::vector<LimitCheck> limits, std::vector<BudgetCheck> budgets = {}) {
  AdmissionBatch b;
  b.limits = std::move(limits);
  b.budgets = std::move(budgets);
  return b;
}

// The Admission of a one-limit batch that must be allowed.
Admission AdmitAllowed(RedisCounterStore& store, const LimitCheck& limit) {
  AdmissionVerdict v = AdmitNow(store, Batch({limit}));
  REQUIRE(v.store_ok);
  REQUIRE(v.allowed);
  return v.limits[0];
}

void AdjustTokens(RedisCounterStore& store, const LimitCheck& limit, int64_t reserved,
                  int64_t actual) {
  AdjustBatch b;
  b.limits.push_back(LimitAdjust{limit.name, limit.policy, reserved, actual});
  store.Adjust(b);
}

constexpr DurationNs kSecond = kNanosPerSecond;

// ParseRedisUrl: the accepted forms, and clear errors that never repeat the password.
TEST_CASE("redis URLs", "[redis]") {
  auto o = RedisCounterStore::ParseRedisUrl("redis://localhost");
  REQUIRE(o.ok());
  CHECK(o->host == "localhost");
  CHECK(o->port == 6379);
  CHECK(o->db == 0);
  CHECK(o->user.empty());
  CHECK(o->password.empty());
  o = RedisCounterStore::ParseRedisUrl("redis://:s3cr%40t@10.0.0.5:6380/2");
  REQUIRE(o.ok());
  CHECK(o->password == "s3cr@t");
  CHECK(o->host == "10.0.0.5");
  CHECK(o->port == 6380);
  CHECK(o->db == 2);
  o = RedisCounterStore::ParseRedisUrl("redis://bob:p@ss:w/rd@redis.internal/");
  REQUIRE(o.ok());
  CHECK(o->user == "bob");
  CHECK(o->password == "p@ss:w/rd");
  CHECK(o->host == "redis.internal");
  CHECK(o->db == 0);
  o = RedisCounterStore::ParseRedisUrl("redis://[::1]:7000/1");
  REQUIRE(o.ok());
  CHECK(o->host == "::1");
  CHECK(o->port == 7000);
  CHECK(RedisCounterStore::DisplayUrl(*o) == "redis://[::1]:7000/1");
  o = RedisCounterStore::ParseRedisUrl("redis://:hunter2@cache:6379/0");
  REQUIRE(o.ok());
  CHECK(RedisCounterStore::DisplayUrl(*o) == "redis://cache:6379/0");

  auto tls = RedisCounterStore::ParseRedisUrl("rediss://cache:6379");
  REQUIRE_FALSE(tls.ok());
  CHECK(std::string(tls.status().message()).find("TLS") != std::string::npos);
  for (const char* bad :
       {"http://cache", "cache:6379", "redis://", "redis://:6379", "redis://cache:0",
        "redis://cache:65536", "redis://cache:port", "redis://cache:", "redis://cache/x",
        "redis://cache/-1", "redis://user@cache", "redis://cache?db=1", "redis://:@cache",
        "redis://[::1", "redis://[::1]x", "redis://:hunter2@cache:bad", "redis://:a%zz@cache"}) {
    INFO(bad);
    auto parsed = RedisCounterStore::ParseRedisUrl(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(parsed.status().message()).find("hunter2") == std::string::npos);
  }
}

// Two limits in one batch: both take, or (when one refuses) neither does; the verdict names the
// refusing limit and when to retry.
TEST_CASE("an admission takes from every limit or from none", "[redis]") {
  RedisServer server;
  StoreUnderTest t(server);
  const LimitCheck a = Requests("route:default/a", 1, 2);
  const LimitCheck b = Requests("route:default/b", 1, 1);

  AdmissionVerdict v = AdmitNow(*t.store, Batch({a, b}));
  REQUIRE(v.store_ok);
  CHECK(v.allowed);
  REQUIRE(v.limits.size() == 2);
  CHECK(v.limits[0].requests.limit == 2);
  CHECK(v.limits[0].requests.remaining == 1);
  CHECK(v.limits[0].tokens.limit == -1);
  CHECK(v.limits[1].requests.remaining == 0);
  CHECK(v.limits[1].requests.reset > 55 * kSecond);
  CHECK(v.limits[1].requests.reset <= 60 * kSecond);

  v = AdmitNow(*t.store, Batch({a, b}));
  REQUIRE(v.store_ok);
  CHECK_FALSE(v.allowed);
  CHECK(v.refused_limit == 1);
  CHECK(v.refused_budget == -1);
  CHECK(v.limits[0].allowed);
  CHECK(v.limits[0].reserved_tokens == 0);
  CHECK(v.limits[0].requests.remaining == 1);  // nothing taken
  CHECK_FALSE(v.limits[1].allowed);
  CHECK_FALSE(v.limits[1].limited_by_tokens);
  CHECK(v.limits[1].retry_after > 55 * kSecond);
  CHECK(v.limits[1].retry_after <= 60 * kSecond);

  v = AdmitNow(*t.store, Batch({a}));
  CHECK(v.allowed);
  CHECK(v.limits[0].requests.remaining == 0);
  CHECK(v.limits[0].requests.reset > 110 * kSecond);
  CHECK(v.limits[0].requests.reset <= 120 * kSecond);

  // A limit with nothing configured passes without a key in Redis.
  v = AdmitNow(*t.store, Batch({Requests("route:default/open", 0, 0)}));
  CHECK(v.allowed);
  CHECK(v.limits[0].requests.limit == -1);
  CHECK(server.Integer({"EXISTS", "{igw}:rl:route:default/open"}) == 0);
}

// The token check needs min(estimate, burst) and takes exactly that (Admission::reserved_tokens).
TEST_CASE("the token reservation is capped at the burst", "[redis]") {
  RedisServer server;
  StoreUnderTest t(server);
  const Admission a = AdmitAllowed(*t.store, Tokens("key:alice", 60, 100, 500));
  CHECK(a.reserved_tokens == 100);
  CHECK(a.tokens.limit == 100);
  CHECK(a.tokens.remaining == 0);
  CHECK(a.requests.limit == -1);

  AdmissionVerdict v = AdmitNow(*t.store, Batch({Tokens("key:alice", 60, 100, 1)}));
  CHECK_FALSE(v.allowed);
  CHECK(v.refused_limit == 0);
  CHECK(v.limits[0].limited_by_tokens);
  CHECK(v.limits[0].retry_after > 0);
  CHECK(v.limits[0].retry_after <= kSecond);  // one token a second
}

// With rates so slow that the test's own duration refills nothing visible, every decision and
// quota equals the in-memory RateLimiter's at one instant, reconciliations included.
TEST_CASE("decisions match RateLimiter", "[redis]") {
  RedisServer server;
  StoreUnderTest t(server);
  LimitCheck limit = Tokens("route:default/parity", 1, 1000, 0);
  limit.policy.requests_per_minute = 1;
  limit.policy.request_burst = 40;
  RateLimiter local(RateLimiter::Options{.max_buckets = 16, .shards = 1, .reclaim_idle = false});
  const RateLimitKey key{1, 0};
  int allowed = 0;
  for (int i = 0; i < 60; ++i) {
    INFO("step " << i);
    limit.estimated_tokens = i % 7 == 3 ? 1500 : (i * 37) % 120;
    const Admission want = local.Admit(limit.policy, key, limit.estimated_tokens, 0);
    const AdmissionVerdict got = AdmitNow(*t.store, Batch({limit}));
    REQUIRE(got.store_ok);
    CHECK(got.allowed == want.allowed);
    const Admission& a = got.limits[0];
    CHECK(a.limited_by_tokens == want.limited_by_tokens);
    CHECK(a.reserved_tokens == want.reserved_tokens);
    CHECK(a.requests.limit == want.requests.limit);
    CHECK(a.requests.remaining == want.requests.remaining);
    CHECK(a.tokens.limit == want.tokens.limit);
    CHECK(a.tokens.remaining == want.tokens.remaining);
    if (want.allowed && i % 3 == 0) {
      const int64_t actual = i % 2 == 0 ? want.reserved_tokens / 2 : want.reserved_tokens + 300;
      local.Reconcile(limit.policy, key, want.reserved_tokens, actual, 0);
      AdjustTokens(*t.store, limit, want.reserved_tokens, actual);
    }
    allowed += want.allowed ? 1 : 0;
  }
  CHECK(allowed > 5);
  CHECK(allowed < 55);
}

// Adjust gives the unused reservation back, and overuse puts the bucket in debt (down to 150
// million tokens).
TEST_CASE("reconcile corrects the reservation", "[redis]") {
  RedisServer server;
  StoreUnderTest t(server);
  const LimitCheck limit = Tokens("route:default/chat", 60, 1000, 600);
  CHECK(AdmitAllowed(*t.store, limit).tokens.remaining == 400);

  AdjustTokens(*t.store, limit, 600, 100);  // queued before the next Admit: applied first
  const LimitCheck peek = Tokens(limit.name, 60, 1000, 0);
  const int64_t left = AdmitAllowed(*t.store, peek).tokens.remaining;
  CHECK(left >= 900);
  CHECK(left <= 901);

  AdjustTokens(*t.store, limit, 0, 5000);
  AdmissionVerdict v = AdmitNow(*t.store, Batch({Tokens(limit.name, 60, 1000, 10)}));
  CHECK_FALSE(v.allowed);
  CHECK(v.limits[0].tokens.remaining == 0);
  CHECK(v.limits[0].retry_after > 4100 * kSecond);
  CHECK(v.limits[0].retry_after <= 4111 * kSecond);
  CHECK(std::stoll(server.String({"HGET", "{igw}:rl:route:default/chat", "t"})) < 0);

  AdjustTokens(*t.store, limit, 0, int64_t{1} << 50);
  AdmitNow(*t.store, Batch({peek}));
  CHECK(server.String({"HGET", "{igw}:rl:route:default/chat", "t"}) == "-9000000000000");
}

// Budgets pass below their cap, refuse at it, add charges up, and are read back whole.
TEST_CASE("budgets", "[redis]") {
  RedisServer server;
  StoreUnderTest t(server);
  const int64_t end = std::time(nullptr) + 3600;
  const int64_t start = end - 7200;
  const std::string scope = "route:default/chat";
  BudgetCheck total{scope, "total", 1000, start, end, "USD"};
  AdmissionVerdict v = AdmitNow(*t.store, Batch({}, {total}));
  REQUIRE(v.allowed);
  REQUIRE(v.budgets.size() == 1);
  CHECK(v.budgets[0].spent_nanos == 0);
  CHECK(v.budgets[0].cap_nanos == 1000);
  CHECK(v.budgets[0].period_end_unix == end);
  CHECK(server.Integer({"EXISTS", redis::BudgetKey("igw", scope, start)}) == 0);  // read only

  AdjustBatch charges;
  charges.charges.push_back(SpendCharge{scope, "total", 600, start, end});
  charges.charges.push_back(SpendCharge{scope, "user:alice", 250, start, end});
  t.store->Adjust(charges);
  BudgetCheck alice{scope, "user:alice", 300, start, end, "USD"};
  v = AdmitNow(*t.store, Batch({}, {total, alice}));
  CHECK(v.allowed);
  CHECK(v.budgets[0].spent_nanos == 600);
  CHECK(v.budgets[1].spent_nanos == 250);

  charges.charges = {SpendCharge{scope, "total", 400, start, end}};
  t.store->Adjust(charges);
  const LimitCheck limit = Requests("route:default/chat", 1, 1);
  v = AdmitNow(*t.store, Batch({limit}, {alice, total}));
  CHECK_FALSE(v.allowed);
  CHECK(v.refused_limit == -1);
  CHECK(v.refused_budget == 1);
  CHECK(v.limits[0].allowed);
  CHECK(v.budgets[1].spent_nanos == 1000);
  v = AdmitNow(*t.store, Batch({limit}));  // the refused batch took nothing from the limit
  CHECK(v.allowed);
  // Both a limit and a budget refuse: the budget is named, as LocalCounterStore does.
  v = AdmitNow(*t.store, Batch({limit}, {total}));
  CHECK_FALSE(v.allowed);
  CHECK(v.refused_budget == 0);
  CHECK(v.refused_limit == -1);
  CHECK_FALSE(v.limits[0].allowed);

  // Sorted by scope, then field.
  std::vector<BudgetReading> r = ReadNow(*t.store, {{scope, start}, {"key:nobody", start}});
  REQUIRE(r.size() == 2);
  CHECK(r[0].scope == scope);
  CHECK(r[0].field == "total");
  CHECK(r[0].spent_nanos == 1000);
  CHECK(r[1].field == "user:alice");
  CHECK(r[1].spent_nanos == 250);
}

// Every key expires: buckets a second after they would be full, budgets a day after their period.
TEST_CASE("every key carries a TTL", "[redis]") {
  RedisServer server;
  StoreUnderTest t(server);
  AdmitNow(*t.store, Batch({Requests("route:default/a", 60, 10)}));      // full again in 1 s
  AdmitNow(*t.store, Batch({Tokens("route:default/b", 60, 100, 100)}));  // in 100 s
  const int64_t end = std::time(nullptr) + 3600;
  AdjustBatch charges;
  charges.charges.push_back(SpendCharge{"key:alice", "total", 5, end - 7200, end});
  t.store->Adjust(charges);
  AdjustTokens(*t.store, Tokens("route:default/c", 60, 100, 0), 0, 30);  // in 30 s
  ReadNow(*t.store, {{"key:alice", end - 7200}});                        // after the Adjusts

  const long long a = server.Integer({"PTTL", "{igw}:rl:route:default/a"});
  CHECK(a > 1000);
  CHECK(a <= 2000);
  const long long b = server.Integer({"PTTL", "{igw}:rl:route:default/b"});
  CHECK(b > 99000);
  CHECK(b <= 101000);
  const long long c = server.Integer({"PTTL", "{igw}:rl:route:default/c"});
  CHECK(c > 29000);
  CHECK(c <= 31000);
  const long long budget =
      server.Integer({"TTL", redis::BudgetKey("igw", "key:alice", end - 7200)});
  const long long want = end + 86400 - std::time(nullptr);
  CHECK(budget > want - 10);
  CHECK(budget <= want + 1);

  ReplyPtr keys = server.Command({"KEYS", "*"});
  REQUIRE(keys->elements == 4);
  for (size_t i = 0; i < keys->elements; ++i) {
    INFO(keys->element[i]->str);
    CHECK(server.Integer({"PTTL", keys->element[i]->str}) > 0);
  }
}

// A server that lost its scripts (SCRIPT FLUSH, or a restart) gets them again and the call is
// retried once, for admissions and adjustments alike.
TEST_CASE("scripts are loaded again after NOSCRIPT", "[redis]") {
  RedisServer server;
  StoreUnderTest t(server);
  REQUIRE(AdmitNow(*t.store, Batch({Requests("route:default/a", 1, 5)})).allowed);
  server.Command({"SCRIPT", "FLUSH"});
  AdmissionVerdict v = AdmitNow(*t.store, Batch({Requests("route:default/a", 1, 5)}));
  REQUIRE(v.store_ok);
  CHECK(v.limits[0].requests.remaining == 3);
  CHECK(t.store->stats().script_reloads == 1);

  server.Command({"SCRIPT", "FLUSH"});
  AdjustBatch charges;
  const int64_t end = std::time(nullptr) + 3600;
  charges.charges.push_back(SpendCharge{"key:bob", "total", 7, end - 3600, end});
  t.store->Adjust(charges);
  // A retried call runs after the rest of its pipeline: an admission (a script call too) queued
  // behind the adjustment keeps the read behind both.
  REQUIRE(AdmitNow(*t.store, Batch({Requests("route:default/a", 1, 5)})).store_ok);
  std::vector<BudgetReading> r = ReadNow(*t.store, {{"key:bob", end - 3600}});
  REQUIRE(r.size() == 1);
  CHECK(r[0].spent_nanos == 7);
  CHECK(t.store->stats().script_reloads == 2);
  CHECK(t.Metric("inference_gateway_shared_store_errors_total{kind=\"reply\"}") == 0);
}

// A killed server: calls fail at once and the store says it is down; the server back on the same
// port (empty): the store reconnects by itself and counting starts afresh.
TEST_CASE("the store goes down with its server and comes back with it", "[redis]") {
  RedisServer server;
  StoreUnderTest t(server);
  REQUIRE(WaitUntil([&] { return t.store->up(); }));
  CHECK(t.Metric("inference_gateway_shared_store_up") == 1);
  const LimitCheck limit = Requests("route:default/a", 1, 1);
  REQUIRE(AdmitNow(*t.store, Batch({limit})).allowed);
  REQUIRE_FALSE(AdmitNow(*t.store, Batch({limit})).allowed);

  server.Kill();
  const auto before = SteadyClock::now();
  AdmissionVerdict v = AdmitNow(*t.store, Batch({limit}));
  CHECK_FALSE(v.store_ok);
  CHECK(SteadyClock::now() - before < 1s);
  CHECK_FALSE(t.store->up());
  CHECK(t.Metric("inference_gateway_shared_store_up") == 0);
  CHECK_FALSE(AdmitNow(*t.store, Batch({limit})).store_ok);  // down: answered at once
  AdjustTokens(*t.store, Tokens("route:default/t", 60, 100, 0), 0, 5);
  CHECK(t.Metric("inference_gateway_shared_store_dropped_adjustments_total") == 1);
  CHECK(t.Log().find("down: ") != std::string::npos);

  server.Start();
  REQUIRE(WaitUntil([&] { return t.store->up(); }));
  v = AdmitNow(*t.store, Batch({limit}));
  REQUIRE(v.store_ok);
  CHECK(v.allowed);  // a fresh server: a full bucket
  CHECK(t.store->stats().connects == 2);
  CHECK(t.Metric("inference_gateway_shared_store_up") == 1);
  // One line per change of state: up, down, up.
  const std::string name = "shared store redis 127.0.0.1:" + std::to_string(server.port());
  std::lock_guard<std::mutex> lock(t.mu);
  REQUIRE(t.lines.size() == 3);
  CHECK(t.lines[0] == name + " up");
  CHECK(t.lines[1].rfind(name + " down: ", 0) == 0);
  CHECK(t.lines[2] == name + " up");
}

// A server slower than the timeout: the call is answered store_ok=false about when the timeout
// ends, and the store recovers by itself.
TEST_CASE("a slow server fails calls after the timeout", "[redis]") {
  RedisServer server;
  StoreUnderTest t(server, 50ms);
  REQUIRE(WaitUntil([&] { return t.store->up(); }));
  std::thread sleeper([&] { server.Command({"DEBUG", "SLEEP", "0.5"}, /*quiet=*/true); });
  std::this_thread::sleep_for(50ms);  // for the server to begin its sleep
  const auto before = SteadyClock::now();
  AdmissionVerdict v = AdmitNow(*t.store, Batch({Requests("route:default/a", 1, 5)}));
  const auto took = SteadyClock::now() - before;
  sleeper.join();
  CHECK_FALSE(v.store_ok);
  CHECK(took < 1s);
  CHECK(t.Metric("inference_gateway_shared_store_errors_total{kind=\"timeout\"}") >= 1);
  REQUIRE(WaitUntil([&] { return AdmitNow(*t.store, Batch({Requests("x", 1, 5)})).store_ok; }));
}

// Calls queued while a pipeline is out go together in the next one, and concurrent admissions
// against one bucket admit exactly its burst.
TEST_CASE("queued calls share one round trip", "[redis]") {
  RedisServer server;
  StoreUnderTest t(server, 5000ms);
  REQUIRE(WaitUntil([&] { return t.store->up(); }));
  const LimitCheck limit = Requests("route:default/a", 1, 100);
  std::thread sleeper([&] { server.Command({"DEBUG", "SLEEP", "0.3"}, /*quiet=*/true); });
  std::this_thread::sleep_for(50ms);  // for the server to begin its sleep
  const uint64_t trips_before = t.store->stats().round_trips;
  std::mutex mu;
  int answered = 0;
  int allowed = 0;
  int failed = 0;
  for (int i = 0; i < 200; ++i) {
    t.store->Admit(Batch({limit}), [&](AdmissionVerdict v) {
      std::lock_guard<std::mutex> lock(mu);
      ++answered;
      allowed += v.allowed ? 1 : 0;
      failed += v.store_ok ? 0 : 1;
    });
  }
  REQUIRE(WaitUntil([&] {
    std::lock_guard<std::mutex> lock(mu);
    return answered == 200;
  }));
  sleeper.join();
  CHECK(failed == 0);
  CHECK(allowed == 100);
  CHECK(t.store->stats().round_trips - trips_before <= 3);
}

// AUTH with a password: a wrong one keeps the store down with a reason that does not repeat it;
// the right one connects; SELECT puts the keys in the chosen database.
TEST_CASE("password and database", "[redis]") {
  RedisServer server({"--requirepass", "hunter2"});
  server.set_password("hunter2");
  {
    StoreUnderTest wrong(server, 2000ms, "not-it");
    REQUIRE(WaitUntil([&] { return !wrong.Log().empty(); }));
    CHECK_FALSE(wrong.store->up());
    CHECK(wrong.Log().find("down: AUTH:") != std::string::npos);
    CHECK(wrong.Log().find("not-it") == std::string::npos);
    CHECK_FALSE(AdmitNow(*wrong.store, Batch({Requests("a", 1, 1)})).store_ok);
  }
  MetricsRegistry registry;
  RedisCounterStore::Options options = *RedisCounterStore::ParseRedisUrl(
      "redis://:hunter2@127.0.0.1:" + std::to_string(server.port()) + "/3");
  options.prefix = "igw-test";
  RedisCounterStore store(options, registry, nullptr);
  store.Start();
  REQUIRE(AdmitNow(store, Batch({Requests("a", 1, 1)})).allowed);
  CHECK(server.Commands({{"SELECT", "3"}, {"EXISTS", "{igw-test}:rl:a"}})->integer == 1);
  CHECK(server.Integer({"DBSIZE"}) == 0);  // database 0
  store.Stop();
  CHECK_FALSE(AdmitNow(store, Batch({Requests("a", 1, 1)})).store_ok);  // stopped
}

}  // namespace
}  // namespace inferencegw::proxy
