// inferencegw-proxy: the OpenAI-compatible inference gateway. See --help.
#include <curl/curl.h>
#include <sys/resource.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <optional>
#include <string>
#include <string_view>

#include "config_watcher.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "log_sink.h"
#include "proxy_server.h"
#include "redis_store.h"
#include "tracing_flags.h"

namespace {

constexpr std::string_view kUsage = R"(usage: inferencegw-proxy --config PATH [options]

An OpenAI-compatible inference gateway: routes each request to a backend (vLLM, Ollama, KServe,
OpenAI, Anthropic, Cohere) by the rules of InferenceRoute/InferenceBackend manifests, with
fallback, A/B experiments, rate limits, cost tracking, health checks and Prometheus metrics.

  --config PATH            manifest file, or a directory of *.yaml/*.yml/*.json manifests
                           (required). Reloaded on change and on SIGHUP.
  --listen HOST:PORT       client API and /healthz /readyz /metrics (default 0.0.0.0:8080;
                           port 0 picks a free port, printed in the "listening" log line)
  --admin-listen HOST:PORT /admin/* endpoints (default 127.0.0.1:9090)
  --threads N              event-loop worker threads (default: one per core)
  --max-body-bytes N       largest request body accepted; larger gets 413 (default 16777216)
  --max-header-bytes N     largest request header block; larger gets 431 (default 65536)
  --idle-timeout S         close keep-alive connections idle this long (default 75)
  --header-timeout S       a request's header must arrive within S seconds of its first byte,
                           else 408 (default 15; slowloris)
  --max-connections N      open client connections, all threads together; past it a new
                           connection gets a 503 and is closed (default: half the open-files
                           limit; 0: no cap)
  --request-timeout S      a request must arrive completely within S seconds of its first
                           byte, else 408 (default 60)
  --write-timeout S        a client must accept each write within S seconds (default 60)
  --drain-timeout S        on SIGTERM, wait this long for in-flight requests (default 30)
  --connect-timeout-ms N   upstream connect timeout (default 5000)
  --config-poll-ms N       fallback config poll interval (default 2000)
  --no-access-log          do not write one JSON line per request to stdout
  --allow-empty-config     accept a config without any InferenceRoute (every request gets 404)
                           at startup, on reload and with --check; without it such a config is
                           an error and a reload to it is rejected
  --redis URL              keep rate limits and spend budgets in Redis, shared by every
                           replica: redis://[[user]:password@]host[:port][/db] (also
                           INFERENCEGW_REDIS_URL; rediss:// is not supported). Without it each
                           replica counts on its own
  --redis-password-file PATH
                           the Redis password, from a file (a trailing newline is dropped).
                           Precedence: this file, then INFERENCEGW_REDIS_PASSWORD, then the
                           password in the URL
  --redis-timeout-ms N     longest wait for Redis per call, and the connect timeout (default 50)
  --redis-failure-policy failOpen|failClosed
                           when Redis does not answer in time: failOpen admits on this
                           replica's own counters, failClosed refuses with 503 (default failOpen)
  --redis-prefix P         prefix of every Redis key: "{P}:..." (default igw)
  --otlp-endpoint URL      export OpenTelemetry spans over OTLP/HTTP JSON to URL/v1/traces
                           (also OTEL_EXPORTER_OTLP_ENDPOINT). Without an endpoint, tracing
                           is off
  --otlp-traces-endpoint URL
                           the full traces URL (also OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  --otlp-headers K=V,...   headers for the collector, values percent-encoded (also
                           OTEL_EXPORTER_OTLP_HEADERS, preferred: flags show in ps). Never logged
  --otel-service-name NAME service.name of the spans (also OTEL_SERVICE_NAME; default
                           inferencegw)
  --trace-sampler NAME     always_on, always_off, traceidratio, parentbased_always_on (default),
                           parentbased_always_off, parentbased_traceidratio (also
                           OTEL_TRACES_SAMPLER)
  --trace-sampler-arg R    the ratio in [0, 1] for the *traceidratio samplers (also
                           OTEL_TRACES_SAMPLER_ARG; default 1)
  --otlp-timeout-ms N      bound on one export POST (also OTEL_BSP_EXPORT_TIMEOUT; default 10000)
  --otlp-batch-delay-ms N  export at least this often (also OTEL_BSP_SCHEDULE_DELAY; default 5000)
  --otlp-max-queue N       spans waiting for export; more are dropped and counted (also
                           OTEL_BSP_MAX_QUEUE_SIZE; default 2048)
  --otlp-max-batch N       spans per POST (also OTEL_BSP_MAX_EXPORT_BATCH_SIZE; default 512)
  --no-tracing             no spans even when an endpoint is set (also OTEL_SDK_DISABLED=true)
  --check                  load and validate the config, print warnings and errors, exit
  --version                print the version
  --help                   this text

Signals: SIGHUP reloads the config; SIGTERM/SIGINT stop accepting, drain and exit 0.
Exit status: 0 after a clean stop, 1 when the config is invalid, 2 for bad flags.
)";

bool ParseHostPort(std::string_view text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = text.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  const std::string_view p = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || end != p.data() + p.size() || value > 65535 || h.empty()) return false;
  *host = std::string(h);
  *port = static_cast<uint16_t>(value);
  return true;
}

bool ParseNumber(std::string_view text, long long min, long long* out) {
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min) return false;
  *out = value;
  return true;
}

// Raises the soft RLIMIT_NOFILE to the hard limit (one connection is one or two descriptors) and
// logs one line saying so, or why not. Returns the soft limit in force (0 when unknown).
rlim_t RaiseOpenFilesLimit() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    inferencegw::proxy::LogSink::Get().Event(
        "warning", fmt::format("open files limit: unknown ({})", std::strerror(errno)));
    return 0;
  }
  const rlim_t before = limit.rlim_cur;
  rlim_t target = limit.rlim_max;
  if (target == RLIM_INFINITY) {  // Linux caps descriptors at fs.nr_open
    target = 1024 * 1024;
    if (FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
      unsigned long long nr_open = 0;
      if (std::fscanf(f, "%llu", &nr_open) == 1 && nr_open > 0) target = nr_open;
      std::fclose(f);
    }
  }
  if (limit.rlim_cur < target) {
    limit.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      inferencegw::proxy::LogSink::Get().Event(
          "warning", fmt::format("open files limit: {} (cannot raise to {}: {})", before, target,
                                 std::strerror(errno)));
      return before;
    }
  }
  inferencegw::proxy::LogSink::Get().Event(
      "info", fmt::format("open files limit: {} -> {}", before, limit.rlim_cur));
  return limit.rlim_cur;
}

int Usage(const std::string& error) {
  std::cerr << "inferencegw-proxy: " << error << "\n(see --help)\n";
  return 2;
}

// The --redis* flags as given, before they are checked together.
struct RedisFlags {
  std::string url;
  std::string password_file;
  long long timeout_ms = 50;
  std::string failure_policy = "failOpen";
  std::string prefix = "igw";
  bool any_set = false;  // any flag but --redis itself
};

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// The Redis options from the flags and the environment into `options`; "" when they are valid,
// else the error (which never holds the password).
std::string ApplyRedisFlags(RedisFlags flags, inferencegw::proxy::ProxyOptions* options) {
  using inferencegw::proxy::RedisCounterStore;
  if (flags.url.empty()) flags.url = Env("INFERENCEGW_REDIS_URL");
  if (flags.url.empty()) {
    return flags.any_set ? "the --redis-* flags need --redis URL (or INFERENCEGW_REDIS_URL)" : "";
  }
  absl::StatusOr<RedisCounterStore::Options> redis = RedisCounterStore::ParseRedisUrl(flags.url);
  if (!redis.ok()) return std::string(redis.status().message());
  if (!flags.password_file.empty()) {
    std::ifstream file(flags.password_file, std::ios::binary);
    std::stringstream text;
    if (!file || !(text << file.rdbuf())) {
      return fmt::format("--redis-password-file: cannot read {}", flags.password_file);
    }
    std::string password = text.str();
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
    if (password.empty()) {
      return fmt::format("--redis-password-file: {} is empty", flags.password_file);
    }
    redis->password = std::move(password);
  } else if (std::string password = Env("INFERENCEGW_REDIS_PASSWORD"); !password.empty()) {
    redis->password = std::move(password);
  }
  if (flags.timeout_ms < 1 || flags.timeout_ms > 60000) {
    return "--redis-timeout-ms needs 1..60000";
  }
  redis->timeout = std::chrono::milliseconds(flags.timeout_ms);
  if (flags.failure_policy == "failOpen") {
    options->redis_failure_policy = inferencegw::StoreFailurePolicy::kFailOpen;
  } else if (flags.failure_policy == "failClosed") {
    options->redis_failure_policy = inferencegw::StoreFailurePolicy::kFailClosed;
  } else {
    return "--redis-failure-policy needs failOpen or failClosed";
  }
  if (flags.prefix.empty() || flags.prefix.size() > 64 ||
      flags.prefix.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789._:-") != std::string::npos) {
    return "--redis-prefix needs 1..64 letters, digits, '.', '_', ':' or '-'";
  }
  redis->prefix = flags.prefix;
  options->redis = *std::move(redis);
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  inferencegw::proxy::ProxyOptions options;
  bool check_only = false;
  bool max_connections_set = false;
  RedisFlags redis_flags;
  inferencegw::proxy::TracingFlags tracing_flags;
  for (int i = 1; i < argc; ++i) {
    // "--flag value" or "--flag=value" (as Kubernetes manifests usually write it).
    std::string_view arg = argv[i];
    std::optional<std::string_view> inline_value;
    if (const size_t eq = arg.find('='); arg.substr(0, 2) == "--" && eq != std::string_view::npos) {
      inline_value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    bool value_used = false;
    auto value = [&](std::string_view* out) {
      value_used = true;
      if (inline_value.has_value()) {
        *out = *inline_value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string_view v;
    long long n = 0;
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--version") {
      std::cout << "inferencegw-proxy 0.1.0\n";
      return 0;
    } else if (arg == "--check") {
      check_only = true;
    } else if (arg == "--allow-empty-config") {
      options.allow_empty_config = true;
    } else if (arg == "--no-access-log") {
      options.access_log = false;
    } else if (arg == "--config") {
      if (!value(&v)) return Usage("--config needs a path");
      options.config_path = std::string(v);
    } else if (arg == "--listen") {
      if (!value(&v) || !ParseHostPort(v, &options.listen_host, &options.listen_port)) {
        return Usage("--listen needs HOST:PORT");
      }
    } else if (arg == "--admin-listen") {
      if (!value(&v) || !ParseHostPort(v, &options.admin_host, &options.admin_port)) {
        return Usage("--admin-listen needs HOST:PORT");
      }
    } else if (arg == "--threads") {
      if (!value(&v) || !ParseNumber(v, 1, &n) || n > 256) return Usage("--threads needs 1..256");
      options.threads = static_cast<int>(n);
    } else if (arg == "--max-body-bytes") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--max-body-bytes needs a number");
      options.limits.max_body_bytes = static_cast<size_t>(n);
    } else if (arg == "--max-header-bytes") {
      if (!value(&v) || !ParseNumber(v, 1024, &n)) return Usage("--max-header-bytes needs >= 1024");
      options.limits.max_header_bytes = static_cast<size_t>(n);
    } else if (arg == "--idle-timeout") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--idle-timeout needs seconds");
      options.limits.idle_timeout = std::chrono::seconds(n);
    } else if (arg == "--header-timeout") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--header-timeout needs seconds");
      options.limits.header_timeout = std::chrono::seconds(n);
    } else if (arg == "--max-connections") {
      if (!value(&v) || !ParseNumber(v, 0, &n)) return Usage("--max-connections needs a number");
      options.limits.max_connections = static_cast<size_t>(n);
      max_connections_set = true;
    } else if (arg == "--request-timeout") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--request-timeout needs seconds");
      options.limits.request_timeout = std::chrono::seconds(n);
    } else if (arg == "--write-timeout") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--write-timeout needs seconds");
      options.limits.write_timeout = std::chrono::seconds(n);
    } else if (arg == "--drain-timeout") {
      if (!value(&v) || !ParseNumber(v, 0, &n)) return Usage("--drain-timeout needs seconds");
      options.drain_timeout = std::chrono::seconds(n);
    } else if (arg == "--connect-timeout-ms") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--connect-timeout-ms needs ms");
      options.connect_timeout = std::chrono::milliseconds(n);
    } else if (arg == "--config-poll-ms") {
      if (!value(&v) || !ParseNumber(v, 10, &n)) return Usage("--config-poll-ms needs >= 10");
      options.config_poll = std::chrono::milliseconds(n);
    } else if (arg == "--redis") {
      if (!value(&v) || v.empty()) return Usage("--redis needs a URL");
      redis_flags.url = std::string(v);
    } else if (arg == "--redis-password-file") {
      if (!value(&v) || v.empty()) return Usage("--redis-password-file needs a path");
      redis_flags.password_file = std::string(v);
      redis_flags.any_set = true;
    } else if (arg == "--redis-timeout-ms") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--redis-timeout-ms needs 1..60000");
      redis_flags.timeout_ms = n;
      redis_flags.any_set = true;
    } else if (arg == "--redis-failure-policy") {
      if (!value(&v)) return Usage("--redis-failure-policy needs failOpen or failClosed");
      redis_flags.failure_policy = std::string(v);
      redis_flags.any_set = true;
    } else if (arg == "--redis-prefix") {
      if (!value(&v)) return Usage("--redis-prefix needs a prefix");
      redis_flags.prefix = std::string(v);
      redis_flags.any_set = true;
    } else if (arg == "--otlp-endpoint") {
      if (!value(&v) || v.empty()) return Usage("--otlp-endpoint needs a URL");
      tracing_flags.endpoint = std::string(v);
    } else if (arg == "--otlp-traces-endpoint") {
      if (!value(&v) || v.empty()) return Usage("--otlp-traces-endpoint needs a URL");
      tracing_flags.traces_endpoint = std::string(v);
    } else if (arg == "--otlp-headers") {
      if (!value(&v)) return Usage("--otlp-headers needs K=V,...");
      tracing_flags.headers = std::string(v);
    } else if (arg == "--otel-service-name") {
      if (!value(&v) || v.empty()) return Usage("--otel-service-name needs a name");
      tracing_flags.service_name = std::string(v);
    } else if (arg == "--trace-sampler") {
      if (!value(&v) || v.empty()) return Usage("--trace-sampler needs a sampler name");
      tracing_flags.sampler = std::string(v);
    } else if (arg == "--trace-sampler-arg") {
      if (!value(&v) || v.empty()) return Usage("--trace-sampler-arg needs a ratio");
      tracing_flags.sampler_arg = std::string(v);
    } else if (arg == "--otlp-timeout-ms") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--otlp-timeout-ms needs ms");
      tracing_flags.timeout_ms = n;
    } else if (arg == "--otlp-batch-delay-ms") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--otlp-batch-delay-ms needs ms");
      tracing_flags.delay_ms = n;
    } else if (arg == "--otlp-max-queue") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--otlp-max-queue needs a number");
      tracing_flags.max_queue = n;
    } else if (arg == "--otlp-max-batch") {
      if (!value(&v) || !ParseNumber(v, 1, &n)) return Usage("--otlp-max-batch needs a number");
      tracing_flags.max_batch = n;
    } else if (arg == "--no-tracing") {
      tracing_flags.disabled = true;
    } else {
      return Usage(fmt::format("unknown flag {}", arg));
    }
    if (inline_value.has_value() && !value_used) {
      return Usage(fmt::format("{} takes no value", arg));
    }
  }
  if (options.config_path.empty()) return Usage("--config is required");
  if (std::string error = ApplyRedisFlags(std::move(redis_flags), &options); !error.empty()) {
    return Usage(error);
  }
  if (std::string error = inferencegw::proxy::ApplyTracingFlags(tracing_flags, &options.tracing);
      !error.empty()) {
    return Usage(error);
  }

  if (check_only) {
    absl::StatusOr<inferencegw::ConfigSet> config =
        inferencegw::LoadConfigFromPath(options.config_path);
    if (!config.ok()) {
      std::cerr << config.status().message() << "\n";
      return 1;
    }
    if (absl::Status routes = inferencegw::proxy::RequireRoutes(*config, options.config_path);
        !routes.ok() && !options.allow_empty_config) {
      std::cerr << routes.message() << "\n";
      return 1;
    }
    for (const auto& issue : inferencegw::ConfigWarnings(*config)) {
      std::cerr << "warning: " << issue.ToString() << "\n";
    }
    std::cout << fmt::format("{}: {} backends, {} routes: ok\n", options.config_path,
                             config->backends.size(), config->routes.size());
    return 0;
  }

  const rlim_t open_files = RaiseOpenFilesLimit();
  if (!max_connections_set && open_files > 256) {
    // A client connection can need an upstream connection too: keep half the descriptors (less
    // a reserve for listeners, the config watcher and probes) for each side.
    options.limits.max_connections = static_cast<size_t>((open_files - 128) / 2);
  }
  inferencegw::proxy::ConfigWatcher::SetAllowEmptyConfig(options.allow_empty_config);
  if (!options.allow_empty_config) {
    // ProxyServer::Create (not part of this check) loads the config again. Only a file replaced
    // in the moment between the two loads escapes the rule; any later change is reloaded by the
    // watcher, which applies it.
    absl::StatusOr<inferencegw::ConfigSet> config =
        inferencegw::LoadConfigFromPath(options.config_path);
    absl::Status status = config.ok()
                              ? inferencegw::proxy::RequireRoutes(*config, options.config_path)
                              : config.status();
    if (!status.ok()) {
      std::cerr << "inferencegw-proxy: " << status.message() << "\n";
      return status.code() == absl::StatusCode::kInvalidArgument ||
                     status.code() == absl::StatusCode::kNotFound
                 ? 1
                 : 3;
    }
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  auto server = inferencegw::proxy::ProxyServer::Create(options);
  if (!server.ok()) {
    std::cerr << "inferencegw-proxy: " << server.status().message() << "\n";
    return server.status().code() == absl::StatusCode::kInvalidArgument ||
                   server.status().code() == absl::StatusCode::kNotFound
               ? 1
               : 3;
  }
  // The shared store runs from before the workers serve until after they have drained.
  std::shared_ptr<inferencegw::proxy::RedisCounterStore> store;
  if (options.redis) {
    inferencegw::Gateway& gateway = (*server)->gateway();
    store = std::make_shared<inferencegw::proxy::RedisCounterStore>(
        *options.redis, gateway.registry(), [](std::string_view line) {
          inferencegw::proxy::LogSink::Get().Event(line.ends_with(" up") ? "info" : "warning",
                                                   line);
        });
    inferencegw::proxy::LogSink::Get().Event(
        "info", "shared store",
        {{"redis", inferencegw::proxy::RedisCounterStore::DisplayUrl(*options.redis)},
         {"timeout_ms", std::to_string(options.redis->timeout.count())},
         {"failure_policy",
          options.redis_failure_policy == inferencegw::StoreFailurePolicy::kFailOpen
              ? "failOpen"
              : "failClosed"},
         {"prefix", options.redis->prefix}});
    store->Start();
    gateway.SetSharedStore(store, options.redis_failure_policy);
  }
  if (options.tracing.enabled) {
    const inferencegw::proxy::TracingOptions& t = options.tracing;
    // The endpoint without user info, and header names only: their values are credentials.
    std::string header_names;
    for (const auto& [name, value] : t.headers) {
      header_names += header_names.empty() ? name : "," + name;
    }
    inferencegw::proxy::LogSink::Get().Event(
        "info", "tracing",
        {{"endpoint", inferencegw::proxy::DisplayEndpoint(t.endpoint)},
         {"headers", header_names},
         {"service_name", t.resource.service_name},
         {"sampler", std::string(inferencegw::SamplerName(t.sampler.kind))},
         {"ratio", fmt::format("{}", t.sampler.ratio)},
         {"max_queue", std::to_string(t.max_queue_spans)}});
    if (!t.ignored_protocol.empty()) {
      inferencegw::proxy::LogSink::Get().Event(
          "warning", "OTLP protocol not supported: spans are sent as http/json",
          {{"protocol", t.ignored_protocol}});
    }
  }
  const int code = (*server)->Run();
  if (store != nullptr) store->Stop();
  server->reset();
  curl_global_cleanup();
  return code;
}
