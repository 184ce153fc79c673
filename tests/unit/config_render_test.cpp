// Rendering: RenderManifests reads back to an equal ConfigSet; RenderConfigJson shows every
// field and never a secret value or client-key hash.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <tuple>

#include "inferencegw/config_loader.h"

namespace inferencegw {

// Field-by-field equality for the config structs, ignoring SourceInfo (test-only; the library
// defines no comparisons).
bool operator==(const SecretKeySelector& a, const SecretKeySelector& b) {
  return std::tie(a.name, a.key) == std::tie(b.name, b.key);
}
bool operator==(const KServeBackend& a, const KServeBackend& b) {
  return std::tie(a.service_name, a.namespace_, a.url, a.model, a.openai_path_prefix) ==
         std::tie(b.service_name, b.namespace_, b.url, b.model, b.openai_path_prefix);
}
bool operator==(const ExternalBackend& a, const ExternalBackend& b) {
  return std::tie(a.url, a.provider, a.api_key_secret, a.model) ==
         std::tie(b.url, b.provider, b.api_key_secret, b.model);
}
bool operator==(const KubernetesBackend& a, const KubernetesBackend& b) {
  return std::tie(a.service_name, a.namespace_, a.port, a.url, a.model) ==
         std::tie(b.service_name, b.namespace_, b.port, b.url, b.model);
}
bool operator==(const HealthCheck& a, const HealthCheck& b) {
  return std::tie(a.path, a.interval_seconds, a.timeout_seconds, a.failure_threshold,
                  a.success_threshold) == std::tie(b.path, b.interval_seconds, b.timeout_seconds,
                                                   b.failure_threshold, b.success_threshold);
}
bool operator==(const CostConfig& a, const CostConfig& b) {
  return std::tie(a.input_token_cost, a.output_token_cost, a.request_cost,
                  a.cached_input_token_cost, a.cache_write_input_token_cost, a.currency) ==
         std::tie(b.input_token_cost, b.output_token_cost, b.request_cost,
                  b.cached_input_token_cost, b.cache_write_input_token_cost, b.currency);
}
bool operator==(const CircuitBreakerConfig& a, const CircuitBreakerConfig& b) {
  return std::tie(a.consecutive_failures, a.failure_rate_percent, a.minimum_requests,
                  a.window_seconds, a.open_seconds, a.max_open_seconds, a.half_open_requests) ==
         std::tie(b.consecutive_failures, b.failure_rate_percent, b.minimum_requests,
                  b.window_seconds, b.open_seconds, b.max_open_seconds, b.half_open_requests);
}
bool operator==(const BackendSpec& a, const BackendSpec& b) {
  return std::tie(a.type, a.kserve, a.external, a.kubernetes, a.health_check, a.cost,
                  a.timeout_seconds, a.max_concurrency, a.priority, a.circuit_breaker) ==
         std::tie(b.type, b.kserve, b.external, b.kubernetes, b.health_check, b.cost,
                  b.timeout_seconds, b.max_concurrency, b.priority, b.circuit_breaker);
}
bool operator==(const ObjectMeta& a, const ObjectMeta& b) {
  return std::tie(a.name, a.namespace_, a.labels, a.annotations, a.resource_version,
                  a.generation) ==
         std::tie(b.name, b.namespace_, b.labels, b.annotations, b.resource_version, b.generation);
}
bool operator==(const Backend& a, const Backend& b) { return a.meta == b.meta && a.spec == b.spec; }
bool operator==(const BackendRef& a, const BackendRef& b) {
  return std::tie(a.name, a.weight) == std::tie(b.name, b.weight);
}
bool operator==(const RouteMatch& a, const RouteMatch& b) {
  return std::tie(a.headers, a.header_regex, a.path_prefix, a.model_pattern) ==
         std::tie(b.headers, b.header_regex, b.path_prefix, b.model_pattern);
}
bool operator==(const RouteRule& a, const RouteRule& b) {
  return a.match == b.match && a.backends == b.backends;
}
bool operator==(const FallbackConfig& a, const FallbackConfig& b) {
  return std::tie(a.backends, a.timeout_seconds, a.retry_on, a.retries_per_backend,
                  a.backoff_base_millis, a.backoff_max_millis, a.deadline_seconds) ==
         std::tie(b.backends, b.timeout_seconds, b.retry_on, b.retries_per_backend,
                  b.backoff_base_millis, b.backoff_max_millis, b.deadline_seconds);
}
bool operator==(const RateLimitConfig& a, const RateLimitConfig& b) {
  return std::tie(a.requests_per_minute, a.per_user, a.user_header, a.tokens_per_minute,
                  a.burst_requests, a.burst_tokens) == std::tie(b.requests_per_minute, b.per_user,
                                                                b.user_header, b.tokens_per_minute,
                                                                b.burst_requests, b.burst_tokens);
}
bool operator==(const ExperimentConfig& a, const ExperimentConfig& b) {
  return std::tie(a.name, a.control, a.treatment, a.traffic_basis_points, a.metric) ==
         std::tie(b.name, b.control, b.treatment, b.traffic_basis_points, b.metric);
}
bool operator==(const BudgetConfig& a, const BudgetConfig& b) {
  return std::tie(a.limit, a.per_user, a.period, a.currency) ==
         std::tie(b.limit, b.per_user, b.period, b.currency);
}
bool operator==(const RouteSpec& a, const RouteSpec& b) {
  return std::tie(a.rules, a.default_backend, a.fallback, a.rate_limit, a.experiments,
                  a.cost_tracking, a.enable_logging, a.models, a.is_default, a.budget) ==
         std::tie(b.rules, b.default_backend, b.fallback, b.rate_limit, b.experiments,
                  b.cost_tracking, b.enable_logging, b.models, b.is_default, b.budget);
}
bool operator==(const Route& a, const Route& b) { return a.meta == b.meta && a.spec == b.spec; }
bool operator==(const Secret& a, const Secret& b) {
  return a.meta == b.meta &&
         std::tie(a.data, a.type, a.immutable) == std::tie(b.data, b.type, b.immutable);
}
bool operator==(const ClientKey& a, const ClientKey& b) {
  return std::tie(a.user, a.sha256_hex, a.attributes, a.secret, a.routes, a.models,
                  a.requests_per_minute, a.tokens_per_minute, a.budget, a.expires_unix_seconds) ==
         std::tie(b.user, b.sha256_hex, b.attributes, b.secret, b.routes, b.models,
                  b.requests_per_minute, b.tokens_per_minute, b.budget, b.expires_unix_seconds);
}

namespace {

// Equal ignoring SourceInfo.
bool SameConfig(const ConfigSet& a, const ConfigSet& b) {
  return a.backends == b.backends && a.routes == b.routes && a.secrets == b.secrets &&
         a.client_keys == b.client_keys;
}

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(IGW_FIXTURES_DIR) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ConfigSet EveryField() {
  absl::StatusOr<ConfigSet> config =
      LoadConfigFromString(ReadFixture("config/every-field.yaml"), "every-field.yaml");
  INFO(config.status().ToString());
  REQUIRE(config.ok());
  return *std::move(config);
}

// The fixture sets what it claims to (so the round trip below covers every field).
TEST_CASE("the every-field fixture sets non-default values") {
  ConfigSet c = EveryField();
  REQUIRE(c.backends.size() == 3);
  const BackendSpec& kserve = c.backends[0].spec;
  CHECK(kserve.kserve->openai_path_prefix == "");
  CHECK(kserve.health_check->success_threshold == 2);
  CHECK(kserve.cost->output_token_cost == 200'000);
  CHECK(kserve.cost->request_cost == 1);
  CHECK(kserve.cost->cached_input_token_cost == 0);
  CHECK(kserve.cost->cache_write_input_token_cost == 125'000);
  CHECK(kserve.cost->currency == "EUR");
  CHECK(kserve.priority == -3);
  CHECK(kserve.circuit_breaker.max_open_seconds == 70);
  CHECK(c.backends[1].spec.cost->input_token_cost == 3'000'000);
  CHECK(c.backends[2].spec.kubernetes->model == "true");
  const RouteSpec& chat = c.routes[0].spec;
  CHECK(chat.rules[0].backends[1].weight == 0);
  CHECK(chat.fallback->retry_on ==
        (static_cast<uint32_t>(RetryOn::kConnectError) | static_cast<uint32_t>(RetryOn::k429)));
  CHECK(chat.rate_limit->user_header == "x-tenant-id");
  CHECK(chat.experiments[0].traffic_basis_points == 1250);
  CHECK(chat.is_default);
  CHECK(chat.budget->limit == 50'000'000'000);
  CHECK(chat.budget->per_user == 2'500'000'000);
  CHECK(chat.budget->period == BudgetPeriod::kWeek);
  CHECK(chat.budget->currency == "EUR");
  CHECK(c.routes[1].spec.fallback->retry_on == 0);
  CHECK(c.routes[1].spec.budget->limit == 0);
  CHECK(c.routes[1].spec.budget->per_user == 1);
  CHECK(c.routes[1].spec.budget->period == BudgetPeriod::kHour);
  CHECK(c.secrets[0].data.at("anthropic") == "sk-ant-api03-secret\nwith a newline");
  REQUIRE(c.client_keys.size() == 3);
  const ClientKey& carol = c.client_keys[2];
  CHECK(carol.routes == std::vector<std::string>{"ml/chat", "ml/fallback-only"});
  CHECK(carol.models == std::vector<std::string>{"claude-*", "gpt-4o"});
  CHECK(carol.requests_per_minute == 60);
  CHECK(carol.tokens_per_minute == 100'000);
  CHECK(carol.budget->limit == 10'000'000'000);
  CHECK(carol.budget->period == BudgetPeriod::kDay);
  CHECK(carol.expires_unix_seconds == 1'798'758'000);  // 2026-12-31T23:00:00Z
}

// RenderManifests output parses back to an equal ConfigSet, and rendering again is identical.
TEST_CASE("RenderManifests round-trips every field") {
  const ConfigSet original = EveryField();
  const std::string yaml = RenderManifests(original);
  absl::StatusOr<ConfigSet> back = ParseManifests(yaml, "rendered.yaml");
  INFO(yaml);
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  CHECK(SameConfig(original, *back));
  CHECK(RenderManifests(*back) == yaml);
  CHECK(ValidateConfig(*back).size() == ValidateConfig(original).size());
  // Secrets are written as base64 `data`; client keys only as hashes.
  CHECK(yaml.find("stringData") == std::string::npos);
  CHECK(yaml.find("c2stb3BlbmFpLTEyMw==") != std::string::npos);
  CHECK(yaml.find("sk-openai-123") == std::string::npos);
  CHECK(yaml.find("sk-alice-secret") == std::string::npos);
}

// A minimal config, and one built in code with a client key that names no Secret, round-trip.
TEST_CASE("RenderManifests round-trips defaults and code-built client keys") {
  ConfigSet config;
  Backend b;
  b.meta.name = "b";
  b.spec.type = BackendType::kKubernetes;
  b.spec.kubernetes.emplace().service_name = "svc";
  config.backends.push_back(b);
  Route r;
  r.meta.name = "r";
  r.spec.default_backend = BackendRef{"b", 100};
  config.routes.push_back(r);
  absl::StatusOr<ConfigSet> back = ParseManifests(RenderManifests(config), "x.yaml");
  REQUIRE(back.ok());
  CHECK(SameConfig(config, *back));

  ClientKey key;
  key.user = "svc-account";
  key.sha256_hex = "93ced625ec77e349e5a64cfef7d57afad1d58723e706a9460fcfec8510ea8f06";
  key.attributes["x-user-tier"] = "free";
  config.client_keys.push_back(key);
  back = ParseManifests(RenderManifests(config), "x.yaml");
  REQUIRE(back.ok());
  REQUIRE(back->client_keys.size() == 1);
  CHECK(back->client_keys[0].sha256_hex == key.sha256_hex);
  CHECK(back->client_keys[0].attributes == key.attributes);
  CHECK(back->client_keys[0].secret == "default/inferencegw-client-keys");
  REQUIRE(back->secrets.size() == 1);
  CHECK(back->secrets[0].meta.Key() == "default/inferencegw-client-keys");
}

// Budgets and key policies built in code round-trip, each field alone and all together.
TEST_CASE("RenderManifests round-trips budgets and key policies") {
  ConfigSet config;
  Route r;
  r.meta.name = "r";
  r.spec.default_backend = BackendRef{"b", 100};
  BudgetConfig& budget = r.spec.budget.emplace();
  budget.limit = 1;
  budget.period = BudgetPeriod::kDay;
  config.routes.push_back(r);
  Secret& secret = config.secrets.emplace_back();
  secret.meta.name = "keys";
  secret.meta.namespace_ = "team-a";
  secret.meta.annotations[std::string(kClientKeysAnnotation)] = "true";
  ClientKey key;
  key.user = "svc";
  key.sha256_hex = "93ced625ec77e349e5a64cfef7d57afad1d58723e706a9460fcfec8510ea8f06";
  key.secret = "team-a/keys";
  config.client_keys.push_back(key);
  const std::vector<std::function<void(ClientKey&)>> edits = {
      [](ClientKey& k) {
        k.routes = {"team-a/r", "other/chat"};
      },
      [](ClientKey& k) {
        k.models = {"gpt-*", "10", "true"};
      },
      [](ClientKey& k) { k.requests_per_minute = 5; },
      [](ClientKey& k) { k.tokens_per_minute = 9'000'000'000; },
      [](ClientKey& k) {
        k.budget = BudgetConfig{123'456'789, 0, BudgetPeriod::kWeek, "JPY"};
      },
      [](ClientKey& k) { k.expires_unix_seconds = 1; },
      [](ClientKey& k) { k.expires_unix_seconds = 253'402'300'799; },  // 9999-12-31T23:59:59Z
  };
  for (size_t i = 0; i <= edits.size(); ++i) {
    ClientKey& k = config.client_keys[0];
    if (i < edits.size()) {
      k = key;
      edits[i](k);
    } else {
      for (const auto& edit : edits) edit(k);  // everything at once
    }
    const std::string yaml = RenderManifests(config);
    INFO(i << "\n" << yaml);
    absl::StatusOr<ConfigSet> back = ParseManifests(yaml, "x.yaml");
    INFO(back.status().ToString());
    REQUIRE(back.ok());
    CHECK(SameConfig(config, *back));
  }
}

// Strings that look like other YAML types survive the round trip as strings.
TEST_CASE("RenderManifests quotes strings that look like numbers or booleans") {
  ConfigSet config;
  Secret s;
  s.meta.name = "odd";
  s.meta.labels = {{"n", "10"}, {"b", "false"}, {"z", "~"}, {"e", ""}};
  s.data = {{"bin", std::string("\0\x01\xff:\"'\n", 7)}, {"unicode", "caf\xc3\xa9 \xe2\x82\xac"}};
  config.secrets.push_back(s);
  absl::StatusOr<ConfigSet> back = ParseManifests(RenderManifests(config), "x.yaml");
  INFO(RenderManifests(config));
  REQUIRE(back.ok());
  CHECK(SameConfig(config, *back));
}

// The admin JSON is valid JSON, lists every object, and carries no secret value or key hash.
TEST_CASE("RenderConfigJson never contains a secret") {
  const ConfigSet config = EveryField();
  const std::string json = RenderConfigJson(config);
  for (std::string_view secret :
       {"sk-openai-123", "c2stb3BlbmFpLTEyMw==", "sk-ant-api03-secret", "sk-alice-secret",
        "sk-bob-secret", "06cc4952899d48845127534444199c780d05a2c36eee3135b331da46db3109fa",
        "93ced625ec77e349e5a64cfef7d57afad1d58723e706a9460fcfec8510ea8f06",
        "1d0e7afc963efdf084924177294d02cc02800e540bf46e7b846529396be4eddf", "1d0e7afc"}) {
    INFO(secret);
    CHECK(json.find(secret) == std::string::npos);
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(json);
  simdjson::dom::array backends = doc["backends"].get_array();
  CHECK(backends.size() == 3);
  simdjson::dom::element mistral = backends.at(0);
  CHECK(std::string_view(mistral["name"]) == "mistral");
  CHECK(std::string_view(mistral["source"]) == "every-field.yaml:2");
  CHECK(std::string_view(mistral["spec"]["cost"]["inputTokenCost"]) == "0.0001");
  CHECK(std::string_view(mistral["spec"]["cost"]["cacheWriteInputTokenCost"]) == "0.000125");
  CHECK(int64_t(mistral["spec"]["circuitBreaker"]["halfOpenRequests"]) == 3);
  CHECK(std::string_view(mistral["annotations"]["owner"]) == "team-ml");
  simdjson::dom::element chat = doc["routes"].at(0);
  CHECK(double(chat["spec"]["experiments"].at(0)["trafficPercent"]) == 12.5);
  CHECK(std::string_view(chat["spec"]["fallback"]["retryOn"].at(1)) == "429");
  CHECK(std::string_view(chat["spec"]["rules"].at(0)["match"]["headerRegex"]["x-org"]) ==
        "acme-[0-9]+");
  simdjson::dom::element keys = doc["secrets"].at(0);
  CHECK(std::string_view(keys["name"]) == "provider-keys");
  CHECK(std::string_view(keys["type"]) == "Opaque");
  CHECK(keys["keys"].get_array().size() == 2);
  CHECK(std::string_view(keys["keys"].at(0)) == "anthropic");
  CHECK(bool(doc["secrets"].at(1)["clientKeys"]));
  simdjson::dom::element bob = doc["clientKeys"].at(1);
  CHECK(std::string_view(bob["user"]) == "bob");
  CHECK(std::string_view(bob["attributes"]["x-user-tier"]) == "premium");
  CHECK(bob["sha256_hex"].error() == simdjson::NO_SUCH_FIELD);
  CHECK(bob["expires"].is_null());
  CHECK(bob["budget"].error() == simdjson::NO_SUCH_FIELD);
  simdjson::dom::element budget = chat["spec"]["budget"];
  CHECK(std::string_view(budget["limit"]) == "50");
  CHECK(std::string_view(budget["perUser"]) == "2.5");
  CHECK(std::string_view(budget["period"]) == "week");
  CHECK(std::string_view(budget["currency"]) == "EUR");
  CHECK(doc["routes"].at(1)["spec"]["budget"]["limit"].is_null());
  CHECK(std::string_view(doc["routes"].at(1)["spec"]["budget"]["perUser"]) == "0.000000001");
  simdjson::dom::element carol = doc["clientKeys"].at(2);
  CHECK(std::string_view(carol["routes"].at(0)) == "ml/chat");
  CHECK(std::string_view(carol["models"].at(1)) == "gpt-4o");
  CHECK(int64_t(carol["rateLimit"]["requestsPerMinute"]) == 60);
  CHECK(int64_t(carol["rateLimit"]["tokensPerMinute"]) == 100'000);
  CHECK(std::string_view(carol["budget"]["limit"]) == "10");
  CHECK(std::string_view(carol["budget"]["period"]) == "day");
  CHECK(carol["budget"]["perUser"].error() == simdjson::NO_SUCH_FIELD);
  CHECK(std::string_view(carol["expires"]) == "2026-12-31T23:00:00Z");
}

}  // namespace
}  // namespace inferencegw
