#include "renderer.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/json_writer.h"
#include "simdjson.h"

namespace inferencegw::k8s {
namespace {

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

std::string_view StringAt(simdjson::dom::element e, std::string_view pointer) {
  std::string_view value;
  if (e.at_pointer(pointer).get(value) != simdjson::SUCCESS) return {};
  return value;
}

// Writes a string map (labels, annotations) as a JSON object, skipping `skip_key`.
void WriteStringMap(JsonWriter* w, simdjson::dom::element parent, std::string_view key,
                    std::string_view skip_key) {
  simdjson::dom::object map;
  if (parent[key].get(map) != simdjson::SUCCESS || map.size() == 0) return;
  w->Key(key).BeginObject();
  for (auto field : map) {
    std::string_view value;
    if (field.key == skip_key || field.value.get(value) != simdjson::SUCCESS) continue;
    w->Key(field.key).String(value);
  }
  w->EndObject();
}

// A parsed, not yet validated object and what became of it.
struct Candidate {
  std::string kind;   // "InferenceBackend", "InferenceRoute", "Secret"
  std::string key;    // namespace/name
  std::string label;  // "InferenceRoute ns/name", the form ConfigIssue::object uses
  ConfigSet parsed;
  bool valid = true;
  std::string error_reason;
  std::vector<std::string> errors;
};

// The error lines of a failed ParseManifests, one per line of its message.
std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) out.emplace_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  return fmt::format("{}", fmt::join(parts, sep));
}

bool Watched(const ClusterState& state, std::string_view ns) {
  if (state.namespaces.empty()) return true;
  return std::find(state.namespaces.begin(), state.namespaces.end(), ns) != state.namespaces.end();
}

const KubeObject* FindObject(const std::vector<KubeObject>& objects, std::string_view ns,
                             std::string_view name) {
  for (const KubeObject& o : objects) {
    if (o.ns == ns && o.name == name) return &o;
  }
  return nullptr;
}

void Append(ConfigSet* into, const ConfigSet& from) {
  into->backends.insert(into->backends.end(), from.backends.begin(), from.backends.end());
  into->routes.insert(into->routes.end(), from.routes.begin(), from.routes.end());
  into->secrets.insert(into->secrets.end(), from.secrets.begin(), from.secrets.end());
  into->client_keys.insert(into->client_keys.end(), from.client_keys.begin(),
                           from.client_keys.end());
}

ConfigSet MergeValid(const std::vector<Candidate>& candidates) {
  ConfigSet merged;
  for (const Candidate& c : candidates) {
    if (c.valid) Append(&merged, c.parsed);
  }
  return merged;
}

std::vector<std::string> RouteBackendNames(const RouteSpec& spec) {
  std::set<std::string> names;
  for (const RouteRule& rule : spec.rules) {
    for (const BackendRef& ref : rule.backends) names.insert(ref.name);
  }
  if (spec.default_backend.has_value()) names.insert(spec.default_backend->name);
  if (spec.fallback.has_value())
    names.insert(spec.fallback->backends.begin(), spec.fallback->backends.end());
  for (const ExperimentConfig& e : spec.experiments) {
    names.insert(e.control);
    names.insert(e.treatment);
  }
  names.erase("");
  return {names.begin(), names.end()};
}

// Parses each object of `objects` into a Candidate; objects that fail get a verdict here.
void ParseAll(std::string_view kind, const std::vector<KubeObject>& objects,
              std::vector<Candidate>* candidates, std::map<std::string, ObjectVerdict>* verdicts) {
  for (const KubeObject& object : objects) {
    Candidate c;
    c.kind = std::string(kind);
    c.key = object.Key();
    c.label = fmt::format("{} {}", kind, c.key);
    if (verdicts != nullptr) {
      ObjectVerdict& v = (*verdicts)[c.key];
      v.generation = object.generation;
    }
    absl::StatusOr<std::string> manifest = CleanManifest(kind, object.json);
    absl::StatusOr<ConfigSet> parsed = manifest.ok() ? ParseManifests(*manifest, c.label)
                                                     : absl::StatusOr<ConfigSet>(manifest.status());
    if (!parsed.ok()) {
      if (verdicts != nullptr) {
        ObjectVerdict& v = (*verdicts)[c.key];
        v.error_reason = "InvalidSpec";
        v.error_message = Join(SplitLines(std::string(parsed.status().message())), "; ");
        v.refs_checked = false;
      }
      continue;
    }
    c.parsed = *std::move(parsed);
    candidates->push_back(std::move(c));
  }
}

// Secrets referenced by parsed backends, as namespace/name.
std::set<std::string> ReferencedSecrets(const std::vector<Candidate>& backends) {
  std::set<std::string> keys;
  for (const Candidate& c : backends) {
    for (const Backend& b : c.parsed.backends) {
      if (b.spec.external.has_value() && b.spec.external->api_key_secret.has_value()) {
        keys.insert(fmt::format("{}/{}", b.meta.namespace_, b.spec.external->api_key_secret->name));
      }
    }
  }
  return keys;
}

bool IsClientKeysSecret(const KubeObject& secret) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(secret.json).get(doc) != simdjson::SUCCESS) return false;
  simdjson::dom::object annotations;
  if (doc.at_pointer("/metadata/annotations").get(annotations) != simdjson::SUCCESS) return false;
  std::string_view value;
  return annotations[kClientKeysAnnotation].get(value) == simdjson::SUCCESS && value == "true";
}

bool SecretHasKey(const KubeObject& secret, std::string_view key) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(secret.json).get(doc) != simdjson::SUCCESS) return false;
  simdjson::dom::object data;
  if (doc["data"].get(data) != simdjson::SUCCESS) return false;
  simdjson::dom::element value;
  return data[key].get(value) == simdjson::SUCCESS;
}

// Sets kserve.url from the InferenceService's status.url when the backend has no explicit URL.
void FillKServeUrls(const ClusterState& state, std::vector<Candidate>* backends) {
  simdjson::dom::parser parser;
  for (Candidate& c : *backends) {
    for (Backend& b : c.parsed.backends) {
      if (!b.spec.kserve.has_value() || !b.spec.kserve->url.empty()) continue;
      const std::string& ns =
          b.spec.kserve->namespace_.empty() ? b.meta.namespace_ : b.spec.kserve->namespace_;
      const KubeObject* isvc =
          FindObject(state.inference_services, ns, b.spec.kserve->service_name);
      if (isvc == nullptr) continue;
      simdjson::dom::element doc;
      if (parser.parse(isvc->json).get(doc) != simdjson::SUCCESS) continue;
      const std::string_view url = StringAt(doc, "/status/url");
      if (!url.empty()) b.spec.kserve->url = std::string(url);
    }
  }
}

void CheckBackendRefs(const ClusterState& state, const Backend& b, ObjectVerdict* v) {
  const std::string& ns = b.meta.namespace_;
  if (b.spec.external.has_value() && b.spec.external->api_key_secret.has_value() &&
      Watched(state, ns)) {
    const SecretKeySelector& sel = *b.spec.external->api_key_secret;
    const KubeObject* secret = FindObject(state.secrets, ns, sel.name);
    if (secret == nullptr) {
      v->ref_problems.push_back(
          {"SecretNotFound",
           fmt::format("Secret \"{}\" not found in namespace \"{}\"", sel.name, ns)});
    } else if (!SecretHasKey(*secret, sel.key)) {
      v->ref_problems.push_back({"SecretNotFound", fmt::format("Secret \"{}/{}\" has no key \"{}\"",
                                                               ns, sel.name, sel.key)});
    }
  }
  if (b.spec.kserve.has_value() && state.kserve_installed) {
    const std::string& isvc_ns = b.spec.kserve->namespace_.empty() ? ns : b.spec.kserve->namespace_;
    if (Watched(state, isvc_ns) && !b.spec.kserve->service_name.empty() &&
        FindObject(state.inference_services, isvc_ns, b.spec.kserve->service_name) == nullptr) {
      v->ref_problems.push_back(
          {"InferenceServiceNotFound",
           fmt::format("InferenceService \"{}\" not found in namespace \"{}\"",
                       b.spec.kserve->service_name, isvc_ns)});
    }
  }
  if (b.spec.kubernetes.has_value() && b.spec.kubernetes->url.empty()) {
    const std::string& svc_ns =
        b.spec.kubernetes->namespace_.empty() ? ns : b.spec.kubernetes->namespace_;
    if (Watched(state, svc_ns) &&
        FindObject(state.services, svc_ns, b.spec.kubernetes->service_name) == nullptr) {
      v->ref_problems.push_back(
          {"ServiceNotFound", fmt::format("Service \"{}\" not found in namespace \"{}\"",
                                          b.spec.kubernetes->service_name, svc_ns)});
    }
  }
}

}  // namespace

absl::StatusOr<std::string> CleanManifest(std::string_view kind, std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("{}: not valid JSON", kind));
  }
  simdjson::dom::element metadata;
  if (doc["metadata"].get(metadata) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("{}: no metadata", kind));
  }
  const bool secret = kind == "Secret";
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("apiVersion").String(secret ? std::string_view("v1") : kApiVersion);
  w.Key("kind").String(kind);
  w.Key("metadata").BeginObject();
  w.Key("name").String(StringAt(metadata, "/name"));
  const std::string_view ns = StringAt(metadata, "/namespace");
  if (!ns.empty()) w.Key("namespace").String(ns);
  WriteStringMap(&w, metadata, "labels", "");
  WriteStringMap(&w, metadata, "annotations", kLastApplied);
  int64_t generation = 0;
  if (!secret && metadata["generation"].get(generation) == simdjson::SUCCESS) {
    w.Key("generation").Int(generation);
  }
  w.EndObject();
  if (secret) {
    const std::string_view type = StringAt(doc, "/type");
    if (!type.empty()) w.Key("type").String(type);
    simdjson::dom::element data;
    if (doc["data"].get(data) == simdjson::SUCCESS) w.Key("data").Raw(simdjson::to_string(data));
  } else {
    simdjson::dom::element spec;
    if (doc["spec"].get(spec) == simdjson::SUCCESS) w.Key("spec").Raw(simdjson::to_string(spec));
  }
  w.EndObject();
  return out;
}

RenderResult Render(const ClusterState& state) {
  RenderResult result;
  std::vector<Candidate> backends;
  std::vector<Candidate> routes;
  std::vector<Candidate> secrets;
  ParseAll("InferenceBackend", state.backends, &backends, &result.backends);
  ParseAll("InferenceRoute", state.routes, &routes, &result.routes);

  const std::set<std::string> wanted = ReferencedSecrets(backends);
  std::vector<KubeObject> secret_objects;
  for (const KubeObject& s : state.secrets) {
    if (wanted.count(s.Key()) > 0 || IsClientKeysSecret(s)) secret_objects.push_back(s);
  }
  const size_t secrets_before = secret_objects.size();
  ParseAll("Secret", secret_objects, &secrets, nullptr);
  if (secrets.size() != secrets_before) {
    result.warnings.push_back("some referenced Secrets could not be parsed and were left out");
  }
  FillKServeUrls(state, &backends);

  // Validate; drop every object an error is pinned on; repeat (a dropped backend makes the
  // routes that reference it fail next round).
  std::vector<Candidate*> all;
  for (auto* group : {&backends, &routes, &secrets}) {
    for (Candidate& c : *group) all.push_back(&c);
  }
  std::vector<ConfigIssue> issues;
  for (size_t round = 0; round <= all.size(); ++round) {
    ConfigSet merged;
    for (auto* group : {&backends, &routes, &secrets}) Append(&merged, MergeValid(*group));
    issues = ValidateConfig(merged);
    bool progress = false;
    bool any_error = false;
    result.unattributed_errors.clear();
    for (const ConfigIssue& issue : issues) {
      if (issue.severity != ConfigIssue::Severity::kError) continue;
      any_error = true;
      auto it = std::find_if(all.begin(), all.end(), [&](const Candidate* c) {
        return c->valid && c->label == issue.object;
      });
      if (it == all.end()) {
        result.unattributed_errors.push_back(issue.ToString());
        continue;
      }
      (*it)->valid = false;
      if ((*it)->error_reason.empty()) (*it)->error_reason = issue.reason;
      (*it)->errors.push_back(fmt::format("{}: {}", issue.field, issue.message));
      progress = true;
    }
    // Errors pinned on objects dropped in this same round are reported against them too.
    for (const ConfigIssue& issue : issues) {
      if (issue.severity != ConfigIssue::Severity::kError) continue;
      for (Candidate* c : all) {
        if (!c->valid && c->label == issue.object) {
          const std::string text = fmt::format("{}: {}", issue.field, issue.message);
          if (std::find(c->errors.begin(), c->errors.end(), text) == c->errors.end()) {
            c->errors.push_back(text);
          }
        }
      }
    }
    if (!any_error || !progress) break;
  }
  for (const ConfigIssue& issue : issues) {
    if (issue.severity == ConfigIssue::Severity::kWarning)
      result.warnings.push_back(issue.ToString());
  }

  // A client-key Secret that is left out would drop its keys, and with the last such Secret gone
  // authentication would switch off: every request would be let in. Write nothing instead, so
  // the proxy keeps the last good config, until the Secret is fixed.
  for (const KubeObject& s : secret_objects) {
    if (!IsClientKeysSecret(s)) continue;
    auto it = std::find_if(secrets.begin(), secrets.end(),
                           [&](const Candidate& c) { return c.key == s.Key(); });
    if (it == secrets.end() || !it->valid) {
      result.unattributed_errors.push_back(fmt::format(
          "client-key Secret {} is invalid{}{}; the config is not written until it is fixed "
          "(leaving it out would drop its keys)",
          s.Key(), it == secrets.end() || it->errors.empty() ? "" : ": ",
          it == secrets.end() || it->errors.empty() ? "" : fmt::format("{}", fmt::join(it->errors, "; "))));
    }
  }
  for (auto* group : {&backends, &routes, &secrets}) Append(&result.config, MergeValid(*group));
  if (result.unattributed_errors.empty()) result.manifests = RenderManifests(result.config);

  for (const Candidate& c : backends) {
    ObjectVerdict& v = result.backends[c.key];
    v.rendered = c.valid;
    if (!c.valid) {
      v.error_reason = c.error_reason.empty() ? "InvalidSpec" : c.error_reason;
      v.error_message = Join(c.errors, "; ");
    }
    for (const Backend& b : c.parsed.backends) CheckBackendRefs(state, b, &v);
  }
  for (const Candidate& c : routes) {
    ObjectVerdict& v = result.routes[c.key];
    v.rendered = c.valid;
    if (!c.valid) {
      v.error_reason = c.error_reason.empty() ? "InvalidSpec" : c.error_reason;
      v.error_message = Join(c.errors, "; ");
    }
    for (const Route& r : c.parsed.routes) {
      v.referenced_backends = RouteBackendNames(r.spec);
      for (const std::string& name : v.referenced_backends) {
        const std::string key = fmt::format("{}/{}", r.meta.namespace_, name);
        const auto backend = result.backends.find(key);
        if (backend == result.backends.end()) {
          v.ref_problems.push_back(
              {"BackendNotFound",
               fmt::format("InferenceBackend \"{}\" not found in namespace \"{}\"", name,
                           r.meta.namespace_)});
        } else if (!backend->second.rendered) {
          v.ref_problems.push_back(
              {"BackendInvalid",
               fmt::format("InferenceBackend \"{}\" in namespace \"{}\" is invalid ({})", name,
                           r.meta.namespace_, backend->second.error_reason)});
        }
      }
    }
  }
  return result;
}

}  // namespace inferencegw::k8s
