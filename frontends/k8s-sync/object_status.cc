#include "object_status.h"

#include <algorithm>
#include <ctime>

#include "fmt/format.h"
#include "inferencegw/json_writer.h"
#include "simdjson.h"

namespace inferencegw::k8s {
namespace {

std::string JoinMessages(const std::vector<RefProblem>& problems) {
  std::vector<std::string> messages;
  for (const RefProblem& p : problems) messages.push_back(p.message);
  return fmt::format("{}", fmt::join(messages, "; "));
}

void SortConditions(ObjectStatus* s) {
  std::sort(s->conditions.begin(), s->conditions.end(),
            [](const Condition& a, const Condition& b) { return a.type < b.type; });
}

Condition ResolvedRefsCondition(const ObjectVerdict& v, std::string_view what) {
  Condition c{"ResolvedRefs", "True", "ResolvedRefs", "", v.generation, ""};
  if (!v.refs_checked) {
    c.status = "Unknown";
    c.reason = "InvalidSpec";
    c.message = "references were not checked: the spec is invalid";
  } else if (!v.ref_problems.empty()) {
    c.status = "False";
    c.reason = v.ref_problems.front().reason;
    c.message = JoinMessages(v.ref_problems);
  } else {
    c.message = fmt::format("all {} resolved", what);
  }
  return c;
}

std::string_view HealthOf(const HealthMap& health, std::string_view key) {
  const auto it = health.find(key);
  if (it == health.end()) return "Unknown";
  if (it->second == "Healthy" || it->second == "Unhealthy") return it->second;
  return "Unknown";
}

std::string_view StringAt(simdjson::dom::element e, std::string_view pointer) {
  std::string_view value;
  if (e.at_pointer(pointer).get(value) != simdjson::SUCCESS) return {};
  return value;
}

}  // namespace

std::string FormatRfc3339(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

ObjectStatus BackendStatus(const ObjectVerdict& v, std::string_view key, const HealthMap& health) {
  ObjectStatus s;
  s.observed_generation = v.generation;
  s.health = v.rendered ? std::string(HealthOf(health, key)) : "Unknown";
  s.conditions.push_back(ResolvedRefsCondition(v, "references"));
  Condition ready{"Ready", "True", "", "", v.generation, ""};
  if (!v.rendered) {
    ready.status = "False";
    ready.reason = v.error_reason;
    ready.message = v.error_message;
  } else if (!v.ref_problems.empty()) {
    ready.status = "False";
    ready.reason = v.ref_problems.front().reason;
    ready.message = JoinMessages(v.ref_problems);
  } else if (s.health == "Unhealthy") {
    ready.status = "False";
    ready.reason = "Unhealthy";
    ready.message = "the proxy's health checks or circuit breaker report this backend unhealthy";
  } else if (s.health == "Healthy") {
    ready.reason = "Healthy";
    ready.message = "rendered into the proxy config and healthy";
  } else {
    ready.reason = "Configured";
    ready.message = "rendered into the proxy config; no health information yet";
  }
  s.conditions.push_back(std::move(ready));
  SortConditions(&s);
  return s;
}

ObjectStatus RouteStatus(const ObjectVerdict& v, std::string_view ns, const HealthMap& health) {
  ObjectStatus s;
  s.observed_generation = v.generation;
  s.conditions.push_back(ResolvedRefsCondition(v, "backend references"));
  std::vector<std::string> unhealthy;
  for (const std::string& name : v.referenced_backends) {
    if (HealthOf(health, fmt::format("{}/{}", ns, name)) == "Unhealthy") unhealthy.push_back(name);
  }
  const int64_t total = static_cast<int64_t>(v.referenced_backends.size());
  Condition ready{"Ready", "True", "", "", v.generation, ""};
  if (!v.rendered || !v.ref_problems.empty()) {
    s.phase = "Failed";
    s.active_backends = 0;
    ready.status = "False";
    if (!v.ref_problems.empty()) {
      ready.reason = v.ref_problems.front().reason;
      ready.message = JoinMessages(v.ref_problems);
    } else {
      ready.reason = v.error_reason.empty() ? "InvalidSpec" : v.error_reason;
      ready.message = v.error_message;
    }
  } else {
    s.active_backends = total - static_cast<int64_t>(unhealthy.size());
    if (unhealthy.empty()) {
      s.phase = "Active";
      ready.reason = "Active";
      ready.message = fmt::format("routing to {} backends", total);
    } else {
      s.phase = "Degraded";
      ready.status = s.active_backends > 0 ? "True" : "False";
      ready.reason = s.active_backends > 0 ? "BackendsUnhealthy" : "NoHealthyBackends";
      ready.message = fmt::format("{} of {} backends unhealthy: {}", unhealthy.size(), total,
                                  fmt::join(unhealthy, ", "));
    }
  }
  s.conditions.push_back(std::move(ready));
  SortConditions(&s);
  return s;
}

ObjectStatus ParseObservedStatus(std::string_view object_json) {
  ObjectStatus s;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(object_json.data(), object_json.size()).get(doc) != simdjson::SUCCESS) return s;
  simdjson::dom::element status;
  if (doc["status"].get(status) != simdjson::SUCCESS) return s;
  int64_t number = 0;
  if (status["observedGeneration"].get(number) == simdjson::SUCCESS) s.observed_generation = number;
  if (status["activeBackends"].get(number) == simdjson::SUCCESS) s.active_backends = number;
  s.health = std::string(StringAt(status, "/health"));
  s.phase = std::string(StringAt(status, "/phase"));
  simdjson::dom::array conditions;
  if (status["conditions"].get(conditions) == simdjson::SUCCESS) {
    for (simdjson::dom::element c : conditions) {
      Condition cond;
      cond.type = std::string(StringAt(c, "/type"));
      cond.status = std::string(StringAt(c, "/status"));
      cond.reason = std::string(StringAt(c, "/reason"));
      cond.message = std::string(StringAt(c, "/message"));
      cond.last_transition_time = std::string(StringAt(c, "/lastTransitionTime"));
      if (c["observedGeneration"].get(number) == simdjson::SUCCESS) {
        cond.observed_generation = number;
      }
      s.conditions.push_back(std::move(cond));
    }
  }
  SortConditions(&s);
  return s;
}

bool SameStatus(const ObjectStatus& a, const ObjectStatus& b) {
  if (a.observed_generation != b.observed_generation || a.health != b.health ||
      a.phase != b.phase || a.active_backends != b.active_backends ||
      a.conditions.size() != b.conditions.size()) {
    return false;
  }
  for (size_t i = 0; i < a.conditions.size(); ++i) {
    const Condition& x = a.conditions[i];
    const Condition& y = b.conditions[i];
    if (x.type != y.type || x.status != y.status || x.reason != y.reason ||
        x.message != y.message || x.observed_generation != y.observed_generation) {
      return false;
    }
  }
  return true;
}

std::string StatusMergePatch(const ObjectStatus& desired, const ObjectStatus& observed,
                             std::string_view now_rfc3339) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").BeginObject();
  w.Key("observedGeneration").Int(desired.observed_generation);
  if (!desired.health.empty()) w.Key("health").String(desired.health);
  if (!desired.phase.empty()) w.Key("phase").String(desired.phase);
  if (desired.active_backends >= 0) w.Key("activeBackends").Int(desired.active_backends);
  w.Key("conditions").BeginArray();
  for (const Condition& c : desired.conditions) {
    std::string_view since = now_rfc3339;
    for (const Condition& old : observed.conditions) {
      if (old.type == c.type && old.status == c.status && !old.last_transition_time.empty()) {
        since = old.last_transition_time;
      }
    }
    w.BeginObject();
    w.Key("type").String(c.type);
    w.Key("status").String(c.status);
    w.Key("observedGeneration").Int(c.observed_generation);
    w.Key("lastTransitionTime").String(since);
    w.Key("reason").String(c.reason);
    w.Key("message").String(c.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject().EndObject();
  return out;
}

}  // namespace inferencegw::k8s
