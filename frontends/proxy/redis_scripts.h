// The Redis counter store's data layout: its two Lua scripts, its key names, and the conversion
// of the library's batches into script arguments and of script replies into verdicts. No I/O.
//
//   ScriptCall call = BuildAdmitCall("igw", batch);    // EVALSHA <admit sha> call.args...
//   absl::StatusOr<AdmissionVerdict> v = DecodeAdmitReply(call, *reply);
//
// Buckets are kept as in RateLimiter, scaled to Redis: balances are integers in units of 1/60000
// of a request or token and time is whole milliseconds of the server's clock (TIME), so a limit
// of N per minute refills exactly N units per millisecond. The largest balance (150 million
// tokens) is 9e12 units, exact in the scripts' double-precision numbers.
#ifndef INFERENCEGW_PROXY_REDIS_SCRIPTS_H_
#define INFERENCEGW_PROXY_REDIS_SCRIPTS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "inferencegw/counter_store.h"

struct redisReply;

namespace inferencegw::proxy::redis {

inline constexpr int64_t kUnitsPerToken = 60'000;

// The admission script. KEYS: the n buckets, then the m budget hashes. ARGV: n, m, then six
// integers per bucket (request rate, request burst, token rate, token burst, token need, token
// charge; rates in units per ms, the rest in units, a rate of 0 for a limit not configured),
// then two per budget (field, cap in nanos). Checks everything; writes every bucket only when
// every check passes. Reply: {now_ms, all_passed (1/0), per bucket: request balance, token
// balance, last refill ms (after the take when all passed, else as found), per budget: spent}.
std::string_view AdmitScript();

// The adjustment script. KEYS: the n buckets, then the m budget hashes. ARGV: n, m, then five
// integers per bucket (request rate, request burst, token rate, token burst, tokens to give
// back in units, negative to take), then three per budget (field, nanos to add, EXPIREAT unix
// seconds). Reply: n + m.
std::string_view AdjustScript();

// "{<prefix>}:rl:<name>": a hash {r, t, ts} (request and token balances, last refill ms).
std::string BucketKey(std::string_view prefix, std::string_view name);
// "{<prefix>}:budget:<scope>:<period_start_unix>": a hash field -> spent nanos.
std::string BudgetKey(std::string_view prefix, std::string_view scope, int64_t period_start_unix);

// One limit as the scripts apply it. A rate of 0: not configured.
struct ScriptLimit {
  int64_t rate = 0;   // units per ms = whole requests or tokens per minute
  int64_t burst = 0;  // units
};

// One sent bucket of an admission, for decoding.
struct SentLimit {
  size_t index = 0;  // into AdmissionBatch::limits
  ScriptLimit requests;
  ScriptLimit tokens;
  int64_t token_need = 0;    // units
  int64_t token_charge = 0;  // units
};

// The keys and arguments of one EVALSHA (after the SHA: numkeys, keys..., args...), and what
// decoding its reply needs. Thread-compatible value type.
struct ScriptCall {
  std::vector<std::string> args;
  size_t keys = 0;                   // of args; 0: nothing to send
  std::vector<SentLimit> limits;     // admission: the limits that have a limit configured
  size_t batch_limits = 0;           // admission: AdmissionBatch::limits.size()
  std::vector<BudgetState> budgets;  // admission: cap and period end of each budget
  bool empty() const { return keys == 0; }
};

// Limits without any limit configured are not sent (they always pass and touch nothing).
ScriptCall BuildAdmitCall(std::string_view prefix, const AdmissionBatch& batch);
// Token corrections that change nothing (no token limit, reserved == actual) and charges of
// nothing (nanos <= 0) are not sent.
ScriptCall BuildAdjustCall(std::string_view prefix, const AdjustBatch& batch);

// The verdict of an admission, from the script's reply; with nothing sent (call.empty()),
// `reply` may be null and every limit passes. Errors: Internal when the reply is malformed.
// A refused verdict names one refusal, as LocalCounterStore does: the first budget at or above
// its cap, else the first limit (in batch order) that refused. Each Admission says whether its
// own limit passed, with its quotas as found; nothing is reserved in a refused verdict.
absl::StatusOr<AdmissionVerdict> DecodeAdmitReply(const ScriptCall& call, const redisReply* reply);

// The budget readings of one HGETALL reply. Errors: Internal when malformed.
absl::Status DecodeBudgetHash(const redisReply& reply, std::string_view scope,
                              std::vector<BudgetReading>* out);

}  // namespace inferencegw::proxy::redis

#endif  // INFERENCEGW_PROXY_REDIS_SCRIPTS_H_
