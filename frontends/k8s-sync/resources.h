// The Kubernetes resource types the syncer reads and writes, and their REST paths.
//
//   const ResourceType& rt = kInferenceRoutes;
//   CollectionPath(rt, "team-a");  //
//   "/apis/gateway.inference-gateway.io/v1alpha1/namespaces/team-a/inferenceroutes" ObjectPath(rt,
//   "team-a", "chat", "status");  // ".../inferenceroutes/chat/status"
#ifndef INFERENCEGW_K8S_SYNC_RESOURCES_H_
#define INFERENCEGW_K8S_SYNC_RESOURCES_H_

#include <string>
#include <string_view>

namespace inferencegw::k8s {

struct ResourceType {
  std::string_view group;  // "" for the core group
  std::string_view version;
  std::string_view plural;
  std::string_view kind;
};

inline constexpr ResourceType kInferenceBackends{"gateway.inference-gateway.io", "v1alpha1",
                                                 "inferencebackends", "InferenceBackend"};
inline constexpr ResourceType kInferenceRoutes{"gateway.inference-gateway.io", "v1alpha1",
                                               "inferenceroutes", "InferenceRoute"};
inline constexpr ResourceType kSecrets{"", "v1", "secrets", "Secret"};
inline constexpr ResourceType kServices{"", "v1", "services", "Service"};
inline constexpr ResourceType kInferenceServices{"serving.kserve.io", "v1beta1",
                                                 "inferenceservices", "InferenceService"};
inline constexpr ResourceType kLeases{"coordination.k8s.io", "v1", "leases", "Lease"};

// "/api/v1" for the core group, else "/apis/{group}/{version}".
std::string GroupVersionPath(const ResourceType& type);

// The collection path in namespace `ns`, or across all namespaces when `ns` is empty.
std::string CollectionPath(const ResourceType& type, std::string_view ns);

// The path of one object, or of its `subresource` ("status") when not empty.
// REQUIRES: ns and name are not empty.
std::string ObjectPath(const ResourceType& type, std::string_view ns, std::string_view name,
                       std::string_view subresource = "");

// "group/version" ("v1" for the core group): the apiVersion of objects of this type.
std::string ApiVersionOf(const ResourceType& type);

// Percent-encodes `text` for use in a URL path segment or query value (RFC 3986 unreserved
// characters are kept).
std::string UrlEncode(std::string_view text);

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_RESOURCES_H_
