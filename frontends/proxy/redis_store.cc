#include "redis_store.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <initializer_list>

#include "fmt/format.h"
#include "redis_scripts.h"

namespace inferencegw::proxy {
namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// How long adjustments alone wait for an admission to share a round trip with.
constexpr auto kAdjustLinger = std::chrono::milliseconds(2);
constexpr size_t kMaxBatch = 256;                 // jobs per pipeline
constexpr milliseconds kFirstBackoff{100};        // reconnect delays double from here ...
constexpr milliseconds kMaxBackoff{5000};         // ... up to here
constexpr std::chrono::seconds kPingInterval{1};  // an idle connection is checked this often
// While reading a batch's replies the socket timeout is brought down to what remains of the
// batch's deadline at least this often (one read may block for the whole timeout set).
constexpr microseconds kDeadlineRefresh{1000};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// Appends one command: `head`, then `tail`.
void AppendCommand(redisContext* c, std::initializer_list<std::string_view> head,
                   const std::vector<std::string>& tail = {}) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(head.size() + tail.size());
  lens.reserve(head.size() + tail.size());
  for (std::string_view a : head) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  for (const std::string& a : tail) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
}

std::string_view ErrorText(const redisReply& r) { return std::string_view(r.str, r.len); }

bool IsError(const redisReply* r) { return r != nullptr && r->type == REDIS_REPLY_ERROR; }

}  // namespace

struct RedisCounterStore::Job {
  enum class Op : uint8_t { kAdmit, kAdjust, kRead };
  Op op = Op::kAdmit;
  Clock::time_point deadline;
  redis::ScriptCall call;                               // kAdmit, kAdjust
  std::vector<std::pair<std::string, int64_t>> scopes;  // kRead
  std::function<void(AdmissionVerdict)> admit_done;
  std::function<void(bool, std::vector<BudgetReading>)> read_done;

  size_t commands() const { return op == Op::kRead ? scopes.size() : 1; }
};

RedisCounterStore::RedisCounterStore(Options options, MetricsRegistry& registry,
                                     std::function<void(std::string_view)> log)
    : options_(std::move(options)),
      endpoint_(fmt::format("{}:{}", options_.host, options_.port)),
      log_(std::move(log)) {
  up_gauge_ = registry
                  .AddGauge("inference_gateway_shared_store_up",
                            "1 while the shared counter store (Redis) is connected, else 0", {})
                  ->GetGauge({});
  MetricFamily* errors = registry.AddCounter(
      "inference_gateway_shared_store_errors_total",
      "Shared counter store failures: connect, timeout (a pipeline, or a call that expired "
      "in the queue), io, reply (an error answer)",
      {"kind"});
  errors_[static_cast<int>(ErrorKind::kConnect)] = errors->GetCounter({"connect"});
  errors_[static_cast<int>(ErrorKind::kTimeout)] = errors->GetCounter({"timeout"});
  errors_[static_cast<int>(ErrorKind::kIo)] = errors->GetCounter({"io"});
  errors_[static_cast<int>(ErrorKind::kReply)] = errors->GetCounter({"reply"});
  MetricFamily* calls = registry.AddCounter("inference_gateway_shared_store_calls_total",
                                            "Calls made to the shared counter store", {"op"});
  calls_admit_ = calls->GetCounter({"admit"});
  calls_adjust_ = calls->GetCounter({"adjust"});
  calls_read_ = calls->GetCounter({"read"});
  dropped_adjustments_ =
      registry
          .AddCounter("inference_gateway_shared_store_dropped_adjustments_total",
                      "Token corrections and spend charges lost because the store failed", {})
          ->GetCounter({});
  batch_jobs_ = registry
                    .AddHistogram("inference_gateway_shared_store_batch_jobs",
                                  "Calls sent to the shared counter store in one pipeline", {},
                                  {1, 2, 4, 8, 16, 32, 64, 128, 256})
                    ->GetHistogram({});
  up_gauge_->Set(0);
}

RedisCounterStore::~RedisCounterStore() { Stop(); }

void RedisCounterStore::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_.load() != State::kNew) return;
    state_.store(State::kConnecting, std::memory_order_release);
  }
  // The thread takes no asynchronous signals (they would cut its blocking reads short), and a
  // write to a closed connection gives EPIPE instead of killing the process.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) sigdelset(&all, sig);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  thread_ = std::thread([this] { Run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void RedisCounterStore::Stop() {
  std::deque<std::unique_ptr<Job>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (!thread_.joinable()) {
      state_.store(State::kStopped, std::memory_order_release);
      left.swap(queue_);
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& job : left) Fail(*job);
}

RedisCounterStore::Stats RedisCounterStore::stats() const {
  Stats s;
  s.round_trips = round_trips_.load(std::memory_order_relaxed);
  s.jobs = jobs_sent_.load(std::memory_order_relaxed);
  s.failed_jobs = failed_jobs_.load(std::memory_order_relaxed);
  s.connects = connects_.load(std::memory_order_relaxed);
  s.script_reloads = script_reloads_.load(std::memory_order_relaxed);
  return s;
}

void RedisCounterStore::Admit(const AdmissionBatch& batch,
                              std::function<void(AdmissionVerdict)> done) {
  auto job = std::make_unique<Job>();
  job->call = redis::BuildAdmitCall(options_.prefix, batch);
  if (job->call.empty()) {  // nothing limited: nothing to ask
    done(*redis::DecodeAdmitReply(job->call, nullptr));
    return;
  }
  calls_admit_->Inc();
  job->op = Job::Op::kAdmit;
  job->admit_done = std::move(done);
  Enqueue(std::move(job));
}

void RedisCounterStore::Adjust(const AdjustBatch& batch) {
  auto job = std::make_unique<Job>();
  job->call = redis::BuildAdjustCall(options_.prefix, batch);
  if (job->call.empty()) return;
  calls_adjust_->Inc();
  job->op = Job::Op::kAdjust;
  Enqueue(std::move(job));
}

void RedisCounterStore::ReadBudgets(std::vector<std::pair<std::string, int64_t>> scopes_and_periods,
                                    std::function<void(bool ok, std::vector<BudgetReading>)> done) {
  if (scopes_and_periods.empty()) {
    done(true, {});
    return;
  }
  calls_read_->Inc();
  auto job = std::make_unique<Job>();
  job->op = Job::Op::kRead;
  job->scopes = std::move(scopes_and_periods);
  job->read_done = std::move(done);
  Enqueue(std::move(job));
}

void RedisCounterStore::Enqueue(std::unique_ptr<Job> job) {
  job->deadline = Clock::now() + options_.timeout;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const State state = state_.load(std::memory_order_relaxed);
    if (!stopping_ && (state == State::kConnecting || state == State::kUp)) {
      wake = queue_.empty();
      queue_.push_back(std::move(job));
    }
  }
  if (job != nullptr) {
    Fail(*job);
  } else if (wake) {
    cv_.notify_one();
  }
}

void RedisCounterStore::Fail(Job& job) {
  failed_jobs_.fetch_add(1, std::memory_order_relaxed);
  switch (job.op) {
    case Job::Op::kAdmit: {
      AdmissionVerdict v;
      v.store_ok = false;
      v.allowed = false;
      job.admit_done(std::move(v));
      break;
    }
    case Job::Op::kAdjust:
      dropped_adjustments_->Inc();
      break;
    case Job::Op::kRead:
      job.read_done(false, {});
      break;
  }
}

// Answers `job` from its replies (one per command, none null). An error reply fails the job
// alone; the connection stays.
void RedisCounterStore::Answer(Job& job, const std::vector<redisReply*>& replies) {
  std::string_view error;
  for (const redisReply* r : replies) {
    if (IsError(r)) error = ErrorText(*r);
  }
  absl::StatusOr<AdmissionVerdict> verdict;
  std::vector<BudgetReading> readings;
  if (error.empty()) {
    if (job.op == Job::Op::kAdmit) {
      verdict = redis::DecodeAdmitReply(job.call, replies[0]);
      if (!verdict.ok()) error = "malformed answer to the admission script";
    } else if (job.op == Job::Op::kRead) {
      for (size_t i = 0; i < replies.size() && error.empty(); ++i) {
        absl::Status s = redis::DecodeBudgetHash(*replies[i], job.scopes[i].first, &readings);
        if (!s.ok()) error = "HGETALL: malformed reply";
      }
    }
  }
  if (!error.empty()) {
    errors_[static_cast<int>(ErrorKind::kReply)]->Inc();
    if (!reply_error_logged_.exchange(true) && log_) {
      log_(fmt::format("shared store redis {} error answer (logged once): {}", endpoint_, error));
    }
    Fail(job);
    return;
  }
  if (job.op == Job::Op::kAdmit) job.admit_done(*std::move(verdict));
  if (job.op == Job::Op::kRead) {
    std::sort(readings.begin(), readings.end(), [](const BudgetReading& a, const BudgetReading& b) {
      return a.scope != b.scope ? a.scope < b.scope : a.field < b.field;
    });
    job.read_done(true, std::move(readings));
  }
}

void RedisCounterStore::Run() {
  next_connect_ = Clock::now();
  while (true) {
    if (ctx_ == nullptr) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_until(lock, next_connect_, [this] { return stopping_; });
        if (stopping_) break;
      }
      std::string reason;
      if (!Connect(&reason)) {
        Disconnect(ErrorKind::kConnect, reason);
        continue;
      }
      backoff_ = kFirstBackoff;
      SetState(State::kUp, "");
    }
    std::vector<std::unique_ptr<Job>> jobs;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, kPingInterval, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      auto take = [&] {
        while (!queue_.empty() && jobs.size() < kMaxBatch) {
          jobs.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      };
      take();
      // Adjustments alone wait a little for the next admission and go out in its pipeline,
      // ahead of it (order kept): at low concurrency a request's adjustment would otherwise
      // hold the connection for a round trip while the next request's admission waits behind
      // it. Charges land at most kAdjustLinger later.
      if (std::all_of(jobs.begin(), jobs.end(),
                      [](const auto& job) { return job->op == Job::Op::kAdjust; })) {
        cv_.wait_for(lock, kAdjustLinger, [this] { return stopping_ || !queue_.empty(); });
        take();
      }
    }
    if (jobs.empty()) {
      Ping();
    } else {
      RunBatch(std::move(jobs));
    }
  }
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
  std::deque<std::unique_ptr<Job>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_.store(State::kStopped, std::memory_order_release);
    left.swap(queue_);
  }
  up_gauge_->Set(0);
  for (auto& job : left) Fail(*job);
}

bool RedisCounterStore::SetDeadline(Clock::time_point deadline) {
  const auto left = duration_cast<microseconds>(deadline - Clock::now()).count();
  if (left <= 0) return false;
  // A zero timeval would mean "no timeout".
  const timeval tv{static_cast<time_t>(left / 1'000'000),
                   static_cast<suseconds_t>(left % 1'000'000)};
  return redisSetTimeout(ctx_, tv) == REDIS_OK;
}

bool RedisCounterStore::Connect(std::string* reason) {
  const auto ms = options_.timeout.count();
  const timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
  ctx_ = redisConnectWithTimeout(options_.host.c_str(), options_.port, tv);
  if (ctx_ == nullptr || ctx_->err != 0) {
    *reason = fmt::format("connect: {}", ctx_ != nullptr ? ctx_->errstr : "out of memory");
    return false;
  }
  if (!SetDeadline(Clock::now() + options_.timeout)) {
    *reason = "cannot set the socket timeout";
    return false;
  }
  // AUTH, SELECT and both SCRIPT LOADs in one round trip.
  std::vector<std::string> names;
  if (!options_.password.empty()) {
    if (options_.user.empty()) {
      AppendCommand(ctx_, {"AUTH", options_.password});
    } else {
      AppendCommand(ctx_, {"AUTH", options_.user, options_.password});
    }
    names.push_back("AUTH");
  }
  if (options_.db != 0) {
    AppendCommand(ctx_, {"SELECT", std::to_string(options_.db)});
    names.push_back("SELECT");
  }
  AppendCommand(ctx_, {"SCRIPT", "LOAD", redis::AdmitScript()});
  AppendCommand(ctx_, {"SCRIPT", "LOAD", redis::AdjustScript()});
  names.push_back("SCRIPT LOAD");
  names.push_back("SCRIPT LOAD");
  std::string first_error;
  std::vector<ReplyPtr> replies;
  for (const std::string& name : names) {
    void* r = nullptr;
    if (redisGetReply(ctx_, &r) != REDIS_OK) {
      const bool timeout = ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
      *reason = timeout ? fmt::format("no answer to {} within {} ms", name, ms)
                        : fmt::format("{}: {}", name, ctx_->errstr);
      return false;
    }
    replies.emplace_back(static_cast<redisReply*>(r));
    if (IsError(replies.back().get()) && first_error.empty()) {
      first_error = fmt::format("{}: {}", name, ErrorText(*replies.back()));
    }
  }
  if (!first_error.empty()) {
    *reason = first_error;
    return false;
  }
  const redisReply* admit = replies[replies.size() - 2].get();
  const redisReply* adjust = replies.back().get();
  if (admit->type != REDIS_REPLY_STRING || adjust->type != REDIS_REPLY_STRING) {
    *reason = "SCRIPT LOAD: unexpected answer";
    return false;
  }
  admit_sha_.assign(admit->str, admit->len);
  adjust_sha_.assign(adjust->str, adjust->len);
  connects_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void RedisCounterStore::Disconnect(ErrorKind kind, std::string_view reason) {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
  errors_[static_cast<int>(kind)]->Inc();
  next_connect_ = Clock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  SetState(State::kDown, reason);
}

void RedisCounterStore::SetState(State state, std::string_view reason) {
  std::deque<std::unique_ptr<Job>> failed;
  State before;
  {
    std::lock_guard<std::mutex> lock(mu_);
    before = state_.load(std::memory_order_relaxed);
    state_.store(state, std::memory_order_release);
    if (state == State::kDown) failed.swap(queue_);
  }
  up_gauge_->Set(state == State::kUp ? 1 : 0);
  if (before != state && log_) {
    log_(state == State::kUp ? fmt::format("shared store redis {} up", endpoint_)
                             : fmt::format("shared store redis {} down: {}", endpoint_, reason));
  }
  for (auto& job : failed) Fail(*job);
}

void RedisCounterStore::Ping() {
  if (!SetDeadline(Clock::now() + options_.timeout)) return;
  void* r = redisCommand(ctx_, "PING");
  if (r == nullptr) {
    const bool timeout = ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
    Disconnect(timeout ? ErrorKind::kTimeout : ErrorKind::kIo,
               timeout ? fmt::format("no answer to PING within {} ms", options_.timeout.count())
                       : std::string(ctx_->errstr));
    return;
  }
  freeReplyObject(r);
}

void RedisCounterStore::RunBatch(std::vector<std::unique_ptr<Job>> jobs) {
  const Clock::time_point now = Clock::now();
  std::vector<std::unique_ptr<Job>> live;
  live.reserve(jobs.size());
  for (auto& job : jobs) {
    if (job->deadline <= now) {  // waited its whole timeout already: not worth sending
      errors_[static_cast<int>(ErrorKind::kTimeout)]->Inc();
      Fail(*job);
    } else {
      live.push_back(std::move(job));
    }
  }
  if (live.empty()) return;
  std::vector<std::unique_ptr<Job>> retry;
  if (!Pipeline(live, /*load_scripts=*/false, &retry)) {
    for (auto& job : retry) Fail(*job);
    return;
  }
  if (retry.empty()) return;
  // The server lost its scripts (restarted, or SCRIPT FLUSH): load them and retry once.
  script_reloads_.fetch_add(1, std::memory_order_relaxed);
  Pipeline(retry, /*load_scripts=*/true, nullptr);
}

bool RedisCounterStore::Pipeline(std::vector<std::unique_ptr<Job>>& jobs, bool load_scripts,
                                 std::vector<std::unique_ptr<Job>>* retry) {
  Clock::time_point deadline = Clock::time_point::max();
  for (const auto& job : jobs) deadline = std::min(deadline, job->deadline);
  if (!SetDeadline(deadline)) {
    for (auto& job : jobs) {
      errors_[static_cast<int>(ErrorKind::kTimeout)]->Inc();
      Fail(*job);
    }
    return true;
  }
  if (load_scripts) {
    AppendCommand(ctx_, {"SCRIPT", "LOAD", redis::AdmitScript()});
    AppendCommand(ctx_, {"SCRIPT", "LOAD", redis::AdjustScript()});
  }
  for (const auto& job : jobs) {
    switch (job->op) {
      case Job::Op::kAdmit:
        AppendCommand(ctx_, {"EVALSHA", admit_sha_}, job->call.args);
        break;
      case Job::Op::kAdjust:
        AppendCommand(ctx_, {"EVALSHA", adjust_sha_}, job->call.args);
        break;
      case Job::Op::kRead:
        for (const auto& [scope, start] : job->scopes) {
          AppendCommand(ctx_, {"HGETALL", redis::BudgetKey(options_.prefix, scope, start)});
        }
        break;
    }
  }
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  jobs_sent_.fetch_add(jobs.size(), std::memory_order_relaxed);
  batch_jobs_->Observe(static_cast<double>(jobs.size()));

  Clock::time_point deadline_set = Clock::now();
  ErrorKind kind = ErrorKind::kIo;
  std::string reason;
  auto read = [&](ReplyPtr* out) {
    const Clock::time_point now = Clock::now();
    if (now - deadline_set >= kDeadlineRefresh) {
      deadline_set = now;
      if (!SetDeadline(deadline)) {
        kind = ErrorKind::kTimeout;
        return false;
      }
    }
    void* r = nullptr;
    if (redisGetReply(ctx_, &r) == REDIS_OK) {
      out->reset(static_cast<redisReply*>(r));
      return true;
    }
    const bool timeout = (ctx_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) ||
                         Clock::now() >= deadline;
    kind = timeout ? ErrorKind::kTimeout : ErrorKind::kIo;
    if (!timeout) reason = ctx_->errstr;
    return false;
  };

  bool ok = true;
  ReplyPtr scratch;
  for (int i = 0; ok && load_scripts && i < 2; ++i) ok = read(&scratch);
  std::vector<ReplyPtr> replies;
  std::vector<redisReply*> raw;
  for (auto& job : jobs) {
    if (!ok) break;
    replies.clear();
    raw.clear();
    for (size_t k = 0; ok && k < job->commands(); ++k) {
      replies.emplace_back();
      ok = read(&replies.back());
      raw.push_back(replies.back().get());
    }
    if (!ok) break;
    if (retry != nullptr && job->op != Job::Op::kRead && IsError(raw[0]) &&
        ErrorText(*raw[0]).starts_with("NOSCRIPT")) {
      retry->push_back(std::move(job));
      continue;
    }
    Answer(*job, raw);
    job.reset();
  }
  if (ok) return true;
  if (kind == ErrorKind::kTimeout) {
    reason = fmt::format("no answer within {} ms", options_.timeout.count());
  }
  Disconnect(kind, reason);
  for (auto& job : jobs) {
    if (job != nullptr) Fail(*job);
  }
  return false;
}

}  // namespace inferencegw::proxy
