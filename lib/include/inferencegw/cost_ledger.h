// Cost accounting. A request's cost is computed exactly, in integer pico-units of the backend's
// currency (1e-12), from the backend's prices and the request's token usage; the ledger sums cost
// and tokens by route, backend, experiment arm and user (users bounded: the top spenders are
// kept by name, everyone else is summed as "other").
//
//   Prices prices = Prices::FromConfig(*backend.spec.cost);
//   PicoUnits cost = ComputeCost(prices, usage);          // in/1000*in_price + ... + request
//   ledger.Record({"default/chatbot", "default/openai-gpt4", "", Arm::kNone, "alice", "USD"},
//                 usage, cost);
#ifndef INFERENCEGW_COST_LEDGER_H_
#define INFERENCEGW_COST_LEDGER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/config.h"
#include "inferencegw/experiment.h"
#include "inferencegw/usage_parser.h"

namespace inferencegw {

// 1e-12 of a currency unit. An int64 holds up to about 9.2 million units; a cost or a ledger
// total beyond that reads as INT64_MAX rather than wrapping. The ledger sums exactly in 128 bits,
// so one saturated total leaves every other total exact.
using PicoUnits = int64_t;
inline constexpr PicoUnits kPicosPerUnit = 1'000'000'000'000;

struct Prices {
  PriceNanos input = 0;         // per 1000 uncached prompt tokens
  PriceNanos output = 0;        // per 1000 completion tokens
  PriceNanos cached_input = 0;  // per 1000 prompt tokens read from a cache
  PriceNanos cache_write = 0;   // per 1000 prompt tokens written to a cache
  PriceNanos request = 0;       // per request
  std::string currency = "USD";

  static Prices FromConfig(const CostConfig& cost);
};

// (input - cached - cache_write) * input + cached * cached_input + cache_write * cache_write
// + output * output (all per 1000 tokens) + request. Exact. Usage that is not present costs
// only the request price.
PicoUnits ComputeCost(const Prices& prices, const Usage& usage);

// "0.000123" style decimal text of a cost in currency units, with `decimals` places (rounded
// half away from zero).
std::string FormatCost(PicoUnits cost, int decimals = 6);

struct LedgerKey {
  std::string_view route;       // "namespace/name"
  std::string_view backend;     // "namespace/name"
  std::string_view experiment;  // "" when the request was in no experiment
  Arm arm = Arm::kNone;
  std::string_view user;      // "" when the request had no user key
  std::string_view currency;  // the backend's currency
};

struct LedgerTotals {
  uint64_t requests = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cached_input_tokens = 0;
  int64_t cache_write_input_tokens = 0;
  PicoUnits cost = 0;
};

struct LedgerRow {
  std::string dimension;  // "route", "backend", "arm", "user"
  std::string name;       // route/backend key; "experiment/arm" for arms; user id or "other"
  std::string currency;
  LedgerTotals totals;
};

// Thread-safe. Memory is bounded by the number of routes, backends and arms in the config plus
// `max_users` user rows.
class CostLedger {
 public:
  struct Options {
    size_t max_users = 1000;  // users tracked by name (Space-Saving top spenders); others summed
  };
  CostLedger();
  explicit CostLedger(Options options);
  ~CostLedger();
  CostLedger(const CostLedger&) = delete;
  CostLedger& operator=(const CostLedger&) = delete;

  // Adds one request. Negative token counts and a negative cost are recorded as 0; the counts
  // are recorded only when usage.present.
  void Record(const LedgerKey& key, const Usage& usage, PicoUnits cost);

  // Every row, grouped by dimension ("route", "backend", "arm", "user") and sorted by cost,
  // highest first (ties by name). The user dimension ends with an "other" row when users were
  // folded into it; it is never negative. Per dimension the rows' totals add up to the grand
  // total (exactly, unless a total is beyond the int64 range and reads saturated).
  std::vector<LedgerRow> Rows() const;
  // The grand total per currency.
  std::vector<LedgerRow> Totals() const;
  // Rows() and Totals() as a JSON document (/admin/costs).
  std::string RenderJson() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_COST_LEDGER_H_
