// RouteTable::Create: validation, then compiling backends, routes and the lookup index.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/route_table.h"
#include "route_table_internal.h"

namespace inferencegw {
namespace {

using BackendMap = internal::StringMap<BackendIndex>;

// Resolves a backend named in `route` (its own namespace) or fails naming the field.
absl::StatusOr<BackendIndex> ResolveRef(const BackendMap& backends, const Route& route,
                                        std::string_view name, std::string_view field) {
  auto it = backends.find(fmt::format("{}/{}", route.meta.namespace_, name));
  if (it == backends.end()) {
    return absl::InvalidArgumentError(
        fmt::format("{}{}: unknown backend \"{}\" in namespace \"{}\"",
                    route.meta.source.Where(field), field, name, route.meta.namespace_));
  }
  return it->second;
}

absl::StatusOr<std::unique_ptr<CompiledRule>> CompileRule(const BackendMap& backends,
                                                          const Route& route, size_t index) {
  const RouteRule& config = route.spec.rules[index];
  const std::string field = fmt::format("spec.rules[{}]", index);
  auto rule = std::make_unique<CompiledRule>();
  rule->path_prefix = config.match.path_prefix;
  rule->model_pattern = config.match.model_pattern;
  for (const auto& [name, value] : config.match.headers) {
    rule->headers.push_back({internal::AsciiLower(name), value});
  }
  for (const auto& [name, pattern] : config.match.header_regex) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    auto regex = std::make_unique<const re2::RE2>(pattern, options);
    if (!regex->ok()) {
      const std::string where = fmt::format("{}.match.headerRegex.{}", field, name);
      return absl::InvalidArgumentError(fmt::format("{}{}: invalid regular expression \"{}\": {}",
                                                    route.meta.source.Where(where), where, pattern,
                                                    regex->error()));
    }
    rule->header_regex.push_back({internal::AsciiLower(name), std::move(regex)});
  }
  std::vector<uint32_t> weights;
  for (size_t i = 0; i < config.backends.size(); ++i) {
    const BackendRef& ref = config.backends[i];
    absl::StatusOr<BackendIndex> b =
        ResolveRef(backends, route, ref.name, fmt::format("{}.backends[{}]", field, i));
    if (!b.ok()) return b.status();
    rule->backends.push_back(*b);
    weights.push_back(static_cast<uint32_t>(std::max(ref.weight, 0)));
  }
  rule->split = WeightedSplit::Create(weights);
  return rule;
}

// Every backend the route can pick as primary: rule backends, the default, experiment arms.
std::vector<BackendIndex> ReferencedBackends(const CompiledRoute& route) {
  std::vector<BackendIndex> out;
  auto add = [&out](BackendIndex b) {
    if (b != kNoBackend && std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
  };
  for (const auto& rule : route.rules) {
    for (BackendIndex b : rule->backends) add(b);
  }
  add(route.default_backend);
  for (const CompiledExperiment& e : route.experiments) {
    add(e.control);
    add(e.treatment);
  }
  return out;
}

absl::Status CompileFallback(const BackendMap& backend_map,
                             std::span<const CompiledBackend> backends, const Route& config,
                             CompiledRoute& route) {
  const std::vector<BackendIndex> referenced = ReferencedBackends(route);
  if (config.spec.fallback.has_value()) {
    const FallbackConfig& fallback = *config.spec.fallback;
    if (!fallback.backends.empty()) {
      for (size_t i = 0; i < fallback.backends.size(); ++i) {
        absl::StatusOr<BackendIndex> b = ResolveRef(backend_map, config, fallback.backends[i],
                                                    fmt::format("spec.fallback.backends[{}]", i));
        if (!b.ok()) return b.status();
        auto& chain = route.fallback_chain;
        if (std::find(chain.begin(), chain.end(), *b) == chain.end()) chain.push_back(*b);
      }
    } else {
      route.fallback_chain = referenced;
      std::stable_sort(route.fallback_chain.begin(), route.fallback_chain.end(),
                       [&](BackendIndex a, BackendIndex b) {
                         if (backends[a].priority != backends[b].priority) {
                           return backends[a].priority > backends[b].priority;
                         }
                         return backends[a].config->meta.name < backends[b].config->meta.name;
                       });
    }
  }
  // The longest plan: the chain plus a primary outside it, if any referenced backend is.
  const auto& chain = route.fallback_chain;
  size_t plan_length = chain.size();
  int max_timeout_seconds = 0;
  for (BackendIndex b : referenced) {
    if (std::find(chain.begin(), chain.end(), b) == chain.end()) plan_length = chain.size() + 1;
  }
  for (BackendIndex b : referenced) {
    max_timeout_seconds = std::max(max_timeout_seconds, backends[b].config->spec.timeout_seconds);
  }
  for (BackendIndex b : chain) {
    max_timeout_seconds = std::max(max_timeout_seconds, backends[b].config->spec.timeout_seconds);
  }
  plan_length = std::min(plan_length, AttemptPlan::kMaxBackends);
  route.retry = RetryPolicy::FromConfig(config.spec.fallback, plan_length, max_timeout_seconds);
  return absl::OkStatus();
}

absl::StatusOr<CompiledRoute> CompileRoute(const BackendMap& backend_map,
                                           std::span<const CompiledBackend> backends,
                                           const Route& config) {
  const RouteSpec& spec = config.spec;
  CompiledRoute route;
  route.key = config.meta.Key();
  route.config = &config;
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    absl::StatusOr<std::unique_ptr<CompiledRule>> rule = CompileRule(backend_map, config, i);
    if (!rule.ok()) return rule.status();
    route.rules.push_back(*std::move(rule));
  }
  if (spec.default_backend.has_value()) {
    absl::StatusOr<BackendIndex> b =
        ResolveRef(backend_map, config, spec.default_backend->name, "spec.defaultBackend.name");
    if (!b.ok()) return b.status();
    route.default_backend = *b;
  }
  for (size_t i = 0; i < spec.experiments.size(); ++i) {
    const ExperimentConfig& e = spec.experiments[i];
    const std::string field = fmt::format("spec.experiments[{}]", i);
    absl::StatusOr<BackendIndex> control =
        ResolveRef(backend_map, config, e.control, field + ".control");
    if (!control.ok()) return control.status();
    absl::StatusOr<BackendIndex> treatment =
        ResolveRef(backend_map, config, e.treatment, field + ".treatment");
    if (!treatment.ok()) return treatment.status();
    const uint32_t bps = static_cast<uint32_t>(std::max(e.traffic_basis_points, 0));
    route.experiments.push_back(
        {e.name, ExperimentSplit::Create(e.name, bps), *control, *treatment, e.metric});
  }
  absl::Status fallback = CompileFallback(backend_map, backends, config, route);
  if (!fallback.ok()) return fallback;
  if (spec.rate_limit.has_value()) {
    route.rate_limit = RateLimitPolicy::FromConfig(*spec.rate_limit);
    route.rate_limited = route.rate_limit.limited();
    if (!spec.rate_limit->user_header.empty()) {
      route.user_header = internal::AsciiLower(spec.rate_limit->user_header);
    }
  }
  route.route_hash = StableHash64(route.key);
  route.cost_tracking = spec.cost_tracking;
  route.enable_logging = spec.enable_logging;
  return route;
}

std::string ErrorList(const std::vector<ConfigIssue>& issues) {
  std::string out;
  for (const ConfigIssue& issue : issues) {
    if (issue.severity != ConfigIssue::Severity::kError) continue;
    if (!out.empty()) out += '\n';
    out += issue.ToString();
  }
  return out;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const RouteTable>> RouteTable::Create(const ConfigSet& config,
                                                                     HealthTracker& health) {
  if (std::string errors = ErrorList(ValidateConfig(config)); !errors.empty()) {
    return absl::InvalidArgumentError(errors);
  }
  if (config.backends.size() >= kNoBackend) {
    return absl::InvalidArgumentError(fmt::format("{} backends; a route table holds at most {}",
                                                  config.backends.size(), kNoBackend - 1));
  }
  std::shared_ptr<RouteTable> table(new RouteTable());
  table->config_ = config;
  table->index_ = std::make_unique<Index>();
  Index& index = *table->index_;

  table->backends_.reserve(table->config_.backends.size());
  for (const Backend& backend : table->config_.backends) {
    table->backends_.push_back(internal::CompileBackend(table->config_, backend, health));
    const auto i = static_cast<BackendIndex>(table->backends_.size() - 1);
    if (!index.backend_by_key.emplace(table->backends_.back().key, i).second) {
      return absl::InvalidArgumentError(fmt::format(
          "{}duplicate InferenceBackend {}", backend.meta.source.Where(""), backend.meta.Key()));
    }
  }

  table->routes_.reserve(table->config_.routes.size());
  for (const Route& route : table->config_.routes) {
    absl::StatusOr<CompiledRoute> compiled =
        CompileRoute(index.backend_by_key, table->backends_, route);
    if (!compiled.ok()) return compiled.status();
    table->routes_.push_back(*std::move(compiled));
  }

  // Route lookups. Routes are visited by key so that ties go to the first namespace/name.
  std::vector<uint32_t> by_key(table->routes_.size());
  for (uint32_t i = 0; i < by_key.size(); ++i) by_key[i] = i;
  std::sort(by_key.begin(), by_key.end(),
            [&](uint32_t a, uint32_t b) { return table->routes_[a].key < table->routes_[b].key; });
  for (uint32_t i : by_key) {
    const CompiledRoute& route = table->routes_[i];
    if (!index.route_by_key.emplace(route.key, i).second) {
      return absl::InvalidArgumentError(fmt::format(
          "{}duplicate InferenceRoute {}", route.config->meta.source.Where(""), route.key));
    }
    auto [it, inserted] = index.route_by_name.emplace(route.config->meta.name, i);
    if (!inserted) it->second = internal::kAmbiguousRoute;
    for (const std::string& model : route.config->spec.models) {
      if (internal::IsGlob(model)) {
        index.model_globs.push_back({model, i});
      } else {
        index.route_by_exact_model.emplace(model, i);
        table->served_models_.push_back(model);
      }
    }
  }
  std::stable_sort(index.model_globs.begin(), index.model_globs.end(),
                   [](const Index::ModelGlob& a, const Index::ModelGlob& b) {
                     return a.pattern.size() > b.pattern.size();
                   });
  for (uint32_t i = 0; i < table->routes_.size(); ++i) {
    if (table->routes_[i].config->spec.is_default) {
      index.default_route = i;
      break;
    }
  }
  if (index.default_route == internal::kNoRouteIndex && table->routes_.size() == 1) {
    index.default_route = 0;
  }

  for (const CompiledBackend& b : table->backends_) {
    if (!b.model.empty()) table->served_models_.push_back(b.model);
  }
  std::sort(table->served_models_.begin(), table->served_models_.end());
  table->served_models_.erase(
      std::unique(table->served_models_.begin(), table->served_models_.end()),
      table->served_models_.end());
  return std::shared_ptr<const RouteTable>(std::move(table));
}

}  // namespace inferencegw
