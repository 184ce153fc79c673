// List-then-watch of one resource type in one namespace (or all), keeping a local copy of the
// objects: the C++ counterpart of client-go's Reflector + Store.
//
//   Reflector routes(&client, &canceller, {.type = &kInferenceRoutes, .ns = "team-a",
//                                          .on_change = [&] { syncer.Poke(); }});
//   std::thread t([&] { routes.Run(); });   // until canceller.Cancel()
//   for (const KubeObject& o : routes.Snapshot()) ...
#ifndef INFERENCEGW_K8S_SYNC_REFLECTOR_H_
#define INFERENCEGW_K8S_SYNC_REFLECTOR_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "kube_client.h"
#include "resources.h"

namespace inferencegw::k8s {

// One object as last seen from the API server.
struct KubeObject {
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  std::string json;  // the whole object, minified

  std::string Key() const { return ns + "/" + name; }
};

// Reads the identity fields of an object's JSON. InvalidArgument when it is not an object with
// metadata.name.
absl::StatusOr<KubeObject> ParseKubeObject(std::string_view json);

// Thread-safe: Run() on one thread, the accessors from any.
class Reflector {
 public:
  struct Options {
    const ResourceType* type = nullptr;
    std::string ns;  // "" = all namespaces
    // Each watch asks for a timeoutSeconds drawn from [watch_timeout, 2 x watch_timeout).
    std::chrono::seconds watch_timeout{300};
    std::chrono::milliseconds backoff_initial{800};
    std::chrono::milliseconds backoff_cap{30'000};
    // How long to wait before asking again for a resource type the server does not serve
    // (e.g. KServe not installed).
    std::chrono::seconds not_installed_retry{60};
    std::function<void()> on_change;  // called (without locks held) after the store changed
  };

  Reflector(KubeClient* client, Canceller* canceller, Options options);

  // Lists and watches until the canceller fires. Never returns early on errors: it backs off
  // and retries.
  void Run();

  // True once the first list succeeded, or the server answered that the type is not served.
  bool synced() const { return synced_.load(std::memory_order_acquire); }
  // False while the server answers 404 for the type (the CRD is not installed).
  bool installed() const { return installed_.load(std::memory_order_acquire); }
  // The cached objects sorted by namespace/name.
  std::vector<KubeObject> Snapshot() const;
  // The cached object `ns/name`, if any.
  bool Get(std::string_view ns, std::string_view name, KubeObject* out) const;

  const ResourceType& type() const { return *options_.type; }
  const std::string& ns() const { return options_.ns; }
  // Counters for logs and tests.
  int64_t lists() const { return lists_.load(); }
  int64_t watches() const { return watches_.load(); }

 private:
  // How one watch ended: kClean (re-watch at once), kGone (410: relist), kTransport
  // (connection failed or dropped: back off, re-watch), kHttpError (back off, relist),
  // kRetryAfter (429: wait, re-watch), kCancelled (stop).
  enum class WatchEnd { kClean, kGone, kTransport, kHttpError, kRetryAfter, kCancelled };
  struct WatchResult {
    WatchEnd end = WatchEnd::kTransport;
    int events = 0;
    int retry_after_seconds = 0;
  };

  absl::Status List();
  WatchResult Watch(std::chrono::seconds timeout);
  std::string Describe() const;

  KubeClient* const client_;
  Canceller* const canceller_;
  const Options options_;
  std::atomic<bool> synced_{false};
  std::atomic<bool> installed_{true};
  std::atomic<int64_t> lists_{0};
  std::atomic<int64_t> watches_{0};
  std::string last_rv_;  // only touched by Run()'s thread
  std::mt19937_64 rng_;  // only touched by Run()'s thread

  mutable std::mutex mu_;
  std::map<std::string, KubeObject, std::less<>> items_;  // guarded by mu_; by namespace/name
};

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_REFLECTOR_H_
