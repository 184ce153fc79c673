// Cross-object validation (duplicates, references, default routes, client keys, model claims),
// ValidateConfig and loading from a string.
#include <algorithm>
#include <map>
#include <set>

#include "config_internal.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"

namespace inferencegw {
namespace internal {

namespace {

// "a.yaml:3" (or "" when built in code) for citing another object.
std::string Cite(const ObjectMeta& meta, std::string_view field) {
  if (meta.source.file.empty()) return "";
  const int line = meta.source.LineOf(field);
  return line > 0 ? fmt::format("{}:{}", meta.source.file, line) : meta.source.file;
}

// " (a.yaml:3)" or "".
std::string CiteSuffix(const ObjectMeta& meta, std::string_view field) {
  std::string at = Cite(meta, field);
  return at.empty() ? at : fmt::format(" ({})", at);
}

template <typename T>
void CheckDuplicates(std::string_view kind, const std::vector<T>& objects,
                     std::vector<ConfigIssue>* issues) {
  std::map<std::string, const T*> first;
  for (const T& object : objects) {
    if (object.meta.name.empty()) continue;
    auto [it, inserted] = first.emplace(object.meta.Key(), &object);
    if (inserted) continue;
    const std::string at = Cite(it->second->meta, "metadata.name");
    issues->push_back(MakeIssue(
        kind, object.meta, "metadata.name",
        at.empty()
            ? fmt::format("duplicate {} \"{}\"", kind, object.meta.Key())
            : fmt::format("duplicate {} \"{}\": first defined at {}", kind, object.meta.Key(), at),
        kReasonDuplicateName));
  }
}

// Calls `visit(field, name)` for every backend name a route refers to (rules, defaultBackend,
// fallback, experiments), in that order.
template <typename Visit>
void ForEachBackendName(const RouteSpec& spec, Visit visit) {
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    for (size_t j = 0; j < spec.rules[i].backends.size(); ++j) {
      visit(fmt::format("spec.rules[{}].backends[{}].name", i, j), spec.rules[i].backends[j].name);
    }
  }
  if (spec.default_backend) visit("spec.defaultBackend.name", spec.default_backend->name);
  if (spec.fallback) {
    for (size_t i = 0; i < spec.fallback->backends.size(); ++i) {
      visit(fmt::format("spec.fallback.backends[{}]", i), spec.fallback->backends[i]);
    }
  }
  for (size_t i = 0; i < spec.experiments.size(); ++i) {
    visit(fmt::format("spec.experiments[{}].control", i), spec.experiments[i].control);
    visit(fmt::format("spec.experiments[{}].treatment", i), spec.experiments[i].treatment);
  }
}

// `backends` holds the "namespace/name" of every backend.
void CheckRouteReferences(const std::set<std::string>& backends, const Route& route,
                          std::vector<ConfigIssue>* issues) {
  ForEachBackendName(route.spec, [&](const std::string& field, const std::string& name) {
    if (name.empty() || backends.count(route.meta.namespace_ + "/" + name) > 0) return;
    issues->push_back(MakeIssue(kKindRoute, route.meta, field,
                                fmt::format("unknown backend \"{}\"", name),
                                kReasonBackendNotFound));
  });
}

// A route budget that no request can ever be charged to: cost tracking is off, or none of the
// route's backends prices its cost in the budget's currency.
void CheckBudgetCharges(const ConfigSet& config, const Route& route,
                        std::vector<ConfigIssue>* issues) {
  if (!route.spec.budget) return;
  const BudgetConfig& budget = *route.spec.budget;
  if (!route.spec.cost_tracking) {
    issues->push_back(MakeIssue(kKindRoute, route.meta, "spec.budget",
                                "spec.costTracking is false, so nothing is ever charged to this "
                                "budget and it never refuses a request",
                                kReasonBudgetNeverCharged, ConfigIssue::Severity::kWarning));
    return;
  }
  bool priced = false;
  ForEachBackendName(route.spec, [&](const std::string&, const std::string& name) {
    const Backend* backend = config.FindBackend(route.meta.namespace_, name);
    priced = priced || (backend != nullptr && backend->spec.cost &&
                        backend->spec.cost->currency == budget.currency);
  });
  if (priced) return;
  issues->push_back(MakeIssue(
      kKindRoute, route.meta, "spec.budget.currency",
      fmt::format("none of the route's backends prices its cost in {} (spec.cost.currency), so "
                  "nothing is ever charged to this budget and it never refuses a request",
                  budget.currency),
      kReasonBudgetNeverCharged, ConfigIssue::Severity::kWarning));
}

void CheckDefaultRoutes(const ConfigSet& config, std::vector<ConfigIssue>* issues) {
  const Route* first = nullptr;
  for (const Route& route : config.routes) {
    if (!route.spec.is_default) continue;
    if (first == nullptr) {
      first = &route;
      continue;
    }
    issues->push_back(MakeIssue(
        kKindRoute, route.meta, "spec.default",
        fmt::format("only one route may be the default; {} is already{}",
                    ObjectLabel(kKindRoute, first->meta), CiteSuffix(first->meta, "spec.default")),
        kReasonDuplicateDefaultRoute));
  }
  // With several routes, none default and none claiming models, a request without the route
  // header reaches no route. (One route is the default by itself: see RouteTable.)
  if (first != nullptr || config.routes.size() < 2) return;
  for (const Route& route : config.routes) {
    if (!route.spec.models.empty()) return;
  }
  const Route& route = config.routes.front();
  issues->push_back(MakeIssue(
      kKindRoute, route.meta, "spec.default",
      fmt::format("none of the {} routes is the default (spec.default: true) or lists "
                  "spec.models, so a request without the x-inferencegw-route header matches no "
                  "route; make one route the default, or list the models each route serves",
                  config.routes.size()),
      kReasonNoRouteWithoutHeader, ConfigIssue::Severity::kWarning));
}

// An issue about a client key (or `subfield` of its entry: "routes[0]"), placed at its entry in
// its Secret when known.
ConfigIssue ClientKeyIssue(const ConfigSet& config, const ClientKey& key, size_t index,
                           std::string message, std::string_view reason,
                           ConfigIssue::Severity severity = ConfigIssue::Severity::kError,
                           std::string_view subfield = "") {
  const size_t slash = key.secret.find('/');
  const Secret* secret = slash == std::string::npos
                             ? nullptr
                             : config.FindSecret(std::string_view(key.secret).substr(0, slash),
                                                 std::string_view(key.secret).substr(slash + 1));
  if (secret == nullptr) {
    ConfigIssue issue;
    issue.severity = severity;
    issue.field = SubField(fmt::format("clientKeys[{}]", index), subfield);
    issue.message = std::move(message);
    issue.reason = std::string(reason);
    return issue;
  }
  std::string field = fmt::format("stringData[{}]", key.user);
  if (secret->meta.source.field_lines.count(field) == 0) field = fmt::format("data[{}]", key.user);
  return MakeIssue(kKindSecret, secret->meta, SubField(field, subfield), std::move(message), reason,
                   severity);
}

// A client key that lists a route that does not exist (a warning: the route may come later, and
// until then the key cannot use it).
void CheckKeyRoutes(const ConfigSet& config, std::vector<ConfigIssue>* issues) {
  for (size_t i = 0; i < config.client_keys.size(); ++i) {
    const ClientKey& key = config.client_keys[i];
    for (size_t j = 0; j < key.routes.size(); ++j) {
      const std::string_view route = key.routes[j];
      const size_t slash = route.find('/');
      if (slash == std::string_view::npos ||
          config.FindRoute(route.substr(0, slash), route.substr(slash + 1)) != nullptr) {
        continue;
      }
      issues->push_back(ClientKeyIssue(
          config, key, i,
          fmt::format("route \"{}\" not found; the key cannot use it until it exists", route),
          kReasonRouteNotFound, ConfigIssue::Severity::kWarning, fmt::format("routes[{}]", j)));
    }
  }
}

void CheckDuplicateClientKeys(const ConfigSet& config, std::vector<ConfigIssue>* issues) {
  std::map<std::string, size_t> by_hash;
  for (size_t i = 0; i < config.client_keys.size(); ++i) {
    const ClientKey& key = config.client_keys[i];
    if (key.sha256_hex.empty()) continue;
    auto [it, inserted] = by_hash.emplace(key.sha256_hex, i);
    if (inserted) continue;
    const ClientKey& first = config.client_keys[it->second];
    ConfigIssue first_at = ClientKeyIssue(config, first, it->second, "", "");
    const std::string where =
        first_at.file.empty() ? "" : fmt::format(" ({}:{})", first_at.file, first_at.line);
    issues->push_back(ClientKeyIssue(
        config, key, i,
        fmt::format("user \"{}\" has the same key as user \"{}\"{}", key.user, first.user, where),
        kReasonDuplicateClientKey));
  }
}

void CheckApiKeySecrets(const ConfigSet& config, std::vector<ConfigIssue>* issues) {
  for (const Backend& backend : config.backends) {
    if (!backend.spec.external || !backend.spec.external->api_key_secret) continue;
    const SecretKeySelector& ref = *backend.spec.external->api_key_secret;
    if (ref.name.empty() || ref.key.empty()) continue;  // reported by CheckBackend
    const Secret* secret = config.FindSecret(backend.meta.namespace_, ref.name);
    if (secret == nullptr) {
      issues->push_back(MakeIssue(kKindBackend, backend.meta, "spec.external.apiKeySecret.name",
                                  fmt::format("Secret \"{}\" not found in namespace \"{}\"",
                                              ref.name, backend.meta.namespace_),
                                  kReasonSecretNotFound, ConfigIssue::Severity::kWarning));
    } else if (secret->data.count(ref.key) == 0) {
      issues->push_back(MakeIssue(kKindBackend, backend.meta, "spec.external.apiKeySecret.key",
                                  fmt::format("Secret \"{}\" has no key \"{}\"", ref.name, ref.key),
                                  kReasonSecretNotFound, ConfigIssue::Severity::kWarning));
    }
  }
}

void CheckModelClaims(const ConfigSet& config, std::vector<ConfigIssue>* issues) {
  std::map<std::string, const Route*> claimed;
  for (const Route& route : config.routes) {
    std::set<std::string> own;
    for (size_t i = 0; i < route.spec.models.size(); ++i) {
      const std::string& model = route.spec.models[i];
      if (model.empty() || model.find_first_of("*?") != std::string::npos) continue;
      if (!own.insert(model).second) continue;
      auto [it, inserted] = claimed.emplace(model, &route);
      if (inserted) continue;
      issues->push_back(MakeIssue(kKindRoute, route.meta, fmt::format("spec.models[{}]", i),
                                  fmt::format("model \"{}\" is also claimed by {}{}", model,
                                              ObjectLabel(kKindRoute, it->second->meta),
                                              CiteSuffix(it->second->meta, "spec.models")),
                                  kReasonModelConflict, ConfigIssue::Severity::kWarning));
    }
  }
}

}  // namespace

// What the parser guarantees for client keys read from Secrets, checked for keys built in code.
void CheckClientKeyFormats(const ConfigSet& config, std::vector<ConfigIssue>* issues) {
  for (size_t i = 0; i < config.client_keys.size(); ++i) {
    const ClientKey& key = config.client_keys[i];
    if (key.user.empty()) {
      issues->push_back(
          ClientKeyIssue(config, key, i, "the user must not be empty", kReasonMissingField));
    }
    if (!IsSha256Hex(key.sha256_hex) || ToLower(key.sha256_hex) != key.sha256_hex) {
      issues->push_back(ClientKeyIssue(
          config, key, i, "the key hash must be 64 lowercase hex digits", kReasonInvalidValue));
    }
    for (const auto& [name, value] : key.attributes) {
      if (!IsHeaderName(name)) {
        issues->push_back(ClientKeyIssue(config, key, i,
                                         fmt::format("invalid attribute header name \"{}\"", name),
                                         kReasonInvalidValue));
      }
    }
    for (FieldProblem& p : CheckKeyPolicy(key)) {
      issues->push_back(ClientKeyIssue(config, key, i, std::move(p.message), p.reason,
                                       ConfigIssue::Severity::kError, p.field));
    }
  }
}

void CheckReferences(const ConfigSet& config, std::vector<ConfigIssue>* issues) {
  CheckDuplicates(kKindBackend, config.backends, issues);
  CheckDuplicates(kKindRoute, config.routes, issues);
  CheckDuplicates(kKindSecret, config.secrets, issues);
  std::set<std::string> backends;
  for (const Backend& backend : config.backends) backends.insert(backend.meta.Key());
  for (const Route& route : config.routes) {
    CheckRouteReferences(backends, route, issues);
    CheckBudgetCharges(config, route, issues);
  }
  CheckDefaultRoutes(config, issues);
  CheckDuplicateClientKeys(config, issues);
  CheckKeyRoutes(config, issues);
  CheckApiKeySecrets(config, issues);
  CheckModelClaims(config, issues);
}

}  // namespace internal

std::vector<ConfigIssue> ValidateConfig(const ConfigSet& config) {
  std::vector<ConfigIssue> issues;
  for (const Backend& backend : config.backends) internal::CheckBackend(backend, &issues);
  for (const Route& route : config.routes) internal::CheckRoute(route, &issues);
  for (const Secret& secret : config.secrets) internal::CheckSecret(secret, &issues);
  internal::CheckClientKeyFormats(config, &issues);
  internal::CheckReferences(config, &issues);
  internal::SortIssues(&issues);
  return issues;
}

std::vector<ConfigIssue> ConfigWarnings(const ConfigSet& config) {
  std::vector<ConfigIssue> issues = ValidateConfig(config);
  issues.erase(std::remove_if(issues.begin(), issues.end(), internal::IsError), issues.end());
  return issues;
}

absl::StatusOr<ConfigSet> LoadConfigFromString(std::string_view yaml,
                                               std::string_view source_name) {
  ConfigSet config;
  std::vector<ConfigIssue> issues;
  internal::ParseManifestsInto(yaml, source_name, &config, &issues);
  internal::CheckReferences(config, &issues);
  absl::Status status = internal::IssuesToStatus(std::move(issues));
  if (!status.ok()) return status;
  return config;
}

}  // namespace inferencegw
