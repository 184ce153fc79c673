// RenderConfigJson: the whole config as JSON for people (/admin/config). Secrets appear by name,
// type and key names only; client keys by user, Secret, attributes and policy only.
#include "config_internal.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/provider.h"
#include "json_writer.h"

namespace inferencegw {

namespace {

using internal::JsonWriter;

void StringMap(JsonWriter& w, std::string_view key, const std::map<std::string, std::string>& m) {
  w.Key(key).BeginObject();
  for (const auto& [k, v] : m) w.Key(k).String(v);
  w.EndObject();
}

void StringList(JsonWriter& w, std::string_view key, const std::vector<std::string>& list) {
  w.Key(key).BeginArray();
  for (const std::string& s : list) w.String(s);
  w.EndArray();
}

// Identity and provenance; `with_labels` is false for Secrets (whose annotations may hold
// values, e.g. kubectl's last-applied-configuration).
void Meta(JsonWriter& w, const ObjectMeta& meta, bool with_labels) {
  w.Key("namespace").String(meta.namespace_).Key("name").String(meta.name);
  if (!meta.source.file.empty()) {
    w.Key("source").String(meta.source.line > 0
                               ? fmt::format("{}:{}", meta.source.file, meta.source.line)
                               : meta.source.file);
  }
  if (!with_labels) return;
  StringMap(w, "labels", meta.labels);
  StringMap(w, "annotations", meta.annotations);
  w.Key("resourceVersion").String(meta.resource_version).Key("generation").Int(meta.generation);
}

void Price(JsonWriter& w, std::string_view key, PriceNanos price) {
  w.Key(key).String(FormatPrice(price));
}

// Caps that are not set (0) are null.
void BudgetJson(JsonWriter& w, const BudgetConfig& b, bool with_per_user) {
  auto cap = [&](std::string_view key, PriceNanos price) {
    if (price != 0) {
      Price(w, key, price);
    } else {
      w.Key(key).Null();
    }
  };
  w.Key("budget").BeginObject();
  cap("limit", b.limit);
  if (with_per_user) cap("perUser", b.per_user);
  w.Key("period").String(BudgetPeriodName(b.period)).Key("currency").String(b.currency);
  w.EndObject();
}

void BackendSpecJson(JsonWriter& w, const BackendSpec& spec) {
  w.BeginObject().Key("type").String(BackendTypeName(spec.type));
  if (spec.kserve) {
    const KServeBackend& k = *spec.kserve;
    w.Key("kserve").BeginObject();
    w.Key("serviceName").String(k.service_name).Key("namespace").String(k.namespace_);
    w.Key("url").String(k.url).Key("model").String(k.model);
    w.Key("openAIPathPrefix").String(k.openai_path_prefix).EndObject();
  }
  if (spec.external) {
    const ExternalBackend& e = *spec.external;
    w.Key("external").BeginObject();
    w.Key("url").String(e.url).Key("provider").String(ProviderName(e.provider));
    if (e.api_key_secret) {
      w.Key("apiKeySecret").BeginObject();
      w.Key("name").String(e.api_key_secret->name).Key("key").String(e.api_key_secret->key);
      w.EndObject();
    }
    w.Key("model").String(e.model).EndObject();
  }
  if (spec.kubernetes) {
    const KubernetesBackend& k = *spec.kubernetes;
    w.Key("kubernetes").BeginObject();
    w.Key("serviceName").String(k.service_name).Key("namespace").String(k.namespace_);
    w.Key("port").Int(k.port).Key("url").String(k.url).Key("model").String(k.model);
    w.EndObject();
  }
  if (spec.health_check) {
    const HealthCheck& h = *spec.health_check;
    w.Key("healthCheck").BeginObject().Key("path").String(h.path);
    w.Key("intervalSeconds").Int(h.interval_seconds).Key("timeoutSeconds").Int(h.timeout_seconds);
    w.Key("failureThreshold").Int(h.failure_threshold);
    w.Key("successThreshold").Int(h.success_threshold).EndObject();
  }
  if (spec.cost) {
    const CostConfig& c = *spec.cost;
    w.Key("cost").BeginObject();
    Price(w, "inputTokenCost", c.input_token_cost);
    Price(w, "outputTokenCost", c.output_token_cost);
    Price(w, "requestCost", c.request_cost);
    if (c.cached_input_token_cost) Price(w, "cachedInputTokenCost", *c.cached_input_token_cost);
    if (c.cache_write_input_token_cost) {
      Price(w, "cacheWriteInputTokenCost", *c.cache_write_input_token_cost);
    }
    w.Key("currency").String(c.currency).EndObject();
  }
  w.Key("timeoutSeconds").Int(spec.timeout_seconds).Key("maxConcurrency").Int(spec.max_concurrency);
  w.Key("priority").Int(spec.priority);
  const CircuitBreakerConfig& cb = spec.circuit_breaker;
  w.Key("circuitBreaker").BeginObject();
  w.Key("consecutiveFailures").Int(cb.consecutive_failures);
  w.Key("failureRatePercent").Int(cb.failure_rate_percent);
  w.Key("minimumRequests").Int(cb.minimum_requests).Key("windowSeconds").Int(cb.window_seconds);
  w.Key("openSeconds").Int(cb.open_seconds).Key("maxOpenSeconds").Int(cb.max_open_seconds);
  w.Key("halfOpenRequests").Int(cb.half_open_requests).EndObject();
  w.EndObject();
}

void BackendRefJson(JsonWriter& w, const BackendRef& ref) {
  w.BeginObject().Key("name").String(ref.name).Key("weight").Int(ref.weight).EndObject();
}

void RetryOnJson(JsonWriter& w, uint32_t bits) {
  static constexpr std::pair<RetryOn, std::string_view> kNames[] = {
      {RetryOn::kConnectError, "connect-error"},
      {RetryOn::kTimeout, "timeout"},
      {RetryOn::k5xx, "5xx"},
      {RetryOn::k429, "429"}};
  w.Key("retryOn").BeginArray();
  for (const auto& [bit, name] : kNames) {
    if ((bits & static_cast<uint32_t>(bit)) != 0) w.String(name);
  }
  w.EndArray();
}

void RouteSpecJson(JsonWriter& w, const RouteSpec& spec) {
  w.BeginObject().Key("rules").BeginArray();
  for (const RouteRule& rule : spec.rules) {
    w.BeginObject().Key("match").BeginObject();
    StringMap(w, "headers", rule.match.headers);
    StringMap(w, "headerRegex", rule.match.header_regex);
    w.Key("pathPrefix").String(rule.match.path_prefix);
    w.Key("modelPattern").String(rule.match.model_pattern).EndObject();
    w.Key("backends").BeginArray();
    for (const BackendRef& ref : rule.backends) BackendRefJson(w, ref);
    w.EndArray().EndObject();
  }
  w.EndArray();
  if (spec.default_backend) BackendRefJson(w.Key("defaultBackend"), *spec.default_backend);
  if (spec.fallback) {
    const FallbackConfig& f = *spec.fallback;
    w.Key("fallback").BeginObject();
    StringList(w, "backends", f.backends);
    w.Key("timeoutSeconds").Int(f.timeout_seconds);
    RetryOnJson(w, f.retry_on);
    w.Key("retriesPerBackend").Int(f.retries_per_backend);
    w.Key("backoffBaseMillis").Int(f.backoff_base_millis);
    w.Key("backoffMaxMillis").Int(f.backoff_max_millis);
    w.Key("deadlineSeconds").Int(f.deadline_seconds).EndObject();
  }
  if (spec.rate_limit) {
    const RateLimitConfig& r = *spec.rate_limit;
    w.Key("rateLimit").BeginObject().Key("requestsPerMinute").Int(r.requests_per_minute);
    w.Key("perUser").Bool(r.per_user).Key("userHeader").String(r.user_header);
    w.Key("tokensPerMinute").Int(r.tokens_per_minute).Key("burstRequests").Int(r.burst_requests);
    w.Key("burstTokens").Int(r.burst_tokens).EndObject();
  }
  w.Key("experiments").BeginArray();
  for (const ExperimentConfig& e : spec.experiments) {
    w.BeginObject().Key("name").String(e.name).Key("control").String(e.control);
    w.Key("treatment").String(e.treatment);
    w.Key("trafficPercent").Raw(internal::FormatScaledDecimal(e.traffic_basis_points, 2));
    w.Key("metric").String(e.metric).EndObject();
  }
  w.EndArray();
  w.Key("costTracking").Bool(spec.cost_tracking).Key("enableLogging").Bool(spec.enable_logging);
  StringList(w, "models", spec.models);
  w.Key("default").Bool(spec.is_default);
  if (spec.budget) BudgetJson(w, *spec.budget, /*with_per_user=*/true);
  w.EndObject();
}

// A client key by user, Secret, attributes and policy: never its hash.
void ClientKeyJson(JsonWriter& w, const ClientKey& k) {
  w.BeginObject().Key("user").String(k.user).Key("secret").String(k.secret);
  StringMap(w, "attributes", k.attributes);
  StringList(w, "routes", k.routes);
  StringList(w, "models", k.models);
  w.Key("rateLimit").BeginObject().Key("requestsPerMinute").Int(k.requests_per_minute);
  w.Key("tokensPerMinute").Int(k.tokens_per_minute).EndObject();
  if (k.budget) BudgetJson(w, *k.budget, /*with_per_user=*/false);
  w.Key("expires");
  if (k.expires_unix_seconds != 0) {
    w.String(FormatRfc3339(k.expires_unix_seconds));
  } else {
    w.Null();
  }
  w.EndObject();
}

}  // namespace

std::string RenderConfigJson(const ConfigSet& config) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("backends").BeginArray();
  for (const Backend& b : config.backends) {
    w.BeginObject();
    Meta(w, b.meta, true);
    BackendSpecJson(w.Key("spec"), b.spec);
    w.EndObject();
  }
  w.EndArray().Key("routes").BeginArray();
  for (const Route& r : config.routes) {
    w.BeginObject();
    Meta(w, r.meta, true);
    RouteSpecJson(w.Key("spec"), r.spec);
    w.EndObject();
  }
  w.EndArray().Key("secrets").BeginArray();
  for (const Secret& s : config.secrets) {
    w.BeginObject();
    Meta(w, s.meta, false);
    w.Key("type").String(s.type).Key("immutable").Bool(s.immutable);
    w.Key("clientKeys").Bool(internal::IsClientKeySecret(s));
    w.Key("keys").BeginArray();
    for (const auto& [key, value] : s.data) w.String(key);
    w.EndArray().EndObject();
  }
  w.EndArray().Key("clientKeys").BeginArray();
  for (const ClientKey& k : config.client_keys) ClientKeyJson(w, k);
  w.EndArray().EndObject();
  return out;
}

}  // namespace inferencegw
