#include "credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "inferencegw/json_writer.h"
#include "simdjson.h"

extern char** environ;

namespace inferencegw::k8s {
namespace {

// client-go's NewCachedFileTokenSource period.
constexpr auto kTokenFileRefresh = std::chrono::minutes(1);
// Exec credentials are refreshed this long before they expire.
constexpr auto kExecExpiryLeeway = std::chrono::seconds(10);
constexpr int kExecTimeoutMillis = 60'000;

std::string TrimToken(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string ExecInfoJson(const ExecConfig& exec, const ClusterConfig& cluster) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("apiVersion").String(exec.api_version).Key("kind").String("ExecCredential");
  w.Key("spec").BeginObject().Key("interactive").Bool(false);
  if (exec.provide_cluster_info) {
    w.Key("cluster").BeginObject().Key("server").String(cluster.server);
    if (!cluster.ca_data.empty()) {
      w.Key("certificate-authority-data").String(EncodeBase64(cluster.ca_data));
    }
    if (!cluster.tls_server_name.empty()) w.Key("tls-server-name").String(cluster.tls_server_name);
    if (!cluster.proxy_url.empty()) w.Key("proxy-url").String(cluster.proxy_url);
    w.Key("insecure-skip-tls-verify").Bool(cluster.insecure_skip_tls_verify);
    w.EndObject();
  }
  w.EndObject().EndObject();
  return out;
}

// Runs `argv` with `env`, returning its stdout. Kills it after kExecTimeoutMillis.
absl::StatusOr<std::string> RunCapturingStdout(const std::vector<std::string>& argv,
                                               const std::vector<std::string>& env) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::InternalError(fmt::format("pipe: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  for (const std::string& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);
  pid_t pid = 0;
  const int rc =
      ::posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return absl::FailedPreconditionError(
        fmt::format("exec plugin {}: {}", argv[0], std::strerror(rc)));
  }
  std::string output;
  char buf[4096];
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kExecTimeoutMillis);
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd pfd {
      pipe_fds[0], POLLIN, 0
    };
    const int ready = ::poll(&pfd, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(fmt::format("exec plugin {} timed out", argv[0]));
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::FailedPreconditionError(
        fmt::format("exec plugin {} failed (status {})", argv[0], wstatus));
  }
  return output;
}

}  // namespace

bool ParseRfc3339(std::string_view text, std::chrono::system_clock::time_point* out) {
  std::tm tm{};
  int consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return false;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  size_t pos = static_cast<size_t>(consumed);
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  }
  long offset_seconds = 0;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int hh = 0;
    int mm = 0;
    if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d", &hh, &mm) != 2) return false;
    offset_seconds = (s[pos] == '+' ? 1 : -1) * (hh * 3600L + mm * 60L);
  } else if (pos >= s.size() || (s[pos] != 'Z' && s[pos] != 'z')) {
    return false;
  }
  const time_t t = ::timegm(&tm) - offset_seconds;
  *out = std::chrono::system_clock::from_time_t(t);
  return true;
}

absl::StatusOr<AuthMaterial> RunExecCredentialPlugin(
    const ExecConfig& exec, const ClusterConfig& cluster,
    std::chrono::system_clock::time_point* expiry) {
  std::vector<std::string> argv{exec.command};
  argv.insert(argv.end(), exec.args.begin(), exec.args.end());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  for (const auto& [name, value] : exec.env) env.push_back(name + "=" + value);
  env.push_back("KUBERNETES_EXEC_INFO=" + ExecInfoJson(exec, cluster));
  auto output = RunCapturingStdout(argv, env);
  if (!output.ok()) return output.status();

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(*output)).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        fmt::format("exec plugin {}: output is not an ExecCredential JSON", exec.command));
  }
  simdjson::dom::object status;
  if (doc["status"].get(status) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        fmt::format("exec plugin {}: ExecCredential has no status", exec.command));
  }
  AuthMaterial auth;
  std::string_view value;
  if (status["token"].get(value) == simdjson::SUCCESS) auth.bearer_token = std::string(value);
  if (status["clientCertificateData"].get(value) == simdjson::SUCCESS) {
    auth.client_cert_pem = std::string(value);
  }
  if (status["clientKeyData"].get(value) == simdjson::SUCCESS) {
    auth.client_key_pem = std::string(value);
  }
  if (auth.bearer_token.empty() && auth.client_cert_pem.empty()) {
    return absl::InvalidArgumentError(fmt::format(
        "exec plugin {}: ExecCredential has neither a token nor a certificate", exec.command));
  }
  *expiry = {};
  if (status["expirationTimestamp"].get(value) == simdjson::SUCCESS) {
    if (!ParseRfc3339(value, expiry)) {
      return absl::InvalidArgumentError(
          fmt::format("exec plugin {}: bad expirationTimestamp", exec.command));
    }
  }
  return auth;
}

absl::Status Credentials::RefreshTokenFileLocked() {
  auto token = ReadFile(config_.token_file);
  if (!token.ok()) return token.status();
  cached_.bearer_token = TrimToken(*std::move(token));
  token_read_at_ = std::chrono::steady_clock::now();
  return absl::OkStatus();
}

absl::Status Credentials::RunExecPluginLocked() {
  auto auth = RunExecCredentialPlugin(*config_.exec, config_, &exec_expiry_);
  if (!auth.ok()) return auth.status();
  cached_ = *std::move(auth);
  return absl::OkStatus();
}

absl::StatusOr<AuthMaterial> Credentials::Get() {
  std::lock_guard<std::mutex> lock(mu_);
  if (config_.exec.has_value()) {
    const bool expired = exec_expiry_.time_since_epoch().count() != 0 &&
                         std::chrono::system_clock::now() + kExecExpiryLeeway >= exec_expiry_;
    if (!valid_ || expired) {
      absl::Status status = RunExecPluginLocked();
      if (!status.ok()) return status;
      valid_ = true;
    }
    return cached_;
  }
  if (!config_.token_file.empty()) {  // the file wins over a static token, as in client-go
    if (!valid_ || std::chrono::steady_clock::now() - token_read_at_ >= kTokenFileRefresh) {
      absl::Status status = RefreshTokenFileLocked();
      if (!status.ok()) return status;
      valid_ = true;
    }
    return cached_;
  }
  cached_.bearer_token = config_.token;
  valid_ = true;
  return cached_;
}

void Credentials::Invalidate() {
  std::lock_guard<std::mutex> lock(mu_);
  valid_ = false;
}

}  // namespace inferencegw::k8s
