#include "inferencegw/metrics.h"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace inferencegw {
namespace {

// A small registry renders exactly: HELP and TYPE per family (also without series), samples in
// creation order, histogram buckets cumulative with +Inf, _sum and _count.
TEST_CASE("MetricsRegistry renders the text format exactly") {
  MetricsRegistry registry;
  MetricFamily* requests =
      registry.AddCounter("demo_requests_total", "Requests.", {"route", "status"});
  MetricFamily* in_flight = registry.AddGauge("demo_in_flight", "In flight.", {});
  MetricFamily* latency =
      registry.AddHistogram("demo_latency_seconds", "Latency.", {"route"}, {0.1, 0.5, 2.5});
  registry.AddGauge("demo_empty", "No series yet.", {"backend"});

  requests->GetCounter({"a", "200"})->Inc();
  requests->GetCounter({"a", "200"})->Inc(2);
  requests->GetCounter({"b", "500"})->Inc(0.25);
  in_flight->GetGauge({})->Set(-3);
  Histogram* h = latency->GetHistogram({"a"});
  h->Observe(0.05);
  h->Observe(0.1);  // le is inclusive
  h->Observe(1);
  h->Observe(10);

  CHECK(registry.RenderPrometheus() ==
        "# HELP demo_requests_total Requests.\n"
        "# TYPE demo_requests_total counter\n"
        "demo_requests_total{route=\"a\",status=\"200\"} 3\n"
        "demo_requests_total{route=\"b\",status=\"500\"} 0.25\n"
        "# HELP demo_in_flight In flight.\n"
        "# TYPE demo_in_flight gauge\n"
        "demo_in_flight -3\n"
        "# HELP demo_latency_seconds Latency.\n"
        "# TYPE demo_latency_seconds histogram\n"
        "demo_latency_seconds_bucket{route=\"a\",le=\"0.1\"} 2\n"
        "demo_latency_seconds_bucket{route=\"a\",le=\"0.5\"} 2\n"
        "demo_latency_seconds_bucket{route=\"a\",le=\"2.5\"} 3\n"
        "demo_latency_seconds_bucket{route=\"a\",le=\"+Inf\"} 4\n"
        "demo_latency_seconds_sum{route=\"a\"} 11.15\n"
        "demo_latency_seconds_count{route=\"a\"} 4\n"
        "# HELP demo_empty No series yet.\n"
        "# TYPE demo_empty gauge\n");
  CHECK(h->Count() == 4);
  CHECK(h->BucketCount(0) == 2);
  CHECK(h->BucketCount(3) == 1);
}

// Label values escape \\, \" and \n; HELP escapes \\ and \n; invalid UTF-8 becomes U+FFFD; a
// counter name gets its _total suffix; special values print as Prometheus spells them.
TEST_CASE("MetricFamily escapes and formats values") {
  MetricsRegistry registry;
  MetricFamily* f = registry.AddGauge("demo_gauge", "Line one\nback\\slash \"quoted\"", {"v"});
  f->GetGauge({"a\\b\"c\nd"})->Set(1e20);
  f->GetGauge({"caf\xc3\xa9 \xff"})->Set(std::numeric_limits<double>::infinity());
  f->GetGauge({"nan"})->Set(std::nan(""));
  f->GetGauge({"small"})->Set(1.5e-7);
  f->GetGauge({"neg"})->Set(-std::numeric_limits<double>::infinity());
  MetricFamily* c = registry.AddCounter("demo_events", "Events.", {"bad-label"});
  CHECK(c->name() == "demo_events_total");
  c->GetCounter({"x"})->Inc();
  CHECK(registry.RenderPrometheus() ==
        "# HELP demo_gauge Line one\\nback\\\\slash \"quoted\"\n"
        "# TYPE demo_gauge gauge\n"
        "demo_gauge{v=\"a\\\\b\\\"c\\nd\"} 100000000000000000000\n"
        "demo_gauge{v=\"caf\xc3\xa9 \xef\xbf\xbd\"} +Inf\n"
        "demo_gauge{v=\"nan\"} NaN\n"
        "demo_gauge{v=\"small\"} 1.5e-07\n"
        "demo_gauge{v=\"neg\"} -Inf\n"
        "# HELP demo_events_total Events.\n"
        "# TYPE demo_events_total counter\n"
        "demo_events_total{bad_label=\"x\"} 1\n");
}

// Beyond max_series, new label combinations share one overflow series labelled "other", while
// existing series keep counting; pointers stay stable.
TEST_CASE("MetricFamily bounds its series with an overflow series") {
  MetricsRegistry registry;
  MetricFamily* f = registry.AddCounter("demo_total", "Demo.", {"user", "kind"}, 2);
  Counter* a = f->GetCounter({"a", "x"});
  a->Inc();
  f->GetCounter({"b", "x"})->Inc();
  Counter* c = f->GetCounter({"c", "x"});
  Counter* d = f->GetCounter({"d", "y"});
  CHECK(c == d);
  c->Inc();
  d->Inc();
  CHECK(f->GetCounter({"a", "x"}) == a);
  CHECK(f->GetCounter({"other", "other"}) == c);
  a->Inc();
  CHECK(registry.RenderPrometheus() ==
        "# HELP demo_total Demo.\n"
        "# TYPE demo_total counter\n"
        "demo_total{user=\"a\",kind=\"x\"} 2\n"
        "demo_total{user=\"b\",kind=\"x\"} 1\n"
        "demo_total{user=\"other\",kind=\"other\"} 2\n");
}

// Clear drops every series from the output; getting a series again starts it from zero.
TEST_CASE("MetricFamily Clear drops series") {
  MetricsRegistry registry;
  MetricFamily* g = registry.AddGauge("demo_health", "Health.", {"backend"});
  MetricFamily* h = registry.AddHistogram("demo_seconds", "Seconds.", {}, {1});
  int collections = 0;
  registry.AddCollector([&] {
    ++collections;
    g->Clear();
    g->GetGauge({"b"})->Set(collections);
  });
  g->GetGauge({"a"})->Set(5);
  h->GetHistogram({})->Observe(0.5);
  h->Clear();
  CHECK(registry.RenderPrometheus() ==
        "# HELP demo_health Health.\n# TYPE demo_health gauge\ndemo_health{backend=\"b\"} 1\n"
        "# HELP demo_seconds Seconds.\n# TYPE demo_seconds histogram\n");
  h->GetHistogram({})->Observe(2);
  CHECK(registry.RenderPrometheus() ==
        "# HELP demo_health Health.\n# TYPE demo_health gauge\ndemo_health{backend=\"b\"} 2\n"
        "# HELP demo_seconds Seconds.\n# TYPE demo_seconds histogram\n"
        "demo_seconds_bucket{le=\"1\"} 0\ndemo_seconds_bucket{le=\"+Inf\"} 1\n"
        "demo_seconds_sum 2\ndemo_seconds_count 1\n");
}

// Series created from two threads at once are all found again and count exactly.
TEST_CASE("MetricFamily lookups are safe across threads") {
  MetricsRegistry registry;
  MetricFamily* f = registry.AddCounter("demo_total", "Demo.", {"k"});
  auto work = [&](int t) {
    for (int i = 0; i < 20'000; ++i) {
      f->GetCounter({"key" + std::to_string((i * 7 + t) % 500)})->Inc();
    }
  };
  std::thread a(work, 0);
  std::thread b(work, 1);
  a.join();
  b.join();
  double total = 0;
  for (int k = 0; k < 500; ++k) total += f->GetCounter({"key" + std::to_string(k)})->Value();
  CHECK(total == 40'000);
}

// Runs `promtool check metrics` on `text`; returns its exit status and output.
int PromtoolCheck(const std::string& text, std::string* output) {
  char path[] = "/tmp/igw_metrics_XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  const std::string command = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output->append(buffer, n);
  const int status = pclose(pipe);
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A counter only grows: negative and NaN amounts are ignored, so a bad value can never make a
// counter render a smaller (or wrapped-looking) number.
TEST_CASE("Counter ignores negative and NaN amounts") {
  Counter c;
  c.Inc(5);
  c.Inc(-3);
  c.Inc(std::numeric_limits<double>::quiet_NaN());
  c.Inc(-std::numeric_limits<double>::infinity());
  c.Inc(0);
  CHECK(c.Value() == 5);
  c.Inc();
  CHECK(c.Value() == 6);
}

// The dropped-parameters family: its name follows the inference_gateway_ prefix, with the help
// text and labels {provider, parameter}.
TEST_CASE("GatewayMetrics has the dropped translation parameters counter") {
  MetricsRegistry registry;
  GatewayMetrics m(registry);
  REQUIRE(m.dropped_params_total != nullptr);
  CHECK(m.dropped_params_total->name() == "inference_gateway_translation_dropped_params_total");
  CHECK(m.dropped_params_total->type() == MetricType::kCounter);
  m.dropped_params_total->GetCounter({"cohere", "logprobs"})->Inc();
  const std::string text = registry.RenderPrometheus();
  CHECK(text.find("# HELP inference_gateway_translation_dropped_params_total Request parameters "
                  "a translation dropped or could not express\n") != std::string::npos);
  CHECK(text.find("inference_gateway_translation_dropped_params_total{provider=\"cohere\","
                  "parameter=\"logprobs\"} 1\n") != std::string::npos);
}

// The gateway's registry, every family populated, passes `promtool check metrics` (lint
// included): names, types, units, escaping and histogram layout as Prometheus wants them.
TEST_CASE("GatewayMetrics pass promtool check metrics") {
  if (access("/usr/bin/promtool", X_OK) != 0) {
    FAIL(
        "promtool not found: install Debian's prometheus package (apt-get install prometheus); "
        "CI installs it");
  }
  MetricsRegistry registry;
  GatewayMetrics m(registry);
  m.requests_total->GetCounter({"default/chat", "default/gpt4", "200"})->Inc(12);
  m.requests_total->GetCounter({"default/chat", "", "429"})->Inc();
  m.request_duration_seconds->GetHistogram({"default/chat", "default/gpt4"})->Observe(1.7);
  m.time_to_first_byte_seconds->GetHistogram({"default/chat", "default/gpt4"})->Observe(0.2);
  m.request_errors_total->GetCounter({"default/chat", "default/gpt4", "timeout"})->Inc();
  m.backend_health->GetGauge({"default/gpt4"})->Set(1);
  m.backend_health->GetGauge({"default/claude"})->Set(-1);
  m.circuit_breaker_state->GetGauge({"default/gpt4"})->Set(2);
  m.active_requests->GetGauge({"default/gpt4"})->Set(3);
  m.upstream_attempts_total->GetCounter({"default/gpt4", "success"})->Inc();
  m.rate_limit_hits_total->GetCounter({"default/chat", "tokens"})->Inc();
  m.experiment_assignments_total->GetCounter({"claude-test", "treatment"})->Inc();
  m.cost_total->GetCounter({"default/chat", "default/gpt4", "USD"})->Inc(0.06);
  m.tokens_total->GetCounter({"default/chat", "default/gpt4", "input"})->Inc(1000);
  m.fallbacks_total->GetCounter({"default/chat", "default/gpt4", "default/claude"})->Inc();
  m.config_reloads_total->GetCounter({"success"})->Inc();
  m.config_reloads_total->GetCounter({"weird \"value\"\\\n"})->Inc();
  m.dropped_params_total->GetCounter({"anthropic", "logit_bias"})->Inc();
  const std::string text = registry.RenderPrometheus();
  for (std::string_view name :
       {"inference_gateway_requests_total", "inference_gateway_request_duration_seconds",
        "inference_gateway_time_to_first_byte_seconds", "inference_gateway_request_errors_total",
        "inference_gateway_backend_health", "inference_gateway_circuit_breaker_state",
        "inference_gateway_active_requests", "inference_gateway_upstream_attempts_total",
        "inference_gateway_rate_limit_hits_total", "inference_gateway_experiment_assignments_total",
        "inference_gateway_cost_total", "inference_gateway_tokens_total",
        "inference_gateway_fallbacks_total", "inference_gateway_config_reloads_total",
        "inference_gateway_translation_dropped_params_total"}) {
    INFO(name);
    CHECK(text.find("# TYPE " + std::string(name) + " ") != std::string::npos);
  }
  CHECK(text.find("le=\"0.005\"") != std::string::npos);
  CHECK(text.find("le=\"120\"") != std::string::npos);
  CHECK(text.find("le=\"0.001\"") != std::string::npos);
  CHECK(text.find("le=\"30\"") != std::string::npos);
  std::string output;
  const int status = PromtoolCheck(text, &output);
  INFO("promtool output:\n" << output << "\ninput:\n" << text);
  CHECK(status == 0);
  CHECK(output.empty());
}

}  // namespace
}  // namespace inferencegw
