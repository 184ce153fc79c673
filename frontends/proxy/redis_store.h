// The proxy's shared CounterStore: rate-limit buckets and spend budgets in Redis, so that every
// proxy replica admits against the same numbers (issue 9). Layout and scripts: redis_scripts.h.
//
//   absl::StatusOr<RedisCounterStore::Options> o = RedisCounterStore::ParseRedisUrl(url);
//   auto store = std::make_shared<RedisCounterStore>(*o, gateway.registry(), log);
//   store->Start();  gateway.SetSharedStore(store, policy);  ...  store->Stop();
//
// One thread of its own talks to Redis over one connection (hiredis, synchronous); callers
// never wait for it. Each Admit, Adjust and ReadBudgets is a job in a queue; the thread sends
// everything queued (up to 256 jobs) as one pipeline, in order, and calls each job's callback on
// its own thread. An admission or an adjustment is one script call (EVALSHA), atomic on the
// server, timed by the server's clock. When the server has lost the scripts (NOSCRIPT: a restart,
// SCRIPT FLUSH) they are loaded again and those calls retried once, after the rest of their
// pipeline. An idle connection is checked with a PING every second.
//
// Failures: a job not answered within `timeout` of being queued is answered store_ok=false. An
// I/O error or a timeout closes the connection, answers what was outstanding with
// store_ok=false and marks the store down; while down, every call is answered at once (on the
// caller's thread) with store_ok=false, adjustments are dropped (counted), and the thread
// reconnects with exponential backoff (100 ms doubling to 5 s). An error answer (a script error,
// a key of the wrong type) fails that call alone. One log line per change of state, plus one for
// the first error answer, never with credentials. Metrics (in the registry passed in):
//   inference_gateway_shared_store_up                             gauge 1/0
//   inference_gateway_shared_store_errors_total{kind}             connect|timeout|io|reply
//   inference_gateway_shared_store_calls_total{op}                admit|adjust|read
//   inference_gateway_shared_store_dropped_adjustments_total      counter
//   inference_gateway_shared_store_batch_jobs                     histogram of jobs per pipeline
#ifndef INFERENCEGW_PROXY_REDIS_STORE_H_
#define INFERENCEGW_PROXY_REDIS_STORE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "inferencegw/counter_store.h"
#include "inferencegw/metrics.h"

struct redisContext;
struct redisReply;

namespace inferencegw::proxy {

// Thread-safe. Callbacks run on the store's thread (or on the caller's, before the call
// returns, when the store is down or stopped); they must not block.
class RedisCounterStore final : public CounterStore {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 6379;
    int db = 0;
    std::string user;      // empty: AUTH with the password alone (the default user)
    std::string password;  // empty: no AUTH. Never logged.
    std::chrono::milliseconds timeout{50};  // connect, and every call from queueing to answer
    std::string prefix = "igw";             // keys are "{<prefix>}:..."
  };

  // Counts since construction, for benchmarks and tests.
  struct Stats {
    uint64_t round_trips = 0;     // pipelines sent for jobs (a batch; a script reload retry)
    uint64_t jobs = 0;            // jobs sent
    uint64_t failed_jobs = 0;     // jobs answered store_ok=false (or dropped), for any reason
    uint64_t connects = 0;        // successful connects (each with its AUTH/SELECT/SCRIPT LOAD)
    uint64_t script_reloads = 0;  // NOSCRIPT answers that made the store load its scripts again
  };

  // redis://[[user]:password@]host[:port][/db]: port 6379 and db 0 by default; user and
  // password may be percent-encoded; host may be an [IPv6] literal. Errors: InvalidArgument
  // naming what is wrong (never echoing the password); rediss:// is refused (no TLS with
  // hiredis 0.14 in this build).
  static absl::StatusOr<Options> ParseRedisUrl(std::string_view url);
  // "redis://host:port/db", without credentials: for logs.
  static std::string DisplayUrl(const Options& options);

  // `log` receives one line per change of state ("shared store redis host:port up" / "... down:
  // <reason>"); it is called on the store's thread. REQUIRES: `registry` outlives the store.
  RedisCounterStore(Options options, MetricsRegistry& registry,
                    std::function<void(std::string_view)> log);
  ~RedisCounterStore() override;  // Stop()
  RedisCounterStore(const RedisCounterStore&) = delete;
  RedisCounterStore& operator=(const RedisCounterStore&) = delete;

  // Starts the thread, which connects at once. Calls made while the first connect is under way
  // wait in the queue (for at most `timeout`); calls made before Start are answered
  // store_ok=false. Call once.
  void Start();
  // Joins the thread; every queued job is answered store_ok=false (adjustments dropped), and so
  // is every later call. Idempotent.
  void Stop();

  void Admit(const AdmissionBatch& batch, std::function<void(AdmissionVerdict)> done) override;
  void Adjust(const AdjustBatch& batch) override;
  void ReadBudgets(std::vector<std::pair<std::string, int64_t>> scopes_and_periods,
                   std::function<void(bool ok, std::vector<BudgetReading>)> done) override;
  bool synchronous() const override { return false; }

  // True while connected (after the first connect, until an error).
  bool up() const { return state_.load(std::memory_order_acquire) == State::kUp; }
  Stats stats() const;

 private:
  enum class State : uint8_t { kNew, kConnecting, kUp, kDown, kStopped };
  enum class ErrorKind : uint8_t { kConnect, kTimeout, kIo, kReply };
  struct Job;
  using Clock = std::chrono::steady_clock;

  // Queues `job`, or answers it store_ok=false at once when the store is down or stopped.
  void Enqueue(std::unique_ptr<Job> job);
  void Fail(Job& job);
  void Answer(Job& job, const std::vector<::redisReply*>& replies);
  void Run();
  bool Connect(std::string* reason);
  void Disconnect(ErrorKind kind, std::string_view reason);
  void SetState(State state, std::string_view reason);
  // Sends `jobs` as one pipeline (after SCRIPT LOADs when `load_scripts`) and answers them;
  // NOSCRIPT answers go to `retry` when it is not null. False after an I/O error or a timeout
  // (every unanswered job failed, the connection closed).
  bool Pipeline(std::vector<std::unique_ptr<Job>>& jobs, bool load_scripts,
                std::vector<std::unique_ptr<Job>>* retry);
  void RunBatch(std::vector<std::unique_ptr<Job>> jobs);
  void Ping();
  // Sets the socket timeout to what remains until `deadline`; false when nothing remains.
  bool SetDeadline(Clock::time_point deadline);

  const Options options_;
  const std::string endpoint_;  // "host:port", for log lines
  std::function<void(std::string_view)> log_;

  Gauge* up_gauge_;
  Counter* errors_[4];
  Counter* calls_admit_;
  Counter* calls_adjust_;
  Counter* calls_read_;
  Counter* dropped_adjustments_;
  Histogram* batch_jobs_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::atomic<State> state_{State::kNew};   // written under mu_
  std::thread thread_;

  // The store thread's own.
  redisContext* ctx_ = nullptr;
  std::string admit_sha_;
  std::string adjust_sha_;
  std::chrono::milliseconds backoff_{100};
  Clock::time_point next_connect_{};

  std::atomic<uint64_t> round_trips_{0};
  std::atomic<uint64_t> jobs_sent_{0};
  std::atomic<uint64_t> failed_jobs_{0};
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> script_reloads_{0};
  std::atomic<bool> reply_error_logged_{false};
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_REDIS_STORE_H_
