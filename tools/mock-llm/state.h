// State shared by the mock's worker threads: the published knob snapshot, the seeded failure
// draw, stream counters and per-worker request statistics.
//
//   SharedState shared(knobs, /*workers=*/2);
//   std::shared_ptr<const Snapshot> snap = shared.config().Get();
//   bool fail = shared.failures().Draw(snap->knobs.seed, snap->knobs.failure_rate);
#ifndef INFERENCEGW_TOOLS_MOCK_LLM_STATE_H_
#define INFERENCEGW_TOOLS_MOCK_LLM_STATE_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "bodies.h"
#include "knobs.h"

namespace inferencegw::mock_llm {

// Heterogeneous std::string_view lookup for std::string-keyed absl maps.
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
struct StringViewEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

// One published configuration: the knobs plus everything precomputed from them for the served
// model. Immutable; shared by all workers.
struct Snapshot {
  Knobs knobs;
  uint64_t generation = 0;
  int64_t created = 0;  // unix seconds when built; the "created" field of bodies
  BodySet bodies;       // for knobs.model
  std::string models;   // GET /v1/models body
  std::string knobs_json;
};

// Holds the current Snapshot. Thread-safe. Readers poll generation() (one atomic load) and
// fetch a new snapshot only when it changed.
class ConfigStore {
 public:
  explicit ConfigStore(Knobs initial);

  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::shared_ptr<const Snapshot> Get() const;

  // Applies a /mock/config JSON object on top of the current knobs and publishes the result.
  // Returns the new snapshot, or InvalidArgument (nothing published) when the JSON is not an
  // object of valid knob values. `change` may be null.
  absl::StatusOr<std::shared_ptr<const Snapshot>> Update(std::string_view json, KnobChange* change);

 private:
  std::shared_ptr<const Snapshot> Build(Knobs knobs, uint64_t generation) const;

  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> current_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> generation_{0};
};

// Decides which inference requests fail under failure_rate. The n-th draw (n counted from
// start or the last Reset) fails iff SplitMix64(seed + n * golden) / 2^64 < rate, so a run with
// the same seed and the same request order fails the same requests, whichever thread serves
// them. Thread-safe.
class FailureSampler {
 public:
  bool Draw(uint64_t seed, double rate);
  void Reset() { next_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> next_{0};
};

// Stream lifecycle counters. Thread-safe (relaxed atomics; values are for tests and humans).
struct StreamCounters {
  std::atomic<int64_t> active{0};
  std::atomic<int64_t> completed{0};
  std::atomic<int64_t> aborted{0};  // the client went away mid-stream
  std::atomic<int64_t> dropped{0};  // closed on purpose by drop_after_chunks
  // Deferred answers not finished yet: delayed replies plus open streams. Falls as soon as the
  // client closes its connection (the mock watches for the peer's close), not at the next write.
  std::atomic<int64_t> in_flight{0};
  std::atomic<int64_t> chunks_sent{0};  // content chunks written, by every stream
};

// The last request one worker saw. Header names are lowercase.
struct LastRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool body_truncated = false;
};

// Request statistics of one worker. Thread-safe: the owning worker writes, /mock/stats on any
// worker reads; the mutex is uncontended except while stats are read.
class WorkerStats {
 public:
  static constexpr size_t kMaxBody = 1 << 20;  // bytes of the last body kept
  static constexpr size_t kMaxPaths = 1024;    // distinct by_path keys before "(other)"

  // Counts one request and remembers it as this worker's last. `headers` are (name, value)
  // pairs with names in any case; `now_ns` orders last requests across workers.
  template <typename HeaderRange>
  void Record(std::string_view method, std::string_view path, const HeaderRange& headers,
              std::string_view body, int64_t now_ns);

  void Reset();

  // Adds this worker's counts to `by_path`/`total` and replaces `last`/`last_ns` when this
  // worker's last request is newer.
  void MergeInto(absl::flat_hash_map<std::string, int64_t>* by_path, int64_t* total,
                 LastRequest* last, int64_t* last_ns) const;

 private:
  void CountPath(std::string_view path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  int64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int64_t, StringViewHash, StringViewEq> by_path_
      ABSL_GUARDED_BY(mu_);
  LastRequest last_ ABSL_GUARDED_BY(mu_);
  int64_t last_ns_ ABSL_GUARDED_BY(mu_) = -1;
};

// Everything the workers share. Thread-safe.
class SharedState {
 public:
  SharedState(Knobs initial, int workers);

  ConfigStore& config() { return config_; }
  FailureSampler& failures() { return failures_; }
  StreamCounters& streams() { return streams_; }
  WorkerStats& worker_stats(int i) { return *stats_[i]; }

  // GET /mock/stats body.
  std::string StatsJson() const;
  // POST /mock/reset: clears request statistics, finished-stream counters and the failure
  // sequence.
  void Reset();

 private:
  ConfigStore config_;
  FailureSampler failures_;
  StreamCounters streams_;
  std::vector<std::unique_ptr<WorkerStats>> stats_;
};

template <typename HeaderRange>
void WorkerStats::Record(std::string_view method, std::string_view path, const HeaderRange& headers,
                         std::string_view body, int64_t now_ns) {
  absl::MutexLock lock(&mu_);
  ++requests_;
  CountPath(path);
  last_.method.assign(method.data(), method.size());
  last_.path.assign(path.data(), path.size());
  size_t n = 0;
  for (const auto& [name, value] : headers) {
    if (n == last_.headers.size()) last_.headers.emplace_back();
    auto& [lname, lvalue] = last_.headers[n++];
    lname.assign(name);
    for (char& c : lname) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    lvalue.assign(value);
  }
  last_.headers.resize(n);
  last_.body_truncated = body.size() > kMaxBody;
  last_.body.assign(body.data(), std::min(body.size(), kMaxBody));
  last_ns_ = now_ns;
}

}  // namespace inferencegw::mock_llm

#endif  // INFERENCEGW_TOOLS_MOCK_LLM_STATE_H_
