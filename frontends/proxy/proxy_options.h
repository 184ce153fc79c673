// The proxy's settings, from its command line (see main.cc --help).
#ifndef INFERENCEGW_PROXY_PROXY_OPTIONS_H_
#define INFERENCEGW_PROXY_PROXY_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "http_session.h"
#include "inferencegw/counter_store.h"
#include "redis_store.h"
#include "span_exporter.h"

namespace inferencegw::proxy {

struct ProxyOptions {
  std::string config_path;
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 8080;
  std::string admin_host = "127.0.0.1";
  uint16_t admin_port = 9090;
  int threads = 0;  // 0: one per core
  HttpLimits limits;
  std::chrono::seconds drain_timeout{30};
  std::chrono::milliseconds config_poll{2000};  // fallback for file systems without inotify
  bool access_log = true;
  // Accept a config with no InferenceRoute (every request would get 404) at startup, on reload
  // and with --check. Off by default: such a config is almost always a mistake (an empty file, a
  // half-written ConfigMap). The k8s syncer's output needs it before the first route exists.
  bool allow_empty_config = false;
  // Largest upstream body buffered for a non-streamed answer; larger answers fail the attempt.
  size_t max_upstream_body_bytes = 64 * 1024 * 1024;
  // Connect timeout for upstream connections (bounded by the attempt timeout).
  std::chrono::milliseconds connect_timeout{5000};
  // Trust a client's x-request-id (else one is generated).
  bool trust_request_id = true;
  // --redis and friends: rate-limit buckets and spend budgets in Redis, shared by every replica;
  // unset: this replica's own counters. Holds the password: log RedisCounterStore::DisplayUrl.
  std::optional<RedisCounterStore::Options> redis;
  StoreFailurePolicy redis_failure_policy = StoreFailurePolicy::kFailOpen;
  // --otlp-* flags and OTEL_* variables: OpenTelemetry spans to a collector (enabled false: off).
  TracingOptions tracing;
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_PROXY_OPTIONS_H_
