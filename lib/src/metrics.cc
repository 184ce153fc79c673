#include "inferencegw/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <memory>

#include "fmt/format.h"

namespace inferencegw {

// ---------------------------------------------------------------------------------------------
// Histogram

namespace {

// Ascending, finite, distinct bounds (+Inf is implicit, NaN meaningless).
std::vector<double> CleanBounds(std::span<const double> bounds) {
  std::vector<double> out;
  out.reserve(bounds.size());
  for (double b : bounds) {
    if (std::isfinite(b)) out.push_back(b);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(CleanBounds(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double v) {
  // The bucket is the first bound >= v (Prometheus `le`); NaN goes to +Inf. Counting the bounds
  // below v is branch-free and beats a binary search for the usual dozen or so bounds.
  size_t i = 0;
  if (std::isnan(v)) {
    i = bounds_.size();
  } else if (bounds_.size() <= 32) {
    for (double b : bounds_) i += b < v;
  } else {
    i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// Text format helpers

namespace {

bool IsNameStart(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
}
bool IsNameChar(char c, bool allow_colon) {
  return IsNameStart(c, allow_colon) || (c >= '0' && c <= '9');
}

// A valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or label name ([a-zA-Z_][a-zA-Z0-9_]*): other
// characters become '_', and a leading digit gets a '_' in front.
std::string SanitizeName(std::string name, bool allow_colon) {
  for (char& c : name) {
    if (!IsNameChar(c, allow_colon)) c = '_';
  }
  if (name.empty() || !IsNameStart(name.front(), allow_colon)) name.insert(name.begin(), '_');
  return name;
}

std::string CounterName(std::string name) {
  name = SanitizeName(std::move(name), true);
  static constexpr std::string_view kSuffix = "_total";
  if (name.size() < kSuffix.size() ||
      name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    name.append(kSuffix);
  }
  return name;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t min;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2, min = 0x80, cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, min = 0x800, cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, min = 0x10000, cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Appends a label value escaped for the text format (\\, \", \n); invalid UTF-8, which
// Prometheus rejects, becomes U+FFFD.
void AppendLabelValue(std::string* out, std::string_view v) {
  for (size_t i = 0; i < v.size();) {
    const size_t n = Utf8SequenceLength(v, i);
    if (n == 0) {
      out->append("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    if (n == 1) {
      switch (v[i]) {
        case '\\':
          out->append("\\\\");
          break;
        case '"':
          out->append("\\\"");
          break;
        case '\n':
          out->append("\\n");
          break;
        default:
          out->push_back(v[i]);
      }
    } else {
      out->append(v.substr(i, n));
    }
    i += n;
  }
}

// HELP text escapes only \\ and \n.
void AppendHelp(std::string* out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
}

// A sample value as Prometheus parses it: integers without exponent or ".0", "+Inf", "-Inf",
// "NaN", other values in the shortest form that reads back exactly.
void AppendNumber(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    const fmt::format_int text(static_cast<int64_t>(v));
    out->append(text.data(), text.size());
  } else {
    // Into a stack buffer (fmt's back_inserter path into std::string is several times slower);
    // the longest text is "{:.0f}" of DBL_MAX: 309 digits and a sign.
    char buffer[320];
    char* end =
        v == std::trunc(v) ? fmt::format_to(buffer, "{:.0f}", v) : fmt::format_to(buffer, "{}", v);
    out->append(buffer, static_cast<size_t>(end - buffer));
  }
}

void AppendUInt(std::string* out, uint64_t v) {
  const fmt::format_int text(v);
  out->append(text.data(), text.size());
}

std::string NumberText(double v) {
  std::string s;
  AppendNumber(&s, v);
  return s;
}

uint64_t HashValues(std::span<const std::string_view> values) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ values.size();
  for (std::string_view v : values) {
    h ^= std::hash<std::string_view>{}(v) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  }
  // Murmur3's finalizer: the table uses the low bits.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// MetricFamily
//
// Series are found through an open-addressing hash table of Series pointers that readers probe
// without a lock: slots only ever go from null to a series, and the table is replaced (never
// modified in place) when it grows, the old ones being kept until the family dies. Creation takes
// the mutex. Clear() does not free series (a concurrent lookup could be holding one); it hides
// them and resets their values in place, and a later Get* of the same labels shows them again.

struct MetricFamily::Series {
  uint64_t hash = 0;
  std::vector<std::string> values;
  std::string labels;  // `a="x",b="y"`, escaped, without braces
  std::atomic<bool> visible{true};
  Counter counter;
  Gauge gauge;
  std::unique_ptr<Histogram> histogram;

  bool Matches(uint64_t h, std::span<const std::string_view> v) const {
    if (hash != h || values.size() != v.size()) return false;
    for (size_t i = 0; i < v.size(); ++i) {
      if (values[i] != v[i]) return false;
    }
    return true;
  }
};

namespace {

struct SeriesTable {
  explicit SeriesTable(size_t capacity)
      : mask(capacity - 1), slots(std::make_unique<std::atomic<void*>[]>(capacity)) {}
  const size_t mask;
  std::unique_ptr<std::atomic<void*>[]> slots;
};

struct SeriesIndex {
  std::atomic<SeriesTable*> current{nullptr};
  std::vector<std::unique_ptr<SeriesTable>> tables;  // every table ever published
  size_t used = 0;
  std::atomic<bool> full{false};
  std::atomic<void*> overflow{nullptr};
};

SeriesIndex* IndexOf(void* index) { return static_cast<SeriesIndex*>(index); }

// The series with these values in `table`, or null. Lock-free.
template <typename S>
S* Probe(const SeriesTable* table, uint64_t hash, std::span<const std::string_view> values) {
  for (size_t i = hash & table->mask;; i = (i + 1) & table->mask) {
    S* s = static_cast<S*>(table->slots[i].load(std::memory_order_acquire));
    if (s == nullptr) return nullptr;
    if (s->Matches(hash, values)) return s;
  }
}

}  // namespace

MetricFamily::MetricFamily(std::string name, std::string help, MetricType type,
                           std::vector<std::string> label_names, size_t max_series,
                           std::vector<double> histogram_bounds)
    : name_(type == MetricType::kCounter ? CounterName(std::move(name))
                                         : SanitizeName(std::move(name), true)),
      help_(std::move(help)),
      type_(type),
      label_names_([&] {
        for (std::string& l : label_names) l = SanitizeName(std::move(l), false);
        return std::move(label_names);
      }()),
      max_series_(std::max<size_t>(max_series, 1)),
      histogram_bounds_(CleanBounds(histogram_bounds)) {
  auto* index = new SeriesIndex();
  index->tables.push_back(std::make_unique<SeriesTable>(16));
  index->current.store(index->tables.back().get(), std::memory_order_release);
  index_ = index;
}

MetricFamily::~MetricFamily() { delete IndexOf(index_); }

MetricFamily::Series* MetricFamily::Find(std::span<const std::string_view> values) {
  SeriesIndex* index = IndexOf(index_);
  if (values.size() != label_names_.size()) {
    assert(false && "label value count differs from label name count");
    std::vector<std::string_view> other(label_names_.size(), "other");
    return Find(other);
  }
  const uint64_t hash = HashValues(values);
  const auto show = [](Series* s) {
    if (!s->visible.load(std::memory_order_relaxed)) {
      s->visible.store(true, std::memory_order_relaxed);
    }
    return s;
  };
  if (Series* s = Probe<Series>(index->current.load(std::memory_order_acquire), hash, values)) {
    return show(s);
  }
  if (index->full.load(std::memory_order_acquire)) {
    if (void* o = index->overflow.load(std::memory_order_acquire)) {
      return show(static_cast<Series*>(o));
    }
  }

  std::lock_guard<std::mutex> lock(mu_);
  SeriesTable* table = index->current.load(std::memory_order_relaxed);
  if (Series* s = Probe<Series>(table, hash, values)) return show(s);
  std::vector<std::string_view> overflow_values;
  uint64_t series_hash = hash;
  if (series_.size() >= max_series_) {
    // Full: the combination is counted in the overflow series, every label "other".
    overflow_values.assign(label_names_.size(), "other");
    values = overflow_values;
    series_hash = HashValues(values);
    if (Series* s = Probe<Series>(table, series_hash, values)) {
      index->overflow.store(s, std::memory_order_release);
      index->full.store(true, std::memory_order_release);
      return show(s);
    }
  }

  auto series = std::make_unique<Series>();
  series->hash = series_hash;
  series->values.assign(values.begin(), values.end());
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) series->labels.push_back(',');
    series->labels.append(label_names_[i]);
    series->labels.append("=\"");
    AppendLabelValue(&series->labels, values[i]);
    series->labels.push_back('"');
  }
  if (type_ == MetricType::kHistogram) {
    series->histogram = std::make_unique<Histogram>(histogram_bounds_);
  }
  Series* s = series.get();
  series_.push_back(std::move(series));

  // Keep the load factor at most 1/2; a bigger table is filled first and then published.
  if (2 * (index->used + 1) > table->mask + 1) {
    auto bigger = std::make_unique<SeriesTable>(2 * (table->mask + 1));
    for (const std::unique_ptr<Series>& old : series_) {
      if (old.get() == s) continue;
      size_t i = old->hash & bigger->mask;
      while (bigger->slots[i].load(std::memory_order_relaxed) != nullptr)
        i = (i + 1) & bigger->mask;
      bigger->slots[i].store(old.get(), std::memory_order_relaxed);
    }
    table = bigger.get();
    index->tables.push_back(std::move(bigger));
    index->current.store(table, std::memory_order_release);
  }
  size_t i = series_hash & table->mask;
  while (table->slots[i].load(std::memory_order_relaxed) != nullptr) i = (i + 1) & table->mask;
  table->slots[i].store(s, std::memory_order_release);
  ++index->used;
  if (!overflow_values.empty()) {
    index->overflow.store(s, std::memory_order_release);
    index->full.store(true, std::memory_order_release);
  }
  return s;
}

Counter* MetricFamily::GetCounter(std::initializer_list<std::string_view> values) {
  return GetCounter(std::span<const std::string_view>(values.begin(), values.size()));
}
Gauge* MetricFamily::GetGauge(std::initializer_list<std::string_view> values) {
  return GetGauge(std::span<const std::string_view>(values.begin(), values.size()));
}
Histogram* MetricFamily::GetHistogram(std::initializer_list<std::string_view> values) {
  return GetHistogram(std::span<const std::string_view>(values.begin(), values.size()));
}

// An accessor of the wrong type (a REQUIRES violation) gets a series member that is never
// rendered, or for histograms a shared sink, rather than a null pointer.
Counter* MetricFamily::GetCounter(std::span<const std::string_view> values) {
  assert(type_ == MetricType::kCounter);
  return &Find(values)->counter;
}

Gauge* MetricFamily::GetGauge(std::span<const std::string_view> values) {
  assert(type_ == MetricType::kGauge);
  return &Find(values)->gauge;
}

Histogram* MetricFamily::GetHistogram(std::span<const std::string_view> values) {
  assert(type_ == MetricType::kHistogram);
  Series* s = Find(values);
  if (s->histogram == nullptr) {
    static Histogram* const sink = new Histogram(std::span<const double>());
    return sink;
  }
  return s->histogram.get();
}

void MetricFamily::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::unique_ptr<Series>& s : series_) {
    s->visible.store(false, std::memory_order_relaxed);
    std::destroy_at(&s->counter);
    std::construct_at(&s->counter);
    std::destroy_at(&s->gauge);
    std::construct_at(&s->gauge);
    if (s->histogram != nullptr) {
      std::destroy_at(s->histogram.get());
      std::construct_at(s->histogram.get(), histogram_bounds_);
    }
  }
}

void MetricFamily::Render(std::string* out) const {
  static constexpr std::string_view kTypeNames[] = {"counter", "gauge", "histogram"};
  out->append("# HELP ").append(name_).push_back(' ');
  AppendHelp(out, help_);
  out->append("\n# TYPE ").append(name_).push_back(' ');
  out->append(kTypeNames[static_cast<int>(type_)]).push_back('\n');

  std::vector<std::string> le;  // bucket bound texts, computed once per render
  if (type_ == MetricType::kHistogram) {
    for (double b : histogram_bounds_) le.push_back(NumberText(b));
    le.push_back("+Inf");
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::unique_ptr<Series>& s : series_) {
    if (!s->visible.load(std::memory_order_relaxed)) continue;
    if (type_ != MetricType::kHistogram) {
      out->append(name_);
      if (!s->labels.empty()) out->append("{").append(s->labels).push_back('}');
      out->push_back(' ');
      AppendNumber(out, type_ == MetricType::kCounter ? s->counter.Value() : s->gauge.Value());
      out->push_back('\n');
      continue;
    }
    const Histogram& h = *s->histogram;
    // _count is the sum of the buckets read here, so that it always equals the +Inf bucket
    // even while observations race with the render.
    uint64_t cumulative = 0;
    for (size_t i = 0; i < le.size(); ++i) {
      cumulative += h.BucketCount(i);
      out->append(name_).append("_bucket{");
      if (!s->labels.empty()) out->append(s->labels).push_back(',');
      out->append("le=\"").append(le[i]).append("\"} ");
      AppendUInt(out, cumulative);
      out->push_back('\n');
    }
    out->append(name_).append("_sum");
    if (!s->labels.empty()) out->append("{").append(s->labels).push_back('}');
    out->push_back(' ');
    AppendNumber(out, h.Sum());
    out->append("\n").append(name_).append("_count");
    if (!s->labels.empty()) out->append("{").append(s->labels).push_back('}');
    out->push_back(' ');
    AppendUInt(out, cumulative);
    out->push_back('\n');
  }
}

// ---------------------------------------------------------------------------------------------
// MetricsRegistry

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

namespace {

// The family already registered under `name`, or null.
MetricFamily* Existing(const std::vector<std::unique_ptr<MetricFamily>>& families,
                       const std::string& name) {
  for (const auto& f : families) {
    if (f->name() == name) return f.get();
  }
  return nullptr;
}

}  // namespace

// Registering a name twice returns the first family (one name must render once).
MetricFamily* MetricsRegistry::AddCounter(std::string name, std::string help,
                                          std::vector<std::string> labels, size_t max_series) {
  auto family =
      std::make_unique<MetricFamily>(std::move(name), std::move(help), MetricType::kCounter,
                                     std::move(labels), max_series, std::vector<double>());
  std::lock_guard<std::mutex> lock(mu_);
  if (MetricFamily* f = Existing(families_, family->name())) return f;
  return families_.emplace_back(std::move(family)).get();
}

MetricFamily* MetricsRegistry::AddGauge(std::string name, std::string help,
                                        std::vector<std::string> labels, size_t max_series) {
  auto family =
      std::make_unique<MetricFamily>(std::move(name), std::move(help), MetricType::kGauge,
                                     std::move(labels), max_series, std::vector<double>());
  std::lock_guard<std::mutex> lock(mu_);
  if (MetricFamily* f = Existing(families_, family->name())) return f;
  return families_.emplace_back(std::move(family)).get();
}

MetricFamily* MetricsRegistry::AddHistogram(std::string name, std::string help,
                                            std::vector<std::string> labels,
                                            std::vector<double> bounds, size_t max_series) {
  auto family =
      std::make_unique<MetricFamily>(std::move(name), std::move(help), MetricType::kHistogram,
                                     std::move(labels), max_series, std::move(bounds));
  std::lock_guard<std::mutex> lock(mu_);
  if (MetricFamily* f = Existing(families_, family->name())) return f;
  return families_.emplace_back(std::move(family)).get();
}

void MetricsRegistry::AddCollector(std::function<void()> collector) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectors = collectors_;
  }
  // Outside the lock: a collector may register families or render nothing at all.
  for (const std::function<void()>& collect : collectors) collect();
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  out.reserve(families_.size() * 512);
  for (const auto& family : families_) family->Render(&out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// GatewayMetrics

namespace {

// Upper bounds in seconds: LLM calls take from a few milliseconds (cached, small) to minutes.
const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                               2.5,   5,    10,    20,   30,  60,   120};
  return kBuckets;
}

// Time to the first byte: 1 ms (a local cache) to 30 s (a long prompt on a busy backend).
const std::vector<double>& TtfbBuckets() {
  static const std::vector<double> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                               0.25,  0.5,    1,     2.5,  5,     10,   30};
  return kBuckets;
}

}  // namespace

GatewayMetrics::GatewayMetrics(MetricsRegistry& r)
    : requests_total(r.AddCounter("inference_gateway_requests_total",
                                  "Requests answered, by route, serving backend and HTTP status.",
                                  {"route", "backend", "status"})),
      request_duration_seconds(
          r.AddHistogram("inference_gateway_request_duration_seconds",
                         "Time from receiving a request to sending the last byte of its response.",
                         {"route", "backend"}, LatencyBuckets())),
      time_to_first_byte_seconds(r.AddHistogram(
          "inference_gateway_time_to_first_byte_seconds",
          "Time from receiving a request to sending the first byte of its response body.",
          {"route", "backend"}, TtfbBuckets())),
      request_errors_total(r.AddCounter("inference_gateway_request_errors_total",
                                        "Requests that failed, by route, backend and error type.",
                                        {"route", "backend", "error_type"})),
      backend_health(r.AddGauge("inference_gateway_backend_health",
                                "Backend health: 1 healthy, 0 unhealthy, -1 unknown.",
                                {"backend"})),
      circuit_breaker_state(r.AddGauge("inference_gateway_circuit_breaker_state",
                                       "Circuit breaker state: 0 closed, 1 open, 2 half-open.",
                                       {"backend"})),
      active_requests(r.AddGauge("inference_gateway_active_requests",
                                 "Requests in flight to each backend.", {"backend"})),
      upstream_attempts_total(r.AddCounter("inference_gateway_upstream_attempts_total",
                                           "Attempts sent upstream, by backend and outcome.",
                                           {"backend", "outcome"})),
      rate_limit_hits_total(r.AddCounter("inference_gateway_rate_limit_hits_total",
                                         "Requests rejected by a rate limit (requests or tokens).",
                                         {"route", "limit"})),
      experiment_assignments_total(r.AddCounter("inference_gateway_experiment_assignments_total",
                                                "Requests assigned to an experiment variant.",
                                                {"experiment", "variant"})),
      cost_total(r.AddCounter("inference_gateway_cost_total",
                              "Cost of served requests, in units of the currency label.",
                              {"route", "backend", "currency"})),
      tokens_total(r.AddCounter("inference_gateway_tokens_total",
                                "Tokens reported by backends, by type (input, output, "
                                "cached_input, cache_write_input).",
                                {"route", "backend", "type"})),
      fallbacks_total(r.AddCounter("inference_gateway_fallbacks_total",
                                   "Fallbacks from one backend to the next.",
                                   {"route", "from_backend", "to_backend"})),
      config_reloads_total(r.AddCounter("inference_gateway_config_reloads_total",
                                        "Configuration reloads, by result (success, failure).",
                                        {"result"})),
      dropped_params_total(
          r.AddCounter("inference_gateway_translation_dropped_params_total",
                       "Request parameters a translation dropped or could not express",
                       {"provider", "parameter"})),
      budget_exceeded_total(r.AddCounter(
          "inference_gateway_budget_exceeded_total",
          "Requests refused because a spend budget was used up, by route and budget "
          "(route, user, key).",
          {"route", "budget"})),
      key_refusals_total(r.AddCounter(
          "inference_gateway_key_refusals_total",
          "Requests refused (403) by their client key's policy, by route and reason "
          "(route, model).",
          {"route", "reason"})),
      shared_store_fallbacks_total(r.AddCounter(
          "inference_gateway_shared_store_fallbacks_total",
          "Admissions the shared store could not answer, by failure policy (fail_open admitted "
          "on local counters, fail_closed refused with 503).",
          {"policy"})) {}

}  // namespace inferencegw
