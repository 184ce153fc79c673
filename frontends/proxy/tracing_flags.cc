#include "tracing_flags.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

#include "fmt/format.h"
#include "inferencegw/status.h"

namespace inferencegw::proxy {

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// The flag when given, else the variable.
std::string Pick(const std::string& flag, const char* variable) {
  return !flag.empty() ? flag : Env(variable);
}

// A positive number from the flag (when >= 0) or the variable; `*out` unchanged when neither.
std::string PickNumber(long long flag, const char* variable, const char* flag_name, long long min,
                       long long max, long long* out) {
  if (flag >= 0) {
    if (flag < min || flag > max) return fmt::format("{} needs {}..{}", flag_name, min, max);
    *out = flag;
    return "";
  }
  const std::string text = Env(variable);
  if (text.empty()) return "";
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return fmt::format("{} needs a number in {}..{}", variable, min, max);
  }
  *out = value;
  return "";
}

bool IsTrue(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text == "true";
}

}  // namespace

std::string ApplyTracingFlags(const TracingFlags& flags, TracingOptions* out) {
  // The signal's own URL first, then the base URL; flags before the environment.
  std::string endpoint;
  if (!flags.traces_endpoint.empty()) {
    endpoint = flags.traces_endpoint;
  } else if (!flags.endpoint.empty()) {
    endpoint = flags.endpoint;
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    endpoint += "/v1/traces";
  } else if (std::string traces = Env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); !traces.empty()) {
    endpoint = traces;
  } else if (std::string base = Env("OTEL_EXPORTER_OTLP_ENDPOINT"); !base.empty()) {
    endpoint = base;
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    endpoint += "/v1/traces";
  }
  out->enabled = !endpoint.empty() && !flags.disabled && !IsTrue(Env("OTEL_SDK_DISABLED"));
  if (!out->enabled) return "";
  if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0) {
    return fmt::format("the OTLP endpoint {} needs http:// or https://", DisplayEndpoint(endpoint));
  }
  out->endpoint = endpoint;
  std::string protocol = Env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
  if (protocol.empty()) protocol = Env("OTEL_EXPORTER_OTLP_PROTOCOL");
  if (!protocol.empty() && protocol != "http/json") out->ignored_protocol = protocol;

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> headers =
      ParseOtlpHeaders(Pick(flags.headers, "OTEL_EXPORTER_OTLP_HEADERS"));
  if (!headers.ok()) return std::string(StatusMessage(headers.status()));
  out->headers = *std::move(headers);

  if (std::string name = Pick(flags.service_name, "OTEL_SERVICE_NAME"); !name.empty()) {
    out->resource.service_name = std::move(name);
  }
  absl::StatusOr<Sampler> sampler =
      ParseSampler(Pick(flags.sampler, "OTEL_TRACES_SAMPLER"),
                   Pick(flags.sampler_arg, "OTEL_TRACES_SAMPLER_ARG"));
  if (!sampler.ok()) return std::string(StatusMessage(sampler.status()));
  out->sampler = *sampler;

  long long value = out->export_timeout.count();
  if (std::string e = PickNumber(flags.timeout_ms, "OTEL_BSP_EXPORT_TIMEOUT", "--otlp-timeout-ms",
                                 1, 60000, &value);
      !e.empty()) {
    return e;
  }
  out->export_timeout = std::chrono::milliseconds(value);
  value = out->schedule_delay.count();
  if (std::string e = PickNumber(flags.delay_ms, "OTEL_BSP_SCHEDULE_DELAY", "--otlp-batch-delay-ms",
                                 1, 600000, &value);
      !e.empty()) {
    return e;
  }
  out->schedule_delay = std::chrono::milliseconds(value);
  value = static_cast<long long>(out->max_queue_spans);
  if (std::string e = PickNumber(flags.max_queue, "OTEL_BSP_MAX_QUEUE_SIZE", "--otlp-max-queue", 1,
                                 1'000'000, &value);
      !e.empty()) {
    return e;
  }
  out->max_queue_spans = static_cast<size_t>(value);
  value = static_cast<long long>(out->max_batch_spans);
  if (std::string e = PickNumber(flags.max_batch, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                                 "--otlp-max-batch", 1, 1'000'000, &value);
      !e.empty()) {
    return e;
  }
  out->max_batch_spans = std::min(static_cast<size_t>(value), out->max_queue_spans);
  return "";
}

}  // namespace inferencegw::proxy
