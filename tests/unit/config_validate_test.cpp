// Validation: per-object rules (ranges, required fields, formats) and cross-object rules
// (duplicates, references, default routes, client keys, Secrets, model claims).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "inferencegw/config_loader.h"

namespace inferencegw {
namespace {

std::string LoadError(const std::string& yaml) {
  absl::StatusOr<ConfigSet> config = LoadConfigFromString(yaml, "v.yaml");
  if (config.ok()) return "";
  return std::string(config.status().message());
}

// One-line documents keep line numbers obvious: document i (0-based) starts on line 2i+1.
std::string Backend1(const std::string& name, const std::string& ns = "default",
                     const std::string& extra = "") {
  return "{apiVersion: gateway.inference-gateway.io/v1alpha1, kind: InferenceBackend, "
         "metadata: {name: " +
         name + ", namespace: " + ns +
         "}, spec: {type: kubernetes, kubernetes: {serviceName: svc}" + extra + "}}\n";
}

std::string Route1(const std::string& name, const std::string& spec,
                   const std::string& ns = "default") {
  return "{apiVersion: gateway.inference-gateway.io/v1alpha1, kind: InferenceRoute, "
         "metadata: {name: " +
         name + ", namespace: " + ns + "}, spec: " + spec + "}\n";
}

std::string Docs(const std::vector<std::string>& docs) {
  std::string out;
  for (const std::string& d : docs) out += d + "---\n";
  return out;
}

// A client-key Secret default/keys up to `stringData:` (lines 1-6; entries start on line 7).
constexpr char kKeySecretHead[] =
    "apiVersion: v1\n"
    "kind: Secret\n"
    "metadata:\n"
    "  name: keys\n"
    "  annotations: {gateway.inference-gateway.io/client-keys: \"true\"}\n"
    "stringData:\n";

// A valid, small config built in code (no source file).
ConfigSet CodeConfig() {
  ConfigSet config;
  Backend b;
  b.meta.name = "local";
  b.spec.type = BackendType::kKubernetes;
  b.spec.kubernetes.emplace().service_name = "vllm";
  config.backends.push_back(b);
  Route r;
  r.meta.name = "main";
  r.spec.default_backend = BackendRef{"local", 100};
  config.routes.push_back(r);
  return config;
}

// ---------------------------------------------------------------------------------------------
// Cross-object rules

// A second object with the same kind, namespace and name cites the first definition.
TEST_CASE("duplicate names cite the first definition") {
  CHECK(LoadError(Docs({Backend1("a"), Backend1("a")})) ==
        "v.yaml:3: InferenceBackend default/a: metadata.name: duplicate InferenceBackend "
        "\"default/a\": first defined at v.yaml:1");
  // The same name in another namespace, or of another kind, is fine.
  CHECK(LoadError(Docs({Backend1("a"), Backend1("a", "other"),
                        Route1("a", "{defaultBackend: {name: a}}")})) == "");
  const std::string secret = "{apiVersion: v1, kind: Secret, metadata: {name: s}}\n";
  absl::StatusOr<ConfigSet> config = LoadConfigFromString(Docs({secret, secret}), "v.yaml");
  REQUIRE(!config.ok());
  CHECK(std::string(config.status().message()) ==
        "v.yaml:3: Secret default/s: metadata.name: duplicate Secret \"default/s\": first "
        "defined at v.yaml:1");
}

// Every reference from a route to a backend must name a backend in the route's namespace.
TEST_CASE("BackendNotFound for each kind of reference") {
  const std::string route =
      Route1("r",
             "{rules: [{backends: [{name: a}, {name: ghost-rule}]}], defaultBackend: {name: "
             "ghost-default},"
             " fallback: {backends: [a, ghost-fallback]},"
             " experiments: [{name: e, control: ghost-control, treatment: ghost-treatment}]}");
  CHECK(LoadError(Docs({Backend1("a"), Backend1("ghost-rule", "elsewhere"), route})) ==
        "v.yaml:5: InferenceRoute default/r: spec.rules[0].backends[1].name: unknown backend "
        "\"ghost-rule\"\n"
        "v.yaml:5: InferenceRoute default/r: spec.defaultBackend.name: unknown backend "
        "\"ghost-default\"\n"
        "v.yaml:5: InferenceRoute default/r: spec.fallback.backends[1]: unknown backend "
        "\"ghost-fallback\"\n"
        "v.yaml:5: InferenceRoute default/r: spec.experiments[0].control: unknown backend "
        "\"ghost-control\"\n"
        "v.yaml:5: InferenceRoute default/r: spec.experiments[0].treatment: unknown backend "
        "\"ghost-treatment\"");
  absl::StatusOr<ConfigSet> parsed =
      ParseManifests(Docs({Backend1("a"), route}), "v.yaml");  // references are not its job
  REQUIRE(parsed.ok());
  std::vector<ConfigIssue> issues = ValidateConfig(*parsed);
  REQUIRE(issues.size() == 5);
  CHECK(issues[0].reason == "BackendNotFound");
  CHECK(issues[0].object == "InferenceRoute default/r");
  CHECK(issues[0].field == "spec.rules[0].backends[1].name");
  CHECK(issues[0].message == "unknown backend \"ghost-rule\"");
  CHECK(issues[0].line == 3);
}

// The fallback example of the style guide, in block style, cites the exact line.
TEST_CASE("BackendNotFound in a block-style fallback list") {
  const std::string yaml = Backend1("local") +
                           "---\n"
                           "apiVersion: gateway.inference-gateway.io/v1alpha1\n"
                           "kind: InferenceRoute\n"
                           "metadata:\n"
                           "  name: chatbot-route\n"
                           "spec:\n"
                           "  defaultBackend:\n"
                           "    name: local\n"
                           "  fallback:\n"
                           "    backends:\n"
                           "      - local\n"
                           "      - claude\n";
  CHECK(LoadError(yaml) ==
        "v.yaml:13: InferenceRoute default/chatbot-route: spec.fallback.backends[1]: unknown "
        "backend \"claude\"");
}

// Only one route may be the default.
TEST_CASE("more than one default route") {
  CHECK(LoadError(Docs({Backend1("a"), Route1("one", "{defaultBackend: {name: a}, default: true}"),
                        Route1("two", "{defaultBackend: {name: a}, default: true}"),
                        Route1("three", "{defaultBackend: {name: a}, default: false}")})) ==
        "v.yaml:5: InferenceRoute default/two: spec.default: only one route may be the default; "
        "InferenceRoute default/one is already (v.yaml:3)");
}

// An experiment needs two distinct arms, a name unique in its route and a known metric.
TEST_CASE("experiment rules") {
  const std::string backends = Docs({Backend1("a"), Backend1("b")});
  CHECK(
      LoadError(backends + Route1("r",
                                  "{defaultBackend: {name: a}, experiments: [{name: e, control: a, "
                                  "treatment: a}]}")) ==
      "v.yaml:5: InferenceRoute default/r: spec.experiments[0].treatment: must differ from "
      "control (both are \"a\")");
  CHECK(LoadError(backends + Route1("r",
                                    "{defaultBackend: {name: a}, experiments: ["
                                    "{name: e, control: a, treatment: b},"
                                    "{name: e, control: b, treatment: a, metric: p99}]}")) ==
        "v.yaml:5: InferenceRoute default/r: spec.experiments[1].name: duplicate experiment name "
        "\"e\"\n"
        "v.yaml:5: InferenceRoute default/r: spec.experiments[1].metric: must be one of "
        "latency_p50, latency_p95, latency_p99, error_rate, cost; got \"p99\"");
  CHECK(LoadError(backends + Route1("r", "{defaultBackend: {name: a}, experiments: [{}]}")) ==
        "v.yaml:5: InferenceRoute default/r: spec.experiments[0].name: required\n"
        "v.yaml:5: InferenceRoute default/r: spec.experiments[0].control: required\n"
        "v.yaml:5: InferenceRoute default/r: spec.experiments[0].treatment: required");
}

// A route needs rules or a default backend; each rule needs backends with a positive weight sum.
TEST_CASE("route backend rules") {
  CHECK(LoadError(Route1("r", "{costTracking: true}")) ==
        "v.yaml:1: InferenceRoute default/r: spec: needs rules or a defaultBackend");
  CHECK(LoadError(Route1("r", "{}")) ==
        "v.yaml:1: InferenceRoute default/r: spec: needs rules or a defaultBackend");
  CHECK(LoadError(Docs(
            {Backend1("a"), Route1("r",
                                   "{rules: [{backends: []}, {backends: [{name: a, weight: 0}]},"
                                   " {backends: [{name: a, weight: 101}]}]}")})) ==
        "v.yaml:3: InferenceRoute default/r: spec.rules[0].backends: at least one backend is "
        "required\n"
        "v.yaml:3: InferenceRoute default/r: spec.rules[1].backends: the weights must not all be "
        "0\n"
        "v.yaml:3: InferenceRoute default/r: spec.rules[2].backends[0].weight: must be between 0 "
        "and 100, got 101");
  ConfigSet config = *LoadConfigFromString(
      Docs({Backend1("a"), Backend1("b"),
            Route1("r", "{rules: [{backends: [{name: a, weight: 0}, {name: b}]}]}")}));
  CHECK(config.routes[0].spec.rules[0].backends[0].weight == 0);
  CHECK(config.routes[0].spec.rules[0].backends[1].weight == 100);
}

// Matches: header names must be tokens, regexes must compile with RE2, prefixes start with '/'.
TEST_CASE("match rules") {
  const std::string a = Backend1("a") + "---\n";
  CHECK(LoadError(a + Route1("r",
                             "{rules: [{match: {headerRegex: {x-user: \"(unclosed\"}},"
                             " backends: [{name: a}]}]}")) ==
        "v.yaml:3: InferenceRoute default/r: spec.rules[0].match.headerRegex[x-user]: invalid RE2 "
        "regex \"(unclosed\": missing ): (unclosed");
  CHECK(LoadError(a + Route1("r",
                             "{rules: [{match: {pathPrefix: v1, headers: {\"bad header\": x}},"
                             " backends: [{name: a}]}]}")) ==
        "v.yaml:3: InferenceRoute default/r: spec.rules[0].match.headers[bad header]: invalid "
        "header name \"bad header\"\n"
        "v.yaml:3: InferenceRoute default/r: spec.rules[0].match.pathPrefix: must start with '/', "
        "got \"v1\"");
  ConfigSet config = *LoadConfigFromString(
      a + Route1("r",
                 "{rules: [{match: {headers: {X-Tier: Gold}, headerRegex: {X-Org: \"acme-.*\"},"
                 " pathPrefix: /v1, modelPattern: \"gpt-4*\"}, backends: [{name: a}]}]}"));
  const RouteMatch& m = config.routes[0].spec.rules[0].match;
  CHECK(m.headers.at("x-tier") == "Gold");  // names lowercase, values as written
  CHECK(m.header_regex.at("x-org") == "acme-.*");
  CHECK(m.path_prefix == "/v1");
  CHECK(m.model_pattern == "gpt-4*");
  CHECK(LoadError(a + Route1("r",
                             "{rules: [{match: {headers: {X-A: 1, x-a: 2}},"
                             " backends: [{name: a}]}]}")) ==
        "v.yaml:3: InferenceRoute default/r: spec.rules[0].match.headers[x-a]: duplicate key "
        "(first at line 3)");
}

// Fallback and rate-limit ranges.
TEST_CASE("fallback and rate limit ranges") {
  const std::string a = Backend1("a") + "---\n";
  CHECK(LoadError(a + Route1("r",
                             "{defaultBackend: {name: a}, fallback: {timeoutSeconds: 0,"
                             " retriesPerBackend: 11, backoffBaseMillis: 500,"
                             " backoffMaxMillis: 100, deadlineSeconds: -1,"
                             " retryOn: [5xx, 404]}}")) ==
        "v.yaml:3: InferenceRoute default/r: spec.fallback.retryOn[1]: must be one of "
        "connect-error, timeout, 5xx, 429; got \"404\"\n"
        "v.yaml:3: InferenceRoute default/r: spec.fallback.timeoutSeconds: must be at least 1, "
        "got 0\n"
        "v.yaml:3: InferenceRoute default/r: spec.fallback.retriesPerBackend: must be between 0 "
        "and 10, got 11\n"
        "v.yaml:3: InferenceRoute default/r: spec.fallback.backoffMaxMillis: must be at least "
        "backoffBaseMillis (500), got 100\n"
        "v.yaml:3: InferenceRoute default/r: spec.fallback.deadlineSeconds: must be at least 0, "
        "got -1");
  ConfigSet config = *LoadConfigFromString(
      a + Route1("r", "{defaultBackend: {name: a}, fallback: {retryOn: [timeout, \"429\"]}}"));
  CHECK(config.routes[0].spec.fallback->retry_on ==
        (static_cast<uint32_t>(RetryOn::kTimeout) | static_cast<uint32_t>(RetryOn::k429)));
  CHECK(LoadError(a + Route1("r",
                             "{defaultBackend: {name: a}, rateLimit: {requestsPerMinute: -1,"
                             " userHeader: \"x user\", tokensPerMinute: -5}}")) ==
        "v.yaml:3: InferenceRoute default/r: spec.rateLimit.requestsPerMinute: must be at least "
        "0, got -1\n"
        "v.yaml:3: InferenceRoute default/r: spec.rateLimit.userHeader: invalid header name "
        "\"x user\"\n"
        "v.yaml:3: InferenceRoute default/r: spec.rateLimit.tokensPerMinute: must be at least 0, "
        "got -5");
}

// Two client keys with the same hash are an error at the second, citing the first.
TEST_CASE("duplicate client keys") {
  const std::string keys = std::string(kKeySecretHead) +
                           "  alice: same-key\n"
                           "  bob: {key: same-key}\n";
  CHECK(LoadError(keys) ==
        "v.yaml:8: Secret default/keys: stringData[bob]: user \"bob\" has the same key as user "
        "\"alice\" (v.yaml:7)");
  absl::StatusOr<ConfigSet> parsed = ParseManifests(keys, "v.yaml");
  REQUIRE(parsed.ok());
  std::vector<ConfigIssue> issues = ValidateConfig(*parsed);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].reason == "DuplicateClientKey");
}

// A missing API-key Secret or key is a warning, not an error.
TEST_CASE("apiKeySecret references are warnings") {
  const std::string backend =
      "{apiVersion: gateway.inference-gateway.io/v1alpha1, kind: InferenceBackend,"
      " metadata: {name: o}, spec: {type: external, external: {url: \"https://api.openai.com/v1\","
      " apiKeySecret: {name: creds, key: api-key}}}}\n";
  absl::StatusOr<ConfigSet> config = LoadConfigFromString(backend, "v.yaml");
  REQUIRE(config.ok());
  std::vector<ConfigIssue> warnings = ConfigWarnings(*config);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].severity == ConfigIssue::Severity::kWarning);
  CHECK(warnings[0].ToString() ==
        "v.yaml:1: InferenceBackend default/o: spec.external.apiKeySecret.name: Secret \"creds\" "
        "not found in namespace \"default\"");
  config = LoadConfigFromString(Docs({backend,
                                      "{apiVersion: v1, kind: Secret, metadata: {name: creds}, "
                                      "stringData: {token: x}}\n"}),
                                "v.yaml");
  REQUIRE(config.ok());
  warnings = ConfigWarnings(*config);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].ToString() ==
        "v.yaml:1: InferenceBackend default/o: spec.external.apiKeySecret.key: Secret \"creds\" "
        "has no key \"api-key\"");
  config = LoadConfigFromString(Docs({backend,
                                      "{apiVersion: v1, kind: Secret, metadata: {name: creds}, "
                                      "stringData: {api-key: sk}}\n"}),
                                "v.yaml");
  REQUIRE(config.ok());
  CHECK(ConfigWarnings(*config).empty());
  CHECK(LoadError("{apiVersion: gateway.inference-gateway.io/v1alpha1, kind: InferenceBackend,"
                  " metadata: {name: o}, spec: {type: external, external: {url: \"https://x\","
                  " apiKeySecret: {name: creds}}}}\n") ==
        "v.yaml:1: InferenceBackend default/o: spec.external.apiKeySecret.key: required");
}

// An exact model name claimed by two routes is a warning; globs may overlap.
TEST_CASE("model claimed by two routes") {
  absl::StatusOr<ConfigSet> config = LoadConfigFromString(
      Docs({Backend1("a"), Route1("one", "{defaultBackend: {name: a}, models: [gpt-4, \"gpt-*\"]}"),
            Route1("two", "{defaultBackend: {name: a}, models: [\"gpt-*\", gpt-4, gpt-4]}")}),
      "v.yaml");
  REQUIRE(config.ok());
  std::vector<ConfigIssue> warnings = ConfigWarnings(*config);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].reason == "ModelConflict");
  CHECK(warnings[0].ToString() ==
        "v.yaml:5: InferenceRoute default/two: spec.models[1]: model \"gpt-4\" is also claimed "
        "by InferenceRoute default/one (v.yaml:3)");
}

// A route budget nothing can charge is a warning: costTracking off, or no backend of the route
// priced in the budget's currency (a backend without spec.cost prices nothing).
TEST_CASE("budgets that are never charged") {
  const std::string usd = Backend1("usd", "default", ", cost: {inputTokenCost: \"0.001\"}");
  const std::string eur =
      Backend1("eur", "default", ", cost: {inputTokenCost: \"0.001\", currency: EUR}");
  auto warnings = [&](const std::string& spec) {
    absl::StatusOr<ConfigSet> config =
        LoadConfigFromString(Docs({usd, eur, Backend1("free"), Route1("r", spec)}), "v.yaml");
    INFO(config.status().ToString());
    REQUIRE(config.ok());
    std::vector<std::string> text;
    for (const ConfigIssue& issue : ConfigWarnings(*config)) {
      CHECK(issue.reason == "BudgetNeverCharged");
      text.push_back(issue.ToString());
    }
    return text;
  };
  CHECK(warnings("{defaultBackend: {name: usd}, budget: {limit: \"5\"}}").empty());
  CHECK(warnings("{rules: [{backends: [{name: free}]}], fallback: {backends: [eur]},"
                 " budget: {perUser: \"5\", currency: EUR}}")
            .empty());
  CHECK(warnings("{defaultBackend: {name: eur}, budget: {limit: \"5\"}}") ==
        std::vector<std::string>{
            "v.yaml:7: InferenceRoute default/r: spec.budget.currency: none of the route's "
            "backends prices its cost in USD (spec.cost.currency), so nothing is ever charged to "
            "this budget and it never refuses a request"});
  CHECK(warnings("{defaultBackend: {name: free}, budget: {limit: \"5\", currency: USD}}").size() ==
        1);
  CHECK(warnings("{defaultBackend: {name: usd}, costTracking: false, budget: {limit: \"5\"}}") ==
        std::vector<std::string>{
            "v.yaml:7: InferenceRoute default/r: spec.budget: spec.costTracking is false, so "
            "nothing is ever charged to this budget and it never refuses a request"});
}

// A client key listing a route that does not exist is a warning at that list item.
TEST_CASE("client key naming a missing route") {
  const std::string keys = std::string(kKeySecretHead) +
                           "  alice:\n"
                           "    key: sk-alice\n"
                           "    routes:\n"
                           "      - r\n"
                           "      - default/gone\n"
                           "      - team-b/r\n"
                           "---\n";
  absl::StatusOr<ConfigSet> config = LoadConfigFromString(
      keys + Docs({Backend1("a"), Route1("r", "{defaultBackend: {name: a}}")}), "v.yaml");
  REQUIRE(config.ok());
  std::vector<ConfigIssue> warnings = ConfigWarnings(*config);
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].reason == "RouteNotFound");
  CHECK(warnings[0].ToString() ==
        "v.yaml:11: Secret default/keys: stringData[alice].routes[1]: route \"default/gone\" not "
        "found; the key cannot use it until it exists");
  CHECK(warnings[1].ToString() ==
        "v.yaml:12: Secret default/keys: stringData[alice].routes[2]: route \"team-b/r\" not "
        "found; the key cannot use it until it exists");
}

// ---------------------------------------------------------------------------------------------
// Per-object rules

// The block matching `type` is required and blocks for other types are not allowed.
TEST_CASE("backend type blocks") {
  CHECK(
      LoadError("{apiVersion: gateway.inference-gateway.io/v1alpha1, kind: InferenceBackend,"
                " metadata: {name: b}, spec: {type: kserve, external: {url: \"https://x\"}}}\n") ==
      "v.yaml:1: InferenceBackend default/b: spec.kserve: required when type is kserve\n"
      "v.yaml:1: InferenceBackend default/b: spec.external: not allowed when type is kserve");
  CHECK(LoadError("{apiVersion: gateway.inference-gateway.io/v1alpha1, kind: InferenceBackend,"
                  " metadata: {name: b}, spec: {type: kserve, kserve: {namespace: ml}}}\n") ==
        "v.yaml:1: InferenceBackend default/b: spec.kserve.serviceName: required unless url is "
        "set");
  CHECK(
      LoadError("{apiVersion: gateway.inference-gateway.io/v1alpha1, kind: InferenceBackend,"
                " metadata: {name: b}, spec: {type: external, external: {url: \"ftp://x\"}}}\n") ==
      "v.yaml:1: InferenceBackend default/b: spec.external.url: must start with http:// or "
      "https://, got \"ftp://x\"");
  CHECK(LoadError("{apiVersion: gateway.inference-gateway.io/v1alpha1, kind: InferenceBackend,"
                  " metadata: {name: b}, spec: {type: external, external: {}}}\n") ==
        "v.yaml:1: InferenceBackend default/b: spec.external.url: required");
  CHECK(LoadError(Backend1("b", "default", ", kubernetes: {serviceName: s, port: 70000}")) ==
        "v.yaml:1: InferenceBackend default/b: spec.kubernetes: duplicate key (first at line 1)");
}

// Ranges of backend numbers, health checks, costs and the circuit breaker.
TEST_CASE("backend ranges") {
  CHECK(LoadError(Backend1("b", "default",
                           ", timeoutSeconds: 0, maxConcurrency: 0,"
                           " healthCheck: {path: health, intervalSeconds: 0},"
                           " cost: {currency: usd},"
                           " circuitBreaker: {failureRatePercent: 0, openSeconds: 60,"
                           " maxOpenSeconds: 30}")) ==
        "v.yaml:1: InferenceBackend default/b: spec.healthCheck.path: must start with '/', got "
        "\"health\"\n"
        "v.yaml:1: InferenceBackend default/b: spec.healthCheck.intervalSeconds: must be at least "
        "1, got 0\n"
        "v.yaml:1: InferenceBackend default/b: spec.cost.currency: must be three uppercase "
        "letters (ISO 4217), got \"usd\"\n"
        "v.yaml:1: InferenceBackend default/b: spec.timeoutSeconds: must be at least 1, got 0\n"
        "v.yaml:1: InferenceBackend default/b: spec.maxConcurrency: must be at least 1, got 0\n"
        "v.yaml:1: InferenceBackend default/b: spec.circuitBreaker.failureRatePercent: must be "
        "between 1 and 100, got 0\n"
        "v.yaml:1: InferenceBackend default/b: spec.circuitBreaker.maxOpenSeconds: must be at "
        "least openSeconds (60), got 30");
  CHECK(LoadError("apiVersion: gateway.inference-gateway.io/v1alpha1\n"
                  "kind: InferenceBackend\n"
                  "metadata: {name: b}\n"
                  "spec:\n"
                  "  type: kubernetes\n"
                  "  kubernetes:\n"
                  "    serviceName: s\n"
                  "    port: 70000\n") ==
        "v.yaml:8: InferenceBackend default/b: spec.kubernetes.port: must be between 1 and "
        "65535, got 70000");
}

// Names must be DNS-1123 subdomains and namespaces DNS-1123 labels.
TEST_CASE("object names") {
  CHECK(LoadError(Backend1("My_Backend")) ==
        "v.yaml:1: InferenceBackend default/My_Backend: metadata.name: invalid name "
        "\"My_Backend\": must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at "
        "most 253 characters)");
  CHECK(LoadError(Backend1("b", "team.a")) ==
        "v.yaml:1: InferenceBackend team.a/b: metadata.namespace: invalid namespace \"team.a\": "
        "must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)");
  CHECK(LoadError("{apiVersion: v1, kind: Secret, metadata: {}}\n") ==
        "v.yaml:1: Secret: metadata.name: required");
  CHECK(LoadError(Backend1("a.b-c.d")) == "");
}

// ---------------------------------------------------------------------------------------------
// Configs built in code

// ValidateConfig holds configs built in code to the same rules; issues then have no file.
TEST_CASE("ValidateConfig on a config built in code") {
  ConfigSet config = CodeConfig();
  CHECK(ValidateConfig(config).empty());

  config.routes[0].spec.fallback.emplace().backends = {"local", "missing"};
  config.backends[0].spec.cost.emplace().input_token_cost = -1;
  config.backends.push_back(config.backends[0]);
  ClientKey key;
  key.user = "u";
  key.sha256_hex = "ABC";
  config.client_keys.push_back(key);
  std::vector<ConfigIssue> issues = ValidateConfig(config);
  std::vector<std::string> text;
  for (const ConfigIssue& issue : issues) text.push_back(issue.ToString());
  CHECK(text == std::vector<std::string>{
                    "InferenceBackend default/local: spec.cost.inputTokenCost: must not be "
                    "negative, got -0.000000001",
                    "InferenceBackend default/local: spec.cost.inputTokenCost: must not be "
                    "negative, got -0.000000001",
                    "clientKeys[0]: the key hash must be 64 lowercase hex digits",
                    "InferenceBackend default/local: metadata.name: duplicate InferenceBackend "
                    "\"default/local\"",
                    "InferenceRoute default/main: spec.fallback.backends[1]: unknown backend "
                    "\"missing\""});
  for (const ConfigIssue& issue : issues) CHECK(issue.line == 0);
}

// Budgets and key policies built in code are held to the parser's rules.
TEST_CASE("ValidateConfig on budgets and key policies built in code") {
  ConfigSet config = CodeConfig();
  config.routes[0].spec.budget.emplace();  // neither limit nor perUser
  ClientKey key;
  key.user = "u";
  key.sha256_hex = "93ced625ec77e349e5a64cfef7d57afad1d58723e706a9460fcfec8510ea8f06";
  key.routes = {"default/main", "main"};
  key.models = {""};
  key.requests_per_minute = -1;
  key.budget = BudgetConfig{-5, 1, BudgetPeriod::kDay, "usd"};
  key.expires_unix_seconds = -1;
  config.client_keys.push_back(key);
  std::vector<std::string> text;
  for (const ConfigIssue& issue : ValidateConfig(config)) text.push_back(issue.ToString());
  CHECK(text == std::vector<std::string>{
                    "InferenceRoute default/main: spec.budget: needs a limit or perUser (or both)",
                    "clientKeys[0].routes[1]: invalid route \"main\": must be a route name or "
                    "namespace/name",
                    "clientKeys[0].models[0]: must not be empty",
                    "clientKeys[0].rateLimit.requestsPerMinute: must be at least 0, got -1",
                    "clientKeys[0].budget.limit: must not be negative, got -0.000000005",
                    "clientKeys[0].budget.perUser: not allowed on a client key (a key is one "
                    "user: use limit)",
                    "clientKeys[0].budget.currency: must be three uppercase letters (ISO 4217), "
                    "got \"usd\"",
                    "clientKeys[0].expires: must not be before 1970-01-01T00:00:00Z",
                    "InferenceRoute default/main: spec.budget.currency: none of the route's "
                    "backends prices its cost in USD (spec.cost.currency), so nothing is ever "
                    "charged to this budget and it never refuses a request"});
  config.routes[0].spec.budget->per_user = 1;
  config.client_keys.clear();
  CHECK(ValidateConfig(config).size() == 1);  // the warning only
}

// Several routes, none the default and none listing models: only the route header reaches them.
// One route alone is the default by itself; a default route or any models claim silences it.
TEST_CASE("several routes that route nothing without the header") {
  absl::StatusOr<ConfigSet> config = LoadConfigFromString(
      Docs({Backend1("a"), Route1("one", "{defaultBackend: {name: a}}"),
            Route1("two", "{defaultBackend: {name: a}}")}),
      "v.yaml");
  REQUIRE(config.ok());
  std::vector<ConfigIssue> warnings = ConfigWarnings(*config);
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].reason == "NoRouteWithoutHeader");
  CHECK(warnings[0].ToString() ==
        "v.yaml:3: InferenceRoute default/one: spec.default: none of the 2 routes is the default "
        "(spec.default: true) or lists spec.models, so a request without the x-inferencegw-route "
        "header matches no route; make one route the default, or list the models each route "
        "serves");
  for (const char* fix : {"{defaultBackend: {name: a}, default: true}",
                          "{defaultBackend: {name: a}, models: [\"gpt-*\"]}"}) {
    config = LoadConfigFromString(
        Docs({Backend1("a"), Route1("one", "{defaultBackend: {name: a}}"), Route1("two", fix)}),
        "v.yaml");
    REQUIRE(config.ok());
    CHECK(ConfigWarnings(*config).empty());
  }
  config = LoadConfigFromString(Docs({Backend1("a"), Route1("one", "{defaultBackend: {name: a}}")}),
                                "v.yaml");
  REQUIRE(config.ok());
  CHECK(ConfigWarnings(*config).empty());
}

}  // namespace
}  // namespace inferencegw
