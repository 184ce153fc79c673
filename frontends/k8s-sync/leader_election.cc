#include "leader_election.h"

#include <ctime>

#include "backoff.h"
#include "fmt/format.h"
#include "inferencegw/json_writer.h"
#include "log.h"
#include "resources.h"
#include "simdjson.h"

namespace inferencegw::k8s {
namespace {

struct LeaseRecord {
  std::string holder;
  int64_t duration_seconds = 0;
  std::string acquire_time;
  int64_t transitions = 0;
};

std::string_view StringAt(simdjson::dom::element e, std::string_view pointer) {
  std::string_view value;
  if (e.at_pointer(pointer).get(value) != simdjson::SUCCESS) return {};
  return value;
}

std::string LeaseJson(const LeaderElector::Options& o, std::string_view metadata_json,
                      const LeaseRecord& record, std::string_view renew_time) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("apiVersion").String("coordination.k8s.io/v1").Key("kind").String("Lease");
  if (metadata_json.empty()) {
    w.Key("metadata").BeginObject().Key("name").String(o.name).Key("namespace").String(o.ns);
    w.EndObject();
  } else {
    w.Key("metadata").Raw(metadata_json);
  }
  w.Key("spec").BeginObject();
  w.Key("holderIdentity").String(record.holder);
  w.Key("leaseDurationSeconds").Int(record.duration_seconds);
  w.Key("acquireTime").String(record.acquire_time);
  w.Key("renewTime").String(renew_time);
  w.Key("leaseTransitions").Int(record.transitions);
  w.EndObject().EndObject();
  return out;
}

int64_t CeilSeconds(std::chrono::milliseconds d) { return (d.count() + 999) / 1000; }

}  // namespace

std::string FormatMicroTime(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros % 1'000'000);
}

LeaderElector::LeaderElector(Credentials* credentials, Canceller* canceller, Options options)
    : client_(credentials, &own_canceller_, "inferencegw-k8s-sync/leader-election"),
      canceller_(canceller),
      options_(std::move(options)),
      rng_(JitterSeed()) {}

void LeaderElector::SetLeader(bool leader) {
  if (leader_.exchange(leader) == leader) return;
  Log(LogLevel::kInfo, leader ? "became leader" : "lost leadership",
      {{"lease", fmt::format("{}/{}", options_.ns, options_.name)},
       {"identity", options_.identity}});
  if (options_.on_change) options_.on_change(leader);
}

bool LeaderElector::TryAcquireOrRenew() {
  const std::string path = ObjectPath(kLeases, options_.ns, options_.name);
  const auto wall_now = std::chrono::system_clock::now();
  const std::string now_text = FormatMicroTime(wall_now);
  const std::chrono::seconds timeout(std::max<int64_t>(1, CeilSeconds(options_.renew_deadline)));
  auto got = client_.Request("GET", path, "", "", timeout);
  if (!got.ok()) return false;
  LeaseRecord desired{options_.identity, CeilSeconds(options_.lease_duration), now_text, 0};
  if (got->status == 404) {
    auto created =
        client_.Request("POST", CollectionPath(kLeases, options_.ns),
                        LeaseJson(options_, "", desired, now_text), "application/json", timeout);
    if (!created.ok() || created->status != 201) return false;
    acquire_time_ = desired.acquire_time;
    observed_at_ = std::chrono::steady_clock::now();
    return true;
  }
  if (got->status != 200) {
    Log(LogLevel::kWarning, "lease read failed", {{"status", std::to_string(got->status)}});
    return false;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element lease;
  if (parser.parse(got->body).get(lease) != simdjson::SUCCESS) return false;
  simdjson::dom::element metadata;
  if (lease["metadata"].get(metadata) != simdjson::SUCCESS) return false;
  simdjson::dom::element spec;
  std::string spec_text;
  if (lease["spec"].get(spec) == simdjson::SUCCESS) spec_text = simdjson::to_string(spec);
  LeaseRecord old;
  old.holder = std::string(StringAt(lease, "/spec/holderIdentity"));
  old.acquire_time = std::string(StringAt(lease, "/spec/acquireTime"));
  int64_t number = 0;
  if (lease.at_pointer("/spec/leaseDurationSeconds").get(number) == simdjson::SUCCESS) {
    old.duration_seconds = number;
  }
  if (lease.at_pointer("/spec/leaseTransitions").get(number) == simdjson::SUCCESS) {
    old.transitions = number;
  }
  const auto steady_now = std::chrono::steady_clock::now();
  if (spec_text != observed_spec_) {
    observed_spec_ = spec_text;
    observed_at_ = steady_now;
  }
  const bool held_by_me = old.holder == options_.identity;
  if (!old.holder.empty() && !held_by_me &&
      observed_at_ + std::chrono::seconds(old.duration_seconds) > steady_now) {
    return false;  // someone else holds an unexpired lease
  }
  if (held_by_me) {
    desired.acquire_time = old.acquire_time.empty() ? now_text : old.acquire_time;
    desired.transitions = old.transitions;
  } else {
    desired.transitions = old.transitions + 1;
  }
  auto put = client_.Request("PUT", path,
                             LeaseJson(options_, simdjson::to_string(metadata), desired, now_text),
                             "application/json", timeout);
  if (!put.ok() || put->status != 200) return false;  // 409: another candidate won the race
  simdjson::dom::element written;
  if (parser.parse(put->body).get(written) == simdjson::SUCCESS &&
      written["spec"].get(spec) == simdjson::SUCCESS) {
    observed_spec_ = simdjson::to_string(spec);
    observed_at_ = steady_now;
  }
  acquire_time_ = desired.acquire_time;
  return true;
}

void LeaderElector::Release() {
  const std::string path = ObjectPath(kLeases, options_.ns, options_.name);
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto got = client_.Request("GET", path, "", "", std::chrono::seconds(5));
    if (!got.ok() || got->status != 200) return;
    simdjson::dom::parser parser;
    simdjson::dom::element lease;
    simdjson::dom::element metadata;
    if (parser.parse(got->body).get(lease) != simdjson::SUCCESS ||
        lease["metadata"].get(metadata) != simdjson::SUCCESS) {
      return;
    }
    if (StringAt(lease, "/spec/holderIdentity") != options_.identity) return;
    LeaseRecord released;
    released.duration_seconds = 1;
    const std::string now_text = FormatMicroTime(std::chrono::system_clock::now());
    released.acquire_time = now_text;
    int64_t transitions = 0;
    if (lease.at_pointer("/spec/leaseTransitions").get(transitions) == simdjson::SUCCESS) {
      released.transitions = transitions;
    }
    auto put = client_.Request(
        "PUT", path, LeaseJson(options_, simdjson::to_string(metadata), released, now_text),
        "application/json", std::chrono::seconds(5));
    if (put.ok() && put->status == 200) {
      Log(LogLevel::kInfo, "released lease",
          {{"lease", fmt::format("{}/{}", options_.ns, options_.name)}});
      return;
    }
    if (!put.ok() || put->status != 409) return;
  }
}

void LeaderElector::Run() {
  std::uniform_real_distribution<double> jitter(1.0, 2.2);
  auto last_renew = std::chrono::steady_clock::now();
  while (!canceller_->cancelled()) {
    if (!IsLeader()) {
      if (TryAcquireOrRenew()) {
        last_renew = std::chrono::steady_clock::now();
        SetLeader(true);
        continue;
      }
      const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(options_.retry_period *
                                                                             jitter(rng_));
      canceller_->SleepFor(wait);
      continue;
    }
    if (!canceller_->SleepFor(options_.retry_period)) break;
    if (TryAcquireOrRenew()) {
      last_renew = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_renew > options_.renew_deadline) {
      SetLeader(false);
    }
  }
  if (IsLeader()) {
    Release();
    leader_.store(false);
  }
}

}  // namespace inferencegw::k8s
