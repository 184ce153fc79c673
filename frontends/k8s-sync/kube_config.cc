#include "kube_config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "yaml-cpp/yaml.h"

namespace inferencegw::k8s {
namespace {

std::string Getenv(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Relative paths in a kubeconfig resolve against the directory of the file defining them.
std::string ResolvePath(const std::string& dir, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return dir + "/" + path;
}

std::string Trim(std::string s) {
  const char* kSpace = " \t\r\n";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string::npos) return "";
  const size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

bool IsRegularFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A named entry (cluster, user or context) and the directory of the file that defined it.
struct NamedEntry {
  YAML::Node node;
  std::string dir;
  std::string file;
};

struct MergedKubeconfig {
  std::string current_context;
  std::map<std::string, NamedEntry> clusters;
  std::map<std::string, NamedEntry> users;
  std::map<std::string, NamedEntry> contexts;
};

std::string ScalarOr(const YAML::Node& node, const char* key, std::string fallback = "") {
  const YAML::Node child = node[key];
  if (!child.IsDefined() || child.IsNull()) return fallback;
  return child.as<std::string>();
}

// Merges the named list `key` of `doc` into `into`; the first file defining a name wins.
void MergeNamed(const YAML::Node& doc, const char* key, const char* inner, const std::string& file,
                std::map<std::string, NamedEntry>* into) {
  const YAML::Node list = doc[key];
  if (!list.IsDefined() || !list.IsSequence()) return;
  for (const YAML::Node& item : list) {
    const std::string name = ScalarOr(item, "name");
    if (name.empty() || into->count(name) > 0) continue;
    into->emplace(name, NamedEntry{item[inner], Dirname(file), file});
  }
}

absl::StatusOr<std::string> DecodeDataField(const YAML::Node& node, const char* key,
                                            const std::string& where) {
  const std::string text = ScalarOr(node, key);
  std::string decoded;
  if (!DecodeBase64(text, &decoded)) {
    return absl::InvalidArgumentError(fmt::format("{}: {}: invalid base64", where, key));
  }
  return decoded;
}

absl::Status FillCluster(const NamedEntry& entry, const std::string& name, ClusterConfig* out) {
  const YAML::Node& c = entry.node;
  const std::string where = fmt::format("{}: cluster \"{}\"", entry.file, name);
  out->server = ScalarOr(c, "server");
  while (!out->server.empty() && out->server.back() == '/') out->server.pop_back();
  if (out->server.empty()) {
    return absl::InvalidArgumentError(fmt::format("{}: server is empty", where));
  }
  if (c["certificate-authority-data"].IsDefined()) {
    auto data = DecodeDataField(c, "certificate-authority-data", where);
    if (!data.ok()) return data.status();
    out->ca_data = *std::move(data);
  } else {
    out->ca_file = ResolvePath(entry.dir, ScalarOr(c, "certificate-authority"));
  }
  out->insecure_skip_tls_verify =
      c["insecure-skip-tls-verify"].IsDefined() && c["insecure-skip-tls-verify"].as<bool>();
  out->tls_server_name = ScalarOr(c, "tls-server-name");
  out->proxy_url = ScalarOr(c, "proxy-url");
  return absl::OkStatus();
}

absl::Status FillUser(const NamedEntry& entry, const std::string& name, ClusterConfig* out) {
  const YAML::Node& u = entry.node;
  if (!u.IsDefined() || u.IsNull()) return absl::OkStatus();
  const std::string where = fmt::format("{}: user \"{}\"", entry.file, name);
  out->token = ScalarOr(u, "token");
  out->token_file = ResolvePath(entry.dir, ScalarOr(u, "tokenFile"));
  out->username = ScalarOr(u, "username");
  out->password = ScalarOr(u, "password");
  if (u["client-certificate-data"].IsDefined()) {
    auto data = DecodeDataField(u, "client-certificate-data", where);
    if (!data.ok()) return data.status();
    out->client_cert_data = *std::move(data);
  } else {
    out->client_cert_file = ResolvePath(entry.dir, ScalarOr(u, "client-certificate"));
  }
  if (u["client-key-data"].IsDefined()) {
    auto data = DecodeDataField(u, "client-key-data", where);
    if (!data.ok()) return data.status();
    out->client_key_data = *std::move(data);
  } else {
    out->client_key_file = ResolvePath(entry.dir, ScalarOr(u, "client-key"));
  }
  if (u["auth-provider"].IsDefined()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: auth-provider plugins are not supported; use exec", where));
  }
  const YAML::Node exec = u["exec"];
  if (exec.IsDefined() && !exec.IsNull()) {
    ExecConfig e;
    e.api_version = ScalarOr(exec, "apiVersion", "client.authentication.k8s.io/v1");
    e.command = ScalarOr(exec, "command");
    if (e.command.empty()) {
      return absl::InvalidArgumentError(fmt::format("{}: exec.command is empty", where));
    }
    if (e.command.find('/') != std::string::npos) e.command = ResolvePath(entry.dir, e.command);
    if (exec["args"].IsSequence()) {
      for (const YAML::Node& arg : exec["args"]) e.args.push_back(arg.as<std::string>());
    }
    if (exec["env"].IsSequence()) {
      for (const YAML::Node& var : exec["env"]) {
        e.env.emplace_back(ScalarOr(var, "name"), ScalarOr(var, "value"));
      }
    }
    e.provide_cluster_info =
        exec["provideClusterInfo"].IsDefined() && exec["provideClusterInfo"].as<bool>();
    out->exec = std::move(e);
  }
  return absl::OkStatus();
}

absl::StatusOr<ClusterConfig> LoadKubeconfigImpl(const std::vector<std::string>& paths,
                                                 const std::string& context, bool require_all) {
  MergedKubeconfig merged;
  std::string first_file;
  for (const std::string& path : paths) {
    if (!IsRegularFile(path)) {
      if (require_all) {
        return absl::NotFoundError(fmt::format("kubeconfig {}: not found", path));
      }
      continue;
    }
    if (first_file.empty()) first_file = path;
    YAML::Node doc;
    try {
      doc = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          fmt::format("kubeconfig {}:{}: {}", path, e.mark.line + 1, e.msg));
    }
    if (!doc.IsMap()) continue;
    if (merged.current_context.empty()) merged.current_context = ScalarOr(doc, "current-context");
    MergeNamed(doc, "clusters", "cluster", path, &merged.clusters);
    MergeNamed(doc, "users", "user", path, &merged.users);
    MergeNamed(doc, "contexts", "context", path, &merged.contexts);
  }
  if (first_file.empty()) {
    return absl::NotFoundError(
        fmt::format("no kubeconfig file found (looked at: {})", fmt::join(paths, ", ")));
  }
  const std::string context_name = context.empty() ? merged.current_context : context;
  if (context_name.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("kubeconfig {}: no current-context and no --context given", first_file));
  }
  const auto ctx = merged.contexts.find(context_name);
  if (ctx == merged.contexts.end()) {
    return absl::NotFoundError(
        fmt::format("kubeconfig {}: context \"{}\" not found", first_file, context_name));
  }
  const std::string cluster_name = ScalarOr(ctx->second.node, "cluster");
  const std::string user_name = ScalarOr(ctx->second.node, "user");
  const auto cluster = merged.clusters.find(cluster_name);
  if (cluster == merged.clusters.end()) {
    return absl::NotFoundError(
        fmt::format("kubeconfig {}: context \"{}\": cluster \"{}\" not found", ctx->second.file,
                    context_name, cluster_name));
  }
  ClusterConfig out;
  out.source = first_file;
  out.default_namespace = ScalarOr(ctx->second.node, "namespace");
  absl::Status status = FillCluster(cluster->second, cluster_name, &out);
  if (!status.ok()) return status;
  if (!user_name.empty()) {
    const auto user = merged.users.find(user_name);
    if (user == merged.users.end()) {
      return absl::NotFoundError(fmt::format("kubeconfig {}: context \"{}\": user \"{}\" not found",
                                             ctx->second.file, context_name, user_name));
    }
    status = FillUser(user->second, user_name, &out);
    if (!status.ok()) return status;
  }
  return out;
}

}  // namespace

ConfigSources ConfigSourcesFromEnvironment() {
  ConfigSources s;
  s.kubeconfig_env = Getenv("KUBECONFIG");
  s.home = Getenv("HOME");
  s.service_host = Getenv("KUBERNETES_SERVICE_HOST");
  s.service_port = Getenv("KUBERNETES_SERVICE_PORT");
  s.pod_namespace = Getenv("POD_NAMESPACE");
  // Where the ServiceAccount files are mounted; overridable for tests and unusual mounts.
  if (std::string dir = Getenv("INFERENCEGW_SERVICE_ACCOUNT_DIR"); !dir.empty()) {
    s.service_account_dir = dir;
  }
  return s;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == EACCES) {
      return absl::PermissionDeniedError(fmt::format("{}: permission denied", path));
    }
    return absl::NotFoundError(fmt::format("{}: {}", path, std::strerror(err)));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

bool DecodeBase64(std::string_view text, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  bool padding = false;
  for (const char c : text) {
    int value;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else if (c == '=') {
      padding = true;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return false;
    }
    if (padding) return false;  // data after padding
    acc = (acc << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return bits < 6;
}

std::string EncodeBase64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

absl::StatusOr<ClusterConfig> LoadKubeconfig(const std::vector<std::string>& paths,
                                             const std::string& context, bool require_all) {
  try {
    return LoadKubeconfigImpl(paths, context, require_all);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("kubeconfig: line {}: {}", e.mark.line + 1, e.msg));
  }
}

absl::StatusOr<ClusterConfig> InClusterConfig(const ConfigSources& sources) {
  if (sources.service_host.empty() || sources.service_port.empty()) {
    return absl::FailedPreconditionError(
        "not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set");
  }
  ClusterConfig out;
  out.source = "in-cluster";
  const bool ipv6 = sources.service_host.find(':') != std::string::npos;
  out.server = ipv6 ? fmt::format("https://[{}]:{}", sources.service_host, sources.service_port)
                    : fmt::format("https://{}:{}", sources.service_host, sources.service_port);
  out.token_file = sources.service_account_dir + "/token";
  if (!IsRegularFile(out.token_file)) {
    return absl::NotFoundError(fmt::format("in-cluster: {} is not a file", out.token_file));
  }
  out.ca_file = sources.service_account_dir + "/ca.crt";
  if (!IsRegularFile(out.ca_file)) {
    return absl::NotFoundError(fmt::format("in-cluster: {} is not a file", out.ca_file));
  }
  if (!sources.pod_namespace.empty()) {
    out.default_namespace = sources.pod_namespace;
  } else if (auto ns = ReadFile(sources.service_account_dir + "/namespace"); ns.ok()) {
    out.default_namespace = Trim(*ns);
  }
  if (out.default_namespace.empty()) out.default_namespace = "default";
  return out;
}

absl::StatusOr<ClusterConfig> ResolveClusterConfig(const ConfigSources& sources) {
  if (!sources.kubeconfig_flag.empty()) {
    return LoadKubeconfig({sources.kubeconfig_flag}, sources.context, /*require_all=*/true);
  }
  if (!sources.kubeconfig_env.empty()) {
    std::vector<std::string> paths;
    std::stringstream list(sources.kubeconfig_env);
    std::string item;
    while (std::getline(list, item, ':')) {
      if (!item.empty() && std::find(paths.begin(), paths.end(), item) == paths.end()) {
        paths.push_back(item);
      }
    }
    return LoadKubeconfig(paths, sources.context, /*require_all=*/false);
  }
  if (!sources.service_host.empty()) return InClusterConfig(sources);
  if (sources.home.empty()) {
    return absl::NotFoundError("no kubeconfig: --kubeconfig, $KUBECONFIG and $HOME are unset");
  }
  return LoadKubeconfig({sources.home + "/.kube/config"}, sources.context, /*require_all=*/true);
}

}  // namespace inferencegw::k8s
