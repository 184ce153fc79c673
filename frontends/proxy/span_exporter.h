// The OTLP/HTTP JSON span exporter: requests hand their finished spans to a bounded queue (never
// waiting), and one background thread posts batches to the collector with libcurl, each POST
// bounded by a timeout. A full queue drops spans; a down collector costs requests nothing.
//
//   SpanExporter exporter(options.tracing, gateway.registry());
//   exporter.Start();
//   exporter.Enqueue(trace.Take());   // from any worker thread
//   exporter.Stop();                  // sends what is queued (bounded by the timeout), joins
#ifndef INFERENCEGW_PROXY_SPAN_EXPORTER_H_
#define INFERENCEGW_PROXY_SPAN_EXPORTER_H_

#include <curl/curl.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "inferencegw/metrics.h"
#include "inferencegw/tracing.h"

namespace inferencegw::proxy {

struct TracingOptions {
  bool enabled = false;
  // The full traces URL ({OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces). Never holds credentials in
  // our logs: log DisplayEndpoint.
  std::string endpoint;
  // Extra request headers (OTEL_EXPORTER_OTLP_HEADERS). Values are secrets: never logged.
  std::vector<std::pair<std::string, std::string>> headers;
  TraceResource resource;
  Sampler sampler;
  size_t max_queue_spans = 2048;                    // OTEL_BSP_MAX_QUEUE_SIZE
  size_t max_batch_spans = 512;                     // OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  std::chrono::milliseconds schedule_delay{5000};   // OTEL_BSP_SCHEDULE_DELAY
  std::chrono::milliseconds export_timeout{10000};  // OTEL_BSP_EXPORT_TIMEOUT, per POST
  // OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL when it asks for something else than http/json, which
  // is what we send anyway (for a startup warning); "" otherwise.
  std::string ignored_protocol;
};

// The endpoint for logs: scheme, host, port and path, without user info or query.
std::string DisplayEndpoint(std::string_view url);

// Thread-safe: Enqueue from any thread; Start and Stop from one owner thread.
class SpanExporter {
 public:
  // Registers inferencegw_trace_spans_exported_total, inferencegw_trace_spans_dropped_total
  // {reason="queue_full"|"export_failed"} and
  // inferencegw_trace_export_failures_total in `registry` (which must outlive this).
  SpanExporter(TracingOptions options, MetricsRegistry& registry);
  ~SpanExporter();  // Stop()
  SpanExporter(const SpanExporter&) = delete;
  SpanExporter& operator=(const SpanExporter&) = delete;

  void Start();
  // Wakes the thread, which sends what is queued (one more round of batches, each bounded by
  // the export timeout) and ends; joins it. Idempotent.
  void Stop();

  // Queues a request's spans; never blocks on I/O. Spans past the queue's bound are dropped and
  // counted.
  void Enqueue(std::vector<SpanData> spans);

  const TracingOptions& options() const { return options_; }

 private:
  void Run();
  // One POST; true on a 2xx answer.
  bool Post(CURL* easy, const std::string& body);

  const TracingOptions options_;
  Counter* exported_;
  Counter* dropped_;         // queue full
  Counter* failed_dropped_;  // in a batch the collector did not accept
  Counter* failures_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<SpanData> queue_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::thread thread_;
  bool failing_ = false;  // the exporter thread's: the last POST failed (log once per change)
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_SPAN_EXPORTER_H_
