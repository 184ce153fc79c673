#include "span_exporter.h"

#include <curl/curl.h>

#include <algorithm>

#include "fmt/format.h"
#include "log_sink.h"

namespace inferencegw::proxy {

namespace {

size_t DiscardBody(char*, size_t size, size_t count, void*) { return size * count; }

}  // namespace

std::string DisplayEndpoint(std::string_view url) {
  const size_t scheme_end = url.find("://");
  std::string out;
  if (scheme_end != std::string_view::npos) {
    out = std::string(url.substr(0, scheme_end + 3));
    url.remove_prefix(scheme_end + 3);
  }
  url = url.substr(0, url.find_first_of("?#"));
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  out += authority;
  if (slash != std::string_view::npos) out += url.substr(slash);
  return out;
}

SpanExporter::SpanExporter(TracingOptions options, MetricsRegistry& registry)
    : options_(std::move(options)) {
  exported_ =
      registry
          .AddCounter("inferencegw_trace_spans_exported_total", "Spans the collector accepted.", {})
          ->GetCounter({});
  MetricFamily* dropped_family = registry.AddCounter(
      "inferencegw_trace_spans_dropped_total",
      "Spans dropped: the export queue was full, or their batch failed.", {"reason"});
  dropped_ = dropped_family->GetCounter({"queue_full"});
  failed_dropped_ = dropped_family->GetCounter({"export_failed"});
  failures_ = registry
                  .AddCounter("inferencegw_trace_export_failures_total",
                              "Span batches the collector did not accept (error or timeout).", {})
                  ->GetCounter({});
}

SpanExporter::~SpanExporter() { Stop(); }

void SpanExporter::Start() {
  thread_ = std::thread([this] { Run(); });
}

void SpanExporter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SpanExporter::Enqueue(std::vector<SpanData> spans) {
  size_t dropped = 0;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (SpanData& span : spans) {
      if (queue_.size() >= options_.max_queue_spans) {
        ++dropped;
        continue;
      }
      queue_.push_back(std::move(span));
    }
    wake = queue_.size() >= options_.max_batch_spans;
  }
  if (dropped > 0) dropped_->Inc(static_cast<double>(dropped));
  if (wake) wake_.notify_one();
}

void SpanExporter::Run() {
  CURL* easy = curl_easy_init();
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Wait for a full batch, the schedule delay, or Stop.
    wake_.wait_for(lock, options_.schedule_delay,
                   [this] { return stopping_ || queue_.size() >= options_.max_batch_spans; });
    const bool last_round = stopping_;
    while (!queue_.empty()) {
      const size_t n = std::min(queue_.size(), options_.max_batch_spans);
      std::vector<SpanData> batch;
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      lock.unlock();
      std::string body;
      body.reserve(512 * batch.size());
      AppendOtlpJson(options_.resource, batch, &body);
      if (easy != nullptr && Post(easy, body)) {
        exported_->Inc(static_cast<double>(batch.size()));
      } else {
        failures_->Inc();
        failed_dropped_->Inc(static_cast<double>(batch.size()));
      }
      lock.lock();
      // Between rounds only full batches go out at once; the rest waits for the delay.
      if (!stopping_ && queue_.size() < options_.max_batch_spans) break;
    }
    if (last_round) break;
  }
  lock.unlock();
  if (easy != nullptr) curl_easy_cleanup(easy);
}

bool SpanExporter::Post(CURL* easy, const std::string& body) {
  curl_easy_reset(easy);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  for (const auto& [name, value] : options_.headers) {
    headers = curl_slist_append(headers, fmt::format("{}: {}", name, value).c_str());
  }
  curl_easy_setopt(easy, CURLOPT_URL, options_.endpoint.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_POST, 1L);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &DiscardBody);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  const long timeout_ms = static_cast<long>(std::max<int64_t>(1, options_.export_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(timeout_ms, 2000));
  const CURLcode code = curl_easy_perform(easy);
  long status = 0;
  if (code == CURLE_OK) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  const bool ok = code == CURLE_OK && status >= 200 && status < 300;
  if (ok != !failing_) {
    // One line per change between working and failing; never the headers (credentials).
    failing_ = !ok;
    if (ok) {
      LogSink::Get().Event("info", "trace export recovered",
                           {{"endpoint", DisplayEndpoint(options_.endpoint)}});
    } else {
      LogSink::Get().Event("warning",
                           "trace export failing; spans are dropped until the collector answers",
                           {{"endpoint", DisplayEndpoint(options_.endpoint)},
                            {"error", code != CURLE_OK ? curl_easy_strerror(code)
                                                       : fmt::format("HTTP {}", status)}});
    }
  }
  return ok;
}

}  // namespace inferencegw::proxy
