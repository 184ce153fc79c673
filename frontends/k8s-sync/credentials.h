// Bearer tokens and client certificates for API requests, refreshed the way client-go does:
// token files are re-read at most every minute and after a 401; exec plugins are re-run when
// their credential expires and after a 401.
//
//   Credentials creds(cluster_config);
//   absl::StatusOr<AuthMaterial> auth = creds.Get();   // before each request
//   if (http_status == 401) creds.Invalidate();        // then retry once
#ifndef INFERENCEGW_K8S_SYNC_CREDENTIALS_H_
#define INFERENCEGW_K8S_SYNC_CREDENTIALS_H_

#include <chrono>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "kube_config.h"

namespace inferencegw::k8s {

struct AuthMaterial {
  std::string bearer_token;     // "" when the user has none
  std::string client_cert_pem;  // from an exec plugin; "" when none
  std::string client_key_pem;
};

// Thread-safe.
class Credentials {
 public:
  explicit Credentials(ClusterConfig config) : config_(std::move(config)) {}

  // The material to use now. Fails when a token file is unreadable or an exec plugin fails.
  absl::StatusOr<AuthMaterial> Get();

  // Drops cached tokens so the next Get() re-reads the file or re-runs the plugin.
  void Invalidate();

  const ClusterConfig& config() const { return config_; }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  absl::Status RefreshTokenFileLocked();
  absl::Status RunExecPluginLocked();

  const ClusterConfig config_;
  std::mutex mu_;
  AuthMaterial cached_;                                  // guarded by mu_
  bool valid_ = false;                                   // guarded by mu_
  SteadyTime token_read_at_{};                           // guarded by mu_
  std::chrono::system_clock::time_point exec_expiry_{};  // guarded by mu_; epoch = none
};

// Runs an exec credential plugin and parses its ExecCredential. Exposed for tests.
absl::StatusOr<AuthMaterial> RunExecCredentialPlugin(const ExecConfig& exec,
                                                     const ClusterConfig& cluster,
                                                     std::chrono::system_clock::time_point* expiry);

// Parses an RFC 3339 UTC timestamp ("2026-01-01T00:00:00Z", fractions and offsets accepted).
bool ParseRfc3339(std::string_view text, std::chrono::system_clock::time_point* out);

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_CREDENTIALS_H_
