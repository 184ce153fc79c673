// Prometheus metrics: counters, gauges and histograms in labelled families, rendered in the
// Prometheus text exposition format (version 0.0.4). Label cardinality is bounded per family.
//
//   MetricsRegistry registry;
//   GatewayMetrics m(registry);                               // the gateway's standard metrics
//   m.requests_total->GetCounter({"default/chat", "default/gpt4", "200"})->Inc();
//   std::string text = registry.RenderPrometheus();
#ifndef INFERENCEGW_METRICS_H_
#define INFERENCEGW_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace inferencegw {

// Thread-safe; lock-free. Only ever grows: Inc ignores a negative or NaN amount.
class Counter {
 public:
  void Inc(double v = 1) {
    if (v > 0) value_.fetch_add(v, std::memory_order_relaxed);
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Thread-safe; lock-free.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Thread-safe; lock-free. Cumulative buckets with fixed upper bounds.
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds);  // ascending; +Inf is implicit
  void Observe(double v);
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  std::span<const double> bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size() is the +Inf bucket).
  uint64_t BucketCount(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// Thread-safe. A metric name with fixed label names, and one series per distinct label values.
// Series live as long as the family (until Clear); pointers returned by Get* stay valid.
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, MetricType type,
               std::vector<std::string> label_names, size_t max_series,
               std::vector<double> histogram_bounds);
  ~MetricFamily();  // frees the lookup table (index_)

  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }

  // The series for these label values (as many as label names; REQUIRES). When the family
  // already holds max_series series, a new combination is counted in one overflow series whose
  // every label is "other".
  // The accessor must match the family's type (REQUIRES).
  Counter* GetCounter(std::initializer_list<std::string_view> values);
  Gauge* GetGauge(std::initializer_list<std::string_view> values);
  Histogram* GetHistogram(std::initializer_list<std::string_view> values);
  Counter* GetCounter(std::span<const std::string_view> values);
  Gauge* GetGauge(std::span<const std::string_view> values);
  Histogram* GetHistogram(std::span<const std::string_view> values);

  // Drops every series (used for gauges recomputed at each scrape).
  void Clear();

  // Appends this family in exposition format (# HELP, # TYPE, one line per sample).
  void Render(std::string* out) const;

 private:
  struct Series;
  Series* Find(std::span<const std::string_view> values);

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  const size_t max_series_;
  const std::vector<double> histogram_bounds_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Series>> series_;  // in creation order
  void* index_ = nullptr;                        // owned lookup table; see metrics.cc
};

// Thread-safe. Owns families; renders them all.
class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();

  MetricFamily* AddCounter(std::string name, std::string help, std::vector<std::string> labels,
                           size_t max_series = 10'000);
  MetricFamily* AddGauge(std::string name, std::string help, std::vector<std::string> labels,
                         size_t max_series = 10'000);
  MetricFamily* AddHistogram(std::string name, std::string help, std::vector<std::string> labels,
                             std::vector<double> bounds, size_t max_series = 10'000);

  // Called at the start of every RenderPrometheus, to refresh gauges computed from state.
  void AddCollector(std::function<void()> collector);

  std::string RenderPrometheus() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<MetricFamily>> families_;
  std::vector<std::function<void()>> collectors_;
};

// The gateway's standard metrics. Names and labels follow the reference implementation (prefix
// inference_gateway_); label values are route and backend keys, HTTP status codes and fixed
// enums, never user ids, so cardinality is bounded by the config.
struct GatewayMetrics {
  explicit GatewayMetrics(MetricsRegistry& registry);

  MetricFamily* requests_total;              // counter {route, backend, status}
  MetricFamily* request_duration_seconds;    // histogram {route, backend}
  MetricFamily* time_to_first_byte_seconds;  // histogram {route, backend}
  MetricFamily* request_errors_total;        // counter {route, backend, error_type}
  MetricFamily* backend_health;              // gauge {backend}: 1 healthy, 0 unhealthy, -1 unknown
  MetricFamily* circuit_breaker_state;       // gauge {backend}: 0 closed, 1 open, 2 half-open
  MetricFamily* active_requests;             // gauge {backend}
  MetricFamily* upstream_attempts_total;     // counter {backend, outcome}
  MetricFamily* rate_limit_hits_total;       // counter {route, limit}: limit = requests|tokens
  MetricFamily* experiment_assignments_total;  // counter {experiment, variant}
  MetricFamily* cost_total;                    // counter {route, backend, currency}
  MetricFamily* tokens_total;                  // counter {route, backend, type}
  MetricFamily* fallbacks_total;               // counter {route, from_backend, to_backend}
  MetricFamily* config_reloads_total;          // counter {result}: success|failure
  MetricFamily* dropped_params_total;          // counter {provider, parameter}
  MetricFamily* budget_exceeded_total;  // counter {route, budget}: budget = route|user|key
  MetricFamily* key_refusals_total;     // counter {route, reason}: reason = route|model
  // counter {policy}: admissions the shared store could not answer, by what was done instead
  // (fail_open: admitted on local counters; fail_closed: refused with 503).
  MetricFamily* shared_store_fallbacks_total;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_METRICS_H_
