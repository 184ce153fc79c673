#include "state.h"

#include <algorithm>
#include <ctime>
#include <string>
#include <utility>

#include "json_out.h"

namespace inferencegw::mock_llm {

ConfigStore::ConfigStore(Knobs initial) {
  absl::MutexLock lock(&mu_);
  current_ = Build(std::move(initial), 1);
  generation_.store(1, std::memory_order_release);
}

std::shared_ptr<const Snapshot> ConfigStore::Build(Knobs knobs, uint64_t generation) const {
  auto snap = std::make_shared<Snapshot>();
  snap->created = static_cast<int64_t>(std::time(nullptr));
  snap->generation = generation;
  snap->bodies = BuildBodySet(ParamsFrom(knobs, knobs.model, snap->created));
  snap->models = OpenAIModelsBody(knobs.model, snap->created);
  snap->knobs_json = KnobsToJson(knobs);
  snap->knobs = std::move(knobs);
  return snap;
}

std::shared_ptr<const Snapshot> ConfigStore::Get() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<const Snapshot>> ConfigStore::Update(std::string_view json,
                                                                    KnobChange* change) {
  absl::MutexLock lock(&mu_);
  Knobs next = current_->knobs;
  if (absl::Status st = ApplyConfigJson(json, next, change); !st.ok()) return st;
  const uint64_t generation = current_->generation + 1;
  current_ = Build(std::move(next), generation);
  generation_.store(generation, std::memory_order_release);
  return current_;
}

bool FailureSampler::Draw(uint64_t seed, double rate) {
  if (rate <= 0.0) return false;
  const uint64_t n = next_.fetch_add(1, std::memory_order_relaxed);
  // SplitMix64 (Steele, Lea, Flood 2014) of the n-th counter value.
  uint64_t z = seed + (n + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  const double u = static_cast<double>(z >> 11) * 0x1.0p-53;
  return u < rate;
}

void WorkerStats::CountPath(std::string_view path) {
  auto it = by_path_.find(path);
  if (it != by_path_.end()) {
    ++it->second;
  } else if (by_path_.size() < kMaxPaths) {
    by_path_.emplace(std::string(path), 1);
  } else {
    ++by_path_["(other)"];
  }
}

void WorkerStats::Reset() {
  absl::MutexLock lock(&mu_);
  requests_ = 0;
  by_path_.clear();
  last_ = LastRequest();
  last_ns_ = -1;
}

void WorkerStats::MergeInto(absl::flat_hash_map<std::string, int64_t>* by_path, int64_t* total,
                            LastRequest* last, int64_t* last_ns) const {
  absl::MutexLock lock(&mu_);
  *total += requests_;
  for (const auto& [path, count] : by_path_) (*by_path)[path] += count;
  if (last_ns_ > *last_ns) {
    *last = last_;
    *last_ns = last_ns_;
  }
}

SharedState::SharedState(Knobs initial, int workers) : config_(std::move(initial)) {
  for (int i = 0; i < workers; ++i) stats_.push_back(std::make_unique<WorkerStats>());
}

std::string SharedState::StatsJson() const {
  absl::flat_hash_map<std::string, int64_t> by_path;
  int64_t total = 0;
  LastRequest last;
  int64_t last_ns = -1;
  for (const auto& stats : stats_) stats->MergeInto(&by_path, &total, &last, &last_ns);

  std::vector<std::pair<std::string, int64_t>> paths(by_path.begin(), by_path.end());
  std::sort(paths.begin(), paths.end());
  std::string out;
  JsonOut j(out);
  j.Raw(R"({"requests":)").Int(total).Raw(R"(,"by_path":{)");
  for (size_t i = 0; i < paths.size(); ++i) {
    if (i > 0) j.Raw(",");
    j.Str(paths[i].first).Raw(":").Int(paths[i].second);
  }
  j.Raw(R"(},"last_request":)");
  if (last_ns < 0) {
    j.Raw("null");
  } else {
    j.Raw(R"({"method":)").Str(last.method).Raw(R"(,"path":)").Str(last.path);
    j.Raw(R"(,"headers":{)");
    // Repeated header names are joined with ", " (RFC 9110 field combination).
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [name, value] : last.headers) {
      auto it = std::find_if(headers.begin(), headers.end(),
                             [&](const auto& h) { return h.first == name; });
      if (it == headers.end()) {
        headers.emplace_back(name, value);
      } else {
        it->second += ", " + value;
      }
    }
    for (size_t i = 0; i < headers.size(); ++i) {
      if (i > 0) j.Raw(",");
      j.Str(headers[i].first).Raw(":").Str(headers[i].second);
    }
    j.Raw(R"(},"body":)").Str(last.body).Raw(R"(,"body_truncated":)").Bool(last.body_truncated);
    j.Raw("}");
  }
  j.Raw(R"(,"streams":{"active":)")
      .Int(streams_.active.load(std::memory_order_relaxed))
      .Raw(R"(,"completed":)")
      .Int(streams_.completed.load(std::memory_order_relaxed))
      .Raw(R"(,"aborted":)")
      .Int(streams_.aborted.load(std::memory_order_relaxed))
      .Raw(R"(,"dropped":)")
      .Int(streams_.dropped.load(std::memory_order_relaxed))
      .Raw(R"(,"chunks_sent":)")
      .Int(streams_.chunks_sent.load(std::memory_order_relaxed))
      .Raw(R"(},"in_flight":)")
      .Int(streams_.in_flight.load(std::memory_order_relaxed))
      .Raw("}");
  return out;
}

void SharedState::Reset() {
  for (auto& stats : stats_) stats->Reset();
  failures_.Reset();
  streams_.completed.store(0, std::memory_order_relaxed);
  streams_.aborted.store(0, std::memory_order_relaxed);
  streams_.dropped.store(0, std::memory_order_relaxed);
  streams_.chunks_sent.store(0, std::memory_order_relaxed);
}

}  // namespace inferencegw::mock_llm
