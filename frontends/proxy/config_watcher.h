// Hot reload: watches the config file or directory with inotify (its directory, so editors'
// rename-over saves and Kubernetes ConfigMap `..data` symlink swaps are seen), polls a content
// fingerprint as a fallback, and reloads on SIGHUP. A new config that fails to load or compile, or
// that has no routes (unless allowed, see SetAllowEmptyConfig), is logged, counted as a failed
// reload and rejected; the running one stays. Requests in flight finish on their old snapshot.
//
//   ConfigWatcher watcher(io, gateway, "/etc/inferencegw", std::chrono::seconds(2));
//   watcher.Start();
//   watcher.ReloadNow(/*force=*/true);   // what SIGHUP does
#ifndef INFERENCEGW_PROXY_CONFIG_WATCHER_H_
#define INFERENCEGW_PROXY_CONFIG_WATCHER_H_

#include <array>
#include <chrono>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "asio_beast.h"
#include "inferencegw/config.h"
#include "inferencegw/gateway.h"

namespace inferencegw::proxy {

// OK when `config` has at least one InferenceRoute; else InvalidArgument naming `path` and the
// --allow-empty-config flag. A config without routes answers every request 404.
absl::Status RequireRoutes(const ConfigSet& config, const std::string& path);

// Not thread-safe; runs on one loop.
class ConfigWatcher {
 public:
  ConfigWatcher(asio::io_context& io, Gateway& gateway, std::string path,
                std::chrono::milliseconds poll_interval);
  ~ConfigWatcher();

  void Start();
  void Stop();
  // Reloads now; unless `force`, only when the files' contents changed since the last load.
  void ReloadNow(bool force);

  // A fingerprint (SHA-256) of the config's files as they are now, or "" when unreadable.
  static std::string Fingerprint(const std::string& path);

  // Whether reloads may install a config with no routes (--allow-empty-config); default false.
  // Process-wide, set once by main() before ProxyServer::Create (which constructs the watcher;
  // when proxy_server.cc next changes this can become a constructor argument).
  static void SetAllowEmptyConfig(bool allow);

 private:
  void ReadEvents();
  void Debounce();
  void Poll();

  asio::io_context& io_;
  Gateway& gateway_;
  const std::string path_;
  const std::chrono::milliseconds poll_interval_;
  std::optional<asio::posix::stream_descriptor> inotify_;
  std::array<char, 4096> events_{};
  asio::steady_timer debounce_;
  asio::steady_timer poll_;
  std::string loaded_fingerprint_;
  bool stopped_ = false;
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_CONFIG_WATCHER_H_
