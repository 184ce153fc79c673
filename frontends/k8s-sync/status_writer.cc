#include "status_writer.h"

#include <set>

#include "fmt/format.h"
#include "log.h"
#include "simdjson.h"

namespace inferencegw::k8s {
namespace {

std::string ResponseRv(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view rv;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS ||
      doc.at_pointer("/metadata/resourceVersion").get(rv) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(rv);
}

std::string ResponseMessage(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view message;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS ||
      doc["message"].get(message) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(message);
}

}  // namespace

bool StatusWriter::SyncOne(const ResourceType& type, const KubeObject& object,
                           const ObjectStatus& desired, int64_t unix_seconds, Stats* stats) {
  const std::string memo_key = fmt::format("{}/{}", type.plural, object.Key());
  const ObjectStatus observed = ParseObservedStatus(object.json);
  if (SameStatus(desired, observed)) return true;
  // The status without times identifies what we want, independent of when.
  const std::string canonical = StatusMergePatch(desired, ObjectStatus{}, "");
  const auto memo = memo_.find(memo_key);
  if (memo != memo_.end() && memo->second.patch_status == canonical &&
      (memo->second.rv_before == object.resource_version ||
       memo->second.rv_after == object.resource_version)) {
    return true;  // already written; the watch has not delivered it yet
  }
  const std::string patch = StatusMergePatch(desired, observed, FormatRfc3339(unix_seconds));
  auto response = client_->Request("PATCH", ObjectPath(type, object.ns, object.name, "status"),
                                   patch, "application/merge-patch+json");
  if (!response.ok()) {
    ++stats->failed;
    Log(LogLevel::kWarning, "status write failed",
        {{"object", memo_key}, {"error", std::string(response.status().message())}});
    return false;
  }
  if (response->status == 404) return true;  // deleted meanwhile; the watch will tell
  if (response->status != 200) {
    ++stats->failed;
    Log(response->status == 422 || response->status == 403 ? LogLevel::kError : LogLevel::kWarning,
        "status write rejected",
        {{"object", memo_key},
         {"status", std::to_string(response->status)},
         {"message", ResponseMessage(response->body)}});
    return false;
  }
  ++stats->patched;
  memo_[memo_key] = Memo{object.resource_version, ResponseRv(response->body), canonical};
  Log(LogLevel::kInfo, "status updated",
      {{"object", memo_key},
       {"phase", desired.phase},
       {"health", desired.health},
       {"generation", std::to_string(desired.observed_generation)}});
  return true;
}

StatusWriter::Stats StatusWriter::Sync(const RenderResult& result, const ClusterState& state,
                                       const HealthMap& health, int64_t unix_seconds) {
  Stats stats;
  std::set<std::string> live;
  for (const KubeObject& object : state.backends) {
    const auto verdict = result.backends.find(object.Key());
    if (verdict == result.backends.end()) continue;
    live.insert(fmt::format("{}/{}", kInferenceBackends.plural, object.Key()));
    SyncOne(kInferenceBackends, object, BackendStatus(verdict->second, object.Key(), health),
            unix_seconds, &stats);
  }
  for (const KubeObject& object : state.routes) {
    const auto verdict = result.routes.find(object.Key());
    if (verdict == result.routes.end()) continue;
    live.insert(fmt::format("{}/{}", kInferenceRoutes.plural, object.Key()));
    SyncOne(kInferenceRoutes, object, RouteStatus(verdict->second, object.ns, health), unix_seconds,
            &stats);
  }
  for (auto it = memo_.begin(); it != memo_.end();) {
    it = live.count(it->first) > 0 ? std::next(it) : memo_.erase(it);
  }
  return stats;
}

}  // namespace inferencegw::k8s
