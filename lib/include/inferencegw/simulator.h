// Offline replay of a request trace through the gateway's own request lifecycle (Gateway and
// Exchange, driven exactly as the proxy drives them) in virtual time, with simulated backends:
// outage windows, failure and 429 rates, latency distributions, all seeded.
//
//   SimulationTrace trace;
//   trace.Add({.timestamp = Seconds(1), .user = "alice", .input_tokens = 900});
//   Scenario scenario;
//   scenario.backends["local-mistral"].outages.push_back({Seconds(3600), Seconds(10800)});
//   auto sim = Simulator::Create(config, scenario, {.seed = 7}).value();
//   SimulationResult r = sim->Run(trace).value();  // r.status[i], r.cost[i], r.summary
#ifndef INFERENCEGW_SIMULATOR_H_
#define INFERENCEGW_SIMULATOR_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "inferencegw/clock.h"
#include "inferencegw/config.h"
#include "inferencegw/cost_ledger.h"
#include "inferencegw/experiment_stats.h"
#include "inferencegw/health_tracker.h"
#include "inferencegw/route_table.h"
#include "inferencegw/string_hash.h"

namespace inferencegw {

// What a simulated backend does with one attempt.
enum class SimOutcome : uint8_t {
  kScenario = 0,  // decided by the backend's scenario (outage, failure rates, latency model)
  kOk,            // a 200 answer carrying the request's usage
  kConnectError,  // refused before any answer
  kTimeout,       // no answer within the attempt's timeout
  kStatus5xx,     // the scenario's error_status
  kStatus429,
};
// "scenario", "ok", "connect_error", "timeout", "5xx", "429".
std::string_view SimOutcomeName(SimOutcome outcome);
// The inverse of SimOutcomeName (also "connect", "error", "500".."599" for 5xx); nullopt if
// unknown.
std::optional<SimOutcome> ParseSimOutcome(std::string_view name);

// The time a backend takes to a complete successful answer. Thread-compatible value type.
struct LatencyModel {
  enum class Kind : uint8_t { kFixed, kUniform, kLogNormal };
  Kind kind = Kind::kFixed;
  DurationNs value = Milliseconds(500);  // kFixed: the latency; kLogNormal: the median
  DurationNs low = 0;                    // kUniform: [low, high]
  DurationNs high = 0;
  double sigma = 0;                 // kLogNormal: standard deviation of ln(latency)
  DurationNs per_output_token = 0;  // added once per output token (generation time)

  static LatencyModel Fixed(DurationNs d);
  static LatencyModel Uniform(DurationNs low, DurationNs high);
  static LatencyModel LogNormal(DurationNs median, double sigma);

  // InvalidArgument naming the bad field (negative times, low > high, sigma < 0 or not finite).
  absl::Status Validate() const;
  // One draw from two uniform 64-bit values; >= 0. REQUIRES: Validate().ok().
  DurationNs Sample(uint64_t r1, uint64_t r2, int64_t output_tokens) const;
};

// [start, end) on the simulation's clock.
struct TimeWindow {
  TimeNs start = 0;
  TimeNs end = 0;
};

// How one simulated backend behaves. Thread-compatible value type.
struct BackendScenario {
  LatencyModel latency;             // successful answers
  std::vector<TimeWindow> outages;  // attempts sent (and probes) inside fail to connect
  double failure_rate = 0;          // share of attempts answered with error_status, [0, 1]
  double rate_429 = 0;              // share answered 429; failure_rate + rate_429 <= 1
  int error_status = 500;           // 500..599
  DurationNs retry_after = 0;       // Retry-After sent with 5xx and 429 answers
  DurationNs error_latency = Milliseconds(50);  // time to a 5xx or 429 answer
  DurationNs connect_latency = 0;               // time to a refused connection

  absl::Status Validate() const;
  bool InOutage(TimeNs t) const;
};

struct Scenario {
  BackendScenario defaults;  // for every backend not named below
  // By backend key "namespace/name", or by bare name when one namespace uses it.
  std::map<std::string, BackendScenario, std::less<>> backends;
};

// A per-request, per-backend override of the scenario, from the trace.
struct OutcomeOverride {
  std::string_view backend;  // "" applies to every backend
  SimOutcome outcome = SimOutcome::kScenario;
  DurationNs latency = -1;  // -1: the scenario's
};

namespace internal {
// A column that stores nothing per row while every row holds the same value (method, path and
// header set usually do), and a plain vector from the first row that differs. Not thread-safe
// while being filled.
template <typename T>
class RunColumn {
 public:
  void push_back(T v) {
    if (values_.empty()) {
      if (size_ == 0) first_ = v;
      if (v == first_) {
        ++size_;
        return;
      }
      values_.reserve(reserve_ > size_ ? reserve_ : size_ + 1);
      values_.assign(size_, first_);
    }
    values_.push_back(v);
    ++size_;
  }
  T operator[](size_t i) const { return values_.empty() ? first_ : values_[i]; }
  size_t size() const { return size_; }
  void reserve(size_t n) { reserve_ = n; }

 private:
  std::vector<T> values_;
  T first_{};
  size_t size_ = 0;
  size_t reserve_ = 0;
};
}  // namespace internal

// A request trace in compact columnar form: strings (users, models, paths, header sets) are
// interned, and columns that hold one value for every row (method, path, headers, usually the
// model, and the token estimate when it is the input count) take no space per row, so a row
// costs 28 to 52 bytes. Not thread-safe while being filled; immutable use (Simulator::Run) is
// thread-safe.
class SimulationTrace {
 public:
  // One request. Views need only live during Add.
  struct Row {
    TimeNs timestamp = 0;  // arrival on the simulation clock; >= 0
    std::string_view method = "POST";
    std::string_view path = "/v1/chat/completions";
    std::string_view model;
    std::string_view user;  // "" for none; see RequestBuilder for how it reaches the router
    std::span<const Header> headers;
    int64_t input_tokens = 0;  // usage reported by a successful answer
    int64_t output_tokens = 0;
    // What the proxy would reserve from a token limit: -1 means input_tokens + max(0,
    // max_tokens), the proxy's rule (its prompt estimate + max_tokens).
    int64_t max_tokens = -1;
    int64_t estimated_tokens = -1;
    std::span<const OutcomeOverride> overrides;  // the first matching backend (or "") wins
  };

  // A row whose strings are ids from Intern() of this trace (bulk loading: intern each
  // distinct string once). The header set is Intern()ed by InternHeaders().
  struct InternedRow {
    TimeNs timestamp = 0;
    uint32_t method = 0, path = 0, model = 0, user = 0, header_set = 0;
    int64_t input_tokens = 0, output_tokens = 0, max_tokens = -1, estimated_tokens = -1;
    std::span<const OutcomeOverride> overrides;
  };

  SimulationTrace();
  // Movable, not copyable (interned views point into its own storage).
  SimulationTrace(const SimulationTrace&) = delete;
  SimulationTrace& operator=(const SimulationTrace&) = delete;
  SimulationTrace(SimulationTrace&&) = default;
  SimulationTrace& operator=(SimulationTrace&&) = default;

  void Reserve(size_t rows);
  // InvalidArgument (nothing added) for negative timestamps or token counts.
  absl::Status Add(const Row& row);
  // The same for a row of ids. REQUIRES: the ids come from Intern/InternHeaders of this trace.
  absl::Status Add(const InternedRow& row);
  // The id of `s` in the string table, added when new; "" is 0.
  uint32_t Intern(std::string_view s);
  // The id of a header set (0 for none), added when new.
  uint32_t InternHeaders(std::span<const Header> headers);
  size_t size() const { return timestamp_.size(); }

  // Column access, for the simulator and for bindings. String ids index string(); id 0 is "".
  const std::vector<TimeNs>& timestamps() const { return timestamp_; }
  std::string_view string(uint32_t id) const { return strings_[id]; }
  size_t string_count() const { return strings_.size(); }
  uint32_t method_id(size_t row) const { return method_[row]; }
  uint32_t path_id(size_t row) const { return path_[row]; }
  uint32_t model_id(size_t row) const { return model_[row]; }
  uint32_t user_id(size_t row) const { return user_[row]; }
  // A hint for replay loops: starts loading the text of `row`'s user, which with many users
  // is a cache miss. REQUIRES: row < size().
  void PrefetchUser(size_t row) const { __builtin_prefetch(&strings_[user_[row]]); }
  std::span<const Header> headers(size_t row) const { return header_sets_[header_set_[row]]; }
  int64_t input_tokens(size_t row) const { return input_tokens_[row]; }
  int64_t output_tokens(size_t row) const { return output_tokens_[row]; }
  int64_t estimated_tokens(size_t row) const {
    return input_tokens_[row] + estimate_extra_[row];
  }
  // An OutcomeOverride as stored, its backend name interned.
  struct StoredOverride {
    uint32_t backend = 0;  // string id; 0 = every backend
    SimOutcome outcome = SimOutcome::kScenario;
    DurationNs latency = -1;
  };
  std::span<const StoredOverride> overrides(size_t row) const {
    if (override_begin_.empty()) return {};
    return std::span<const StoredOverride>(overrides_.data() + override_begin_[row],
                                           override_begin_[row + 1] - override_begin_[row]);
  }

 private:
  absl::Status Check(const InternedRow& row) const;

  std::deque<std::string> strings_;  // stable addresses; id 0 is ""
  absl::flat_hash_map<std::string_view, uint32_t, internal::StringHash, internal::StringEq>
      ids_;
  std::vector<std::vector<Header>> header_sets_;  // views into strings_; set 0 is empty
  // Keyed by an interned string of the set's name\0value\0 pairs.
  absl::flat_hash_map<std::string_view, uint32_t, internal::StringHash, internal::StringEq>
      header_set_ids_;
  std::string key_buffer_;
  std::vector<TimeNs> timestamp_;
  std::vector<uint32_t> user_;
  internal::RunColumn<uint32_t> method_, path_, model_, header_set_;
  std::vector<int64_t> input_tokens_, output_tokens_;
  internal::RunColumn<int64_t> estimate_extra_;  // estimated_tokens - input_tokens
  std::vector<uint32_t> override_begin_;  // empty until a row has overrides; then size()+1
  std::vector<StoredOverride> overrides_;
};

using HeaderBuffer = absl::InlinedVector<Header, 16>;

// Immutable after construction; thread-safe. Turns a trace row's user and headers into the
// router's RequestView the way the proxy would see that user's request:
// - with client keys configured (authentication on), the user is the authenticated user; the
//   headers any key sets as attributes are dropped and the user's own attributes (from its first
//   key) are added; a user without a key is refused, as the proxy answers 401;
// - otherwise the user is sent in each header a route reads it from (rateLimit.userHeader,
//   x-user-id by default) that the request does not already carry.
class RequestBuilder {
 public:
  // `table` and `config` must outlive the builder.
  RequestBuilder(const RouteTable& table, const ConfigSet& config);
  bool authentication() const { return authentication_; }
  // Fills `out` (views into the arguments and `storage`). False when authentication is on and
  // `user` has no client key.
  bool Build(std::string_view method, std::string_view path, std::string_view model,
             std::string_view user, std::span<const Header> headers, HeaderBuffer* storage,
             RequestView* out) const;

 private:
  bool authentication_ = false;
  std::vector<std::string> user_headers_;       // lowercase, distinct
  std::vector<std::string> attribute_headers_;  // lowercase
  struct UserKey {
    std::vector<std::pair<std::string, std::string>> attributes;
    const ClientKey* key = nullptr;  // in the config; its policy (routes, models, limits)
  };
  absl::flat_hash_map<std::string, UserKey, internal::StringHash, internal::StringEq>
      attributes_;  // by user
};

// The backend of `table` named `name` ("namespace/name", or a bare name used by one namespace).
std::optional<BackendIndex> ResolveBackendName(const RouteTable& table, std::string_view name);

struct SimulatorOptions {
  uint64_t seed = 0;  // per-request entropy and every simulated draw derive from it
  // Run active health probes (every healthCheck.intervalSeconds from the first arrival; a probe
  // fails inside an outage window, else succeeds), as the proxy's prober does.
  bool probes = true;
  size_t max_users = 1000;  // users the cost ledger tracks by name (CostLedger::Options)
  // Gateway replicas behind a round-robin balancer (1..1024): the n-th arrival goes to replica
  // n % replicas. Each replica has its own health tracking, breakers and maxConcurrency counts
  // (it probes on its own), as proxy replicas do; the cost ledger and experiment statistics
  // add up all of them.
  int replicas = 1;
  // Rate limits and budgets: true keeps them in one store that every replica shares (the
  // proxy's --redis, with no store latency and no outage); false gives each replica its own
  // counters (replicas without --redis).
  bool shared_store = false;
};

// Per backend, over one run.
struct SimulatedBackendStats {
  std::string backend;  // key
  uint64_t served = 0;  // requests it answered (any status)
  uint64_t sent = 0;    // attempts sent
  uint64_t ok = 0, connect_errors = 0, timeouts = 0, status_5xx = 0, status_429 = 0;
  // Left out without sending: when the plan was made (unavailable) or when its attempt came
  // (breaker open, at maxConcurrency). unhealthy: failing its active health checks.
  uint64_t breaker_open_skips = 0, overloaded_skips = 0, unhealthy_skips = 0;
  DurationNs latency_p50 = 0, latency_p95 = 0, latency_p99 = 0;  // of its 2xx answers
  BackendHealthSnapshot final_health;                            // at the end of the run
};

struct SimulationSummary {
  uint64_t requests = 0, succeeded = 0, throttled = 0, not_routed = 0, unauthenticated = 0,
           failed = 0;  // failed: answered 5xx (or 429 from upstream)
  std::vector<std::pair<int, uint64_t>> status_counts;  // ascending status
  struct Throttle {
    std::string route;
    uint64_t by_requests = 0;  // refused by the request limit
    uint64_t by_tokens = 0;    // refused by the token limit
    uint64_t by_budget = 0;    // refused because a spend budget was used up
  };
  std::vector<Throttle> throttles;  // routes with at least one refusal
  uint64_t throttled_users = 0;     // distinct non-empty users refused at least once
  // Requests that left their intended backend (the rule's weighted pick, or the experiment
  // arm's backend) because it was unavailable or failed, by (route, intended backend, the
  // backend that answered; "" when none did).
  struct Fallback {
    std::string route, from, to;
    uint64_t requests = 0;
  };
  std::vector<Fallback> fallbacks;
  std::vector<SimulatedBackendStats> backends;  // in table order
  std::vector<LedgerRow> ledger;                // CostLedger::Rows()
  std::vector<LedgerRow> ledger_totals;         // CostLedger::Totals()
  std::vector<ExperimentStatsRow> experiments;  // ExperimentStats::Report()
  // ExperimentStats::Samples(): what experiment_compare.h's CompareExperiments needs.
  std::vector<ExperimentArmSample> experiment_samples;
  TimeNs start = 0, end = 0;                    // first arrival, last event
  uint64_t events = 0;                          // arrivals, attempt completions and probes
  int max_in_flight = 0;                        // requests under way at once
  int replicas = 1;                             // SimulatorOptions::replicas
};

// Per-request columns in trace order, plus the summary.
struct SimulationResult {
  std::vector<int32_t> route;       // index into route_names; -1: none
  std::vector<int32_t> backend;     // the backend that answered; index into backend_names; -1
  std::vector<int32_t> experiment;  // index into experiment_names (experiment names); -1
  std::vector<uint8_t> arm;         // Arm
  std::vector<int32_t> attempts;    // attempts sent upstream
  std::vector<uint8_t> throttled;   // refused by a rate limit or a spent budget (429)
  std::vector<uint8_t> fallback;    // left its intended backend (see SimulationSummary)
  std::vector<int32_t> status;      // the client's status (401, 404, 429, 200, 502, ...)
  std::vector<PicoUnits> cost;      // 0 when unknown
  std::vector<DurationNs> latency;  // arrival to the end of the answer
  std::vector<int64_t> input_tokens, output_tokens;  // billed usage; 0 when none
  std::vector<uint16_t> replica;                     // the replica that took it (0-based)
  // Why the request did not simply get its answer from its intended backend at the first
  // attempt: an index into reason_names, -1 when there is nothing to explain. A reason is either
  // the request's refusal ("throttled", "no_route", "unknown_route", "no_backend",
  // "unauthenticated", "key_not_allowed", "store_unavailable") or, for every backend the request
  // was not sent to or left, in plan order, "<backend key>: <why>" joined by "; ", where why is
  // "unhealthy", "breaker_open" or "overloaded" (left out, when the plan was made or when its
  // attempt came) or "attempt_failed:<outcome>" (connect_error, timeout, or the upstream's
  // status, e.g. 503 or 429).
  std::vector<int32_t> reason;
  std::vector<std::string> route_names, backend_names, experiment_names, reason_names;
  SimulationSummary summary;
};

// Thread-safe: Run is const and every run starts from fresh state (a new Gateway).
class Simulator {
 public:
  // Compiles `config` (InvalidArgument with the config errors) and checks the scenario
  // (InvalidArgument naming an unknown backend or a bad knob).
  static absl::StatusOr<std::unique_ptr<Simulator>> Create(const ConfigSet& config,
                                                           Scenario scenario,
                                                           SimulatorOptions options = {});
  ~Simulator();

  // Replays `trace` (any order; replayed by timestamp, ties in row order) on a SimulatedClock
  // from its first arrival until every request finished. Each request runs the proxy's
  // lifecycle: Exchange::Begin (routing and rate limits), NextAttempt / AttemptFailed /
  // AttemptCommitted (fallback, retries with backoff, breakers, maxConcurrency), Finish (cost
  // ledger and experiment statistics). Events at the same instant: attempt completions and
  // probes first, then arrivals. InvalidArgument when an override names an unknown backend.
  absl::StatusOr<SimulationResult> Run(const SimulationTrace& trace) const;

  const ConfigSet& config() const { return config_; }
  const RouteTable& table() const { return *table_; }

 private:
  Simulator() = default;
  struct RunState;

  ConfigSet config_;
  HealthTracker health_;  // owns the state behind table_; runs use their own Gateway
  std::shared_ptr<const RouteTable> table_;
  std::vector<BackendScenario> scenarios_;  // by BackendIndex
  SimulatorOptions options_;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_SIMULATOR_H_
