#include "redis_scripts.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "fmt/format.h"

namespace inferencegw::proxy::redis {
namespace {

// Shared by both scripts: the server's time, the batch sizes, and the bucket arithmetic of
// RateLimiter (lib/src/rate_limiter.cc) in units of 1/60000 and whole milliseconds.
constexpr std::string_view kPrelude = R"lua(
local U = 60000
local MIN = -150000000 * U
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local m = tonumber(ARGV[2])

-- A balance brought forward by `el` ms; a missing one (new or expired bucket) is full.
local function refill(v, el, rate, burst)
  if rate == 0 then return 0 end
  if v == nil or v >= burst then return burst end
  if el * rate >= burst - v then return burst end
  return v + el * rate
end

-- Whole ms until `v`, refilling at `rate`, reaches `target`.
local function wait(v, target, rate)
  if rate == 0 or v >= target then return 0 end
  local d = target - v
  local q = math.floor(d / rate)
  while q * rate < d do q = q + 1 end
  return q
end

-- Reads a bucket and brings it to now (never backwards). Returns r, k, last.
local function load(key, rr, rb, tr, tb)
  local h = redis.call('HMGET', key, 'r', 't', 'ts')
  local last = tonumber(h[3]) or now
  local el = 0
  if now > last then
    el = now - last
    last = now
  end
  return refill(tonumber(h[1]), el, rr, rb), refill(tonumber(h[2]), el, tr, tb), last
end

-- Adds a balance to an HSET command, or deletes it when its limit is not configured.
local function put(set, name, on, v)
  if on then
    set[#set + 1] = name
    set[#set + 1] = string.format('%d', v)
  else
    redis.call('HDEL', set[2], name)
  end
end

-- Writes a bucket; it expires a second after it would be full again.
local function store(key, r, k, last, rr, rb, tr, tb)
  local set = {'HSET', key, 'ts', string.format('%d', last)}
  put(set, 'r', rr > 0, r)
  put(set, 't', tr > 0, k)
  redis.call(unpack(set))
  local full = math.max(wait(r, rb, rr), wait(k, tb, tr)) + (last - now) + 1000
  redis.call('PEXPIRE', key, string.format('%d', full))
end
)lua";

constexpr std::string_view kAdmitBody = R"lua(
-- a < b for decimal integers as strings, exactly (spend may exceed 2^53 nanos).
local function below(a, b)
  if a:sub(1, 1) == '-' or b:sub(1, 1) == '-' then return tonumber(a) < tonumber(b) end
  if #a ~= #b then return #a < #b end
  return a < b
end

local ok = true
local st = {}
for i = 1, n do
  local a = 2 + (i - 1) * 6
  local rr, rb = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local tr, tb = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local need, charge = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
  local r, k, last = load(KEYS[i], rr, rb, tr, tb)
  if (rr > 0 and r < U) or (tr > 0 and k < need) then ok = false end
  st[i] = {r, k, last, rr, rb, tr, tb, charge}
end
local b = 2 + n * 6
local spent = {}
for j = 1, m do
  local s = redis.call('HGET', KEYS[n + j], ARGV[b + 2 * j - 1]) or '0'
  if not below(s, ARGV[b + 2 * j]) then ok = false end
  spent[j] = s
end
local out = {now, 0}
if ok then
  out[2] = 1
  for i = 1, n do
    local s = st[i]
    if s[4] > 0 then s[1] = s[1] - U end
    if s[6] > 0 then s[2] = math.max(MIN, s[2] - s[8]) end
    store(KEYS[i], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
  end
end
for i = 1, n do
  out[#out + 1] = st[i][1]
  out[#out + 1] = st[i][2]
  out[#out + 1] = st[i][3]
end
for j = 1, m do out[#out + 1] = spent[j] end
return out
)lua";

constexpr std::string_view kAdjustBody = R"lua(
for i = 1, n do
  local a = 2 + (i - 1) * 5
  local rr, rb = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local tr, tb = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local refund = tonumber(ARGV[a + 5])
  -- A missing bucket is full, and a refund to a full bucket is capped away.
  if tr > 0 and (refund < 0 or redis.call('EXISTS', KEYS[i]) == 1) then
    local r, k, last = load(KEYS[i], rr, rb, tr, tb)
    k = math.min(tb, math.max(MIN, k + refund))
    store(KEYS[i], r, k, last, rr, rb, tr, tb)
  end
end
local b = 2 + n * 5
for j = 1, m do
  redis.call('HINCRBY', KEYS[n + j], ARGV[b + 3 * j - 2], ARGV[b + 3 * j - 1])
  redis.call('EXPIREAT', KEYS[n + j], ARGV[b + 3 * j])
end
return n + m
)lua";

constexpr int64_t kMaxPerMinute = 150'000'000;
constexpr int64_t kBudgetGraceSeconds = 24 * 60 * 60;

// RateLimiter's MakeLimit: a whole rate (rounded, at least 1) and a burst of at least one.
ScriptLimit MakeScriptLimit(double per_minute, double burst) {
  if (!(per_minute > 0)) return ScriptLimit{};
  const double rate = std::min(per_minute, static_cast<double>(kMaxPerMinute));
  const double size = std::clamp(burst, 1.0, static_cast<double>(kMaxPerMinute));
  return ScriptLimit{std::max<int64_t>(1, static_cast<int64_t>(rate + 0.5)),
                     static_cast<int64_t>(size * static_cast<double>(kUnitsPerToken) + 0.5)};
}

int64_t ToUnits(int64_t tokens) {
  return std::clamp<int64_t>(tokens, -kMaxPerMinute, kMaxPerMinute) * kUnitsPerToken;
}

// Ms until `balance` reaches `target` at `rate` units per ms (all within +-2e13: no overflow).
int64_t MsToReach(int64_t balance, int64_t target, int64_t rate) {
  if (balance >= target || rate <= 0) return 0;
  return (target - balance + rate - 1) / rate;
}

void AppendLimitArgs(const ScriptLimit& requests, const ScriptLimit& tokens,
                     std::vector<std::string>* args) {
  args->push_back(std::to_string(requests.rate));
  args->push_back(std::to_string(requests.burst));
  args->push_back(std::to_string(tokens.rate));
  args->push_back(std::to_string(tokens.burst));
}

// numkeys, keys..., n, m, then `tail`.
ScriptCall Assemble(std::vector<std::string> keys, size_t n, size_t m,
                    std::vector<std::string> tail) {
  ScriptCall call;
  call.keys = keys.size();
  call.args.reserve(3 + keys.size() + tail.size());
  call.args.push_back(std::to_string(keys.size()));
  for (std::string& key : keys) call.args.push_back(std::move(key));
  call.args.push_back(std::to_string(n));
  call.args.push_back(std::to_string(m));
  for (std::string& arg : tail) call.args.push_back(std::move(arg));
  return call;
}

bool ReplyInt(const redisReply* r, int64_t* out) {
  if (r->type == REDIS_REPLY_INTEGER) {
    *out = r->integer;
    return true;
  }
  if (r->type != REDIS_REPLY_STRING) return false;
  const char* end = r->str + r->len;
  auto [ptr, ec] = std::from_chars(r->str, end, *out);
  return ec == std::errc() && ptr == end && r->len > 0;
}

Quota MakeQuota(int64_t balance, const ScriptLimit& limit, int64_t ahead_ms) {
  Quota q;
  q.limit = limit.burst / kUnitsPerToken;
  q.remaining = balance > 0 ? balance / kUnitsPerToken : 0;
  q.reset =
      std::max<int64_t>(0, ahead_ms + MsToReach(balance, limit.burst, limit.rate)) * kNanosPerMilli;
  return q;
}

}  // namespace

std::string_view AdmitScript() {
  static const std::string* script = new std::string(fmt::format("{}{}", kPrelude, kAdmitBody));
  return *script;
}

std::string_view AdjustScript() {
  static const std::string* script = new std::string(fmt::format("{}{}", kPrelude, kAdjustBody));
  return *script;
}

std::string BucketKey(std::string_view prefix, std::string_view name) {
  return fmt::format("{{{}}}:rl:{}", prefix, name);
}

std::string BudgetKey(std::string_view prefix, std::string_view scope, int64_t period_start_unix) {
  return fmt::format("{{{}}}:budget:{}:{}", prefix, scope, period_start_unix);
}

ScriptCall BuildAdmitCall(std::string_view prefix, const AdmissionBatch& batch) {
  std::vector<std::string> keys;
  std::vector<std::string> tail;
  std::vector<SentLimit> sent;
  for (size_t i = 0; i < batch.limits.size(); ++i) {
    const LimitCheck& check = batch.limits[i];
    if (!check.policy.limited()) continue;
    SentLimit s;
    s.index = i;
    s.requests = MakeScriptLimit(check.policy.requests_per_minute, check.policy.request_burst);
    s.tokens = MakeScriptLimit(check.policy.tokens_per_minute, check.policy.token_burst);
    if (s.tokens.rate > 0) {
      const int64_t estimate = ToUnits(std::max<int64_t>(0, check.estimated_tokens));
      s.token_need = std::max<int64_t>(1, std::min(estimate, s.tokens.burst));
      s.token_charge = std::min(estimate, s.tokens.burst / kUnitsPerToken * kUnitsPerToken);
    }
    keys.push_back(BucketKey(prefix, check.name));
    AppendLimitArgs(s.requests, s.tokens, &tail);
    tail.push_back(std::to_string(s.token_need));
    tail.push_back(std::to_string(s.token_charge));
    sent.push_back(s);
  }
  std::vector<BudgetState> budgets;
  for (const BudgetCheck& check : batch.budgets) {
    keys.push_back(BudgetKey(prefix, check.scope, check.period_start_unix));
    tail.push_back(check.field);
    tail.push_back(std::to_string(check.cap_nanos));
    budgets.push_back(BudgetState{0, check.cap_nanos, check.period_end_unix});
  }
  ScriptCall call = Assemble(std::move(keys), sent.size(), budgets.size(), std::move(tail));
  call.limits = std::move(sent);
  call.batch_limits = batch.limits.size();
  call.budgets = std::move(budgets);
  return call;
}

ScriptCall BuildAdjustCall(std::string_view prefix, const AdjustBatch& batch) {
  std::vector<std::string> keys;
  std::vector<std::string> tail;
  size_t n = 0;
  for (const LimitAdjust& adjust : batch.limits) {
    const ScriptLimit tokens =
        MakeScriptLimit(adjust.policy.tokens_per_minute, adjust.policy.token_burst);
    const int64_t refund = ToUnits(adjust.reserved_tokens) - ToUnits(adjust.actual_tokens);
    if (tokens.rate == 0 || refund == 0) continue;
    keys.push_back(BucketKey(prefix, adjust.name));
    AppendLimitArgs(MakeScriptLimit(adjust.policy.requests_per_minute, adjust.policy.request_burst),
                    tokens, &tail);
    tail.push_back(std::to_string(refund));
    ++n;
  }
  size_t m = 0;
  for (const SpendCharge& charge : batch.charges) {
    if (charge.nanos <= 0) continue;
    keys.push_back(BudgetKey(prefix, charge.scope, charge.period_start_unix));
    tail.push_back(charge.field);
    tail.push_back(std::to_string(charge.nanos));
    tail.push_back(std::to_string(charge.period_end_unix + kBudgetGraceSeconds));
    ++m;
  }
  return Assemble(std::move(keys), n, m, std::move(tail));
}

absl::StatusOr<AdmissionVerdict> DecodeAdmitReply(const ScriptCall& call, const redisReply* reply) {
  AdmissionVerdict v;
  v.limits.resize(call.batch_limits);
  v.budgets = call.budgets;
  if (call.empty()) return v;
  const size_t want = 2 + 3 * call.limits.size() + call.budgets.size();
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements != want) {
    return absl::InternalError(
        fmt::format("admission script: expected an array of {} elements", want));
  }
  int64_t now = 0;
  int64_t passed = 0;
  bool well_formed = ReplyInt(reply->element[0], &now) && ReplyInt(reply->element[1], &passed);
  for (size_t i = 0; i < call.limits.size() && well_formed; ++i) {
    const SentLimit& s = call.limits[i];
    int64_t requests = 0;
    int64_t tokens = 0;
    int64_t last = 0;
    well_formed = ReplyInt(reply->element[2 + 3 * i], &requests) &&
                  ReplyInt(reply->element[3 + 3 * i], &tokens) &&
                  ReplyInt(reply->element[4 + 3 * i], &last);
    Admission& a = v.limits[s.index];
    const int64_t ahead = last - now;  // > 0 only when the server's clock went back
    if (passed != 0) {
      a.reserved_tokens = s.token_charge / kUnitsPerToken;
    } else {
      const bool requests_ok = s.requests.rate == 0 || requests >= kUnitsPerToken;
      const bool tokens_ok = s.tokens.rate == 0 || tokens >= s.token_need;
      a.allowed = requests_ok && tokens_ok;
      a.limited_by_tokens = !tokens_ok;
      int64_t wait = 0;
      if (!requests_ok) wait = MsToReach(requests, kUnitsPerToken, s.requests.rate);
      if (!tokens_ok) wait = std::max(wait, MsToReach(tokens, s.token_need, s.tokens.rate));
      if (!a.allowed) a.retry_after = std::max<int64_t>(0, ahead + wait) * kNanosPerMilli;
      if (!a.allowed && v.refused_limit < 0) v.refused_limit = static_cast<int>(s.index);
    }
    if (s.requests.rate > 0) a.requests = MakeQuota(requests, s.requests, ahead);
    if (s.tokens.rate > 0) a.tokens = MakeQuota(tokens, s.tokens, ahead);
  }
  for (size_t j = 0; j < v.budgets.size() && well_formed; ++j) {
    BudgetState& b = v.budgets[j];
    well_formed = ReplyInt(reply->element[2 + 3 * call.limits.size() + j], &b.spent_nanos);
    if (passed == 0 && v.refused_budget < 0 && b.spent_nanos >= b.cap_nanos) {
      v.refused_budget = static_cast<int>(j);
    }
  }
  if (!well_formed) return absl::InternalError("admission script: a malformed number");
  v.allowed = passed != 0;
  if (v.refused_budget >= 0) v.refused_limit = -1;  // an exhausted budget comes first
  if (!v.allowed && v.refused_limit < 0 && v.refused_budget < 0) {
    return absl::InternalError("admission script: refused without a refusing check");
  }
  return v;
}

absl::Status DecodeBudgetHash(const redisReply& reply, std::string_view scope,
                              std::vector<BudgetReading>* out) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements % 2 != 0) {
    return absl::InternalError("HGETALL: expected an array of field and value pairs");
  }
  for (size_t i = 0; i + 1 < reply.elements; i += 2) {
    const redisReply* field = reply.element[i];
    BudgetReading reading;
    if (field->type != REDIS_REPLY_STRING ||
        !ReplyInt(reply.element[i + 1], &reading.spent_nanos)) {
      return absl::InternalError("HGETALL: a malformed field or value");
    }
    reading.scope = std::string(scope);
    reading.field.assign(field->str, field->len);
    out->push_back(std::move(reading));
  }
  return absl::OkStatus();
}

}  // namespace inferencegw::proxy::redis
