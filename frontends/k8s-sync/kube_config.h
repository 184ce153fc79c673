// Where the Kubernetes API server is and how to authenticate to it: from a kubeconfig file (or
// the $KUBECONFIG list) or from the pod's ServiceAccount (in-cluster).
//
//   ConfigSources sources = ConfigSourcesFromEnvironment();
//   sources.kubeconfig_flag = "/tmp/kubeconfig";
//   absl::StatusOr<ClusterConfig> config = ResolveClusterConfig(sources);
#ifndef INFERENCEGW_K8S_SYNC_KUBE_CONFIG_H_
#define INFERENCEGW_K8S_SYNC_KUBE_CONFIG_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace inferencegw::k8s {

inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// A kubeconfig `exec` credential plugin (client.authentication.k8s.io/v1 or v1beta1).
struct ExecConfig {
  std::string api_version;
  std::string command;  // resolved against the kubeconfig's directory when it contains a '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  bool provide_cluster_info = false;
};

// Everything needed to talk to one API server. Credentials are held here only as configured
// (a static token, a token file path, PEM blobs); see credentials.h for refreshing them.
struct ClusterConfig {
  std::string server;  // "https://10.0.0.1:443", without a trailing '/'
  std::string ca_file;
  std::string ca_data;  // PEM bytes (decoded certificate-authority-data)
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string proxy_url;
  std::string client_cert_file;
  std::string client_key_file;
  std::string client_cert_data;  // PEM bytes
  std::string client_key_data;   // PEM bytes
  std::string token;             // a static bearer token
  std::string token_file;        // a bearer token re-read periodically (ServiceAccount tokens)
  std::string username;          // basic auth
  std::string password;
  std::optional<ExecConfig> exec;
  std::string default_namespace;  // the context's namespace, or the pod's; "" when unknown
  std::string source;             // "in-cluster" or the kubeconfig path, for logs
};

// The inputs of ResolveClusterConfig, separated from the process environment for tests.
struct ConfigSources {
  std::string kubeconfig_flag;  // --kubeconfig; "" when not given
  std::string context;          // --context; "" for the current context
  std::string kubeconfig_env;   // $KUBECONFIG
  std::string home;             // $HOME
  std::string service_host;     // $KUBERNETES_SERVICE_HOST
  std::string service_port;     // $KUBERNETES_SERVICE_PORT
  std::string pod_namespace;    // $POD_NAMESPACE
  std::string service_account_dir = kServiceAccountDir;
};

// Reads the variables above from the environment ($INFERENCEGW_SERVICE_ACCOUNT_DIR, when set,
// replaces the ServiceAccount mount directory).
ConfigSources ConfigSourcesFromEnvironment();

// Picks the configuration like controller-runtime: --kubeconfig, then $KUBECONFIG (a ':'
// separated list, merged with the first definition of each name winning), then in-cluster, then
// $HOME/.kube/config. Fails with InvalidArgument/NotFound naming the file and field at fault.
absl::StatusOr<ClusterConfig> ResolveClusterConfig(const ConfigSources& sources);

// Loads a merged kubeconfig from `paths` (missing files are skipped unless `require_all`) and
// selects `context` (or the current context).
absl::StatusOr<ClusterConfig> LoadKubeconfig(const std::vector<std::string>& paths,
                                             const std::string& context, bool require_all);

// The in-cluster configuration: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with
// the ServiceAccount's token file and CA. Fails (closed) when the token or CA is unreadable.
absl::StatusOr<ClusterConfig> InClusterConfig(const ConfigSources& sources);

// Decodes standard base64 (padding optional, whitespace ignored). Returns false on bad input.
bool DecodeBase64(std::string_view text, std::string* out);
// Encodes standard base64 with padding.
std::string EncodeBase64(std::string_view bytes);

// Reads a whole file. NotFound / PermissionDenied name the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_KUBE_CONFIG_H_
