// Turns the watched Kubernetes objects into the proxy's configuration: one deterministic
// multi-document YAML file (RenderManifests), plus a verdict per InferenceBackend and
// InferenceRoute that the status writer reports.
//
//   ClusterState state = syncer.Snapshot();
//   RenderResult result = Render(state);
//   WriteFileIfChanged("/etc/inferencegw/config.yaml", result.manifests);  // atomic_file.h
//
// Invalid objects do not stop the rest: an object that fails to parse or validate is left out
// of the render (and so is a route that references a left-out or missing backend), and its
// verdict says why.
#ifndef INFERENCEGW_K8S_SYNC_RENDERER_H_
#define INFERENCEGW_K8S_SYNC_RENDERER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "inferencegw/config.h"
#include "reflector.h"

namespace inferencegw::k8s {

// Everything the renderer reads, as last seen from the API server. Each list is sorted by
// namespace/name (Reflector::Snapshot order; the renderer sorts again to be safe).
struct ClusterState {
  std::vector<KubeObject> backends;
  std::vector<KubeObject> routes;
  std::vector<KubeObject> secrets;
  std::vector<KubeObject> services;
  std::vector<KubeObject> inference_services;
  bool kserve_installed = false;
  // The namespaces whose Secrets/Services/InferenceServices are watched; empty = all. A
  // reference into a namespace that is not watched cannot be checked and is assumed to resolve.
  std::vector<std::string> namespaces;
};

// A problem with one of an object's references, for its ResolvedRefs condition.
struct RefProblem {
  std::string reason;   // "BackendNotFound", "SecretNotFound", "ServiceNotFound", ...
  std::string message;  // names the missing object
};

// What the render decided about one InferenceBackend or InferenceRoute.
struct ObjectVerdict {
  int64_t generation = 0;
  bool rendered = false;      // included in the rendered config
  std::string error_reason;   // "" when the object itself is valid; else a CamelCase reason
  std::string error_message;  // every error found, "; "-separated
  std::vector<RefProblem> ref_problems;
  bool refs_checked = true;  // false when the object could not be parsed
  // Routes: the backend names the route references (rules, defaultBackend, fallback,
  // experiments), sorted and unique.
  std::vector<std::string> referenced_backends;
};

struct RenderResult {
  ConfigSet config;                               // what was rendered
  std::string manifests;                          // RenderManifests(config)
  std::map<std::string, ObjectVerdict> backends;  // by namespace/name
  std::map<std::string, ObjectVerdict> routes;    // by namespace/name
  // Errors that could not be pinned on one object. When not empty, `manifests` must not be
  // written (the proxy would reject it).
  std::vector<std::string> unattributed_errors;
  std::vector<std::string> warnings;  // for logs; never contain secret values
};

// Deterministic: the same state gives byte-identical manifests on every replica.
RenderResult Render(const ClusterState& state);

// The clean manifest for one watched object: apiVersion, kind, metadata (name, namespace,
// labels, annotations except kubectl's last-applied-configuration, generation) and spec (or a
// Secret's type/data). Server-managed fields and status are dropped so that status writes and
// resourceVersion bumps do not change the render. InvalidArgument when `json` is unusable.
absl::StatusOr<std::string> CleanManifest(std::string_view kind, std::string_view json);

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_RENDERER_H_
