// The proxy's tracing settings from its --otlp-*/--trace-* flags and the standard OTEL_*
// environment variables (a flag wins over its variable).
//
//   TracingFlags flags;  flags.sampler = "traceidratio";  flags.sampler_arg = "0.1";
//   std::string error = ApplyTracingFlags(flags, &options.tracing);   // "" when valid
#ifndef INFERENCEGW_PROXY_TRACING_FLAGS_H_
#define INFERENCEGW_PROXY_TRACING_FLAGS_H_

#include <string>

#include "span_exporter.h"

namespace inferencegw::proxy {

// As given on the command line; empty / negative: not given.
struct TracingFlags {
  std::string endpoint;         // --otlp-endpoint (base URL; /v1/traces is appended)
  std::string traces_endpoint;  // --otlp-traces-endpoint (full URL)
  std::string headers;          // --otlp-headers k=v,...
  std::string service_name;     // --otel-service-name
  std::string sampler;          // --trace-sampler
  std::string sampler_arg;      // --trace-sampler-arg
  bool disabled = false;        // --no-tracing
  long long timeout_ms = -1;    // --otlp-timeout-ms
  long long delay_ms = -1;      // --otlp-batch-delay-ms
  long long max_queue = -1;     // --otlp-max-queue
  long long max_batch = -1;     // --otlp-max-batch
};

// Fills `out` (enabled when an endpoint is set and neither --no-tracing nor OTEL_SDK_DISABLED=true
// turns tracing off). Returns "" when valid, else the error, which never holds a header value or
// an endpoint's user info.
std::string ApplyTracingFlags(const TracingFlags& flags, TracingOptions* out);

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_TRACING_FLAGS_H_
