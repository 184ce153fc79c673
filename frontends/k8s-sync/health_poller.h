// Backend health as seen by the proxy running beside the syncer: GET <admin>/admin/backends.
//
//   HealthPoller poller(&client, "http://127.0.0.1:9901");
//   absl::StatusOr<HealthMap> health = poller.Poll();   // {"team-a/gpt4": "Healthy", ...}
#ifndef INFERENCEGW_K8S_SYNC_HEALTH_POLLER_H_
#define INFERENCEGW_K8S_SYNC_HEALTH_POLLER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "kube_client.h"
#include "object_status.h"

namespace inferencegw::k8s {

// Parses the proxy's /admin/backends document: a JSON array of objects with "key"
// ("namespace/name") and "health" ("Healthy" | "Unhealthy" | "Unknown"), or an object holding
// that array under "backends". Other fields are ignored. InvalidArgument on other shapes.
absl::StatusOr<HealthMap> ParseAdminBackends(std::string_view json);

// Not thread-safe; used by the syncer's loop only.
class HealthPoller {
 public:
  HealthPoller(KubeClient* client, std::string admin_url);

  // One poll. Unavailable when the proxy does not answer 200 with a parseable document.
  absl::StatusOr<HealthMap> Poll();

 private:
  KubeClient* const client_;
  const std::string url_;
};

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_HEALTH_POLLER_H_
