// Command-line flags of inferencegw-k8s-sync.
//
//   absl::StatusOr<SyncOptions> options = ParseFlags(argc, argv);
//   if (options->help) std::cout << UsageText();
#ifndef INFERENCEGW_K8S_SYNC_FLAGS_H_
#define INFERENCEGW_K8S_SYNC_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "log.h"

namespace inferencegw::k8s {

struct SyncOptions {
  std::string kubeconfig;               // --kubeconfig
  std::string context;                  // --context
  std::vector<std::string> namespaces;  // --namespace; empty = all namespaces
  std::string output;                   // --output
  std::string proxy_admin;              // --proxy-admin
  double status_interval_seconds = 10;  // --status-interval
  bool write_status = true;             // --write-status
  bool leader_elect = true;             // --leader-elect
  std::string lease_name = "inferencegw-k8s-sync";
  std::string lease_namespace;  // "" = the pod's / context's namespace, else "default"
  double lease_duration_seconds = 15;
  double renew_deadline_seconds = 10;
  double retry_period_seconds = 2;
  std::string identity;  // "" = $POD_NAME, else hostname_random
  bool once = false;
  double sync_timeout_seconds = 60;  // --once: how long to wait for the first lists
  std::string check_path;            // --check
  LogLevel log_level = LogLevel::kInfo;
  int watch_timeout_seconds = 300;  // each watch lasts [t, 2t) seconds
  bool help = false;
  bool version = false;
};

// Parses argv. Accepts "--flag value" and "--flag=value"; boolean flags also bare ("--once")
// and as "--flag=true|false". InvalidArgument names the flag at fault; also when neither
// --output nor --check is given (unless --help/--version).
absl::StatusOr<SyncOptions> ParseFlags(int argc, const char* const* argv);

// The --help text.
std::string UsageText();

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_FLAGS_H_
