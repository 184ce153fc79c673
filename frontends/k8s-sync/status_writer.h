// Writes InferenceBackend and InferenceRoute status back to the API server: a JSON merge patch
// on the status subresource, sent only when the wanted status differs from what the object
// shows (so the MODIFIED event our own write causes does not cause another write).
//
//   StatusWriter writer(&client);
//   writer.Sync(render_result, state, health, unix_now);   // on the leader only
#ifndef INFERENCEGW_K8S_SYNC_STATUS_WRITER_H_
#define INFERENCEGW_K8S_SYNC_STATUS_WRITER_H_

#include <cstdint>
#include <map>
#include <string>

#include "kube_client.h"
#include "object_status.h"
#include "renderer.h"

namespace inferencegw::k8s {

// Not thread-safe; used by the syncer's loop only.
class StatusWriter {
 public:
  explicit StatusWriter(KubeClient* client) : client_(client) {}

  struct Stats {
    int patched = 0;
    int failed = 0;
  };

  // Patches every backend and route of `state` whose status differs from the one computed
  // from `result` and `health`. `unix_seconds` stamps changed conditions.
  Stats Sync(const RenderResult& result, const ClusterState& state, const HealthMap& health,
             int64_t unix_seconds);

 private:
  // What we last wrote for an object, and the resourceVersion the object had then: until the
  // watch delivers our write, the cached object still shows the old status.
  struct Memo {
    std::string rv_before;
    std::string rv_after;
    std::string patch_status;  // StatusMergePatch of the desired status, without time
  };

  bool SyncOne(const ResourceType& type, const KubeObject& object, const ObjectStatus& desired,
               int64_t unix_seconds, Stats* stats);

  KubeClient* const client_;
  std::map<std::string, Memo> memo_;  // by "plural/namespace/name"
};

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_STATUS_WRITER_H_
