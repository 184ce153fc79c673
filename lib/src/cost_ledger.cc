#include "inferencegw/cost_ledger.h"

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "accounting_internal.h"
#include "inferencegw/string_hash.h"
#include "fmt/format.h"
#include "json_writer.h"

namespace inferencegw {

using internal::SaturatingAdd;
using internal::SaturatingMul;

// ---------------------------------------------------------------------------------------------
// Prices and cost

Prices Prices::FromConfig(const CostConfig& cost) {
  Prices p;
  p.input = cost.input_token_cost;
  p.output = cost.output_token_cost;
  p.cached_input = cost.cached_input_token_cost.value_or(cost.input_token_cost);
  p.cache_write = cost.cache_write_input_token_cost.value_or(cost.input_token_cost);
  p.request = cost.request_cost;
  p.currency = cost.currency;
  return p;
}

// A price in nanos per 1000 tokens is exactly picos per token (1e-9 / 1e3 = 1e-12), so
// tokens * price is the cost in picos with no division; a request price in nanos is * 1000.
PicoUnits ComputeCost(const Prices& prices, const Usage& usage) {
  PicoUnits total = SaturatingMul(prices.request, 1000);
  if (!usage.present) return total;
  const int64_t input = std::max<int64_t>(0, usage.input_tokens);
  const int64_t cached = std::max<int64_t>(0, usage.cached_input_tokens);
  const int64_t cache_write = std::max<int64_t>(0, usage.cache_write_input_tokens);
  const int64_t output = std::max<int64_t>(0, usage.output_tokens);
  // Cached and cache-write tokens are parts of input_tokens; inconsistent counts (parts larger
  // than the whole) leave no uncached tokens rather than a negative number.
  int64_t uncached = input - std::min(input, cached);
  uncached -= std::min(uncached, cache_write);
  total = SaturatingAdd(total, SaturatingMul(uncached, prices.input));
  total = SaturatingAdd(total, SaturatingMul(cached, prices.cached_input));
  total = SaturatingAdd(total, SaturatingMul(cache_write, prices.cache_write));
  total = SaturatingAdd(total, SaturatingMul(output, prices.output));
  return total;
}

std::string FormatCost(PicoUnits cost, int decimals) {
  static constexpr uint64_t kPow10[] = {1,
                                        10,
                                        100,
                                        1'000,
                                        10'000,
                                        100'000,
                                        1'000'000,
                                        10'000'000,
                                        100'000'000,
                                        1'000'000'000,
                                        10'000'000'000,
                                        100'000'000'000,
                                        1'000'000'000'000};
  decimals = std::clamp(decimals, 0, 30);
  const int kept = std::min(decimals, 12);  // decimals beyond 12 are always 0
  // The magnitude in unsigned arithmetic, so that INT64_MIN has one too.
  const uint64_t magnitude =
      cost < 0 ? uint64_t{0} - static_cast<uint64_t>(cost) : static_cast<uint64_t>(cost);
  const uint64_t scale = kPow10[12 - kept];
  uint64_t units = magnitude / scale;  // in 10^-kept
  const uint64_t rest = magnitude % scale;
  if (scale > 1 && rest >= scale - rest) ++units;  // half away from zero
  const uint64_t whole = units / kPow10[kept];
  const uint64_t fraction = units % kPow10[kept];
  std::string out;
  if (cost < 0 && units != 0) out.push_back('-');
  fmt::format_to(std::back_inserter(out), "{}", whole);
  if (decimals > 0) {
    out.push_back('.');
    if (kept > 0) fmt::format_to(std::back_inserter(out), "{:0{}}", fraction, kept);
    out.append(static_cast<size_t>(decimals - kept), '0');
  }
  return out;
}

std::string internal::CostJsonNumber(PicoUnits cost) {
  std::string s = FormatCost(cost, 12);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

// ---------------------------------------------------------------------------------------------
// CostLedger
//
// One mutex guards everything: Record is a handful of hash lookups (~100 ns), which a
// per-request path takes once; see BM_LedgerRecord. Every row keeps its totals per currency (a
// short inline vector: almost always one entry).
//
// Users are bounded with weighted Space-Saving (Metwally et al.): at most max_users counters,
// each weighted by cost. A user without a counter takes over the counter of least weight, whose
// weight it inherits as its error, so a user who spends more than total/max_users is always kept.
// Besides the Space-Saving weight every counter holds the totals recorded since its user entered
// (evicted users' totals are dropped with the counter). The "other" row is the grand total minus
// the tracked users' own totals: everything not attributed to a tracked user, including requests
// with no user key. Rows therefore add up exactly to the grand total.
//
// Sums are kept in 128 bits, where they cannot overflow (each addend is an int64), and only
// clamped to the int64 range of LedgerTotals when read. So a total beyond the int64 range reads
// as saturated while every other total keeps its exact value, and "other", computed before the
// clamp, is exact: never negative, since it sums only non-negative recorded values.

namespace {

using internal::StringMap;

__extension__ typedef __int128 Int128;

// LedgerTotals in 128 bits: exact for any number of int64 addends up to 2^64.
struct WideTotals {
  Int128 requests = 0;
  Int128 input_tokens = 0;
  Int128 output_tokens = 0;
  Int128 cached_input_tokens = 0;
  Int128 cache_write_input_tokens = 0;
  Int128 cost = 0;
};

struct CurrencyTotals {
  std::string currency;
  WideTotals totals;
};
using ByCurrency = absl::InlinedVector<CurrencyTotals, 1>;

void AddTo(WideTotals* t, const LedgerTotals& d) {
  t->requests += d.requests;
  t->input_tokens += d.input_tokens;
  t->output_tokens += d.output_tokens;
  t->cached_input_tokens += d.cached_input_tokens;
  t->cache_write_input_tokens += d.cache_write_input_tokens;
  t->cost += d.cost;
}

void SubtractFrom(WideTotals* t, const WideTotals& d) {
  t->requests -= d.requests;
  t->input_tokens -= d.input_tokens;
  t->output_tokens -= d.output_tokens;
  t->cached_input_tokens -= d.cached_input_tokens;
  t->cache_write_input_tokens -= d.cache_write_input_tokens;
  t->cost -= d.cost;
}

int64_t ClampToInt64(Int128 v) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  return v > kMax ? kMax : (v < kMin ? kMin : static_cast<int64_t>(v));
}

// The totals as read: each sum clamped to its type's range.
LedgerTotals Narrow(const WideTotals& t) {
  LedgerTotals out;
  out.requests = t.requests < 0 ? 0
                 : t.requests > static_cast<Int128>(std::numeric_limits<uint64_t>::max())
                     ? std::numeric_limits<uint64_t>::max()
                     : static_cast<uint64_t>(t.requests);
  out.input_tokens = ClampToInt64(t.input_tokens);
  out.output_tokens = ClampToInt64(t.output_tokens);
  out.cached_input_tokens = ClampToInt64(t.cached_input_tokens);
  out.cache_write_input_tokens = ClampToInt64(t.cache_write_input_tokens);
  out.cost = ClampToInt64(t.cost);
  return out;
}

WideTotals& ForCurrency(ByCurrency* rows, std::string_view currency) {
  for (CurrencyTotals& row : *rows) {
    if (row.currency == currency) return row.totals;
  }
  return rows->emplace_back(CurrencyTotals{std::string(currency), WideTotals{}}).totals;
}

struct UserCounter {
  std::string name;
  PicoUnits weight = 0;  // Space-Saving count: cost since entering + inherited error
  PicoUnits error = 0;   // the weight inherited from the evicted counter
  ByCurrency totals;     // recorded since this user entered
  size_t heap_index = 0;
};

// A binary min-heap of counters by weight, each counter knowing its position. Weights are kept
// in the heap's own array, so sifting compares without touching the counters (with thousands of
// users, each counter is a cache miss) and writes each moved counter's position once.
class UserHeap {
 public:
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  UserCounter* top() const { return heap_.front().counter; }

  void Push(UserCounter* c) {
    heap_.push_back({c->weight, c});
    SiftUp(heap_.size() - 1);
  }
  // Restores the heap after c's weight grew.
  void Increased(UserCounter* c) {
    heap_[c->heap_index].weight = c->weight;
    SiftDown(c->heap_index);
  }

 private:
  struct Entry {
    PicoUnits weight;
    UserCounter* counter;
  };
  void Place(size_t i, const Entry& e) {
    heap_[i] = e;
    e.counter->heap_index = i;
  }
  void SiftUp(size_t i) {
    const Entry moving = heap_[i];
    while (i > 0) {
      const size_t parent = (i - 1) / 2;
      if (heap_[parent].weight <= moving.weight) break;
      Place(i, heap_[parent]);
      i = parent;
    }
    Place(i, moving);
  }
  void SiftDown(size_t i) {
    const Entry moving = heap_[i];
    const size_t n = heap_.size();
    while (true) {
      const size_t l = 2 * i + 1;
      if (l >= n) break;
      const size_t r = l + 1;
      const size_t least = r < n && heap_[r].weight < heap_[l].weight ? r : l;
      if (heap_[least].weight >= moving.weight) break;
      Place(i, heap_[least]);
      i = least;
    }
    Place(i, moving);
  }

  std::vector<Entry> heap_;
};

constexpr std::string_view kNoExperiment = "none";
constexpr std::string_view kOtherUsers = "other";

}  // namespace

struct CostLedger::Impl {
  explicit Impl(Options o) : options(o) {}

  const Options options;
  mutable std::mutex mu;
  ByCurrency grand;
  StringMap<ByCurrency> routes;
  StringMap<ByCurrency> backends;
  StringMap<std::array<ByCurrency, 3>> arms;  // by experiment name, then by Arm
  StringMap<std::unique_ptr<UserCounter>> users;
  UserHeap heap;

  void RecordUser(std::string_view user, std::string_view currency, const LedgerTotals& delta);
  // REQUIRES: mu held.
  std::vector<LedgerRow> RowsLocked() const;
  std::vector<LedgerRow> TotalsLocked() const;
};

void CostLedger::Impl::RecordUser(std::string_view user, std::string_view currency,
                                  const LedgerTotals& delta) {
  if (user.empty() || options.max_users == 0) return;  // counted in "other"
  const PicoUnits weight = std::max<PicoUnits>(0, delta.cost);
  UserCounter* counter;
  if (auto it = users.find(user); it != users.end()) {
    counter = it->second.get();
    counter->weight = SaturatingAdd(counter->weight, weight);
  } else if (users.size() < options.max_users) {
    auto owned = std::make_unique<UserCounter>();
    counter = owned.get();
    counter->name = std::string(user);
    counter->weight = weight;
    users.emplace(counter->name, std::move(owned));
    heap.Push(counter);
  } else {
    // Take over the least counter: it keeps its heap slot, gains this weight.
    counter = heap.top();
    auto node = users.extract(counter->name);
    std::unique_ptr<UserCounter> owned = std::move(node.mapped());
    counter->error = counter->weight;
    counter->weight = SaturatingAdd(counter->weight, weight);
    counter->name = std::string(user);
    counter->totals.clear();
    users.emplace(counter->name, std::move(owned));
  }
  AddTo(&ForCurrency(&counter->totals, currency), delta);
  heap.Increased(counter);
}

CostLedger::CostLedger() : CostLedger(Options{}) {}
CostLedger::CostLedger(Options options) : impl_(std::make_unique<Impl>(options)) {}
CostLedger::~CostLedger() = default;

void CostLedger::Record(const LedgerKey& key, const Usage& usage, PicoUnits cost) {
  LedgerTotals delta;
  delta.requests = 1;
  if (usage.present) {
    delta.input_tokens = std::max<int64_t>(0, usage.input_tokens);
    delta.output_tokens = std::max<int64_t>(0, usage.output_tokens);
    delta.cached_input_tokens = std::max<int64_t>(0, usage.cached_input_tokens);
    delta.cache_write_input_tokens = std::max<int64_t>(0, usage.cache_write_input_tokens);
  }
  delta.cost = std::max<PicoUnits>(0, cost);
  const size_t arm = static_cast<size_t>(key.experiment.empty() ? Arm::kNone : key.arm) % 3;

  std::lock_guard<std::mutex> lock(impl_->mu);
  AddTo(&ForCurrency(&impl_->grand, key.currency), delta);
  auto route = impl_->routes.find(key.route);
  if (route == impl_->routes.end()) {
    route = impl_->routes.emplace(std::string(key.route), ByCurrency()).first;
  }
  AddTo(&ForCurrency(&route->second, key.currency), delta);
  auto backend = impl_->backends.find(key.backend);
  if (backend == impl_->backends.end()) {
    backend = impl_->backends.emplace(std::string(key.backend), ByCurrency()).first;
  }
  AddTo(&ForCurrency(&backend->second, key.currency), delta);
  auto experiment = impl_->arms.find(key.experiment);
  if (experiment == impl_->arms.end()) {
    experiment =
        impl_->arms.emplace(std::string(key.experiment), std::array<ByCurrency, 3>()).first;
  }
  AddTo(&ForCurrency(&experiment->second[arm], key.currency), delta);
  impl_->RecordUser(key.user, key.currency, delta);
}

namespace {

void AppendRows(std::string_view dimension, std::string_view name, const ByCurrency& totals,
                std::vector<LedgerRow>* rows) {
  for (const CurrencyTotals& t : totals) {
    rows->push_back(
        LedgerRow{std::string(dimension), std::string(name), t.currency, Narrow(t.totals)});
  }
}

// Sorts rows [begin, end) by cost, highest first, then name and currency.
void SortByCost(std::vector<LedgerRow>::iterator begin, std::vector<LedgerRow>::iterator end) {
  std::sort(begin, end, [](const LedgerRow& a, const LedgerRow& b) {
    return std::tie(b.totals.cost, a.name, a.currency) <
           std::tie(a.totals.cost, b.name, b.currency);
  });
}

bool IsZero(const WideTotals& t) {
  return t.requests == 0 && t.input_tokens == 0 && t.output_tokens == 0 &&
         t.cached_input_tokens == 0 && t.cache_write_input_tokens == 0 && t.cost == 0;
}

}  // namespace

std::vector<LedgerRow> CostLedger::Impl::RowsLocked() const {
  std::vector<LedgerRow> rows;
  size_t start = rows.size();
  for (const auto& [name, totals] : routes) AppendRows("route", name, totals, &rows);
  SortByCost(rows.begin() + start, rows.end());
  start = rows.size();
  for (const auto& [name, totals] : backends) AppendRows("backend", name, totals, &rows);
  SortByCost(rows.begin() + start, rows.end());
  start = rows.size();
  for (const auto& [experiment, arms] : arms) {
    for (size_t arm = 0; arm < arms.size(); ++arm) {
      const std::string name =
          experiment.empty() ? std::string(kNoExperiment)
                             : fmt::format("{}/{}", experiment, ArmName(static_cast<Arm>(arm)));
      AppendRows("arm", name, arms[arm], &rows);
    }
  }
  SortByCost(rows.begin() + start, rows.end());
  start = rows.size();
  ByCurrency other = grand;
  for (const auto& [name, counter] : users) {
    AppendRows("user", name, counter->totals, &rows);
    for (const CurrencyTotals& t : counter->totals) {
      SubtractFrom(&ForCurrency(&other, t.currency), t.totals);
    }
  }
  SortByCost(rows.begin() + start, rows.end());
  start = rows.size();
  for (const CurrencyTotals& t : other) {
    if (IsZero(t.totals)) continue;
    rows.push_back(LedgerRow{"user", std::string(kOtherUsers), t.currency, Narrow(t.totals)});
  }
  SortByCost(rows.begin() + start, rows.end());
  return rows;
}

std::vector<LedgerRow> CostLedger::Impl::TotalsLocked() const {
  std::vector<LedgerRow> rows;
  AppendRows("total", "total", grand, &rows);
  std::sort(rows.begin(), rows.end(),
            [](const LedgerRow& a, const LedgerRow& b) { return a.currency < b.currency; });
  return rows;
}

std::vector<LedgerRow> CostLedger::Rows() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->RowsLocked();
}

std::vector<LedgerRow> CostLedger::Totals() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->TotalsLocked();
}

namespace {

void WriteRow(internal::JsonWriter& w, const LedgerRow& row, bool with_name) {
  w.BeginObject();
  if (with_name) w.Key("name").String(row.name);
  w.Key("currency").String(row.currency);
  w.Key("cost").String(FormatCost(row.totals.cost, 9));
  w.Key("cost_value").Raw(internal::CostJsonNumber(row.totals.cost));
  w.Key("requests").UInt(row.totals.requests);
  w.Key("input_tokens").Int(row.totals.input_tokens);
  w.Key("output_tokens").Int(row.totals.output_tokens);
  w.Key("cached_input_tokens").Int(row.totals.cached_input_tokens);
  w.Key("cache_write_input_tokens").Int(row.totals.cache_write_input_tokens);
  w.EndObject();
}

}  // namespace

std::string CostLedger::RenderJson() const {
  std::vector<LedgerRow> totals;
  std::vector<LedgerRow> rows;
  {
    // One snapshot, so that the sections agree with the totals.
    std::lock_guard<std::mutex> lock(impl_->mu);
    totals = impl_->TotalsLocked();
    rows = impl_->RowsLocked();
  }
  std::string out;
  internal::JsonWriter w(&out);
  w.BeginObject().Key("totals").BeginArray();
  for (const LedgerRow& row : totals) WriteRow(w, row, false);
  w.EndArray();
  static constexpr std::pair<std::string_view, std::string_view> kSections[] = {
      {"route", "by_route"}, {"backend", "by_backend"}, {"arm", "by_arm"}, {"user", "by_user"}};
  for (const auto& [dimension, key] : kSections) {
    w.Key(key).BeginArray();
    for (const LedgerRow& row : rows) {
      if (row.dimension == dimension) WriteRow(w, row, true);
    }
    w.EndArray();
  }
  w.EndObject();
  return out;
}

}  // namespace inferencegw
