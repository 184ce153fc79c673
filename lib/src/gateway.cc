#include "inferencegw/gateway.h"

#include <algorithm>
#include <utility>

#include "fmt/format.h"
#include "inferencegw/stable_hash.h"
#include "json_writer.h"

namespace inferencegw {

namespace {

// Draws for one exchange's entropy stream start here, clear of the draws the RouteTable makes
// from the same entropy (weighted pick, keyless experiment arm).
constexpr uint64_t kFirstExchangeDraw = 16;

std::string_view HttpStatusLabel(int status, std::string* storage) {
  *storage = fmt::format("{}", status);
  return *storage;
}

}  // namespace

std::string_view BeginStatusName(BeginStatus s) {
  switch (s) {
    case BeginStatus::kOk:
      return "ok";
    case BeginStatus::kUnknownRoute:
      return "unknown_route";
    case BeginStatus::kNoRoute:
      return "no_route";
    case BeginStatus::kNoBackend:
      return "no_backend";
    case BeginStatus::kRateLimited:
      return "rate_limited";
    case BeginStatus::kForbidden:
      return "key_not_allowed";
    case BeginStatus::kBudgetExceeded:
      return "budget_exceeded";
    case BeginStatus::kPending:
      return "pending";
    case BeginStatus::kStoreUnavailable:
      return "store_unavailable";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Gateway

Gateway::Gateway(GatewayOptions options)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : &RealClock::Get()),
      local_store_(options.limiter),
      ledger_(options.ledger),
      ledger_sink_(options.ledger_sink != nullptr ? options.ledger_sink : &ledger_),
      experiments_sink_(options.experiments_sink != nullptr ? options.experiments_sink
                                                            : &experiments_),
      metrics_(registry_) {
  registry_.AddCollector([this] { RefreshGauges(clock_->Now()); });
}

Gateway::~Gateway() = default;

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(const ConfigSet& config,
                                                         GatewayOptions options) {
  std::unique_ptr<Gateway> gateway(new Gateway(options));
  absl::StatusOr<std::shared_ptr<const RouteTable>> table =
      RouteTable::Create(config, gateway->health_);
  if (!table.ok()) return table.status();
  gateway->table_ = *std::move(table);
  gateway->authenticator_ = ClientAuthenticator::Create(config);
  gateway->generation_.store(1, std::memory_order_release);
  return gateway;
}

absl::Status Gateway::Reload(const ConfigSet& config) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  absl::StatusOr<std::shared_ptr<const RouteTable>> table = RouteTable::Create(config, health_);
  if (!table.ok()) {
    metrics_.config_reloads_total->GetCounter({"failure"})->Inc();
    return table.status();
  }
  std::vector<std::string> keys;
  for (const CompiledBackend& backend : (*table)->backends()) keys.push_back(backend.key);
  std::shared_ptr<const RouteTable> new_table = *std::move(table);
  std::shared_ptr<const ClientAuthenticator> new_authenticator =
      ClientAuthenticator::Create(config);
  {
    std::lock_guard<std::mutex> snapshot(snapshot_mu_);
    table_.swap(new_table);
    authenticator_.swap(new_authenticator);
  }  // the old snapshots are released outside the lock (or later, by their last request)
  health_.RetainOnly(keys);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  metrics_.config_reloads_total->GetCounter({"success"})->Inc();
  return absl::OkStatus();
}

void Gateway::SetSharedStore(std::shared_ptr<CounterStore> store, StoreFailurePolicy policy) {
  shared_store_ = std::move(store);
  store_failure_policy_ = policy;
}

std::shared_ptr<const RouteTable> Gateway::table() const {
  std::lock_guard<std::mutex> snapshot(snapshot_mu_);
  return table_;
}

std::shared_ptr<const ClientAuthenticator> Gateway::authenticator() const {
  std::lock_guard<std::mutex> snapshot(snapshot_mu_);
  return authenticator_;
}

void Gateway::RefreshGauges(TimeNs now) {
  std::shared_ptr<const RouteTable> table = this->table();
  metrics_.backend_health->Clear();
  metrics_.circuit_breaker_state->Clear();
  metrics_.active_requests->Clear();
  for (const CompiledBackend& backend : table->backends()) {
    const BackendHealthSnapshot s = backend.health->Snapshot(now);
    const double health = s.health == HealthState::kHealthy     ? 1.0
                          : s.health == HealthState::kUnhealthy ? 0.0
                                                                : -1.0;
    metrics_.backend_health->GetGauge({backend.key})->Set(health);
    metrics_.circuit_breaker_state->GetGauge({backend.key})
        ->Set(static_cast<double>(static_cast<int>(s.breaker)));
    metrics_.active_requests->GetGauge({backend.key})->Set(s.in_flight);
  }
}

std::string Gateway::RenderBackendsJson(TimeNs now) const {
  std::shared_ptr<const RouteTable> table = this->table();
  std::string out;
  internal::JsonWriter w(&out);
  w.BeginArray();
  for (const CompiledBackend& backend : table->backends()) {
    const BackendHealthSnapshot s = backend.health->Snapshot(now);
    w.BeginObject()
        .Key("key")
        .String(backend.key)
        .Key("type")
        .String(BackendTypeName(backend.type))
        .Key("provider")
        .String(ProviderName(backend.provider))
        .Key("format")
        .String(WireFormatName(backend.format))
        .Key("url")
        .String(backend.api_base_url)
        .Key("model")
        .String(backend.model)
        .Key("has_api_key")
        .Bool(!backend.api_key.empty())
        .Key("priority")
        .Int(backend.priority)
        .Key("health")
        .String(HealthStateName(s.health))
        .Key("breaker")
        .String(BreakerStateName(s.breaker))
        .Key("available")
        .Bool(s.available)
        .Key("in_flight")
        .Int(s.in_flight)
        .Key("consecutive_failures")
        .Int(s.consecutive_failures)
        .Key("window_requests")
        .UInt(s.window_requests)
        .Key("window_failures")
        .UInt(s.window_failures)
        .Key("total_requests")
        .UInt(s.total_requests)
        .Key("total_failures")
        .UInt(s.total_failures)
        .Key("latency_ewma_ms")
        .Double(s.latency_ewma_ms)
        .Key("probed")
        .Bool(backend.health_check.has_value());
    if (s.breaker == BreakerState::kOpen) {
      w.Key("open_for_seconds").Double(ToSeconds(std::max<DurationNs>(0, s.open_until - now)));
    }
    if (s.last_probe >= 0) w.Key("last_probe_seconds_ago").Double(ToSeconds(now - s.last_probe));
    w.EndObject();
  }
  w.EndArray();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Exchange

Exchange::Exchange(Gateway& gateway, uint64_t entropy, TimeNs now)
    : gateway_(gateway), table_(gateway.table()), entropy_(entropy), started_(now) {}

Exchange::~Exchange() {
  if (begun_ && !finished_) {
    FinishInfo info;
    info.client_status = 499;
    info.client_cancelled = true;
    Finish(info, gateway_.clock().Now());
  }
}

BeginStatus Exchange::RouteAndAuthorize(const RequestView& request) {
  begun_ = true;
  switch (table_->Decide(request, entropy_, started_, &decision_)) {
    case DecisionStatus::kOk:
      break;
    case DecisionStatus::kUnknownRoute:
      return begin_status_ = BeginStatus::kUnknownRoute;
    case DecisionStatus::kNoRoute:
      return begin_status_ = BeginStatus::kNoRoute;
    case DecisionStatus::kNoBackend:
      return begin_status_ = BeginStatus::kNoBackend;
  }
  client_key_ = request.client_key;
  if (client_key_ != nullptr && !KeyAllows(request)) {
    if (gateway_.metrics_enabled()) {
      gateway_.metrics().key_refusals_total->GetCounter({decision_.route->key, refusal_})->Inc();
    }
    return begin_status_ = BeginStatus::kForbidden;
  }
  return BeginStatus::kOk;
}

BeginStatus Exchange::Begin(const RequestView& request, int64_t estimated_tokens) {
  if (const BeginStatus routed = RouteAndAuthorize(request); routed != BeginStatus::kOk) {
    return routed;
  }
  const CompiledRoute& route = *decision_.route;
  const bool key_limited = client_key_ != nullptr &&
                           (client_key_->requests_per_minute > 0 ||
                            client_key_->tokens_per_minute > 0 || client_key_->budget.has_value());
  const bool budgeted = route.config->spec.budget.has_value();
  if (key_limited || budgeted || (route.rate_limited && gateway_.shared_store() != nullptr)) {
    // The batch path: every limit and budget in one all-or-nothing call to a store.
    BuildBatch(estimated_tokens);
    if (gateway_.shared_store() != nullptr) return begin_status_ = BeginStatus::kPending;
    return ApplyVerdict(gateway_.local_store().AdmitNow(batch_));
  }
  if (route.rate_limited) {
    const RateLimitKey key{route.route_hash, route.rate_limit.per_user ? decision_.user_hash : 0};
    admission_ = gateway_.limiter().Admit(route.rate_limit, key, estimated_tokens, started_);
    if (!admission_.allowed) {
      if (gateway_.metrics_enabled()) {
        gateway_.metrics()
            .rate_limit_hits_total
            ->GetCounter({route.key, admission_.limited_by_tokens ? "tokens" : "requests"})
            ->Inc();
      }
      return begin_status_ = BeginStatus::kRateLimited;
    }
    // What the token bucket took (the estimate, at most the burst), so that Finish returns
    // exactly that; never the raw estimate, which a client can make arbitrarily large.
    if (route.rate_limit.tokens_per_minute > 0) reserved_tokens_ = admission_.reserved_tokens;
  }
  return Admitted();
}

BeginStatus Exchange::BeginUnmetered(const RequestView& request) {
  unmetered_ = true;
  if (const BeginStatus routed = RouteAndAuthorize(request); routed != BeginStatus::kOk) {
    return routed;
  }
  deadline_ = started_ + decision_.route->retry.deadline;
  return begin_status_ = BeginStatus::kOk;
}

BeginStatus Exchange::Admitted() {
  const CompiledRoute& route = *decision_.route;
  if (decision_.experiment != nullptr && gateway_.metrics_enabled()) {
    gateway_.metrics()
        .experiment_assignments_total
        ->GetCounter({decision_.experiment->name, ArmName(decision_.arm)})
        ->Inc();
  }
  deadline_ = started_ + route.retry.deadline;
  return begin_status_ = BeginStatus::kOk;
}

bool Exchange::WouldRetry(FailureKind kind) const {
  if (decision_.route == nullptr) return false;
  return decision_.route->retry.ShouldRetry(kind);
}

std::optional<Exchange::Attempt> Exchange::NextAttempt(TimeNs now) {
  if (!begun_ || begin_status_ != BeginStatus::kOk || committed_ || finished_ || exhausted_ ||
      has_current_) {
    return std::nullopt;
  }
  const RetryPolicy& policy = decision_.route->retry;
  const auto& plan = decision_.plan.backends;
  if (now >= deadline_) {
    deadline_passed_ = true;
    exhausted_ = true;
    return std::nullopt;
  }

  int retry = 0;
  DurationNs delay = 0;
  size_t pos = plan_pos_;
  if (!attempts_.empty()) {
    const AttemptRecord& last = attempts_.back();
    if (!policy.ShouldRetry(last.failure)) {
      exhausted_ = true;
      return std::nullopt;
    }
    bool same_backend = false;
    if (last.failure != FailureKind::kBreakerOpen && last.failure != FailureKind::kOverloaded &&
        current_.retry < policy.retries_per_backend) {
      const uint64_t random = SplitMix64(entropy_ + (kFirstExchangeDraw + draws_++) * kGoldenGamma);
      const DurationNs wait = policy.BackoffDelay(current_.retry, random, last_retry_after_);
      if (wait <= policy.backoff_max && now + wait < deadline_) {
        same_backend = true;
        retry = current_.retry + 1;
        delay = wait;
      }
    }
    if (!same_backend) ++pos;
  }

  while (pos < plan.size()) {
    const BackendIndex index = plan[pos];
    const CompiledBackend& target = table_->backend(index);
    if (target.health->TryAcquire(now)) {
      if (pos != plan_pos_ && !attempts_.empty() && gateway_.metrics_enabled()) {
        gateway_.metrics()
            .fallbacks_total
            ->GetCounter({decision_.route->key, table_->backend(plan[plan_pos_]).key, target.key})
            ->Inc();
      }
      plan_pos_ = pos;
      current_.backend = index;
      current_.target = &target;
      current_.number = static_cast<int>(attempts_.size());
      current_.retry = retry;
      current_.delay = delay;
      const TimeNs send_at = now + delay;
      current_.timeout = std::min({policy.attempt_timeout, target.timeout, deadline_ - send_at});
      current_started_ = send_at;
      has_current_ = true;
      ++sent_attempts_;
      return current_;
    }
    // Refused without sending: breaker open (or half-open probes taken), or at maxConcurrency.
    const BackendHealthSnapshot s = target.health->Snapshot(now);
    const FailureKind skipped =
        (s.breaker != BreakerState::kOpen && s.in_flight >= target.config->spec.max_concurrency)
            ? FailureKind::kOverloaded
            : FailureKind::kBreakerOpen;
    attempts_.push_back({index, skipped, 0, 0});
    RecordAttemptMetric(index, skipped);
    last_failure_ = skipped;
    retry = 0;
    delay = 0;
    ++pos;
  }
  plan_pos_ = plan.size();
  exhausted_ = true;
  return std::nullopt;
}

void Exchange::ReleaseCurrent(const AttemptOutcome& outcome, TimeNs now) {
  if (!has_current_) return;
  current_.target->health->Release(outcome, now);
  has_current_ = false;
}

void Exchange::RecordAttemptMetric(BackendIndex backend, FailureKind failure) {
  if (!gateway_.metrics_enabled()) return;
  gateway_.metrics()
      .upstream_attempts_total
      ->GetCounter({table_->backend(backend).key, failure == FailureKind::kNone
                                                      ? std::string_view("success")
                                                      : FailureKindName(failure)})
      ->Inc();
}

void Exchange::AttemptFailed(FailureKind kind, int http_status, DurationNs retry_after,
                             TimeNs now) {
  if (!has_current_) return;
  const DurationNs duration = now - current_started_;
  attempts_.push_back({current_.backend, kind, http_status, duration});
  RecordAttemptMetric(current_.backend, kind);
  ReleaseCurrent({kind, duration}, now);
  last_failure_ = kind;
  last_retry_after_ = retry_after;
  if (kind == FailureKind::kStatus429 && retry_after > 0 &&
      (min_429_retry_after_ == 0 || retry_after < min_429_retry_after_)) {
    min_429_retry_after_ = retry_after;
  }
  if (now >= deadline_) deadline_passed_ = true;
}

void Exchange::AttemptCommitted(int http_status, TimeNs now) {
  if (!has_current_ || committed_) return;
  committed_ = true;
  committed_at_ = now;
  attempts_.push_back({current_.backend, FailureKind::kNone, http_status, now - current_started_});
  RecordAttemptMetric(current_.backend, FailureKind::kNone);
  if (gateway_.metrics_enabled()) {
    gateway_.metrics()
        .time_to_first_byte_seconds->GetHistogram({decision_.route->key, current_.target->key})
        ->Observe(ToSeconds(now - started_));
  }
}

int Exchange::ExhaustedHttpStatus() const {
  if (deadline_passed_ || last_failure_ == FailureKind::kTimeout) return 504;
  if (sent_attempts_ == 0) return 503;
  bool all_429 = true;
  for (const AttemptRecord& a : attempts_) {
    if (a.failure != FailureKind::kStatus429) all_429 = false;
  }
  return all_429 ? 429 : 502;
}

DurationNs Exchange::ExhaustedRetryAfter() const {
  if (!exhausted_ || committed_ || ExhaustedHttpStatus() != 429) return 0;
  return min_429_retry_after_;
}

const ExchangeResult& Exchange::Finish(const FinishInfo& info, TimeNs now) {
  if (finished_) return result_;
  finished_ = true;
  result_.usage = info.usage;
  if (!begun_) return result_;

  // The backend slot: success or stream failure when committed; a client that went away while
  // an attempt was under way is not the backend's fault.
  if (has_current_) {
    FailureKind outcome = FailureKind::kNone;
    if (info.stream_failure != FailureKind::kNone) {
      outcome = info.stream_failure;
    } else if (!committed_ || info.client_cancelled) {
      outcome = committed_ ? FailureKind::kNone : FailureKind::kCancelled;
    }
    const TimeNs answered = committed_ ? committed_at_ : now;
    ReleaseCurrent({outcome, answered - current_started_}, now);
  }

  // Usage with a count beyond kMaxUsageTokens is not believed: it is accounted as unknown
  // (reservation kept, request price only), so one bad report cannot saturate the ledger.
  Usage usage = unmetered_ ? Usage{} : info.usage;
  if (usage.present && !UsageInRange(usage)) {
    usage = Usage{};
    usage.out_of_range = true;
  }
  result_.usage = usage;

  const CompiledRoute* route = decision_.route;
  if (route != nullptr && begin_status_ == BeginStatus::kOk && !batch_path_ && !unmetered_ &&
      route->rate_limited && route->rate_limit.tokens_per_minute > 0) {
    const RateLimitKey key{route->route_hash, route->rate_limit.per_user ? decision_.user_hash : 0};
    const int64_t actual = usage.present ? usage.total() : reserved_tokens_;
    gateway_.limiter().Reconcile(route->rate_limit, key, reserved_tokens_, actual, now);
  }

  const CompiledBackend* served = committed_ ? current_.target : nullptr;
  if (served != nullptr && !unmetered_ && route->cost_tracking && served->has_cost &&
      (info.client_status < 400 || usage.present)) {
    result_.cost_known = true;
    result_.cost = ComputeCost(served->prices, usage);
    result_.currency = served->prices.currency;
  }
  AdjustCounters(usage, now);  // token reconciliation and spend, on the batch path
  if (served != nullptr && !unmetered_) {
    gateway_.ledger().Record(
        {route->key, served->key,
         decision_.experiment ? std::string_view(decision_.experiment->name) : std::string_view(),
         decision_.arm, decision_.user_key,
         result_.cost_known ? result_.currency : std::string_view()},
        usage, result_.cost_known ? result_.cost : 0);
  }
  const bool error = info.client_status >= 500 || info.stream_failure != FailureKind::kNone;
  if (decision_.experiment != nullptr && begin_status_ == BeginStatus::kOk && !unmetered_) {
    gateway_.experiments().Record(route->key, decision_.experiment->name, decision_.arm,
                                  now - started_, error, usage,
                                  result_.cost_known ? result_.cost : 0);
  }

  if (gateway_.metrics_enabled()) {
    const GatewayMetrics& m = gateway_.metrics();
    const std::string_view route_label = route != nullptr ? std::string_view(route->key) : "";
    std::string_view backend_label;
    if (served != nullptr) {
      backend_label = served->key;
    } else if (!attempts_.empty()) {
      backend_label = table_->backend(attempts_.back().backend).key;
    }
    std::string status_storage;
    const std::string_view status = HttpStatusLabel(info.client_status, &status_storage);
    m.requests_total->GetCounter({route_label, backend_label, status})->Inc();
    m.request_duration_seconds->GetHistogram({route_label, backend_label})
        ->Observe(ToSeconds(now - started_));
    if (info.client_status >= 400 || info.stream_failure != FailureKind::kNone) {
      std::string_view error_type = "upstream_error";
      if (begin_status_ == BeginStatus::kRateLimited) {
        error_type = "rate_limited";
      } else if (begin_status_ != BeginStatus::kOk) {
        error_type = BeginStatusName(begin_status_);
      } else if (info.stream_failure != FailureKind::kNone) {
        error_type = "stream_broken";
      } else if (info.client_cancelled) {
        error_type = "client_cancelled";
      } else if (served == nullptr && !attempts_.empty()) {
        error_type = FailureKindName(attempts_.back().failure);
      } else if (info.client_status < 500) {
        error_type = "client_error";
      }
      m.request_errors_total->GetCounter({route_label, backend_label, error_type})->Inc();
    }
    if (served != nullptr && usage.present) {
      const Usage& u = usage;  // counts in [0, kMaxUsageTokens]: no overflow below
      const int64_t uncached = u.input_tokens - u.cached_input_tokens - u.cache_write_input_tokens;
      m.tokens_total->GetCounter({route_label, backend_label, "input"})
          ->Inc(std::max<int64_t>(0, uncached));
      m.tokens_total->GetCounter({route_label, backend_label, "output"})->Inc(u.output_tokens);
      if (u.cached_input_tokens > 0) {
        m.tokens_total->GetCounter({route_label, backend_label, "cached_input"})
            ->Inc(u.cached_input_tokens);
      }
      if (u.cache_write_input_tokens > 0) {
        m.tokens_total->GetCounter({route_label, backend_label, "cache_write_input"})
            ->Inc(u.cache_write_input_tokens);
      }
    }
    if (result_.cost_known) {
      m.cost_total->GetCounter({route_label, backend_label, result_.currency})
          ->Inc(static_cast<double>(result_.cost) / static_cast<double>(kPicosPerUnit));
    }
  }
  return result_;
}

}  // namespace inferencegw
