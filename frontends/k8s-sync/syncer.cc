#include "syncer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <tuple>

#include "atomic_file.h"
#include "backoff.h"
#include "fmt/format.h"
#include "health_poller.h"
#include "log.h"

namespace inferencegw::k8s {
namespace {

using Clock = std::chrono::steady_clock;

// Events often come in bursts (a relist, kubectl apply -f dir): wait this long after the
// first before rendering.
constexpr auto kDebounce = std::chrono::milliseconds(50);
// Health older than this many status intervals is forgotten (Unknown).
constexpr int kHealthStaleIntervals = 3;

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

std::string DefaultIdentity() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') return pod;
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "unknown");
  return fmt::format("{}_{:08x}", host, static_cast<uint32_t>(JitterSeed()));
}

std::vector<KubeObject> Gather(const std::vector<std::unique_ptr<Reflector>>& reflectors) {
  std::vector<KubeObject> out;
  for (const auto& r : reflectors) {
    std::vector<KubeObject> part = r->Snapshot();
    out.insert(out.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  std::sort(out.begin(), out.end(), [](const KubeObject& a, const KubeObject& b) {
    return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
  });
  return out;
}

}  // namespace

Syncer::Syncer(SyncOptions options, Credentials* credentials, Canceller* canceller)
    : options_(std::move(options)),
      credentials_(credentials),
      canceller_(canceller),
      client_(credentials, canceller, "inferencegw-k8s-sync/0.1.0"),
      status_writer_(&client_) {
  const std::vector<std::string> scopes =
      options_.namespaces.empty() ? std::vector<std::string>{""} : options_.namespaces;
  const auto make = [&](const ResourceType& type, std::vector<std::unique_ptr<Reflector>>* into) {
    for (const std::string& ns : scopes) {
      Reflector::Options o;
      o.type = &type;
      o.ns = ns;
      o.watch_timeout = std::chrono::seconds(options_.watch_timeout_seconds);
      o.on_change = [this] { Poke(); };
      into->push_back(std::make_unique<Reflector>(&client_, canceller_, std::move(o)));
    }
  };
  make(kInferenceBackends, &backends_);
  make(kInferenceRoutes, &routes_);
  make(kSecrets, &secrets_);
  make(kServices, &services_);
  make(kInferenceServices, &inference_services_);
}

Syncer::~Syncer() { StopThreads(); }

void Syncer::Poke() {
  std::lock_guard<std::mutex> lock(mu_);
  dirty_ = true;
  cv_.notify_all();
}

bool Syncer::AllSynced() const {
  bool synced = true;
  for (const auto* list : {&backends_, &routes_, &secrets_, &services_, &inference_services_}) {
    for (const auto& r : *list) synced = synced && r->synced();
  }
  return synced;
}

ClusterState Syncer::Snapshot() const {
  ClusterState state;
  state.backends = Gather(backends_);
  state.routes = Gather(routes_);
  state.secrets = Gather(secrets_);
  state.services = Gather(services_);
  state.inference_services = Gather(inference_services_);
  state.kserve_installed = true;
  for (const auto& r : inference_services_) {
    state.kserve_installed = state.kserve_installed && r->installed();
  }
  state.namespaces = options_.namespaces;
  return state;
}

void Syncer::StartThreads() {
  for (auto* list : {&backends_, &routes_, &secrets_, &services_, &inference_services_}) {
    for (auto& r : *list) threads_.emplace_back([reflector = r.get()] { reflector->Run(); });
  }
  if (elector_ != nullptr) threads_.emplace_back([this] { elector_->Run(); });
}

void Syncer::StopThreads() {
  canceller_->Cancel();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

bool Syncer::WaitForSync() {
  const auto deadline = Clock::now() + Millis(options_.sync_timeout_seconds);
  std::unique_lock<std::mutex> lock(mu_);
  while (!canceller_->cancelled() && !AllSynced()) {
    if (options_.once && Clock::now() >= deadline) return false;
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
  return !canceller_->cancelled();
}

bool Syncer::Pass(bool status_due) {
  bool ok = true;
  const ClusterState state = Snapshot();
  const RenderResult result = Render(state);

  std::vector<std::string> problems = result.warnings;
  for (const auto& e : result.unattributed_errors) problems.push_back("error: " + e);
  for (const auto* verdicts : {&result.backends, &result.routes}) {
    for (const auto& [key, v] : *verdicts) {
      if (!v.rendered) problems.push_back(fmt::format("{} left out: {}", key, v.error_reason));
    }
  }
  const std::string problems_text = fmt::format("{}", fmt::join(problems, "\n"));
  if (problems_text != last_problems_) {
    for (const std::string& p : problems) Log(LogLevel::kWarning, "config issue", {{"issue", p}});
    last_problems_ = problems_text;
  }

  if (!result.unattributed_errors.empty()) {
    Log(LogLevel::kError, "config not written: errors not attributable to one object",
        {{"errors", std::to_string(result.unattributed_errors.size())}});
    ok = false;
  } else {
    absl::StatusOr<bool> wrote = WriteFileIfChanged(options_.output, result.manifests);
    if (!wrote.ok()) {
      Log(LogLevel::kError, "writing the config failed",
          {{"error", std::string(wrote.status().message())}});
      ok = false;
    } else if (*wrote || !wrote_once_) {
      Log(LogLevel::kInfo, *wrote ? "config written" : "config unchanged",
          {{"path", options_.output},
           {"bytes", std::to_string(result.manifests.size())},
           {"backends", std::to_string(result.config.backends.size())},
           {"routes", std::to_string(result.config.routes.size())},
           {"secrets", std::to_string(result.config.secrets.size())}});
      wrote_once_ = true;
    }
  }

  if (!options_.write_status) return ok;
  if (status_due && !options_.proxy_admin.empty()) {
    HealthPoller poller(&client_, options_.proxy_admin);
    absl::StatusOr<HealthMap> health = poller.Poll();
    if (health.ok()) {
      health_ = *std::move(health);
      health_good_at_ = Clock::now();
    } else {
      Log(LogLevel::kWarning, "health poll failed",
          {{"error", std::string(health.status().message())}});
      if (Clock::now() - health_good_at_ >
          kHealthStaleIntervals * Millis(options_.status_interval_seconds)) {
        health_.clear();
      }
    }
  }
  const bool leading = elector_ == nullptr || elector_->IsLeader();
  if (!leading) return ok;
  const int64_t unix_now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const StatusWriter::Stats stats = status_writer_.Sync(result, state, health_, unix_now);
  if (stats.failed > 0) ok = false;
  return ok;
}

int Syncer::Run() {
  if (options_.leader_elect && options_.write_status && !options_.once) {
    LeaderElector::Options o;
    o.name = options_.lease_name;
    o.ns = options_.lease_namespace;
    if (o.ns.empty()) o.ns = credentials_->config().default_namespace;
    if (o.ns.empty()) o.ns = "default";
    o.identity = options_.identity.empty() ? DefaultIdentity() : options_.identity;
    o.lease_duration = Millis(options_.lease_duration_seconds);
    o.renew_deadline = Millis(options_.renew_deadline_seconds);
    o.retry_period = Millis(options_.retry_period_seconds);
    o.on_change = [this](bool) { Poke(); };
    Log(LogLevel::kInfo, "leader election",
        {{"lease", fmt::format("{}/{}", o.ns, o.name)}, {"identity", o.identity}});
    elector_ = std::make_unique<LeaderElector>(credentials_, canceller_, std::move(o));
  }
  StartThreads();
  if (!WaitForSync()) {
    if (!canceller_->cancelled()) {
      Log(LogLevel::kError, "timed out waiting for the first list of every watched type");
    }
    StopThreads();
    return canceller_->cancelled() && !options_.once ? 0 : 1;
  }
  Log(LogLevel::kInfo, "caches synced");
  const auto interval = Millis(options_.status_interval_seconds);
  auto next_status = Clock::now();
  int exit_code = 0;
  while (!canceller_->cancelled()) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, next_status, [&] { return dirty_ || canceller_->cancelled(); });
    }
    if (canceller_->cancelled()) break;
    if (!options_.once) canceller_->SleepFor(kDebounce);
    {
      std::lock_guard<std::mutex> lock(mu_);
      dirty_ = false;
    }
    const bool status_due = Clock::now() >= next_status;
    if (status_due) next_status = Clock::now() + interval;
    const bool ok = Pass(status_due);
    if (options_.once) {
      exit_code = ok ? 0 : 1;
      break;
    }
  }
  StopThreads();
  Log(LogLevel::kInfo, "stopped");
  return exit_code;
}

}  // namespace inferencegw::k8s
