// RouteTable's request path: route selection, rule matching, experiments and the attempt plan.
// Everything here reads the immutable snapshot and allocates nothing (but ExplainStatus, for
// refused requests).
#include "inferencegw/route_table.h"

#include <algorithm>

#include "fmt/format.h"
#include "route_table_internal.h"

namespace inferencegw {

RouteTable::~RouteTable() = default;

std::string_view DecisionStatusName(DecisionStatus s) {
  switch (s) {
    case DecisionStatus::kOk:
      return "ok";
    case DecisionStatus::kUnknownRoute:
      return "unknown_route";
    case DecisionStatus::kNoRoute:
      return "no_route";
    case DecisionStatus::kNoBackend:
      return "no_backend";
  }
  return "unknown";
}

const CompiledRoute* RouteTable::FindRoute(std::string_view key) const {
  auto it = index_->route_by_key.find(key);
  return it == index_->route_by_key.end() ? nullptr : &routes_[it->second];
}

std::optional<BackendIndex> RouteTable::FindBackend(std::string_view key) const {
  auto it = index_->backend_by_key.find(key);
  if (it == index_->backend_by_key.end()) return std::nullopt;
  return it->second;
}

const CompiledRoute* RouteTable::SelectRoute(const RequestView& request,
                                             DecisionStatus* status) const {
  DecisionStatus ignored;
  if (status == nullptr) status = &ignored;
  *status = DecisionStatus::kOk;
  // 1. The route header: "namespace/name", or a "name" that only one namespace uses.
  if (std::optional<std::string_view> named = request.FindHeader(kRouteHeader);
      named.has_value() && !named->empty()) {
    const auto& map =
        named->find('/') != std::string_view::npos ? index_->route_by_key : index_->route_by_name;
    auto it = map.find(*named);
    if (it == map.end() || it->second == internal::kAmbiguousRoute) {
      *status = DecisionStatus::kUnknownRoute;
      return nullptr;
    }
    return &routes_[it->second];
  }
  // 2. The model: exact name, else the longest matching glob.
  if (!request.model.empty()) {
    if (auto it = index_->route_by_exact_model.find(request.model);
        it != index_->route_by_exact_model.end()) {
      return &routes_[it->second];
    }
    for (const Index::ModelGlob& glob : index_->model_globs) {
      if (GlobMatch(glob.pattern, request.model)) return &routes_[glob.route];
    }
  }
  // 3. The default route.
  if (index_->default_route != internal::kNoRouteIndex) return &routes_[index_->default_route];
  *status = DecisionStatus::kNoRoute;
  return nullptr;
}

DecisionStatus RouteTable::Decide(const RequestView& request, uint64_t entropy, TimeNs now,
                                  Decision* out) const {
  // Reset field by field: the plan keeps its inline storage.
  out->route = nullptr;
  out->rule = -1;
  out->picked = kNoBackend;
  out->experiment = nullptr;
  out->arm = Arm::kNone;
  out->user_key = {};
  out->user_hash = 0;
  out->plan.backends.clear();
  out->plan.panic = false;
  out->plan.skipped.clear();
  DecisionStatus status;
  const CompiledRoute* route = SelectRoute(request, &status);
  if (route == nullptr) return status;
  out->route = route;

  std::string_view user_key;
  if (request.authenticated) {
    user_key = request.authenticated_user;
  } else if (std::optional<std::string_view> v = request.FindHeader(route->user_header)) {
    user_key = *v;
  }
  out->user_key = user_key;
  out->user_hash = user_key.empty() ? 0 : UserHash(user_key);

  // The rule (first match wins) and its weighted pick; else the default backend.
  const CompiledRule* rule = nullptr;
  BackendIndex picked = route->default_backend;
  for (size_t i = 0; i < route->rules.size(); ++i) {
    if (route->rules[i]->Matches(request)) {
      rule = route->rules[i].get();
      out->rule = static_cast<int>(i);
      picked = rule->backends[rule->split.Pick(SplitMix64(entropy))];
      break;
    }
  }
  if (picked == kNoBackend) return DecisionStatus::kNoBackend;
  out->picked = picked;

  // The first experiment whose arms include the pick decides between its arms.
  BackendIndex primary = picked;
  for (const CompiledExperiment& e : route->experiments) {
    if (picked != e.control && picked != e.treatment) continue;
    const uint64_t user_hash =
        user_key.empty() ? SplitMix64(entropy + kGoldenGamma) : out->user_hash;
    out->experiment = &e;
    out->arm = AssignArm(e.split, user_hash);
    primary = out->arm == Arm::kTreatment ? e.treatment : e.control;
    break;
  }

  // The plan: the primary (or, from a weighted rule, another of the rule's backends when the
  // primary is unavailable), then the fallback chain; unavailable backends left out.
  auto available = [this, now](BackendIndex b) {
    const std::shared_ptr<BackendHealth>& h = backends_[b].health;
    return h == nullptr || h->IsAvailable(now);
  };
  auto& plan = out->plan.backends;
  auto& skipped = out->plan.skipped;
  auto skip = [&skipped](BackendIndex b) {
    if (std::find(skipped.begin(), skipped.end(), b) == skipped.end()) skipped.push_back(b);
  };
  auto add = [&plan](BackendIndex b) {
    if (plan.size() < AttemptPlan::kMaxBackends &&
        std::find(plan.begin(), plan.end(), b) == plan.end()) {
      plan.push_back(b);
    }
  };
  if (available(primary)) {
    add(primary);
  } else if (skip(primary); rule != nullptr && primary == picked) {
    const size_t k = rule->split.PickIf(SplitMix64(entropy + 2 * kGoldenGamma), [&](size_t i) {
      const BackendIndex b = rule->backends[i];
      return b != primary && available(b);
    });
    if (k != WeightedSplit::kNone) add(rule->backends[k]);
  }
  for (BackendIndex b : route->fallback_chain) {
    if (plan.size() >= AttemptPlan::kMaxBackends) break;
    if (std::find(plan.begin(), plan.end(), b) != plan.end()) continue;
    if (available(b)) {
      plan.push_back(b);
    } else {
      skip(b);
    }
  }
  if (plan.empty()) {
    // Panic mode: nothing looks available; try everything in configured order.
    out->plan.panic = true;
    add(primary);
    for (BackendIndex b : route->fallback_chain) add(b);
  }
  return DecisionStatus::kOk;
}

std::string RouteTable::ExplainStatus(const RequestView& request, DecisionStatus status) const {
  std::string keys;
  constexpr size_t kListed = 8;
  for (size_t i = 0; i < routes_.size() && i < kListed; ++i) {
    keys += fmt::format("{}{}", i == 0 ? "" : ", ", routes_[i].key);
  }
  if (routes_.size() > kListed) keys += fmt::format(" and {} more", routes_.size() - kListed);
  switch (status) {
    case DecisionStatus::kOk:
      return "";
    case DecisionStatus::kUnknownRoute:
      return fmt::format(
          "no route named \"{}\" ({} header; a bare name must be used by one namespace only); "
          "routes: {}",
          request.FindHeader(kRouteHeader).value_or(""), kRouteHeader, keys);
    case DecisionStatus::kNoRoute:
      return fmt::format(
          "no route serves model \"{}\": no route lists it in spec.models and none is the "
          "default (spec.default: true); name a route in the {} header ({}), add the model to "
          "a route's spec.models, or make one route the default",
          request.model, kRouteHeader, keys);
    case DecisionStatus::kNoBackend: {
      DecisionStatus ignored;
      const CompiledRoute* route = SelectRoute(request, &ignored);
      return fmt::format(
          "route {} has no rule matching this request and no default backend; add a rule that "
          "matches it or set spec.defaultBackend",
          route != nullptr ? std::string_view(route->key) : std::string_view("?"));
    }
  }
  return "";
}

}  // namespace inferencegw
