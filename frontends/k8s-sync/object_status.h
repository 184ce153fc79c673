// The status the syncer wants on each InferenceBackend and InferenceRoute, computed from the
// render's verdicts and the proxy's view of backend health; and the comparison that keeps the
// syncer from writing a status that is already there.
//
//   ObjectStatus want = RouteStatus(verdict, "team-a", health);
//   ObjectStatus have = ParseObservedStatus(object.json);
//   if (!SameStatus(want, have)) client.Request("PATCH", ..., StatusMergePatch(want, have, now));
#ifndef INFERENCEGW_K8S_SYNC_OBJECT_STATUS_H_
#define INFERENCEGW_K8S_SYNC_OBJECT_STATUS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "renderer.h"

namespace inferencegw::k8s {

// Backend health as the proxy reports it, by "namespace/name": "Healthy", "Unhealthy" or
// "Unknown". Backends missing from the map are "Unknown".
using HealthMap = std::map<std::string, std::string, std::less<>>;

// A metav1.Condition.
struct Condition {
  std::string type;
  std::string status;  // "True", "False", "Unknown"
  std::string reason;  // CamelCase
  std::string message;
  int64_t observed_generation = 0;
  std::string last_transition_time;  // RFC 3339; ignored by SameStatus
};

// The part of .status the syncer owns.
struct ObjectStatus {
  int64_t observed_generation = 0;
  std::string health;                 // backends: Healthy | Unhealthy | Unknown
  std::string phase;                  // routes: Active | Degraded | Failed
  int64_t active_backends = -1;       // routes; -1 on backends
  std::vector<Condition> conditions;  // sorted by type
};

// Ready and ResolvedRefs for a backend; health from `health` (Unknown when absent or when the
// backend is not rendered).
ObjectStatus BackendStatus(const ObjectVerdict& verdict, std::string_view key,
                           const HealthMap& health);

// Phase (Failed when invalid or a reference is missing; Degraded when a referenced backend is
// Unhealthy; else Active), activeBackends (referenced backends not Unhealthy), Ready and
// ResolvedRefs (reason BackendNotFound naming the missing backend).
ObjectStatus RouteStatus(const ObjectVerdict& verdict, std::string_view ns,
                         const HealthMap& health);

// The status stanza of an object's JSON as an ObjectStatus (fields the syncer does not own are
// ignored; a missing status gives an empty ObjectStatus).
ObjectStatus ParseObservedStatus(std::string_view object_json);

// Equal in every field the syncer writes, ignoring lastTransitionTime.
bool SameStatus(const ObjectStatus& a, const ObjectStatus& b);

// The JSON merge patch {"status": {...}} that sets `desired`. A condition keeps the
// lastTransitionTime it has in `observed` when its status did not change; otherwise it gets
// `now_rfc3339`.
std::string StatusMergePatch(const ObjectStatus& desired, const ObjectStatus& observed,
                             std::string_view now_rfc3339);

// "2026-01-01T00:00:00Z" for a Unix time in seconds.
std::string FormatRfc3339(int64_t unix_seconds);

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_OBJECT_STATUS_H_
