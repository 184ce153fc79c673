// RenderManifests: the config as multi-document YAML that ParseManifests reads back to an equal
// ConfigSet. Fields equal to their defaults are left out; strings are always double-quoted so
// that values such as "true" or "10" stay strings.
#include <yaml-cpp/yaml.h>

#include "config_internal.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/provider.h"

namespace inferencegw {

namespace {

constexpr std::string_view kOrphanClientKeySecret = "default/inferencegw-client-keys";

// Not thread-safe. Thin helpers over a YAML::Emitter positioned inside a mapping.
class Writer {
 public:
  explicit Writer(YAML::Emitter& out) : out_(out) {}

  void Str(std::string_view key, std::string_view value) {
    out_ << YAML::Key << std::string(key) << YAML::Value << YAML::DoubleQuoted
         << std::string(value);
  }
  void StrIf(std::string_view key, std::string_view value, std::string_view default_value = "") {
    if (value != default_value) Str(key, value);
  }
  void Int(std::string_view key, int64_t value) {
    out_ << YAML::Key << std::string(key) << YAML::Value << value;
  }
  void IntIf(std::string_view key, int64_t value, int64_t default_value) {
    if (value != default_value) Int(key, value);
  }
  void Bool(std::string_view key, bool value) {
    out_ << YAML::Key << std::string(key) << YAML::Value << value;
  }
  // A number written as its exact decimal text ("12.5"), unquoted.
  void Number(std::string_view key, const std::string& text) {
    out_ << YAML::Key << std::string(key) << YAML::Value << text;
  }
  void BeginMap(std::string_view key) {
    out_ << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
  }
  void EndMap() { out_ << YAML::EndMap; }
  void StrMap(std::string_view key, const std::map<std::string, std::string>& m) {
    if (m.empty()) return;
    BeginMap(key);
    for (const auto& [k, v] : m) Str(k, v);
    EndMap();
  }
  void StrList(std::string_view key, const std::vector<std::string>& list) {
    out_ << YAML::Key << std::string(key) << YAML::Value << YAML::BeginSeq;
    for (const std::string& s : list) out_ << YAML::DoubleQuoted << s;
    out_ << YAML::EndSeq;
  }
  YAML::Emitter& out() { return out_; }

 private:
  YAML::Emitter& out_;
};

void Meta(Writer& w, const ObjectMeta& meta) {
  w.BeginMap("metadata");
  w.Str("name", meta.name);
  w.Str("namespace", meta.namespace_);
  w.StrMap("labels", meta.labels);
  w.StrMap("annotations", meta.annotations);
  w.StrIf("resourceVersion", meta.resource_version);
  w.IntIf("generation", meta.generation, 0);
  w.EndMap();
}

void Price(Writer& w, std::string_view key, PriceNanos price) { w.Str(key, FormatPrice(price)); }

void BackendSpecYaml(Writer& w, const BackendSpec& spec) {
  const BackendSpec d;
  w.BeginMap("spec");
  w.Str("type", BackendTypeName(spec.type));
  if (spec.kserve) {
    const KServeBackend& k = *spec.kserve;
    w.BeginMap("kserve");
    w.StrIf("serviceName", k.service_name);
    w.StrIf("namespace", k.namespace_);
    w.StrIf("url", k.url);
    w.StrIf("model", k.model);
    w.StrIf("openAIPathPrefix", k.openai_path_prefix, KServeBackend().openai_path_prefix);
    w.EndMap();
  }
  if (spec.external) {
    const ExternalBackend& e = *spec.external;
    w.BeginMap("external");
    w.StrIf("url", e.url);
    w.Str("provider", ProviderName(e.provider));
    if (e.api_key_secret) {
      w.BeginMap("apiKeySecret");
      w.Str("name", e.api_key_secret->name);
      w.Str("key", e.api_key_secret->key);
      w.EndMap();
    }
    w.StrIf("model", e.model);
    w.EndMap();
  }
  if (spec.kubernetes) {
    const KubernetesBackend& k = *spec.kubernetes;
    w.BeginMap("kubernetes");
    w.StrIf("serviceName", k.service_name);
    w.StrIf("namespace", k.namespace_);
    w.IntIf("port", k.port, KubernetesBackend().port);
    w.StrIf("url", k.url);
    w.StrIf("model", k.model);
    w.EndMap();
  }
  if (spec.health_check) {
    const HealthCheck& h = *spec.health_check;
    w.BeginMap("healthCheck");
    w.Str("path", h.path);
    w.Int("intervalSeconds", h.interval_seconds);
    w.Int("timeoutSeconds", h.timeout_seconds);
    w.Int("failureThreshold", h.failure_threshold);
    w.Int("successThreshold", h.success_threshold);
    w.EndMap();
  }
  if (spec.cost) {
    const CostConfig& c = *spec.cost;
    w.BeginMap("cost");
    Price(w, "inputTokenCost", c.input_token_cost);
    Price(w, "outputTokenCost", c.output_token_cost);
    Price(w, "requestCost", c.request_cost);
    if (c.cached_input_token_cost) Price(w, "cachedInputTokenCost", *c.cached_input_token_cost);
    if (c.cache_write_input_token_cost) {
      Price(w, "cacheWriteInputTokenCost", *c.cache_write_input_token_cost);
    }
    w.Str("currency", c.currency);
    w.EndMap();
  }
  w.IntIf("timeoutSeconds", spec.timeout_seconds, d.timeout_seconds);
  w.IntIf("maxConcurrency", spec.max_concurrency, d.max_concurrency);
  w.IntIf("priority", spec.priority, d.priority);
  const CircuitBreakerConfig& cb = spec.circuit_breaker;
  const CircuitBreakerConfig& dcb = d.circuit_breaker;
  const bool custom_breaker =
      cb.consecutive_failures != dcb.consecutive_failures ||
      cb.failure_rate_percent != dcb.failure_rate_percent ||
      cb.minimum_requests != dcb.minimum_requests || cb.window_seconds != dcb.window_seconds ||
      cb.open_seconds != dcb.open_seconds || cb.max_open_seconds != dcb.max_open_seconds ||
      cb.half_open_requests != dcb.half_open_requests;
  if (custom_breaker) {
    w.BeginMap("circuitBreaker");
    w.IntIf("consecutiveFailures", cb.consecutive_failures, dcb.consecutive_failures);
    w.IntIf("failureRatePercent", cb.failure_rate_percent, dcb.failure_rate_percent);
    w.IntIf("minimumRequests", cb.minimum_requests, dcb.minimum_requests);
    w.IntIf("windowSeconds", cb.window_seconds, dcb.window_seconds);
    w.IntIf("openSeconds", cb.open_seconds, dcb.open_seconds);
    w.IntIf("maxOpenSeconds", cb.max_open_seconds, dcb.max_open_seconds);
    w.IntIf("halfOpenRequests", cb.half_open_requests, dcb.half_open_requests);
    w.EndMap();
  }
  w.EndMap();
}

void BackendRefYaml(Writer& w, const BackendRef& ref) {
  w.out() << YAML::BeginMap;
  w.Str("name", ref.name);
  w.IntIf("weight", ref.weight, BackendRef().weight);
  w.out() << YAML::EndMap;
}

void FallbackYaml(Writer& w, const FallbackConfig& f) {
  const FallbackConfig d;
  w.BeginMap("fallback");
  if (!f.backends.empty()) w.StrList("backends", f.backends);
  w.IntIf("timeoutSeconds", f.timeout_seconds, d.timeout_seconds);
  if (f.retry_on != d.retry_on) {
    static constexpr std::pair<RetryOn, std::string_view> kNames[] = {
        {RetryOn::kConnectError, "connect-error"},
        {RetryOn::kTimeout, "timeout"},
        {RetryOn::k5xx, "5xx"},
        {RetryOn::k429, "429"}};
    std::vector<std::string> names;
    for (const auto& [bit, name] : kNames) {
      if ((f.retry_on & static_cast<uint32_t>(bit)) != 0) names.emplace_back(name);
    }
    w.StrList("retryOn", names);
  }
  w.IntIf("retriesPerBackend", f.retries_per_backend, d.retries_per_backend);
  w.IntIf("backoffBaseMillis", f.backoff_base_millis, d.backoff_base_millis);
  w.IntIf("backoffMaxMillis", f.backoff_max_millis, d.backoff_max_millis);
  w.IntIf("deadlineSeconds", f.deadline_seconds, d.deadline_seconds);
  w.EndMap();
}

// Writes limit and perUser only when set (0 means "no cap" and is not a valid manifest value);
// period and currency always.
void BudgetYaml(Writer& w, const BudgetConfig& b) {
  w.BeginMap("budget");
  if (b.limit != 0) Price(w, "limit", b.limit);
  if (b.per_user != 0) Price(w, "perUser", b.per_user);
  w.Str("period", BudgetPeriodName(b.period));
  w.Str("currency", b.currency);
  w.EndMap();
}

void RouteSpecYaml(Writer& w, const RouteSpec& spec) {
  const RouteSpec d;
  w.BeginMap("spec");
  if (!spec.rules.empty()) {
    w.out() << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
    for (const RouteRule& rule : spec.rules) {
      w.out() << YAML::BeginMap;
      const RouteMatch& m = rule.match;
      if (!m.headers.empty() || !m.header_regex.empty() || !m.path_prefix.empty() ||
          !m.model_pattern.empty()) {
        w.BeginMap("match");
        w.StrMap("headers", m.headers);
        w.StrMap("headerRegex", m.header_regex);
        w.StrIf("pathPrefix", m.path_prefix);
        w.StrIf("modelPattern", m.model_pattern);
        w.EndMap();
      }
      w.out() << YAML::Key << "backends" << YAML::Value << YAML::BeginSeq;
      for (const BackendRef& ref : rule.backends) BackendRefYaml(w, ref);
      w.out() << YAML::EndSeq << YAML::EndMap;
    }
    w.out() << YAML::EndSeq;
  }
  if (spec.default_backend) {
    w.out() << YAML::Key << "defaultBackend" << YAML::Value;
    BackendRefYaml(w, *spec.default_backend);
  }
  if (spec.fallback) FallbackYaml(w, *spec.fallback);
  if (spec.rate_limit) {
    const RateLimitConfig& r = *spec.rate_limit;
    const RateLimitConfig dr;
    w.BeginMap("rateLimit");
    w.Int("requestsPerMinute", r.requests_per_minute);
    if (r.per_user) w.Bool("perUser", true);
    w.StrIf("userHeader", r.user_header, dr.user_header);
    w.IntIf("tokensPerMinute", r.tokens_per_minute, dr.tokens_per_minute);
    w.IntIf("burstRequests", r.burst_requests, dr.burst_requests);
    w.IntIf("burstTokens", r.burst_tokens, dr.burst_tokens);
    w.EndMap();
  }
  if (!spec.experiments.empty()) {
    w.out() << YAML::Key << "experiments" << YAML::Value << YAML::BeginSeq;
    for (const ExperimentConfig& e : spec.experiments) {
      w.out() << YAML::BeginMap;
      w.Str("name", e.name);
      w.Str("control", e.control);
      w.Str("treatment", e.treatment);
      w.Number("trafficPercent", internal::FormatScaledDecimal(e.traffic_basis_points, 2));
      w.Str("metric", e.metric);
      w.out() << YAML::EndMap;
    }
    w.out() << YAML::EndSeq;
  }
  if (spec.cost_tracking != d.cost_tracking) w.Bool("costTracking", spec.cost_tracking);
  if (spec.enable_logging != d.enable_logging) w.Bool("enableLogging", spec.enable_logging);
  if (!spec.models.empty()) w.StrList("models", spec.models);
  if (spec.is_default) w.Bool("default", true);
  if (spec.budget) BudgetYaml(w, *spec.budget);
  w.EndMap();
}

// A client key as its Secret entry, in flow style: {keySha256: ..., attributes: {...}} and the
// policy fields that are set (routes as "namespace/name").
std::string ClientKeyEntry(const ClientKey& key) {
  YAML::Emitter e;
  Writer w(e);
  e << YAML::Flow << YAML::BeginMap;
  w.Str("keySha256", key.sha256_hex);
  if (!key.attributes.empty()) {
    e << YAML::Key << "attributes" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : key.attributes) {
      e << YAML::Key << YAML::DoubleQuoted << k << YAML::Value << YAML::DoubleQuoted << v;
    }
    e << YAML::EndMap;
  }
  if (!key.routes.empty()) w.StrList("routes", key.routes);
  if (!key.models.empty()) w.StrList("models", key.models);
  if (key.requests_per_minute != 0 || key.tokens_per_minute != 0) {
    w.BeginMap("rateLimit");
    w.IntIf("requestsPerMinute", key.requests_per_minute, 0);
    w.IntIf("tokensPerMinute", key.tokens_per_minute, 0);
    w.EndMap();
  }
  if (key.budget) BudgetYaml(w, *key.budget);
  if (key.expires_unix_seconds != 0) w.Str("expires", FormatRfc3339(key.expires_unix_seconds));
  e << YAML::EndMap;
  return e.c_str();
}

void SecretYaml(YAML::Emitter& out, const Secret& secret, const std::vector<ClientKey>& keys) {
  Writer w(out);
  out << YAML::BeginDoc << YAML::BeginMap;
  w.Str("apiVersion", "v1");
  w.Str("kind", "Secret");
  Meta(w, secret.meta);
  w.Str("type", secret.type);
  if (secret.immutable) w.Bool("immutable", true);
  std::map<std::string, std::string> data;
  for (const auto& [k, v] : secret.data) data[k] = internal::Base64Encode(v);
  for (const ClientKey& key : keys) data[key.user] = internal::Base64Encode(ClientKeyEntry(key));
  w.StrMap("data", data);
  out << YAML::EndMap;
}

}  // namespace

std::string RenderManifests(const ConfigSet& config) {
  YAML::Emitter out;
  for (const Backend& b : config.backends) {
    Writer w(out);
    out << YAML::BeginDoc << YAML::BeginMap;
    w.Str("apiVersion", kApiVersion);
    w.Str("kind", "InferenceBackend");
    Meta(w, b.meta);
    BackendSpecYaml(w, b.spec);
    out << YAML::EndMap;
  }
  for (const Route& r : config.routes) {
    Writer w(out);
    out << YAML::BeginDoc << YAML::BeginMap;
    w.Str("apiVersion", kApiVersion);
    w.Str("kind", "InferenceRoute");
    Meta(w, r.meta);
    RouteSpecYaml(w, r.spec);
    out << YAML::EndMap;
  }
  // Client keys go back into the Secret that defined them; keys without one (built in code, or
  // naming a Secret not in the set) into a new Secret of that name, else into
  // default/inferencegw-client-keys.
  std::map<std::string, std::vector<ClientKey>> by_secret;
  for (const ClientKey& key : config.client_keys) {
    const size_t slash = key.secret.find('/');
    const Secret* secret = slash == std::string::npos
                               ? nullptr
                               : config.FindSecret(std::string_view(key.secret).substr(0, slash),
                                                   std::string_view(key.secret).substr(slash + 1));
    const bool usable =
        slash != std::string::npos && (secret == nullptr || internal::IsClientKeySecret(*secret));
    by_secret[usable ? key.secret : std::string(kOrphanClientKeySecret)].push_back(key);
  }
  for (const Secret& s : config.secrets) {
    std::vector<ClientKey> keys;
    if (internal::IsClientKeySecret(s)) {
      auto it = by_secret.find(s.meta.Key());
      if (it != by_secret.end()) {
        keys = std::move(it->second);
        by_secret.erase(it);
      }
    }
    SecretYaml(out, s, keys);
  }
  for (const auto& [key, keys] : by_secret) {
    Secret s;
    const size_t slash = key.find('/');
    s.meta.namespace_ = slash == std::string::npos ? "default" : key.substr(0, slash);
    s.meta.name = slash == std::string::npos ? key : key.substr(slash + 1);
    s.meta.annotations[std::string(kClientKeysAnnotation)] = "true";
    SecretYaml(out, s, keys);
  }
  return out.c_str();
}

}  // namespace inferencegw
