// Compiling InferenceBackends: service URLs, wire format, API key, prices and health state.
#include <string>
#include <string_view>

#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/cost_ledger.h"
#include "inferencegw/route_table.h"
#include "route_table_internal.h"

namespace inferencegw {
namespace {

std::string WithoutTrailingSlash(std::string_view url) {
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  return std::string(url);
}

// "" -> "", "openai" -> "/openai", "/openai/" -> "/openai".
std::string NormalizedPathPrefix(std::string_view prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix.empty()) return "";
  if (prefix.front() == '/') return std::string(prefix);
  return fmt::format("/{}", prefix);
}

std::string_view NamespaceOr(const std::string& ns, const Backend& backend) {
  return ns.empty() ? std::string_view(backend.meta.namespace_) : std::string_view(ns);
}

WireFormat FormatFor(const Backend& backend) {
  if (backend.spec.type != BackendType::kExternal || !backend.spec.external.has_value()) {
    return WireFormat::kOpenAI;
  }
  switch (backend.spec.external->provider) {
    case Provider::kAnthropic:
      return WireFormat::kAnthropic;
    case Provider::kCohere:
      return WireFormat::kCohere;
    case Provider::kOpenAI:
    case Provider::kCustom:
      break;
  }
  return WireFormat::kOpenAI;
}

}  // namespace

std::string ResolveRootUrl(const Backend& backend) {
  const BackendSpec& spec = backend.spec;
  switch (spec.type) {
    case BackendType::kExternal:
      return spec.external.has_value() ? WithoutTrailingSlash(spec.external->url) : "";
    case BackendType::kKServe: {
      if (!spec.kserve.has_value()) return "";
      const KServeBackend& k = *spec.kserve;
      if (!k.url.empty()) return WithoutTrailingSlash(k.url);
      return fmt::format("http://{}-predictor.{}.svc.cluster.local", k.service_name,
                         NamespaceOr(k.namespace_, backend));
    }
    case BackendType::kKubernetes: {
      if (!spec.kubernetes.has_value()) return "";
      const KubernetesBackend& k = *spec.kubernetes;
      if (!k.url.empty()) return WithoutTrailingSlash(k.url);
      return fmt::format("http://{}.{}.svc.cluster.local:{}", k.service_name,
                         NamespaceOr(k.namespace_, backend), k.port);
    }
  }
  return "";
}

std::string ResolveApiBaseUrl(const Backend& backend) {
  std::string root = ResolveRootUrl(backend);
  if (root.empty()) return root;
  switch (backend.spec.type) {
    case BackendType::kExternal:
      return root;
    case BackendType::kKubernetes:
      return root + "/v1";
    case BackendType::kKServe:
      return fmt::format("{}{}/v1", root,
                         NormalizedPathPrefix(backend.spec.kserve->openai_path_prefix));
  }
  return root;
}

namespace internal {

CompiledBackend CompileBackend(const ConfigSet& config, const Backend& backend,
                               HealthTracker& health) {
  const BackendSpec& spec = backend.spec;
  CompiledBackend b;
  b.key = backend.meta.Key();
  b.config = &backend;
  b.type = spec.type;
  b.format = FormatFor(backend);
  b.root_url = ResolveRootUrl(backend);
  b.api_base_url = ResolveApiBaseUrl(backend);
  switch (spec.type) {
    case BackendType::kExternal:
      if (spec.external.has_value()) {
        b.provider = spec.external->provider;
        b.model = spec.external->model;
        if (spec.external->api_key_secret.has_value()) {
          const SecretKeySelector& sel = *spec.external->api_key_secret;
          const std::string* value =
              LookupSecretValue(config, backend.meta.namespace_, sel.name, sel.key);
          if (value != nullptr) b.api_key = *value;
        }
      }
      break;
    case BackendType::kKServe:
      if (spec.kserve.has_value()) b.model = spec.kserve->model;
      break;
    case BackendType::kKubernetes:
      if (spec.kubernetes.has_value()) b.model = spec.kubernetes->model;
      break;
  }
  if (spec.cost.has_value()) {
    b.has_cost = true;
    b.prices = Prices::FromConfig(*spec.cost);
  }
  b.timeout = Seconds(spec.timeout_seconds);
  b.priority = spec.priority;
  b.health_check = spec.health_check;
  b.health = health.Get(b.key, spec);
  return b;
}

}  // namespace internal

}  // namespace inferencegw
