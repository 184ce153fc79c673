// The compiled, immutable routing snapshot. A ConfigSet is validated and compiled once into a
// RouteTable; every request then asks it for one Decision: which route, which rule, which
// backend, the experiment arm, and the ordered attempt plan. Frontends swap tables on reload
// (shared_ptr); a request keeps the table it started with.
//
//   IGW_ASSIGN_OR_RETURN(std::shared_ptr<const RouteTable> table, RouteTable::Create(config,
//   health)); Decision d; if (table->Decide(request, /*entropy=*/rng(), clock.Now(), &d) ==
//   DecisionStatus::kOk) ...
//
// Route selection, in order (docs/routing.md):
//   1. the header `x-inferencegw-route` names a route ("name" or "namespace/name");
//   2. else the routes whose `models` match the request's model: an exact name beats a glob, a
//      longer glob beats a shorter one, then the first by namespace/name;
//   3. else the route with `default: true`, or the only route when there is just one.
// Within a route, rules are tried in order and the first whose header, path-prefix and model
// matches all hold wins; its backends are picked by weight. No rule: the default backend. If the
// picked backend is an experiment's control or treatment, the user's arm decides between them.
// The plan is the primary, then the fallback chain, deduplicated, with unavailable backends
// (probe-unhealthy, breaker open, at maxConcurrency) left out without changing the order.
#ifndef INFERENCEGW_ROUTE_TABLE_H_
#define INFERENCEGW_ROUTE_TABLE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "inferencegw/clock.h"
#include "inferencegw/config.h"
#include "inferencegw/cost_ledger.h"
#include "inferencegw/experiment.h"
#include "inferencegw/fallback_plan.h"
#include "inferencegw/health_tracker.h"
#include "inferencegw/rate_limiter.h"
#include "inferencegw/usage_parser.h"
#include "inferencegw/weighted_split.h"

namespace inferencegw {

inline constexpr std::string_view kRouteHeader = "x-inferencegw-route";

struct Header {
  std::string_view name;  // any case
  std::string_view value;
};

// What the router sees of a request. Views must outlive the Decide call (and the Decision's
// user_key view).
struct RequestView {
  std::string_view method = "POST";
  std::string_view path;  // without the query string
  std::span<const Header> headers;
  std::string_view model;  // the body's `model` (or the model named in a KServe path)
  // Set by a frontend that authenticated the client with a gateway key; the route's userHeader
  // is then not read and `authenticated_user` is the user key.
  bool authenticated = false;
  std::string_view authenticated_user;
  // The client key that authenticated the request, with its policy (routes, models, limits,
  // budget); nullptr without authentication. Must outlive the Exchange that reads it.
  const ClientKey* client_key = nullptr;

  // The first header named `lowercase_name` (compared case-insensitively), or nullopt.
  std::optional<std::string_view> FindHeader(std::string_view lowercase_name) const;
};

// A backend as compiled for sending requests to it.
struct CompiledBackend {
  std::string key;                  // "namespace/name"
  const Backend* config = nullptr;  // in the table's own copy of the ConfigSet
  BackendType type = BackendType::kExternal;
  Provider provider = Provider::kOpenAI;    // kOpenAI for kserve and kubernetes backends
  WireFormat format = WireFormat::kOpenAI;  // what the backend speaks for chat
  std::string root_url;                     // scheme://host[:port][/path], no trailing slash
  std::string api_base_url;  // where "/chat/completions" (or "/messages", "/chat") is appended
  std::string model;         // model to rewrite requests to; "" keeps the client's
  std::string api_key;       // resolved from its Secret; "" when none. Never log or render.
  bool has_cost = false;
  Prices prices;
  DurationNs timeout = Seconds(60);
  int priority = 0;
  std::optional<HealthCheck> health_check;
  std::shared_ptr<BackendHealth> health;  // shared with the HealthTracker
};

struct CompiledExperiment {
  std::string name;
  ExperimentSplit split;
  BackendIndex control = kNoBackend;
  BackendIndex treatment = kNoBackend;
  std::string metric;
};

struct CompiledRule;  // matchers; defined in lib/src

struct CompiledRoute {
  std::string key;  // "namespace/name"
  const Route* config = nullptr;
  std::vector<std::unique_ptr<CompiledRule>> rules;
  size_t rule_count() const { return rules.size(); }
  BackendIndex default_backend = kNoBackend;
  std::vector<CompiledExperiment> experiments;
  std::vector<BackendIndex> fallback_chain;  // ordered, deduplicated
  RetryPolicy retry;
  bool rate_limited = false;
  RateLimitPolicy rate_limit;
  std::string user_header = "x-user-id";  // lowercase
  uint64_t route_hash = 0;                // StableHash64(key)
  bool cost_tracking = true;
  bool enable_logging = false;
};

struct Decision {
  const CompiledRoute* route = nullptr;
  int rule = -1;                     // index of the matched rule; -1: the default backend
  BackendIndex picked = kNoBackend;  // chosen by the rule (before experiment and health)
  const CompiledExperiment* experiment = nullptr;  // the experiment that applied, if any
  Arm arm = Arm::kNone;
  std::string_view user_key;  // "" when the request has none
  uint64_t user_hash = 0;     // UserHash(user_key), or 0
  AttemptPlan plan;           // never empty when Decide returns kOk
};

enum class DecisionStatus : uint8_t {
  kOk = 0,
  kUnknownRoute,  // the route header names no route (404)
  kNoRoute,       // no route claims the model and there is no default route (404)
  kNoBackend,     // the route has no matching rule and no default backend (404)
};
std::string_view DecisionStatusName(DecisionStatus s);

// Immutable after Create; safe to share between threads.
class RouteTable {
 public:
  // Validates `config` (ValidateConfig errors fail with InvalidArgument listing them), resolves
  // URLs and API keys, and compiles matchers. Backend state comes from `health` by key.
  static absl::StatusOr<std::shared_ptr<const RouteTable>> Create(const ConfigSet& config,
                                                                  HealthTracker& health);
  ~RouteTable();

  // One routing decision. `entropy` is a uniform random value (the weighted pick and, for
  // requests without a user key, the experiment arm); `now` is for breaker timing. Allocates
  // nothing.
  DecisionStatus Decide(const RequestView& request, uint64_t entropy, TimeNs now,
                        Decision* out) const;

  // Route selection alone (steps 1-3 above); nullptr with the reason in `status`.
  const CompiledRoute* SelectRoute(const RequestView& request, DecisionStatus* status) const;

  const ConfigSet& config() const { return config_; }
  std::span<const CompiledBackend> backends() const { return backends_; }
  const CompiledBackend& backend(BackendIndex i) const { return backends_[i]; }
  std::span<const CompiledRoute> routes() const { return routes_; }
  const CompiledRoute* FindRoute(std::string_view key) const;
  std::optional<BackendIndex> FindBackend(std::string_view key) const;

  // Why a request was not routed (`status` is not kOk), and what would route it: for a client's
  // 404 and for Router.decide. kUnknownRoute names the header and the routes there are;
  // kNoRoute names the route header, `spec.models` and `spec.default`; kNoBackend names the
  // route's rules and `spec.defaultBackend`.
  std::string ExplainStatus(const RequestView& request, DecisionStatus status) const;

  // The model names routes serve (their non-glob `models`, then backend models), sorted and
  // deduplicated: the answer to GET /v1/models.
  const std::vector<std::string>& served_models() const { return served_models_; }

 private:
  RouteTable() = default;

  ConfigSet config_;
  std::vector<CompiledBackend> backends_;
  std::vector<CompiledRoute> routes_;
  std::vector<std::string> served_models_;
  struct Index;
  std::unique_ptr<Index> index_;
};

// The service root URL of a backend (explicit url, else the in-cluster convention:
// kserve http://{service}-predictor.{ns}.svc.cluster.local, kubernetes
// http://{service}.{ns}.svc.cluster.local:{port}), and the base its API paths hang off
// (external: its url; kubernetes: root + "/v1"; kserve: root + openai_path_prefix + "/v1").
std::string ResolveRootUrl(const Backend& backend);
std::string ResolveApiBaseUrl(const Backend& backend);

// True when `pattern` (`*` and `?` wildcards) matches all of `text`.
bool GlobMatch(std::string_view pattern, std::string_view text);

// True when `path` equals `prefix` or continues it at a '/' (prefix "/v1" matches "/v1/chat",
// not "/v1beta"); a prefix ending in '/' matches by plain prefix. "" matches everything.
bool PathPrefixMatch(std::string_view prefix, std::string_view path);

}  // namespace inferencegw

#endif  // INFERENCEGW_ROUTE_TABLE_H_
