// Reading the `spec` of InferenceBackend and InferenceRoute manifests into the config structs.
// Types and field names are checked here; ranges and required fields in config_check.cc.
#include "config_internal.h"
#include "config_yaml_internal.h"

namespace inferencegw::internal {

namespace {

using Node = const YamlNode&;
using Path = const std::string&;

void ReadKServe(YamlReader* r, Node node, Path path, KServeBackend* k) {
  r->Map(node, path,
         {{"serviceName", [&](Node v, Path p) { r->String(v, p, &k->service_name); }},
          {"namespace", [&](Node v, Path p) { r->String(v, p, &k->namespace_); }},
          {"url", [&](Node v, Path p) { r->String(v, p, &k->url); }},
          {"model", [&](Node v, Path p) { r->String(v, p, &k->model); }},
          {"openAIPathPrefix", [&](Node v, Path p) { r->String(v, p, &k->openai_path_prefix); }}});
}

void ReadExternal(YamlReader* r, Node node, Path path, ExternalBackend* e) {
  r->Map(node, path,
         {{"url", [&](Node v, Path p) { r->String(v, p, &e->url); }},
          {"provider",
           [&](Node v, Path p) {
             r->Enum<Provider>(v, p,
                               {{"openai", Provider::kOpenAI},
                                {"anthropic", Provider::kAnthropic},
                                {"cohere", Provider::kCohere},
                                {"custom", Provider::kCustom}},
                               &e->provider);
           }},
          {"apiKeySecret",
           [&](Node v, Path p) {
             SecretKeySelector& s = e->api_key_secret.emplace();
             r->Map(v, p,
                    {{"name", [&](Node v2, Path p2) { r->String(v2, p2, &s.name); }},
                     {"key", [&](Node v2, Path p2) { r->String(v2, p2, &s.key); }}});
           }},
          {"model", [&](Node v, Path p) { r->String(v, p, &e->model); }}});
}

void ReadKubernetes(YamlReader* r, Node node, Path path, KubernetesBackend* k) {
  r->Map(node, path,
         {{"serviceName", [&](Node v, Path p) { r->String(v, p, &k->service_name); }},
          {"namespace", [&](Node v, Path p) { r->String(v, p, &k->namespace_); }},
          {"port", [&](Node v, Path p) { r->Int(v, p, &k->port); }},
          {"url", [&](Node v, Path p) { r->String(v, p, &k->url); }},
          {"model", [&](Node v, Path p) { r->String(v, p, &k->model); }}});
}

void ReadHealthCheck(YamlReader* r, Node node, Path path, HealthCheck* h) {
  r->Map(node, path,
         {{"path", [&](Node v, Path p) { r->String(v, p, &h->path); }},
          {"intervalSeconds", [&](Node v, Path p) { r->Int(v, p, &h->interval_seconds); }},
          {"timeoutSeconds", [&](Node v, Path p) { r->Int(v, p, &h->timeout_seconds); }},
          {"failureThreshold", [&](Node v, Path p) { r->Int(v, p, &h->failure_threshold); }},
          {"successThreshold", [&](Node v, Path p) { r->Int(v, p, &h->success_threshold); }}});
}

void ReadCost(YamlReader* r, Node node, Path path, CostConfig* c) {
  auto optional_price = [&](std::optional<PriceNanos>* out) {
    return [r, out](Node v, Path p) {
      if (v.IsNull()) return;
      PriceNanos price = 0;
      const size_t before = r->issues().size();
      r->Price(v, p, &price);
      if (r->issues().size() == before) *out = price;
    };
  };
  r->Map(node, path,
         {{"inputTokenCost", [&](Node v, Path p) { r->Price(v, p, &c->input_token_cost); }},
          {"outputTokenCost", [&](Node v, Path p) { r->Price(v, p, &c->output_token_cost); }},
          {"requestCost", [&](Node v, Path p) { r->Price(v, p, &c->request_cost); }},
          {"cachedInputTokenCost", optional_price(&c->cached_input_token_cost)},
          {"cacheWriteInputTokenCost", optional_price(&c->cache_write_input_token_cost)},
          {"currency", [&](Node v, Path p) { r->String(v, p, &c->currency); }}});
}

void ReadCircuitBreaker(YamlReader* r, Node node, Path path, CircuitBreakerConfig* c) {
  r->Map(node, path,
         {{"consecutiveFailures", [&](Node v, Path p) { r->Int(v, p, &c->consecutive_failures); }},
          {"failureRatePercent", [&](Node v, Path p) { r->Int(v, p, &c->failure_rate_percent); }},
          {"minimumRequests", [&](Node v, Path p) { r->Int(v, p, &c->minimum_requests); }},
          {"windowSeconds", [&](Node v, Path p) { r->Int(v, p, &c->window_seconds); }},
          {"openSeconds", [&](Node v, Path p) { r->Int(v, p, &c->open_seconds); }},
          {"maxOpenSeconds", [&](Node v, Path p) { r->Int(v, p, &c->max_open_seconds); }},
          {"halfOpenRequests", [&](Node v, Path p) { r->Int(v, p, &c->half_open_requests); }}});
}

}  // namespace

void ReadBackendSpec(YamlReader* r, const YamlNode& node, BackendSpec* spec) {
  bool has_type = false;
  const bool is_map = r->Map(
      node, "spec",
      {{"type",
        [&](Node v, Path p) {
          has_type = !v.IsNull();
          r->Enum<BackendType>(v, p,
                               {{"kserve", BackendType::kKServe},
                                {"external", BackendType::kExternal},
                                {"kubernetes", BackendType::kKubernetes}},
                               &spec->type);
        }},
       {"kserve", [&](Node v, Path p) { ReadKServe(r, v, p, &spec->kserve.emplace()); }},
       {"external", [&](Node v, Path p) { ReadExternal(r, v, p, &spec->external.emplace()); }},
       {"kubernetes",
        [&](Node v, Path p) { ReadKubernetes(r, v, p, &spec->kubernetes.emplace()); }},
       {"healthCheck",
        [&](Node v, Path p) { ReadHealthCheck(r, v, p, &spec->health_check.emplace()); }},
       {"cost", [&](Node v, Path p) { ReadCost(r, v, p, &spec->cost.emplace()); }},
       {"timeoutSeconds", [&](Node v, Path p) { r->Int(v, p, &spec->timeout_seconds); }},
       {"maxConcurrency", [&](Node v, Path p) { r->Int(v, p, &spec->max_concurrency); }},
       {"priority", [&](Node v, Path p) { r->Int(v, p, &spec->priority); }},
       {"circuitBreaker",
        [&](Node v, Path p) { ReadCircuitBreaker(r, v, p, &spec->circuit_breaker); }}});
  if (is_map && !has_type) {
    r->ErrorAt("spec.type", "required (kserve, external or kubernetes)", kReasonMissingField);
  }
}

namespace {

void ReadBackendRef(YamlReader* r, Node node, Path path, BackendRef* ref) {
  r->Map(node, path,
         {{"name", [&](Node v, Path p) { r->String(v, p, &ref->name); }},
          {"weight", [&](Node v, Path p) { r->Int(v, p, &ref->weight); }}});
}

void ReadRule(YamlReader* r, Node node, Path path, RouteRule* rule) {
  RouteMatch& m = rule->match;
  auto read_match = [&](Node v, Path p) {
    r->Map(v, p,
           {{"headers", [&](Node v2, Path p2) { r->StringMap(v2, p2, &m.headers, true); }},
            {"headerRegex", [&](Node v2, Path p2) { r->StringMap(v2, p2, &m.header_regex, true); }},
            {"pathPrefix", [&](Node v2, Path p2) { r->String(v2, p2, &m.path_prefix); }},
            {"modelPattern", [&](Node v2, Path p2) { r->String(v2, p2, &m.model_pattern); }}});
  };
  auto read_backends = [&](Node v, Path p) {
    r->List(v, p, [&](Node item, Path item_path, size_t) {
      ReadBackendRef(r, item, item_path, &rule->backends.emplace_back());
    });
  };
  r->Map(node, path, {{"match", read_match}, {"backends", read_backends}});
}

void ReadFallback(YamlReader* r, Node node, Path path, FallbackConfig* f) {
  auto read_retry_on = [&](Node v, Path p) {
    if (v.IsNull()) return;
    uint32_t bits = 0;
    const bool is_list = r->List(v, p, [&](Node item, Path item_path, size_t) {
      RetryOn on = RetryOn::kConnectError;
      const size_t before = r->issues().size();
      r->Enum<RetryOn>(item, item_path,
                       {{"connect-error", RetryOn::kConnectError},
                        {"timeout", RetryOn::kTimeout},
                        {"5xx", RetryOn::k5xx},
                        {"429", RetryOn::k429}},
                       &on);
      if (r->issues().size() == before) bits |= static_cast<uint32_t>(on);
    });
    if (is_list) f->retry_on = bits;
  };
  r->Map(node, path,
         {{"backends", [&](Node v, Path p) { r->StringList(v, p, &f->backends); }},
          {"timeoutSeconds", [&](Node v, Path p) { r->Int(v, p, &f->timeout_seconds); }},
          {"retryOn", read_retry_on},
          {"retriesPerBackend", [&](Node v, Path p) { r->Int(v, p, &f->retries_per_backend); }},
          {"backoffBaseMillis", [&](Node v, Path p) { r->Int(v, p, &f->backoff_base_millis); }},
          {"backoffMaxMillis", [&](Node v, Path p) { r->Int(v, p, &f->backoff_max_millis); }},
          {"deadlineSeconds", [&](Node v, Path p) { r->Int(v, p, &f->deadline_seconds); }}});
}

void ReadRateLimit(YamlReader* r, Node node, Path path, RateLimitConfig* l) {
  r->Map(node, path,
         {{"requestsPerMinute", [&](Node v, Path p) { r->Int(v, p, &l->requests_per_minute); }},
          {"perUser", [&](Node v, Path p) { r->Bool(v, p, &l->per_user); }},
          {"userHeader",
           [&](Node v, Path p) {
             r->String(v, p, &l->user_header);
             l->user_header = ToLower(l->user_header);
           }},
          {"tokensPerMinute", [&](Node v, Path p) { r->Int64(v, p, &l->tokens_per_minute); }},
          {"burstRequests", [&](Node v, Path p) { r->Int(v, p, &l->burst_requests); }},
          {"burstTokens", [&](Node v, Path p) { r->Int64(v, p, &l->burst_tokens); }}});
}

void ReadExperiment(YamlReader* r, Node node, Path path, ExperimentConfig* e) {
  r->Map(node, path,
         {{"name", [&](Node v, Path p) { r->String(v, p, &e->name); }},
          {"control", [&](Node v, Path p) { r->String(v, p, &e->control); }},
          {"treatment", [&](Node v, Path p) { r->String(v, p, &e->treatment); }},
          {"trafficPercent", [&](Node v, Path p) { r->Percent(v, p, &e->traffic_basis_points); }},
          {"metric", [&](Node v, Path p) { r->String(v, p, &e->metric); }}});
}

}  // namespace

void ReadBudget(YamlReader* r, const YamlNode& node, const std::string& path, bool on_key,
                BudgetConfig* budget) {
  // Not 0: leaving the field out is how a budget says "no cap".
  auto positive_price = [r](PriceNanos* out) {
    return [r, out](Node v, Path p) {
      const size_t before = r->issues().size();
      r->Price(v, p, out);
      if (r->issues().size() == before && v.IsScalar() && *out == 0) {
        r->Error(v, p, "must be greater than 0", kReasonInvalidValue);
      }
    };
  };
  YamlReader::Handler per_user = positive_price(&budget->per_user);
  if (on_key) {
    per_user = [r](Node v, Path p) {
      r->Error(v, p, "not allowed on a client key (a key is one user: use limit)",
               kReasonInvalidValue);
    };
  }
  r->Map(node, path,
         {{"limit", positive_price(&budget->limit)},
          {"perUser", per_user},
          {"period",
           [&](Node v, Path p) {
             r->Enum<BudgetPeriod>(v, p,
                                   {{"hour", BudgetPeriod::kHour},
                                    {"day", BudgetPeriod::kDay},
                                    {"week", BudgetPeriod::kWeek},
                                    {"month", BudgetPeriod::kMonth}},
                                   &budget->period);
           }},
          {"currency", [&](Node v, Path p) { r->String(v, p, &budget->currency); }}});
}

void ReadRouteSpec(YamlReader* r, const YamlNode& node, RouteSpec* spec) {
  r->Map(
      node, "spec",
      {{"rules",
        [&](Node v, Path p) {
          r->List(v, p, [&](Node item, Path item_path, size_t) {
            ReadRule(r, item, item_path, &spec->rules.emplace_back());
          });
        }},
       {"defaultBackend",
        [&](Node v, Path p) { ReadBackendRef(r, v, p, &spec->default_backend.emplace()); }},
       {"fallback", [&](Node v, Path p) { ReadFallback(r, v, p, &spec->fallback.emplace()); }},
       {"rateLimit", [&](Node v, Path p) { ReadRateLimit(r, v, p, &spec->rate_limit.emplace()); }},
       {"experiments",
        [&](Node v, Path p) {
          r->List(v, p, [&](Node item, Path item_path, size_t) {
            ReadExperiment(r, item, item_path, &spec->experiments.emplace_back());
          });
        }},
       {"costTracking", [&](Node v, Path p) { r->Bool(v, p, &spec->cost_tracking); }},
       {"enableLogging", [&](Node v, Path p) { r->Bool(v, p, &spec->enable_logging); }},
       {"models", [&](Node v, Path p) { r->StringList(v, p, &spec->models); }},
       {"default", [&](Node v, Path p) { r->Bool(v, p, &spec->is_default); }},
       {"budget", [&](Node v, Path p) {
          if (!v.IsNull()) ReadBudget(r, v, p, /*on_key=*/false, &spec->budget.emplace());
        }}});
}

}  // namespace inferencegw::internal
