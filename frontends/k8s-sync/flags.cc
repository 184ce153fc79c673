#include "flags.h"

#include <charconv>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace inferencegw::k8s {
namespace {

absl::Status Bad(std::string_view flag, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("--{}: {}", flag, why));
}

absl::Status ParseDouble(std::string_view flag, std::string_view text, double min, double* out) {
  const std::string s(text);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(v >= min)) {
    return Bad(flag, fmt::format("expected a number >= {}, got \"{}\"", min, text));
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status ParseInt(std::string_view flag, std::string_view text, int min, int* out) {
  int v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || v < min) {
    return Bad(flag, fmt::format("expected an integer >= {}, got \"{}\"", min, text));
  }
  *out = v;
  return absl::OkStatus();
}

absl::Status ParseBool(std::string_view flag, std::optional<std::string_view> text, bool* out) {
  if (!text.has_value() || *text == "true" || *text == "1") {
    *out = true;
  } else if (*text == "false" || *text == "0") {
    *out = false;
  } else {
    return Bad(flag, fmt::format("expected true or false, got \"{}\"", *text));
  }
  return absl::OkStatus();
}

void AddNamespaces(std::string_view text, bool* all, std::vector<std::string>* out) {
  if (text.empty() || text == "*") *all = true;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    if (item == "*") {
      *all = true;
    } else if (!item.empty()) {
      out->emplace_back(item);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
}

bool IsBoolFlag(std::string_view name) {
  return name == "once" || name == "leader-elect" || name == "write-status" || name == "help" ||
         name == "version";
}

}  // namespace

std::string UsageText() {
  return R"(Usage: inferencegw-k8s-sync --output PATH [flags]
       inferencegw-k8s-sync --check PATH

Watches InferenceBackend and InferenceRoute objects (gateway.inference-gateway.io/v1alpha1),
the Secrets they reference and KServe InferenceServices, renders the inferencegw-proxy
configuration to --output (atomically, only when it changed) and writes status back.

Connection:
  --kubeconfig PATH        kubeconfig file (default: $KUBECONFIG, then in-cluster when
                           KUBERNETES_SERVICE_HOST is set, then ~/.kube/config)
  --context NAME           kubeconfig context (default: current-context)
  --namespace NS           namespace to watch; repeatable or comma-separated; "" or "*" = all
                           (default: all namespaces)
Output:
  --output PATH            where to write the rendered config (required)
  --once                   list, render, write status once, then exit (0 on success)
  --sync-timeout SECONDS   with --once: how long to wait for the first lists (default 60)
  --check PATH             load and validate manifests (file or directory) with the library,
                           print every issue and exit (1 when there are errors)
Status:
  --proxy-admin URL        the proxy's admin base URL; backend health comes from
                           URL/admin/backends (without it health stays Unknown)
  --status-interval SEC    how often to poll health and refresh status (default 10)
  --write-status=false     render only, never write status
Leader election (only the leader writes status; every replica renders):
  --leader-elect=false     write status without a Lease (single replica)
  --lease-name NAME        Lease name (default inferencegw-k8s-sync)
  --lease-namespace NS     Lease namespace (default: the pod's or context's namespace)
  --lease-duration SEC     (default 15)   --renew-deadline SEC (default 10)
  --retry-period SEC       (default 2)    --identity ID (default $POD_NAME or hostname_random)
Other:
  --watch-timeout SEC      each watch asks the server to end it after [SEC, 2*SEC) (default 300)
  --log-level LEVEL        debug, info, warning or error (default info); logs are JSON lines on
                           stderr and never contain Secret values or tokens
  --help, --version
)";
}

absl::StatusOr<SyncOptions> ParseFlags(int argc, const char* const* argv) {
  SyncOptions o;
  bool all_namespaces = false;
  bool namespace_given = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(fmt::format("unexpected argument \"{}\"", arg));
    }
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::optional<std::string_view> value;
    if (const size_t eq = arg.find('='); eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (!IsBoolFlag(name)) {
      if (i + 1 >= argc) return Bad(name, "missing value");
      value = argv[++i];
    }
    absl::Status status;
    if (name == "kubeconfig") {
      o.kubeconfig = std::string(*value);
    } else if (name == "context") {
      o.context = std::string(*value);
    } else if (name == "namespace" || name == "namespaces") {
      namespace_given = true;
      AddNamespaces(*value, &all_namespaces, &o.namespaces);
    } else if (name == "output") {
      o.output = std::string(*value);
    } else if (name == "proxy-admin") {
      o.proxy_admin = std::string(*value);
    } else if (name == "status-interval") {
      status = ParseDouble(name, *value, 0.1, &o.status_interval_seconds);
    } else if (name == "write-status") {
      status = ParseBool(name, value, &o.write_status);
    } else if (name == "leader-elect") {
      status = ParseBool(name, value, &o.leader_elect);
    } else if (name == "lease-name") {
      o.lease_name = std::string(*value);
    } else if (name == "lease-namespace") {
      o.lease_namespace = std::string(*value);
    } else if (name == "lease-duration") {
      status = ParseDouble(name, *value, 1, &o.lease_duration_seconds);
    } else if (name == "renew-deadline") {
      status = ParseDouble(name, *value, 0.1, &o.renew_deadline_seconds);
    } else if (name == "retry-period") {
      status = ParseDouble(name, *value, 0.05, &o.retry_period_seconds);
    } else if (name == "identity") {
      o.identity = std::string(*value);
    } else if (name == "once") {
      status = ParseBool(name, value, &o.once);
    } else if (name == "sync-timeout") {
      status = ParseDouble(name, *value, 0.1, &o.sync_timeout_seconds);
    } else if (name == "check") {
      o.check_path = std::string(*value);
    } else if (name == "log-level") {
      if (!ParseLogLevel(*value, &o.log_level)) {
        status = Bad(name, fmt::format("unknown level \"{}\"", *value));
      }
    } else if (name == "watch-timeout") {
      status = ParseInt(name, *value, 1, &o.watch_timeout_seconds);
    } else if (name == "help") {
      status = ParseBool(name, value, &o.help);
    } else if (name == "version") {
      status = ParseBool(name, value, &o.version);
    } else {
      return absl::InvalidArgumentError(fmt::format("unknown flag --{}", name));
    }
    if (!status.ok()) return status;
  }
  if (!namespace_given || all_namespaces) o.namespaces.clear();
  if (o.help || o.version) return o;
  if (o.check_path.empty() && o.output.empty()) {
    return absl::InvalidArgumentError("--output is required (or --check PATH)");
  }
  if (o.leader_elect && !(o.lease_duration_seconds > o.renew_deadline_seconds &&
                          o.renew_deadline_seconds > 1.2 * o.retry_period_seconds)) {
    return absl::InvalidArgumentError(
        "leader election needs --lease-duration > --renew-deadline > 1.2 x --retry-period");
  }
  return o;
}

}  // namespace inferencegw::k8s
