// Tests for the compiled RouteTable (route_table.h): selection, rules, splits, experiments,
// plans, health skipping, panic mode, compilation errors, and the seed README's examples.
#include "inferencegw/route_table.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "inferencegw/clock.h"
#include "inferencegw/config.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/health_tracker.h"
#include "inferencegw/stable_hash.h"

namespace inferencegw {
namespace {

Backend External(const std::string& name, int priority = 0, const std::string& ns = "default") {
  Backend b;
  b.meta.name = name;
  b.meta.namespace_ = ns;
  b.spec.type = BackendType::kExternal;
  b.spec.external = ExternalBackend{};
  b.spec.external->url = "https://" + name + ".example.com/v1";
  b.spec.priority = priority;
  return b;
}

Route MakeRoute(const std::string& name, const std::string& ns = "default") {
  Route r;
  r.meta.name = name;
  r.meta.namespace_ = ns;
  return r;
}

RouteRule Rule(std::vector<BackendRef> backends, std::map<std::string, std::string> headers = {}) {
  RouteRule rule;
  rule.backends = std::move(backends);
  rule.match.headers = std::move(headers);
  return rule;
}

std::shared_ptr<const RouteTable> MustCreate(const ConfigSet& config, HealthTracker& health) {
  absl::StatusOr<std::shared_ptr<const RouteTable>> table = RouteTable::Create(config, health);
  INFO(table.status().ToString());
  REQUIRE(table.ok());
  return *table;
}

// A request with owned headers, so tests can build views in one line.
struct Request {
  std::vector<Header> headers;
  RequestView view;

  explicit Request(std::initializer_list<Header> h = {}, std::string_view model = "",
                   std::string_view path = "/v1/chat/completions")
      : headers(h) {
    view.headers = headers;
    view.model = model;
    view.path = path;
  }
  Request(const Request&) = delete;  // `view` points into `headers`
  Request& operator=(const Request&) = delete;
};

std::vector<std::string> PlanNames(const RouteTable& table, const Decision& d) {
  std::vector<std::string> names;
  for (BackendIndex b : d.plan.backends) names.push_back(table.backend(b).config->meta.name);
  return names;
}

std::string Name(const RouteTable& table, BackendIndex b) {
  return b == kNoBackend ? "<none>" : table.backend(b).config->meta.name;
}

BackendHealth& HealthOf(const RouteTable& table, const std::string& key) {
  std::optional<BackendIndex> b = table.FindBackend(key);
  REQUIRE(b.has_value());
  return *table.backend(*b).health;
}

// Makes a backend probe-unhealthy: failureThreshold (default 3) failed probes.
void FailProbes(BackendHealth& h, TimeNs now, int n = 3) {
  for (int i = 0; i < n; ++i) h.RecordProbe(false, now);
}

// Opens a backend's breaker: consecutiveFailures (default 5) failed requests in a row.
void OpenBreaker(BackendHealth& h, TimeNs now, int n = 5) {
  for (int i = 0; i < n; ++i) {
    REQUIRE(h.TryAcquire(now));
    h.Release({FailureKind::kStatus5xx, Milliseconds(10)}, now);
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The seed README's chatbot example, built in code.
ConfigSet SeedLikeConfig() {
  ConfigSet c;
  c.backends.push_back(External("openai-gpt4"));
  c.backends.push_back(External("anthropic-claude", 1));
  c.backends.back().spec.external->provider = Provider::kAnthropic;
  Backend mistral;
  mistral.meta.name = "local-mistral";
  mistral.spec.type = BackendType::kKServe;
  mistral.spec.kserve = KServeBackend{};
  mistral.spec.kserve->service_name = "mistral-7b";
  mistral.spec.priority = 2;
  c.backends.push_back(mistral);
  Route r = MakeRoute("chatbot-route");
  r.spec.default_backend = BackendRef{"local-mistral", 100};
  r.spec.rules.push_back(Rule({{"openai-gpt4", 100}}, {{"x-user-tier", "premium"}}));
  r.spec.fallback = FallbackConfig{};
  r.spec.fallback->backends = {"local-mistral", "anthropic-claude", "openai-gpt4"};
  r.spec.fallback->timeout_seconds = 10;
  c.routes.push_back(r);
  return c;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Matching primitives

// GlobMatch: '*' any run, '?' one character, whole-text matching, no pathological blowup.
TEST_CASE("GlobMatch", "[route_table]") {
  CHECK(GlobMatch("gpt-4*", "gpt-4"));
  CHECK(GlobMatch("gpt-4*", "gpt-4o-mini"));
  CHECK_FALSE(GlobMatch("gpt-4*", "gpt-3.5"));
  CHECK(GlobMatch("*", ""));
  CHECK(GlobMatch("*", "anything"));
  CHECK(GlobMatch("", ""));
  CHECK_FALSE(GlobMatch("", "x"));
  CHECK(GlobMatch("claude-?-*", "claude-3-opus"));
  CHECK_FALSE(GlobMatch("claude-?-*", "claude-35-opus"));
  CHECK(GlobMatch("*-instruct", "mistral-7b-instruct"));
  CHECK_FALSE(GlobMatch("*-instruct", "mistral-7b-instruct-v2"));
  CHECK(GlobMatch("a*b*c", "aXXbYYbZZc"));
  CHECK_FALSE(GlobMatch("a*b*c", "aXXbYYbZZ"));
  CHECK(GlobMatch("**x**", "abxcd"));
  CHECK_FALSE(GlobMatch("gpt", "GPT"));  // case-sensitive
  const std::string long_a(5000, 'a');
  CHECK_FALSE(GlobMatch("*a*a*a*a*a*a*b", long_a));  // completes quickly (iterative)
  CHECK(GlobMatch("*a*a*a*a*a*a*a", long_a));
}

// PathPrefixMatch respects segment boundaries unless the prefix ends in '/'.
TEST_CASE("PathPrefixMatch", "[route_table]") {
  CHECK(PathPrefixMatch("", "/anything"));
  CHECK(PathPrefixMatch("/v1", "/v1"));
  CHECK(PathPrefixMatch("/v1", "/v1/chat/completions"));
  CHECK_FALSE(PathPrefixMatch("/v1", "/v1beta/chat"));
  CHECK_FALSE(PathPrefixMatch("/v1/chat", "/v1"));
  CHECK(PathPrefixMatch("/v1/", "/v1/chat"));
  CHECK(PathPrefixMatch("/v1/c", "/v1/c/x"));
  CHECK_FALSE(PathPrefixMatch("/v1/", "/v1"));
  CHECK(PathPrefixMatch("/", "/v1"));
}

// FindHeader compares names case-insensitively and returns the first match.
TEST_CASE("RequestView::FindHeader is case-insensitive", "[route_table]") {
  Request r({{"Content-Type", "application/json"}, {"X-User-ID", "alice"}, {"x-user-id", "bob"}});
  CHECK(r.view.FindHeader("x-user-id") == std::optional<std::string_view>("alice"));
  CHECK(r.view.FindHeader("content-type") == std::optional<std::string_view>("application/json"));
  CHECK_FALSE(r.view.FindHeader("x-user").has_value());
}

// Backend URLs follow the in-cluster conventions unless an explicit url is set.
TEST_CASE("ResolveRootUrl and ResolveApiBaseUrl", "[route_table]") {
  Backend ks;
  ks.meta.name = "m";
  ks.meta.namespace_ = "ml";
  ks.spec.type = BackendType::kKServe;
  ks.spec.kserve = KServeBackend{};
  ks.spec.kserve->service_name = "mistral-7b";
  CHECK(ResolveRootUrl(ks) == "http://mistral-7b-predictor.ml.svc.cluster.local");
  CHECK(ResolveApiBaseUrl(ks) == "http://mistral-7b-predictor.ml.svc.cluster.local/openai/v1");
  ks.spec.kserve->namespace_ = "serving";
  ks.spec.kserve->url = "http://127.0.0.1:9000/";
  ks.spec.kserve->openai_path_prefix = "";
  CHECK(ResolveRootUrl(ks) == "http://127.0.0.1:9000");
  CHECK(ResolveApiBaseUrl(ks) == "http://127.0.0.1:9000/v1");

  Backend k8s;
  k8s.meta.name = "v";
  k8s.meta.namespace_ = "ml";
  k8s.spec.type = BackendType::kKubernetes;
  k8s.spec.kubernetes = KubernetesBackend{};
  k8s.spec.kubernetes->service_name = "vllm";
  CHECK(ResolveRootUrl(k8s) == "http://vllm.ml.svc.cluster.local:8080");
  CHECK(ResolveApiBaseUrl(k8s) == "http://vllm.ml.svc.cluster.local:8080/v1");
  k8s.spec.kubernetes->namespace_ = "other";
  k8s.spec.kubernetes->port = 8000;
  CHECK(ResolveRootUrl(k8s) == "http://vllm.other.svc.cluster.local:8000");

  Backend ext = External("openai");
  ext.spec.external->url = "https://api.openai.com/v1/";
  CHECK(ResolveRootUrl(ext) == "https://api.openai.com/v1");
  CHECK(ResolveApiBaseUrl(ext) == "https://api.openai.com/v1");
}

// DecisionStatusName names every status.
TEST_CASE("DecisionStatusName", "[route_table]") {
  CHECK(DecisionStatusName(DecisionStatus::kOk) == "ok");
  CHECK(DecisionStatusName(DecisionStatus::kUnknownRoute) == "unknown_route");
  CHECK(DecisionStatusName(DecisionStatus::kNoRoute) == "no_route");
  CHECK(DecisionStatusName(DecisionStatus::kNoBackend) == "no_backend");
}

// ---------------------------------------------------------------------------------------------
// Compilation

// Compiled backends carry keys, formats, URLs, models, API keys from Secrets, prices, timeouts.
TEST_CASE("Create compiles backends", "[route_table]") {
  ConfigSet c = SeedLikeConfig();
  c.backends[0].spec.external->model = "gpt-4";
  c.backends[0].spec.external->api_key_secret = SecretKeySelector{"openai-credentials", "api-key"};
  c.backends[0].spec.cost = CostConfig{};
  c.backends[0].spec.cost->input_token_cost = 30'000'000;
  c.backends[0].spec.timeout_seconds = 30;
  Secret s;
  s.meta.name = "openai-credentials";
  s.data["api-key"] = "sk-test";
  c.secrets.push_back(s);
  HealthTracker health;
  auto table = MustCreate(c, health);
  REQUIRE(table->backends().size() == 3);
  const CompiledBackend& gpt = table->backend(*table->FindBackend("default/openai-gpt4"));
  CHECK(gpt.key == "default/openai-gpt4");
  CHECK(gpt.config == &table->config().backends[0]);
  CHECK(gpt.format == WireFormat::kOpenAI);
  CHECK(gpt.api_base_url == "https://openai-gpt4.example.com/v1");
  CHECK(gpt.model == "gpt-4");
  CHECK(gpt.api_key == "sk-test");
  CHECK(gpt.has_cost);
  CHECK(gpt.prices.input == 30'000'000);
  CHECK(gpt.timeout == Seconds(30));
  CHECK(gpt.health == health.Get("default/openai-gpt4", c.backends[0].spec));
  const CompiledBackend& claude = table->backend(*table->FindBackend("default/anthropic-claude"));
  CHECK(claude.provider == Provider::kAnthropic);
  CHECK(claude.format == WireFormat::kAnthropic);
  CHECK(claude.api_key.empty());
  CHECK_FALSE(claude.has_cost);
  CHECK(claude.priority == 1);
  const CompiledBackend& mistral = table->backend(*table->FindBackend("default/local-mistral"));
  CHECK(mistral.type == BackendType::kKServe);
  CHECK(mistral.provider == Provider::kOpenAI);
  CHECK(mistral.root_url == "http://mistral-7b-predictor.default.svc.cluster.local");
  CHECK_FALSE(table->FindBackend("default/nope").has_value());
  CHECK_FALSE(table->FindBackend("local-mistral").has_value());
}

// Compiled routes: keys, hash, user header, rate limit, retry policy and the chain in order.
TEST_CASE("Create compiles routes", "[route_table]") {
  ConfigSet c = SeedLikeConfig();
  c.routes[0].spec.rate_limit = RateLimitConfig{};
  c.routes[0].spec.rate_limit->requests_per_minute = 100;
  c.routes[0].spec.rate_limit->per_user = true;
  c.routes[0].spec.rate_limit->user_header = "X-Customer";
  HealthTracker health;
  auto table = MustCreate(c, health);
  const CompiledRoute* route = table->FindRoute("default/chatbot-route");
  REQUIRE(route != nullptr);
  CHECK(route->key == "default/chatbot-route");
  CHECK(route->config == &table->config().routes[0]);
  CHECK(route->route_hash == StableHash64("default/chatbot-route"));
  CHECK(route->rule_count() == 1);
  CHECK(Name(*table, route->default_backend) == "local-mistral");
  CHECK(route->user_header == "x-customer");
  CHECK(route->rate_limited);
  CHECK(route->rate_limit.per_user);
  REQUIRE(route->fallback_chain.size() == 3);
  CHECK(Name(*table, route->fallback_chain[0]) == "local-mistral");
  CHECK(Name(*table, route->fallback_chain[1]) == "anthropic-claude");
  CHECK(Name(*table, route->fallback_chain[2]) == "openai-gpt4");
  CHECK(route->retry.attempt_timeout == Seconds(10));
  CHECK(route->retry.deadline == Seconds(30));  // 3 backends x 10 s, no retries
  CHECK(table->FindRoute("chatbot-route") == nullptr);
}

// Invalid configurations fail with InvalidArgument that names the problem.
TEST_CASE("Create rejects bad configuration", "[route_table]") {
  HealthTracker health;
  SECTION("unknown backend in a rule") {
    ConfigSet c = SeedLikeConfig();
    c.routes[0].spec.rules[0].backends[0].name = "claude";
    auto table = RouteTable::Create(c, health);
    REQUIRE_FALSE(table.ok());
    CHECK(table.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(table.status().message()).find("claude") != std::string::npos);
  }
  SECTION("unknown backend in the fallback chain") {
    ConfigSet c = SeedLikeConfig();
    c.routes[0].spec.fallback->backends.push_back("nope");
    auto table = RouteTable::Create(c, health);
    REQUIRE_FALSE(table.ok());
    CHECK(table.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(table.status().message()).find("nope") != std::string::npos);
  }
  SECTION("invalid header regex") {
    ConfigSet c = SeedLikeConfig();
    c.routes[0].spec.rules[0].match.header_regex["x-tier"] = "(unclosed";
    auto table = RouteTable::Create(c, health);
    REQUIRE_FALSE(table.ok());
    CHECK(table.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(std::string(table.status().message()).find("x-tier") != std::string::npos);
  }
  SECTION("a rule whose weights are all 0") {
    ConfigSet c = SeedLikeConfig();
    c.routes[0].spec.rules[0].backends[0].weight = 0;
    auto table = RouteTable::Create(c, health);
    REQUIRE_FALSE(table.ok());
    CHECK(table.status().code() == absl::StatusCode::kInvalidArgument);
  }
  SECTION("duplicate backend") {
    ConfigSet c = SeedLikeConfig();
    c.backends.push_back(c.backends[0]);
    auto table = RouteTable::Create(c, health);
    REQUIRE_FALSE(table.ok());
    CHECK(table.status().code() == absl::StatusCode::kInvalidArgument);
  }
}

// served_models lists non-glob route models and backend models, sorted and unique.
TEST_CASE("served_models", "[route_table]") {
  ConfigSet c = SeedLikeConfig();
  c.backends[0].spec.external->model = "gpt-4";
  c.backends[1].spec.external->model = "claude-3-sonnet";
  c.routes[0].spec.models = {"gpt-4", "mistral-7b", "gpt-4*"};
  HealthTracker health;
  auto table = MustCreate(c, health);
  CHECK(table->served_models() ==
        std::vector<std::string>{"claude-3-sonnet", "gpt-4", "mistral-7b"});
}

// ---------------------------------------------------------------------------------------------
// Route selection

// The route header picks a route by "namespace/name" or by a name unique across namespaces.
TEST_CASE("Route header selects a route", "[route_table]") {
  ConfigSet c;
  c.backends = {External("a"), External("a", 0, "team"), External("b")};
  Route r1 = MakeRoute("chat");
  r1.spec.default_backend = BackendRef{"a", 100};
  Route r2 = MakeRoute("chat", "team");
  r2.spec.default_backend = BackendRef{"a", 100};
  Route r3 = MakeRoute("solo");
  r3.spec.default_backend = BackendRef{"b", 100};
  c.routes = {r1, r2, r3};
  HealthTracker health;
  auto table = MustCreate(c, health);
  DecisionStatus status;

  Request by_key({{"X-InferenceGW-Route", "team/chat"}});
  const CompiledRoute* route = table->SelectRoute(by_key.view, &status);
  REQUIRE(route != nullptr);
  CHECK(status == DecisionStatus::kOk);
  CHECK(route->key == "team/chat");

  Request by_name({{"x-inferencegw-route", "solo"}});
  route = table->SelectRoute(by_name.view, &status);
  REQUIRE(route != nullptr);
  CHECK(route->key == "default/solo");

  Request ambiguous({{"x-inferencegw-route", "chat"}});
  CHECK(table->SelectRoute(ambiguous.view, &status) == nullptr);
  CHECK(status == DecisionStatus::kUnknownRoute);

  Request unknown({{"x-inferencegw-route", "default/nope"}});
  CHECK(table->SelectRoute(unknown.view, &status) == nullptr);
  CHECK(status == DecisionStatus::kUnknownRoute);

  Decision d;
  CHECK(table->Decide(unknown.view, 1, 0, &d) == DecisionStatus::kUnknownRoute);
  CHECK(table->Decide(by_key.view, 1, 0, &d) == DecisionStatus::kOk);
  CHECK(d.route->key == "team/chat");
  CHECK(d.plan.backends.size() == 1);
  CHECK(table->backend(d.plan.backends[0]).key == "team/a");

  Request none;  // three routes, no default, no models
  CHECK(table->SelectRoute(none.view, &status) == nullptr);
  CHECK(status == DecisionStatus::kNoRoute);
  CHECK(table->Decide(none.view, 1, 0, &d) == DecisionStatus::kNoRoute);
}

// Model routing: an exact name beats a glob, a longer glob beats a shorter one, ties go to the
// first namespace/name, and unclaimed models go to the default route.
TEST_CASE("Model selects a route", "[route_table]") {
  ConfigSet c;
  c.backends = {External("a")};
  auto add = [&c](const std::string& name, std::vector<std::string> models, bool dflt = false) {
    Route r = MakeRoute(name);
    r.spec.default_backend = BackendRef{"a", 100};
    r.spec.models = std::move(models);
    r.spec.is_default = dflt;
    c.routes.push_back(r);
  };
  add("z-glob-short", {"gpt-*"});
  add("y-glob-long", {"gpt-4*"});
  add("x-exact", {"gpt-4o"});
  add("b-tie", {"claude-*"});
  add("a-tie", {"claude-*"});
  add("fallback", {}, /*dflt=*/true);
  HealthTracker health;
  auto table = MustCreate(c, health);
  auto route_for = [&](std::string_view model) {
    Request r({}, model);
    DecisionStatus status;
    const CompiledRoute* route = table->SelectRoute(r.view, &status);
    return route == nullptr ? std::string("<none>") : route->config->meta.name;
  };
  CHECK(route_for("gpt-4o") == "x-exact");
  CHECK(route_for("gpt-4o-mini") == "y-glob-long");
  CHECK(route_for("gpt-3.5-turbo") == "z-glob-short");
  CHECK(route_for("claude-3-opus") == "a-tie");
  CHECK(route_for("mistral") == "fallback");
  CHECK(route_for("") == "fallback");
  // The route header beats the model.
  Request header({{"x-inferencegw-route", "z-glob-short"}}, "gpt-4o");
  DecisionStatus status;
  CHECK(table->SelectRoute(header.view, &status)->config->meta.name == "z-glob-short");
}

// With a single route, every request selects it; without routes nothing is selected.
TEST_CASE("A single route is the default", "[route_table]") {
  ConfigSet c = SeedLikeConfig();
  HealthTracker health;
  auto table = MustCreate(c, health);
  Request r({}, "whatever-model");
  Decision d;
  REQUIRE(table->Decide(r.view, 7, 0, &d) == DecisionStatus::kOk);
  CHECK(d.route->key == "default/chatbot-route");

  ConfigSet empty;
  auto none = MustCreate(empty, health);
  CHECK(none->Decide(r.view, 7, 0, &d) == DecisionStatus::kNoRoute);
}

// ---------------------------------------------------------------------------------------------
// Rules

// Rules match exact header values (names case-insensitive), regexes, path prefixes on segment
// boundaries and model globs; the first matching rule wins; no match uses the default backend.
TEST_CASE("Rule matching", "[route_table]") {
  ConfigSet c;
  c.backends = {External("exact"), External("regex"),  External("path"),
                External("model"), External("second"), External("default")};
  Route r = MakeRoute("rules");
  r.spec.rules.push_back(Rule({{"exact", 100}}, {{"X-User-Tier", "premium"}}));
  RouteRule regex = Rule({{"regex", 100}});
  regex.match.header_regex["x-region"] = "eu-(west|north)-[0-9]";
  r.spec.rules.push_back(regex);
  RouteRule path = Rule({{"path", 100}});
  path.match.path_prefix = "/v1/embeddings";
  r.spec.rules.push_back(path);
  RouteRule model = Rule({{"model", 100}});
  model.match.model_pattern = "llama-*";
  r.spec.rules.push_back(model);
  RouteRule second = Rule({{"second", 100}});
  second.match.model_pattern = "llama-3*";  // shadowed by the rule before
  r.spec.rules.push_back(second);
  r.spec.default_backend = BackendRef{"default", 100};
  c.routes.push_back(r);
  HealthTracker health;
  auto table = MustCreate(c, health);
  auto pick = [&](const Request& req, int* rule = nullptr) {
    Decision d;
    REQUIRE(table->Decide(req.view, 99, 0, &d) == DecisionStatus::kOk);
    if (rule != nullptr) *rule = d.rule;
    return Name(*table, d.picked);
  };
  int rule = -2;
  CHECK(pick(Request({{"x-user-tier", "premium"}}), &rule) == "exact");
  CHECK(rule == 0);
  CHECK(pick(Request({{"X-USER-TIER", "premium"}})) == "exact");
  CHECK(pick(Request({{"x-user-tier", "Premium"}})) == "default");  // values are case-sensitive
  CHECK(pick(Request({{"x-region", "eu-west-1"}})) == "regex");
  CHECK(pick(Request({{"x-region", "eu-west-1a"}})) == "default");  // full match only
  CHECK(pick(Request({{"x-region", "us-east-1"}})) == "default");
  CHECK(pick(Request({}, "", "/v1/embeddings")) == "path");
  CHECK(pick(Request({}, "", "/v1/embeddings/x")) == "path");
  CHECK(pick(Request({}, "", "/v1/embeddingsv2")) == "default");
  CHECK(pick(Request({}, "llama-3-70b"), &rule) == "model");
  CHECK(rule == 3);
  CHECK(pick(Request({}, "mistral"), &rule) == "default");
  CHECK(rule == -1);
  // Several rules match: the first wins.
  CHECK(pick(Request({{"x-user-tier", "premium"}, {"x-region", "eu-north-2"}}, "llama-3")) ==
        "exact");
}

// A rule that needs several conditions matches only when all hold.
TEST_CASE("Rule conditions combine with AND", "[route_table]") {
  ConfigSet c;
  c.backends = {External("both"), External("default")};
  Route r = MakeRoute("and");
  RouteRule rule = Rule({{"both", 100}}, {{"x-a", "1"}, {"x-b", "2"}});
  rule.match.model_pattern = "gpt-*";
  r.spec.rules.push_back(rule);
  r.spec.default_backend = BackendRef{"default", 100};
  c.routes.push_back(r);
  HealthTracker health;
  auto table = MustCreate(c, health);
  Decision d;
  auto pick = [&](const Request& req) {
    REQUIRE(table->Decide(req.view, 1, 0, &d) == DecisionStatus::kOk);
    return Name(*table, d.picked);
  };
  CHECK(pick(Request({{"x-a", "1"}, {"x-b", "2"}}, "gpt-4")) == "both");
  CHECK(pick(Request({{"x-a", "1"}}, "gpt-4")) == "default");
  CHECK(pick(Request({{"x-a", "1"}, {"x-b", "2"}}, "claude")) == "default");
}

// A route whose rules do not match and that has no default backend answers kNoBackend.
TEST_CASE("No matching rule and no default backend", "[route_table]") {
  ConfigSet c;
  c.backends = {External("a")};
  Route r = MakeRoute("strict");
  r.spec.rules.push_back(Rule({{"a", 100}}, {{"x-key", "yes"}}));
  c.routes.push_back(r);
  HealthTracker health;
  auto table = MustCreate(c, health);
  Decision d;
  Request miss({{"x-key", "no"}});
  CHECK(table->Decide(miss.view, 1, 0, &d) == DecisionStatus::kNoBackend);
  CHECK(d.route != nullptr);
  Request hit({{"x-key", "yes"}});
  CHECK(table->Decide(hit.view, 1, 0, &d) == DecisionStatus::kOk);
}

// ---------------------------------------------------------------------------------------------
// Weighted split, experiments

// A 70/30 rule splits requests 70/30 by entropy.
TEST_CASE("Weighted split through Decide", "[route_table]") {
  ConfigSet c;
  c.backends = {External("a"), External("b"), External("never")};
  Route r = MakeRoute("split");
  r.spec.rules.push_back(Rule({{"a", 70}, {"b", 30}, {"never", 0}}));
  c.routes.push_back(r);
  HealthTracker health;
  auto table = MustCreate(c, health);
  std::map<std::string, int> counts;
  Request req;
  Decision d;
  constexpr int kRequests = 200'000;
  for (int k = 0; k < kRequests; ++k) {
    REQUIRE(table->Decide(req.view, SplitMix64(k), 0, &d) == DecisionStatus::kOk);
    REQUIRE(d.rule == 0);
    REQUIRE(d.plan.backends.size() == 1);
    REQUIRE(d.plan.backends[0] == d.picked);
    ++counts[Name(*table, d.picked)];
  }
  CHECK(counts["a"] == Approx(140'000).epsilon(0.01));
  CHECK(counts["b"] == Approx(60'000).epsilon(0.02));
  CHECK(counts["never"] == 0);
}

// When the pick is an experiment arm, the user's sticky arm picks the primary.
TEST_CASE("Experiment override and stickiness", "[route_table]") {
  ConfigSet c;
  c.backends = {External("control"), External("treatment"), External("other")};
  Route r = MakeRoute("ab");
  r.spec.default_backend = BackendRef{"control", 100};
  r.spec.rules.push_back(Rule({{"other", 100}}, {{"x-other", "1"}}));
  ExperimentConfig e;
  e.name = "new-model";
  e.control = "control";
  e.treatment = "treatment";
  e.traffic_basis_points = 2000;
  r.spec.experiments.push_back(e);
  c.routes.push_back(r);
  HealthTracker health;
  auto table = MustCreate(c, health);
  const ExperimentSplit split = ExperimentSplit::Create("new-model", 2000);

  int treated = 0;
  constexpr int kUsers = 20'000;
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = fmt::format("user-{}", u);
    Request req({{"X-User-Id", user}});
    Decision d;
    REQUIRE(table->Decide(req.view, SplitMix64(u), 0, &d) == DecisionStatus::kOk);
    REQUIRE(d.experiment != nullptr);
    REQUIRE(d.experiment->name == "new-model");
    REQUIRE(d.user_key == user);
    REQUIRE(d.user_hash == UserHash(user));
    REQUIRE(d.arm == AssignArm(split, UserHash(user)));
    REQUIRE(Name(*table, d.picked) == "control");
    REQUIRE(Name(*table, d.plan.backends[0]) ==
            (d.arm == Arm::kTreatment ? "treatment" : "control"));
    treated += d.arm == Arm::kTreatment;
    // Sticky: other entropy, same arm.
    Decision again;
    REQUIRE(table->Decide(req.view, SplitMix64(u + 1'000'000), 0, &again) == DecisionStatus::kOk);
    REQUIRE(again.arm == d.arm);
  }
  CHECK(treated == Approx(0.2 * kUsers).epsilon(0.05));

  // A pick outside the experiment's arms is left alone.
  Request other({{"x-other", "1"}, {"x-user-id", "alice"}});
  Decision d;
  REQUIRE(table->Decide(other.view, 1, 0, &d) == DecisionStatus::kOk);
  CHECK(d.experiment == nullptr);
  CHECK(d.arm == Arm::kNone);
  CHECK(Name(*table, d.plan.backends[0]) == "other");
}

// The authenticated user is the user key (the user header is then ignored); requests without a
// key get a per-request arm drawn from the entropy, at the configured rate.
TEST_CASE("Experiment user key sources", "[route_table]") {
  ConfigSet c;
  c.backends = {External("control"), External("treatment")};
  Route r = MakeRoute("ab");
  r.spec.default_backend = BackendRef{"control", 100};
  ExperimentConfig e;
  e.name = "exp";
  e.control = "control";
  e.treatment = "treatment";
  e.traffic_basis_points = 1000;
  r.spec.experiments.push_back(e);
  c.routes.push_back(r);
  HealthTracker health;
  auto table = MustCreate(c, health);
  const ExperimentSplit split = ExperimentSplit::Create("exp", 1000);

  Request authed({{"x-user-id", "mallory"}});
  authed.view.authenticated = true;
  authed.view.authenticated_user = "alice";
  Decision d;
  REQUIRE(table->Decide(authed.view, 3, 0, &d) == DecisionStatus::kOk);
  CHECK(d.user_key == "alice");
  CHECK(d.user_hash == UserHash("alice"));
  CHECK(d.arm == AssignArm(split, UserHash("alice")));

  Request anonymous;
  int treated = 0;
  constexpr int kRequests = 100'000;
  for (int k = 0; k < kRequests; ++k) {
    const uint64_t entropy = SplitMix64(k);
    REQUIRE(table->Decide(anonymous.view, entropy, 0, &d) == DecisionStatus::kOk);
    REQUIRE(d.user_key.empty());
    REQUIRE(d.user_hash == 0);
    REQUIRE(d.arm == AssignArm(split, SplitMix64(entropy + kGoldenGamma)));
    treated += d.arm == Arm::kTreatment;
  }
  CHECK(treated == Approx(0.1 * kRequests).epsilon(0.05));
}

// ---------------------------------------------------------------------------------------------
// Plans, health, panic

// An empty fallback list means every backend the route references, by priority then name;
// the primary leads and duplicates are dropped.
TEST_CASE("Plan order with priorities", "[route_table]") {
  ConfigSet c;
  c.backends = {External("low", 0), External("high", 5), External("mid-b", 2), External("mid-a", 2),
                External("unused", 9)};
  Route r = MakeRoute("prio");
  r.spec.default_backend = BackendRef{"low", 100};
  r.spec.rules.push_back(Rule({{"mid-b", 100}}, {{"x-mid", "1"}}));
  ExperimentConfig e;
  e.name = "exp";
  e.control = "mid-a";
  e.treatment = "high";
  r.spec.experiments.push_back(e);
  r.spec.fallback = FallbackConfig{};
  c.routes.push_back(r);
  HealthTracker health;
  auto table = MustCreate(c, health);
  const CompiledRoute& route = table->routes()[0];
  std::vector<std::string> chain;
  for (BackendIndex b : route.fallback_chain) chain.push_back(Name(*table, b));
  CHECK(chain == std::vector<std::string>{"high", "mid-a", "mid-b", "low"});

  Request req;
  Decision d;
  REQUIRE(table->Decide(req.view, 1, 0, &d) == DecisionStatus::kOk);
  CHECK(PlanNames(*table, d) == std::vector<std::string>{"low", "high", "mid-a", "mid-b"});
  CHECK_FALSE(d.plan.panic);
}

// Without a fallback block the plan is the primary alone; nothing is retried.
TEST_CASE("No fallback block: no chain", "[route_table]") {
  ConfigSet c;
  c.backends = {External("a"), External("b")};
  c.backends[0].spec.timeout_seconds = 20;
  c.backends[1].spec.timeout_seconds = 45;
  Route r = MakeRoute("single");
  r.spec.default_backend = BackendRef{"a", 100};
  r.spec.rules.push_back(Rule({{"b", 100}}, {{"x-b", "1"}}));
  c.routes.push_back(r);
  HealthTracker health;
  auto table = MustCreate(c, health);
  const CompiledRoute& route = table->routes()[0];
  CHECK(route.fallback_chain.empty());
  CHECK(route.retry.retries_per_backend == 0);
  CHECK(route.retry.attempt_timeout == Seconds(45));
  Request req;
  Decision d;
  REQUIRE(table->Decide(req.view, 1, 0, &d) == DecisionStatus::kOk);
  CHECK(PlanNames(*table, d) == std::vector<std::string>{"a"});
}

// Unavailable backends (probe-unhealthy, breaker open, at maxConcurrency) are left out of the
// plan without changing the order of the rest, and come back when available again.
TEST_CASE("Unhealthy backends are skipped", "[route_table]") {
  SimulatedClock clock(Seconds(100));
  ConfigSet c = SeedLikeConfig();
  c.backends[1].spec.max_concurrency = 1;  // anthropic-claude
  HealthTracker health;
  auto table = MustCreate(c, health);
  Request normal({{"x-inferencegw-route", "chatbot-route"}});
  Decision d;
  REQUIRE(table->Decide(normal.view, 1, clock.Now(), &d) == DecisionStatus::kOk);
  CHECK(PlanNames(*table, d) ==
        std::vector<std::string>{"local-mistral", "anthropic-claude", "openai-gpt4"});

  SECTION("probe failures") {
    FailProbes(HealthOf(*table, "default/local-mistral"), clock.Now());
    REQUIRE(table->Decide(normal.view, 1, clock.Now(), &d) == DecisionStatus::kOk);
    CHECK(Name(*table, d.picked) == "local-mistral");  // the pick is reported as chosen
    CHECK(PlanNames(*table, d) == std::vector<std::string>{"anthropic-claude", "openai-gpt4"});
    HealthOf(*table, "default/local-mistral").RecordProbe(true, clock.Now());
    REQUIRE(table->Decide(normal.view, 1, clock.Now(), &d) == DecisionStatus::kOk);
    CHECK(PlanNames(*table, d).size() == 3);
  }
  SECTION("breaker open in the middle of the chain") {
    OpenBreaker(HealthOf(*table, "default/anthropic-claude"), clock.Now());
    REQUIRE(table->Decide(normal.view, 1, clock.Now(), &d) == DecisionStatus::kOk);
    CHECK(PlanNames(*table, d) == std::vector<std::string>{"local-mistral", "openai-gpt4"});
    clock.AdvanceBy(Seconds(31));  // past openSeconds: half-open probes allowed
    REQUIRE(table->Decide(normal.view, 1, clock.Now(), &d) == DecisionStatus::kOk);
    CHECK(PlanNames(*table, d).size() == 3);
  }
  SECTION("at maxConcurrency") {
    BackendHealth& claude = HealthOf(*table, "default/anthropic-claude");
    REQUIRE(claude.TryAcquire(clock.Now()));
    REQUIRE(table->Decide(normal.view, 1, clock.Now(), &d) == DecisionStatus::kOk);
    CHECK(PlanNames(*table, d) == std::vector<std::string>{"local-mistral", "openai-gpt4"});
    claude.Release({FailureKind::kNone, Milliseconds(5)}, clock.Now());
    REQUIRE(table->Decide(normal.view, 1, clock.Now(), &d) == DecisionStatus::kOk);
    CHECK(PlanNames(*table, d).size() == 3);
  }
  SECTION("health state is shared with a table compiled later") {
    FailProbes(HealthOf(*table, "default/openai-gpt4"), clock.Now());
    auto reloaded = MustCreate(c, health);
    REQUIRE(reloaded->Decide(normal.view, 1, clock.Now(), &d) == DecisionStatus::kOk);
    CHECK(PlanNames(*reloaded, d) == std::vector<std::string>{"local-mistral", "anthropic-claude"});
  }
}

// An unavailable primary from a weighted rule is replaced by a weighted re-pick among the
// rule's other available backends, then the chain follows.
TEST_CASE("Weighted rule re-picks around an unavailable primary", "[route_table]") {
  ConfigSet c;
  c.backends = {External("a"), External("b"), External("c"), External("spare")};
  Route r = MakeRoute("split");
  r.spec.rules.push_back(Rule({{"a", 50}, {"b", 30}, {"c", 10}}));
  r.spec.fallback = FallbackConfig{};
  r.spec.fallback->backends = {"spare"};
  c.routes.push_back(r);
  HealthTracker health;
  auto table = MustCreate(c, health);
  FailProbes(HealthOf(*table, "default/a"), 0);
  FailProbes(HealthOf(*table, "default/c"), 0);
  Request req;
  Decision d;
  int picked_a = 0;
  for (int k = 0; k < 10'000; ++k) {
    REQUIRE(table->Decide(req.view, SplitMix64(k), 0, &d) == DecisionStatus::kOk);
    const std::vector<std::string> plan = PlanNames(*table, d);
    if (Name(*table, d.picked) == "a") {
      ++picked_a;
      REQUIRE(plan == std::vector<std::string>{"b", "spare"});  // c is down too
    } else if (Name(*table, d.picked) == "b") {
      REQUIRE(plan == std::vector<std::string>{"b", "spare"});
    } else {
      REQUIRE(Name(*table, d.picked) == "c");
      REQUIRE(plan == std::vector<std::string>{"b", "spare"});
    }
  }
  CHECK(picked_a == Approx(10'000 * 50 / 90).epsilon(0.05));

  // With c available again, a's share is re-picked between b and c by weight (30:10).
  HealthOf(*table, "default/c").RecordProbe(true, 0);
  std::map<std::string, int> first;
  int repicked = 0;
  for (int k = 0; k < 100'000; ++k) {
    REQUIRE(table->Decide(req.view, SplitMix64(k), 0, &d) == DecisionStatus::kOk);
    if (Name(*table, d.picked) != "a") continue;
    ++repicked;
    ++first[PlanNames(*table, d)[0]];
  }
  CHECK(first["a"] == 0);
  CHECK(first["b"] == Approx(repicked * 0.75).epsilon(0.03));
  CHECK(first["c"] == Approx(repicked * 0.25).epsilon(0.06));
}

// When nothing is available the plan is the primary then the chain in configured order, and
// `panic` is set.
TEST_CASE("Panic mode", "[route_table]") {
  ConfigSet c = SeedLikeConfig();
  HealthTracker health;
  auto table = MustCreate(c, health);
  for (const char* key :
       {"default/local-mistral", "default/anthropic-claude", "default/openai-gpt4"}) {
    FailProbes(HealthOf(*table, key), 0);
  }
  Request premium({{"x-user-tier", "premium"}});
  Decision d;
  REQUIRE(table->Decide(premium.view, 1, 0, &d) == DecisionStatus::kOk);
  CHECK(d.plan.panic);
  CHECK(PlanNames(*table, d) ==
        std::vector<std::string>{"openai-gpt4", "local-mistral", "anthropic-claude"});
  // One backend back: no panic, only it.
  HealthOf(*table, "default/anthropic-claude").RecordProbe(true, 0);
  REQUIRE(table->Decide(premium.view, 1, 0, &d) == DecisionStatus::kOk);
  CHECK_FALSE(d.plan.panic);
  CHECK(PlanNames(*table, d) == std::vector<std::string>{"anthropic-claude"});
}

// Plans hold at most AttemptPlan::kMaxBackends backends.
TEST_CASE("Plans are capped at kMaxBackends", "[route_table]") {
  ConfigSet c;
  Route r = MakeRoute("long");
  r.spec.fallback = FallbackConfig{};
  for (int i = 0; i < 20; ++i) {
    const std::string name = fmt::format("b{}", 100 + i);
    c.backends.push_back(External(name));
    r.spec.fallback->backends.push_back(name);
  }
  r.spec.default_backend = BackendRef{"b119", 100};
  c.routes.push_back(r);
  HealthTracker health;
  auto table = MustCreate(c, health);
  Request req;
  Decision d;
  REQUIRE(table->Decide(req.view, 1, 0, &d) == DecisionStatus::kOk);
  REQUIRE(d.plan.backends.size() == AttemptPlan::kMaxBackends);
  CHECK(Name(*table, d.plan.backends[0]) == "b119");
  CHECK(Name(*table, d.plan.backends[1]) == "b100");
  CHECK(Name(*table, d.plan.backends[15]) == "b114");
}

// ---------------------------------------------------------------------------------------------
// The seed README's examples, from the config engineer's fixtures.

// Premium users go to openai-gpt4, others to local-mistral, with the documented fallback chain;
// the A/B route sends about 10% of users to anthropic-claude-35, stickily.
TEST_CASE("Seed README examples route as described", "[route_table][seed]") {
  const std::string dir = std::string(IGW_FIXTURES_DIR) + "/seed/";
  std::string yaml;
  for (const char* file :
       {"example-1-multi-provider.yaml", "example-2-ab-testing.yaml", "anthropic-claude-35.yaml"}) {
    const std::string text = ReadFile(dir + file);
    INFO(dir + file);
    REQUIRE_FALSE(text.empty());
    yaml += text + "\n---\n";
  }
  absl::StatusOr<ConfigSet> config = LoadConfigFromString(yaml, "seed");
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  HealthTracker health;
  auto table = MustCreate(*config, health);

  const CompiledRoute* chatbot = table->FindRoute("default/chatbot-route");
  REQUIRE(chatbot != nullptr);
  std::vector<std::string> chain;
  for (BackendIndex b : chatbot->fallback_chain) chain.push_back(Name(*table, b));
  CHECK(chain == std::vector<std::string>{"local-mistral", "anthropic-claude", "openai-gpt4"});
  CHECK(chatbot->retry.attempt_timeout == Seconds(10));
  CHECK(chatbot->rate_limited);

  Decision d;
  Request premium({{"x-inferencegw-route", "chatbot-route"}, {"x-user-tier", "premium"}});
  REQUIRE(table->Decide(premium.view, 1, 0, &d) == DecisionStatus::kOk);
  CHECK(PlanNames(*table, d) ==
        std::vector<std::string>{"openai-gpt4", "local-mistral", "anthropic-claude"});
  Request standard({{"x-inferencegw-route", "chatbot-route"}, {"x-user-tier", "free"}});
  REQUIRE(table->Decide(standard.view, 1, 0, &d) == DecisionStatus::kOk);
  CHECK(PlanNames(*table, d) ==
        std::vector<std::string>{"local-mistral", "anthropic-claude", "openai-gpt4"});

  int treated = 0;
  constexpr int kUsers = 20'000;
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = fmt::format("user-{}", u);
    Request ab({{"x-inferencegw-route", "default/model-experiment"}, {"x-user-id", user}});
    REQUIRE(table->Decide(ab.view, SplitMix64(u), 0, &d) == DecisionStatus::kOk);
    REQUIRE(d.experiment != nullptr);
    const std::string first = PlanNames(*table, d)[0];
    REQUIRE((first == "anthropic-claude-35") == (d.arm == Arm::kTreatment));
    Decision again;
    REQUIRE(table->Decide(ab.view, SplitMix64(u + 77), 0, &again) == DecisionStatus::kOk);
    REQUIRE(PlanNames(*table, again)[0] == first);
    treated += d.arm == Arm::kTreatment;
  }
  CHECK(treated == Approx(0.1 * kUsers).epsilon(0.1));
}

}  // namespace inferencegw
