// The configuration model: plain structs mirroring the Kubernetes CRDs `InferenceBackend` and
// `InferenceRoute` (gateway.inference-gateway.io/v1alpha1) and the `Secret`s they reference.
// Objects are namespaced; everything that refers to an object does so by `namespace/name`.
//
//   IGW_ASSIGN_OR_RETURN(ConfigSet config, LoadConfigFromPath("examples/demo"));
//   const Backend* b = config.FindBackend("default", "local-mistral");
//   IGW_ASSIGN_OR_RETURN(auto table, RouteTable::Create(config, health));
//
// Field names, defaults and ranges follow the reference CRDs; fields marked "extension" are
// inferencegw's own additions and are documented in docs/configuration.md. Prices are decimal
// strings in the manifests and are held here exactly, as integer nano-units per 1000 tokens.
#ifndef INFERENCEGW_CONFIG_H_
#define INFERENCEGW_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace inferencegw {

inline constexpr std::string_view kApiGroup = "gateway.inference-gateway.io";
inline constexpr std::string_view kApiVersion = "gateway.inference-gateway.io/v1alpha1";

// Where an object came from, so that errors found after loading can still say file and line.
struct SourceInfo {
  std::string file;  // "" for objects built in code
  int line = 0;      // 1-based line of the document's first key; 0 when unknown
  // 1-based line of each field seen, keyed by its path: "spec.fallback.backends[1]".
  std::map<std::string, int, std::less<>> field_lines;

  // The line of `path`, else of its nearest parent seen, else `line`.
  int LineOf(std::string_view path) const;
  // "file:line: " (or "" when the file is unknown), for the front of an error message.
  std::string Where(std::string_view path) const;
};

struct ObjectMeta {
  std::string name;
  std::string namespace_ = "default";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string resource_version;  // as read from the API server; "" when loaded from a file
  int64_t generation = 0;
  SourceInfo source;

  // "namespace/name": the identity of the object everywhere (state, metrics, ledger).
  std::string Key() const { return namespace_ + "/" + name; }
};

// ---------------------------------------------------------------------------------------------
// InferenceBackend

enum class BackendType { kKServe, kExternal, kKubernetes };
enum class Provider { kOpenAI, kAnthropic, kCohere, kCustom };

std::string_view BackendTypeName(BackendType type);  // "kserve", "external", "kubernetes"
std::string_view ProviderName(Provider provider);    // "openai", "anthropic", "cohere", "custom"

struct SecretKeySelector {
  std::string name;  // a Secret in the backend's namespace
  std::string key;
};

struct KServeBackend {
  std::string service_name;  // the InferenceService
  std::string namespace_;    // "" means the backend's namespace
  // Extension: the base URL to use instead of the in-cluster convention
  // http://{serviceName}-predictor.{namespace}.svc.cluster.local (set by the syncer from the
  // InferenceService's status.url, or by hand outside a cluster).
  std::string url;
  // Extension: the served model name; requests are rewritten to it ("" keeps the client's).
  std::string model;
  // Extension: where the runtime serves the OpenAI-compatible API (KServe's Hugging Face runtime
  // uses "/openai", settable with KSERVE_OPENAI_ROUTE_PREFIX).
  std::string openai_path_prefix = "/openai";
};

struct ExternalBackend {
  std::string url;  // API base including its version segment, e.g. https://api.openai.com/v1
  Provider provider = Provider::kOpenAI;
  std::optional<SecretKeySelector> api_key_secret;
  std::string model;  // the provider's model name; requests are rewritten to it when set
};

struct KubernetesBackend {
  std::string service_name;
  std::string namespace_;  // "" means the backend's namespace
  int port = 8080;         // 1..65535
  // Extension: the base URL to use instead of
  // http://{service}.{namespace}.svc.cluster.local:{port}.
  std::string url;
  // Extension: the served model name (vLLM rejects any other); "" keeps the client's.
  std::string model;
};

struct HealthCheck {
  std::string path = "/health";
  int interval_seconds = 30;  // >= 1
  int timeout_seconds = 5;    // >= 1
  int failure_threshold = 3;  // consecutive failed probes before Unhealthy; >= 1
  int success_threshold = 1;  // extension: consecutive good probes before Healthy again; >= 1
};

// A price in nano-units of the currency (1e-9) per 1000 tokens, or per request for
// `request_cost`. "0.003" is 3'000'000.
using PriceNanos = int64_t;

struct CostConfig {
  PriceNanos input_token_cost = 0;   // per 1000 prompt tokens not served from a cache
  PriceNanos output_token_cost = 0;  // per 1000 completion tokens
  PriceNanos request_cost = 0;       // per request, charged even when token usage is unknown
  // Extensions: prices for prompt tokens read from (cached) or written to a provider's prompt
  // cache. When absent they are the input price.
  std::optional<PriceNanos> cached_input_token_cost;
  std::optional<PriceNanos> cache_write_input_token_cost;
  std::string currency = "USD";
};

// Extension. The circuit breaker and passive outlier detection for one backend.
struct CircuitBreakerConfig {
  int consecutive_failures = 5;   // opens after this many failures in a row; >= 1
  int failure_rate_percent = 50;  // opens when this share of the window failed; 1..100
  int minimum_requests = 20;      // ...and the window holds at least this many; >= 1
  int window_seconds = 30;        // the sliding window; >= 1
  int open_seconds = 30;          // first time spent open before half-open; >= 1
  int max_open_seconds = 300;     // open time doubles on each re-open up to this; >= open
  int half_open_requests = 1;     // probes allowed at once while half-open; >= 1
};

struct BackendSpec {
  BackendType type = BackendType::kExternal;
  std::optional<KServeBackend> kserve;          // set iff type == kKServe
  std::optional<ExternalBackend> external;      // set iff type == kExternal
  std::optional<KubernetesBackend> kubernetes;  // set iff type == kKubernetes
  std::optional<HealthCheck> health_check;      // active probes run only when set
  std::optional<CostConfig> cost;
  int timeout_seconds = 60;   // bound on one whole upstream exchange; >= 1
  int max_concurrency = 100;  // in-flight requests; the backend is skipped when full; >= 1
  int priority = 0;           // higher is tried first when a fallback chain has no order
  CircuitBreakerConfig circuit_breaker;  // extension
};

struct Backend {
  ObjectMeta meta;
  BackendSpec spec;
};

// ---------------------------------------------------------------------------------------------
// InferenceRoute

struct BackendRef {
  std::string name;  // an InferenceBackend in the route's namespace
  int weight = 100;  // 0..100; relative within the list it appears in
};

struct RouteMatch {
  // Exact, case-sensitive value match; header names are case-insensitive. All must match.
  std::map<std::string, std::string> headers;
  // Extension: RE2 full-match of the header's value. All must match.
  std::map<std::string, std::string> header_regex;
  // Matches "/v1" and "/v1/chat" but not "/v1beta" (segment boundaries). "" matches all.
  std::string path_prefix;
  // Glob over the request body's `model` (`*` any run, `?` one character). "" matches all.
  std::string model_pattern;
};

struct RouteRule {
  RouteMatch match;
  std::vector<BackendRef> backends;  // at least one
};

// Which attempt failures move on to the next attempt.
enum class RetryOn : uint32_t {
  kConnectError = 1u << 0,  // "connect-error": refused, reset before a response, DNS, TLS
  kTimeout = 1u << 1,       // "timeout"
  k5xx = 1u << 2,           // "5xx"
  k429 = 1u << 3,           // "429"
};
inline constexpr uint32_t kDefaultRetryOn = 0xF;

struct FallbackConfig {
  std::vector<std::string> backends;  // ordered; empty means "the route's backends by priority"
  int timeout_seconds = 30;           // per attempt; >= 1
  // Extensions.
  uint32_t retry_on = kDefaultRetryOn;  // a set of RetryOn bits; manifests list the names
  int retries_per_backend = 0;          // extra tries on the same backend before moving on; 0..10
  int backoff_base_millis = 100;        // first retry waits up to this (full jitter); >= 1
  int backoff_max_millis = 2000;        // cap on one wait; >= base
  int deadline_seconds = 0;             // overall bound on all attempts; 0: derived (RetryPolicy)
};

struct RateLimitConfig {
  int requests_per_minute = 0;  // 0 = no request limit; >= 0
  bool per_user = false;        // one bucket per (route, user) instead of one per route
  std::string user_header = "x-user-id";
  // Extensions.
  int64_t tokens_per_minute = 0;  // 0 = no token limit; prompt + completion tokens
  int burst_requests = 0;         // bucket size; 0 = requests_per_minute
  int64_t burst_tokens = 0;       // bucket size; 0 = tokens_per_minute
};

// Extension. A spend budget: money a route (or a client key) may spend per calendar period (UTC).
// A request that would start once the period's spend has reached the budget is refused (429,
// insufficient_quota / budget_exceeded); spend is charged when a request's usage is known.
enum class BudgetPeriod { kHour, kDay, kWeek, kMonth };  // weeks start on Monday
std::string_view BudgetPeriodName(BudgetPeriod period);  // "hour", "day", "week", "month"

struct BudgetConfig {
  PriceNanos limit = 0;     // the whole route's (or key's) spend per period; 0 = no cap
  PriceNanos per_user = 0;  // each user's spend on the route per period; 0 = no cap (routes only)
  BudgetPeriod period = BudgetPeriod::kMonth;
  std::string currency = "USD";  // only costs in this currency count against the budget
};

struct ExperimentConfig {
  std::string name;
  std::string control;    // backend name
  std::string treatment;  // backend name
  // Share of users in the treatment arm, 0..100, in steps of 0.01 (basis points).
  int traffic_basis_points = 1000;     // trafficPercent: 10 (the reference's default)
  std::string metric = "latency_p95";  // latency_p50|latency_p95|latency_p99|error_rate|cost
};

struct RouteSpec {
  std::vector<RouteRule> rules;
  std::optional<BackendRef> default_backend;
  std::optional<FallbackConfig> fallback;
  std::optional<RateLimitConfig> rate_limit;
  std::vector<ExperimentConfig> experiments;
  bool cost_tracking = true;
  bool enable_logging = false;
  // Extensions. Route selection (see route_table.h): the models this route serves (globs), and
  // whether it is the default route for requests no other route claims.
  std::vector<std::string> models;
  bool is_default = false;
  std::optional<BudgetConfig> budget;  // spend caps
};

struct Route {
  ObjectMeta meta;
  RouteSpec spec;
};

// ---------------------------------------------------------------------------------------------
// Secrets and client keys

struct Secret {
  ObjectMeta meta;
  // Decoded values (stringData and base64 data). Empty for a client-key Secret: its keys are
  // kept only as hashes, in ConfigSet::client_keys.
  std::map<std::string, std::string> data;
  std::string type = "Opaque";  // any string; kept so the Secret renders back as it was read
  bool immutable = false;
};

// A Secret annotated `gateway.inference-gateway.io/client-keys: "true"` holds the gateway's
// client API keys: each entry's name is a user id and its value is either the key itself or a
// YAML mapping {key | keySha256, attributes: {header-name: value}}. Only hashes are kept.
inline constexpr std::string_view kClientKeysAnnotation =
    "gateway.inference-gateway.io/client-keys";

struct ClientKey {
  std::string user;        // the user id requests with this key are accounted to
  std::string sha256_hex;  // lowercase hex SHA-256 of the key
  // Trusted request headers set for this user (e.g. {"x-user-tier": "premium"}); they replace
  // whatever the client sent under those names, so rules can match them.
  std::map<std::string, std::string> attributes;
  // "namespace/name" of the client-key Secret that defined it; "" when built in code.
  std::string secret;
  // Key policy (all optional). Routes this key may use, as "namespace/name" (a bare name means
  // the Secret's namespace); empty: every route. Another route is refused with 403, whether it
  // was picked by rules or named by the route header.
  std::vector<std::string> routes;
  // Globs over the request's model that this key may ask for; empty: every model. 403 otherwise.
  std::vector<std::string> models;
  // The key's own limits, across every route it uses (0: none).
  int requests_per_minute = 0;
  int64_t tokens_per_minute = 0;
  std::optional<BudgetConfig> budget;  // the key's own spend cap (limit only; per_user unused)
  int64_t expires_unix_seconds = 0;    // requests at or after this instant get 401; 0: never
};

// ---------------------------------------------------------------------------------------------

// Everything loaded from a manifest set. Objects keep the order they were read in.
struct ConfigSet {
  std::vector<Backend> backends;
  std::vector<Route> routes;
  std::vector<Secret> secrets;
  std::vector<ClientKey> client_keys;  // from client-key Secrets; empty = authentication off

  const Backend* FindBackend(std::string_view ns, std::string_view name) const;
  const Route* FindRoute(std::string_view ns, std::string_view name) const;
  const Secret* FindSecret(std::string_view ns, std::string_view name) const;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_CONFIG_H_
