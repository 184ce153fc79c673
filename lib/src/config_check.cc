// Per-object rules: what one InferenceBackend, InferenceRoute or Secret can get wrong on its own
// (required fields, ranges, formats). Used by ParseManifests and ValidateConfig alike, so that
// objects built in code are held to the same rules as manifests.
#include <re2/re2.h>

#include <algorithm>
#include <set>

#include "config_internal.h"
#include "fmt/format.h"

namespace inferencegw::internal {

namespace {

// Collects the issues of one object. Not thread-safe; one per object checked.
class Checker {
 public:
  Checker(std::string_view kind, const ObjectMeta& meta, std::vector<ConfigIssue>* issues)
      : kind_(kind), meta_(meta), issues_(issues) {}

  void Add(std::string field, std::string message, std::string_view reason = kReasonInvalidValue) {
    issues_->push_back(MakeIssue(kind_, meta_, std::move(field), std::move(message), reason));
  }

  void Required(const std::string& field, std::string_view value) {
    if (value.empty()) Add(field, "required", kReasonMissingField);
  }

  void AtLeast(const std::string& field, int64_t value, int64_t min) {
    if (value < min) Add(field, fmt::format("must be at least {}, got {}", min, value));
  }

  void Between(const std::string& field, int64_t value, int64_t min, int64_t max) {
    if (value < min || value > max) {
      Add(field, fmt::format("must be between {} and {}, got {}", min, max, value));
    }
  }

  void Url(const std::string& field, std::string_view url) {
    if (!url.empty() && !IsHttpUrl(url)) {
      Add(field, fmt::format("must start with http:// or https://, got \"{}\"", url));
    }
  }

  void Namespace(const std::string& field, std::string_view ns) {
    if (!ns.empty() && !IsDns1123Label(ns)) {
      Add(field, fmt::format("invalid namespace \"{}\": must be a DNS-1123 label (lowercase "
                             "letters, digits and '-', at most 63 characters)",
                             ns));
    }
  }

  void Header(const std::string& field, std::string_view name) {
    if (!IsHeaderName(name)) Add(field, fmt::format("invalid header name \"{}\"", name));
  }

  void Price(const std::string& field, PriceNanos price) {
    if (price < 0) Add(field, fmt::format("must not be negative, got {}", FormatPrice(price)));
  }

  void Meta() {
    if (meta_.name.empty()) {
      Add("metadata.name", "required", kReasonMissingField);
    } else if (!IsDns1123Subdomain(meta_.name)) {
      Add("metadata.name",
          fmt::format("invalid name \"{}\": must be a DNS-1123 subdomain (lowercase letters, "
                      "digits, '-' and '.', at most 253 characters)",
                      meta_.name));
    }
    if (meta_.namespace_.empty()) {
      Add("metadata.namespace", "must not be empty");
    } else {
      Namespace("metadata.namespace", meta_.namespace_);
    }
  }

 private:
  std::string_view kind_;
  const ObjectMeta& meta_;
  std::vector<ConfigIssue>* issues_;
};

void CheckBlocks(Checker& c, const BackendSpec& spec) {
  const std::string_view type = BackendTypeName(spec.type);
  const struct {
    std::string_view name;
    bool present;
    BackendType type;
  } blocks[] = {{"kserve", spec.kserve.has_value(), BackendType::kKServe},
                {"external", spec.external.has_value(), BackendType::kExternal},
                {"kubernetes", spec.kubernetes.has_value(), BackendType::kKubernetes}};
  for (const auto& block : blocks) {
    const std::string field = fmt::format("spec.{}", block.name);
    if (block.type == spec.type && !block.present) {
      c.Add(field, fmt::format("required when type is {}", type), kReasonMissingField);
    } else if (block.type != spec.type && block.present) {
      c.Add(field, fmt::format("not allowed when type is {}", type));
    }
  }
}

}  // namespace

void CheckBackend(const Backend& backend, std::vector<ConfigIssue>* issues) {
  Checker c(kKindBackend, backend.meta, issues);
  c.Meta();
  const BackendSpec& spec = backend.spec;
  CheckBlocks(c, spec);
  if (spec.kserve) {
    const KServeBackend& k = *spec.kserve;
    if (k.service_name.empty() && k.url.empty()) {
      c.Add("spec.kserve.serviceName", "required unless url is set", kReasonMissingField);
    }
    c.Namespace("spec.kserve.namespace", k.namespace_);
    c.Url("spec.kserve.url", k.url);
    if (!k.openai_path_prefix.empty() && k.openai_path_prefix.front() != '/') {
      c.Add("spec.kserve.openAIPathPrefix",
            fmt::format("must be empty or start with '/', got \"{}\"", k.openai_path_prefix));
    }
  }
  if (spec.external) {
    const ExternalBackend& e = *spec.external;
    c.Required("spec.external.url", e.url);
    c.Url("spec.external.url", e.url);
    if (e.api_key_secret) {
      c.Required("spec.external.apiKeySecret.name", e.api_key_secret->name);
      c.Required("spec.external.apiKeySecret.key", e.api_key_secret->key);
    }
  }
  if (spec.kubernetes) {
    const KubernetesBackend& k = *spec.kubernetes;
    if (k.service_name.empty() && k.url.empty()) {
      c.Add("spec.kubernetes.serviceName", "required unless url is set", kReasonMissingField);
    }
    c.Namespace("spec.kubernetes.namespace", k.namespace_);
    c.Between("spec.kubernetes.port", k.port, 1, 65535);
    c.Url("spec.kubernetes.url", k.url);
  }
  if (spec.health_check) {
    const HealthCheck& h = *spec.health_check;
    if (h.path.empty() || h.path.front() != '/') {
      c.Add("spec.healthCheck.path", fmt::format("must start with '/', got \"{}\"", h.path));
    }
    c.AtLeast("spec.healthCheck.intervalSeconds", h.interval_seconds, 1);
    c.AtLeast("spec.healthCheck.timeoutSeconds", h.timeout_seconds, 1);
    c.AtLeast("spec.healthCheck.failureThreshold", h.failure_threshold, 1);
    c.AtLeast("spec.healthCheck.successThreshold", h.success_threshold, 1);
  }
  if (spec.cost) {
    const CostConfig& cost = *spec.cost;
    c.Price("spec.cost.inputTokenCost", cost.input_token_cost);
    c.Price("spec.cost.outputTokenCost", cost.output_token_cost);
    c.Price("spec.cost.requestCost", cost.request_cost);
    if (cost.cached_input_token_cost) {
      c.Price("spec.cost.cachedInputTokenCost", *cost.cached_input_token_cost);
    }
    if (cost.cache_write_input_token_cost) {
      c.Price("spec.cost.cacheWriteInputTokenCost", *cost.cache_write_input_token_cost);
    }
    if (!IsCurrencyCode(cost.currency)) {
      c.Add("spec.cost.currency",
            fmt::format("must be three uppercase letters (ISO 4217), got \"{}\"", cost.currency));
    }
  }
  c.AtLeast("spec.timeoutSeconds", spec.timeout_seconds, 1);
  c.AtLeast("spec.maxConcurrency", spec.max_concurrency, 1);
  const CircuitBreakerConfig& cb = spec.circuit_breaker;
  c.AtLeast("spec.circuitBreaker.consecutiveFailures", cb.consecutive_failures, 1);
  c.Between("spec.circuitBreaker.failureRatePercent", cb.failure_rate_percent, 1, 100);
  c.AtLeast("spec.circuitBreaker.minimumRequests", cb.minimum_requests, 1);
  c.AtLeast("spec.circuitBreaker.windowSeconds", cb.window_seconds, 1);
  c.AtLeast("spec.circuitBreaker.openSeconds", cb.open_seconds, 1);
  if (cb.max_open_seconds < cb.open_seconds) {
    c.Add("spec.circuitBreaker.maxOpenSeconds",
          fmt::format("must be at least openSeconds ({}), got {}", cb.open_seconds,
                      cb.max_open_seconds));
  }
  c.AtLeast("spec.circuitBreaker.halfOpenRequests", cb.half_open_requests, 1);
}

namespace {

void CheckBackendRefs(Checker& c, const std::string& field, const std::vector<BackendRef>& refs) {
  if (refs.empty()) {
    c.Add(field, "at least one backend is required", kReasonMissingField);
    return;
  }
  int sum = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string item = fmt::format("{}[{}]", field, i);
    c.Required(item + ".name", refs[i].name);
    c.Between(item + ".weight", refs[i].weight, 0, 100);
    if (refs[i].weight > 0) sum += refs[i].weight;
  }
  if (sum == 0) c.Add(field, "the weights must not all be 0");
}

void CheckMatch(Checker& c, const std::string& field, const RouteMatch& match) {
  for (const auto& [name, value] : match.headers) {
    c.Header(fmt::format("{}.headers[{}]", field, name), name);
  }
  for (const auto& [name, pattern] : match.header_regex) {
    const std::string item = fmt::format("{}.headerRegex[{}]", field, name);
    c.Header(item, name);
    RE2 re(pattern, RE2::Quiet);
    if (!re.ok()) c.Add(item, fmt::format("invalid RE2 regex \"{}\": {}", pattern, re.error()));
  }
  if (!match.path_prefix.empty() && match.path_prefix.front() != '/') {
    c.Add(field + ".pathPrefix", fmt::format("must start with '/', got \"{}\"", match.path_prefix));
  }
}

void CheckExperiments(Checker& c, const std::vector<ExperimentConfig>& experiments) {
  static constexpr std::string_view kMetrics[] = {"latency_p50", "latency_p95", "latency_p99",
                                                  "error_rate", "cost"};
  std::set<std::string> names;
  for (size_t i = 0; i < experiments.size(); ++i) {
    const ExperimentConfig& e = experiments[i];
    const std::string item = fmt::format("spec.experiments[{}]", i);
    c.Required(item + ".name", e.name);
    if (!e.name.empty() && !names.insert(e.name).second) {
      c.Add(item + ".name", fmt::format("duplicate experiment name \"{}\"", e.name),
            kReasonDuplicateName);
    }
    c.Required(item + ".control", e.control);
    c.Required(item + ".treatment", e.treatment);
    if (!e.control.empty() && e.control == e.treatment) {
      c.Add(item + ".treatment",
            fmt::format("must differ from control (both are \"{}\")", e.control));
    }
    if (e.traffic_basis_points < 0 || e.traffic_basis_points > 10000) {
      c.Add(item + ".trafficPercent", fmt::format("must be between 0 and 100, got {}",
                                                  FormatScaledDecimal(e.traffic_basis_points, 2)));
    }
    bool known_metric = false;
    for (std::string_view m : kMetrics) known_metric = known_metric || m == e.metric;
    if (!known_metric) {
      c.Add(item + ".metric",
            fmt::format("must be one of latency_p50, latency_p95, latency_p99, error_rate, "
                        "cost; got \"{}\"",
                        e.metric));
    }
  }
}

}  // namespace

void CheckRoute(const Route& route, std::vector<ConfigIssue>* issues) {
  Checker c(kKindRoute, route.meta, issues);
  c.Meta();
  const RouteSpec& spec = route.spec;
  if (spec.rules.empty() && !spec.default_backend) {
    c.Add("spec", "needs rules or a defaultBackend", kReasonNoBackend);
  }
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    const std::string item = fmt::format("spec.rules[{}]", i);
    CheckMatch(c, item + ".match", spec.rules[i].match);
    CheckBackendRefs(c, item + ".backends", spec.rules[i].backends);
  }
  if (spec.default_backend) {
    c.Required("spec.defaultBackend.name", spec.default_backend->name);
    c.Between("spec.defaultBackend.weight", spec.default_backend->weight, 0, 100);
  }
  if (spec.fallback) {
    const FallbackConfig& f = *spec.fallback;
    for (size_t i = 0; i < f.backends.size(); ++i) {
      c.Required(fmt::format("spec.fallback.backends[{}]", i), f.backends[i]);
    }
    c.AtLeast("spec.fallback.timeoutSeconds", f.timeout_seconds, 1);
    if ((f.retry_on & ~kDefaultRetryOn) != 0) {
      c.Add("spec.fallback.retryOn", fmt::format("unknown bits 0x{:x}", f.retry_on));
    }
    c.Between("spec.fallback.retriesPerBackend", f.retries_per_backend, 0, 10);
    c.AtLeast("spec.fallback.backoffBaseMillis", f.backoff_base_millis, 1);
    if (f.backoff_max_millis < f.backoff_base_millis) {
      c.Add("spec.fallback.backoffMaxMillis",
            fmt::format("must be at least backoffBaseMillis ({}), got {}", f.backoff_base_millis,
                        f.backoff_max_millis));
    }
    c.AtLeast("spec.fallback.deadlineSeconds", f.deadline_seconds, 0);
  }
  if (spec.rate_limit) {
    const RateLimitConfig& r = *spec.rate_limit;
    c.AtLeast("spec.rateLimit.requestsPerMinute", r.requests_per_minute, 0);
    c.Header("spec.rateLimit.userHeader", r.user_header);
    c.AtLeast("spec.rateLimit.tokensPerMinute", r.tokens_per_minute, 0);
    c.AtLeast("spec.rateLimit.burstRequests", r.burst_requests, 0);
    c.AtLeast("spec.rateLimit.burstTokens", r.burst_tokens, 0);
  }
  CheckExperiments(c, spec.experiments);
  for (size_t i = 0; i < spec.models.size(); ++i) {
    c.Required(fmt::format("spec.models[{}]", i), spec.models[i]);
  }
  if (spec.budget) {
    for (FieldProblem& p : CheckBudget(*spec.budget, /*on_key=*/false)) {
      c.Add(SubField("spec.budget", p.field), std::move(p.message), p.reason);
    }
  }
}

std::string SubField(std::string_view parent, std::string_view field) {
  if (field.empty()) return std::string(parent);
  if (parent.empty()) return std::string(field);
  return fmt::format("{}.{}", parent, field);
}

std::vector<FieldProblem> CheckBudget(const BudgetConfig& budget, bool on_key) {
  std::vector<FieldProblem> out;
  auto not_negative = [&](std::string_view field, PriceNanos price) {
    if (price < 0) {
      out.push_back(
          {std::string(field), fmt::format("must not be negative, got {}", FormatPrice(price))});
    }
  };
  not_negative("limit", budget.limit);
  if (on_key && budget.per_user != 0) {
    out.push_back({"perUser", "not allowed on a client key (a key is one user: use limit)"});
  } else {
    not_negative("perUser", budget.per_user);
  }
  if (budget.limit == 0 && (on_key || budget.per_user == 0)) {
    out.push_back(
        {"", on_key ? "needs a limit" : "needs a limit or perUser (or both)", kReasonMissingField});
  }
  if (!IsCurrencyCode(budget.currency)) {
    out.push_back({"currency", fmt::format("must be three uppercase letters (ISO 4217), got \"{}\"",
                                           budget.currency)});
  }
  return out;
}

std::vector<FieldProblem> CheckKeyPolicy(const ClientKey& key) {
  std::vector<FieldProblem> out;
  for (size_t i = 0; i < key.routes.size(); ++i) {
    const std::string& route = key.routes[i];
    const size_t slash = route.find('/');
    const bool valid = slash != std::string::npos &&
                       IsDns1123Label(std::string_view(route).substr(0, slash)) &&
                       IsDns1123Subdomain(std::string_view(route).substr(slash + 1));
    if (route.empty()) {
      out.push_back({fmt::format("routes[{}]", i), "must not be empty", kReasonMissingField});
    } else if (!valid) {
      out.push_back(
          {fmt::format("routes[{}]", i),
           fmt::format("invalid route \"{}\": must be a route name or namespace/name", route)});
    }
  }
  for (size_t i = 0; i < key.models.size(); ++i) {
    if (key.models[i].empty()) {
      out.push_back({fmt::format("models[{}]", i), "must not be empty", kReasonMissingField});
    }
  }
  if (key.requests_per_minute < 0) {
    out.push_back({"rateLimit.requestsPerMinute",
                   fmt::format("must be at least 0, got {}", key.requests_per_minute)});
  }
  if (key.tokens_per_minute < 0) {
    out.push_back({"rateLimit.tokensPerMinute",
                   fmt::format("must be at least 0, got {}", key.tokens_per_minute)});
  }
  if (key.budget) {
    for (FieldProblem& p : CheckBudget(*key.budget, /*on_key=*/true)) {
      p.field = SubField("budget", p.field);
      out.push_back(std::move(p));
    }
  }
  constexpr int64_t kLastSecondOf9999 = 253'402'300'799;  // RFC 3339 has four-digit years
  if (key.expires_unix_seconds < 0) {
    out.push_back({"expires", "must not be before 1970-01-01T00:00:00Z"});
  } else if (key.expires_unix_seconds > kLastSecondOf9999) {
    out.push_back({"expires", "must not be after 9999-12-31T23:59:59Z"});
  }
  return out;
}

void CheckSecret(const Secret& secret, std::vector<ConfigIssue>* issues) {
  Checker c(kKindSecret, secret.meta, issues);
  c.Meta();
  for (const auto& [key, value] : secret.data) {
    const bool valid = !key.empty() && std::all_of(key.begin(), key.end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || ch == '_' || ch == '.';
    });
    if (!valid) {
      c.Add(fmt::format("data[{}]", key),
            "invalid key: must consist of letters, digits, '-', '_' or '.'");
    }
  }
}

}  // namespace inferencegw::internal
