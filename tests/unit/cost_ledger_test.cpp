#include "inferencegw/cost_ledger.h"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"

namespace inferencegw {
namespace {

constexpr PriceNanos kNanos = 1'000'000'000;  // one currency unit in PriceNanos
constexpr PicoUnits kMax = std::numeric_limits<PicoUnits>::max();
constexpr PicoUnits kMin = std::numeric_limits<PicoUnits>::min();

Usage MakeUsage(int64_t in, int64_t out, int64_t cached = 0, int64_t cache_write = 0) {
  Usage u;
  u.input_tokens = in;
  u.output_tokens = out;
  u.cached_input_tokens = cached;
  u.cache_write_input_tokens = cache_write;
  u.present = true;
  return u;
}

// The seed's formula in/1000*0.03 + out/1000*0.06: 1000 in + 500 out costs exactly 0.06.
TEST_CASE("ComputeCost follows the reference formula") {
  CostConfig config;
  config.input_token_cost = 30'000'000;   // 0.03 per 1000
  config.output_token_cost = 60'000'000;  // 0.06 per 1000
  const Prices prices = Prices::FromConfig(config);
  CHECK(prices.cached_input == prices.input);
  CHECK(prices.cache_write == prices.input);
  CHECK(prices.currency == "USD");
  const PicoUnits cost = ComputeCost(prices, MakeUsage(1000, 500));
  CHECK(cost == 60'000'000'000);  // 0.06 * 1e12
  CHECK(FormatCost(cost) == "0.060000");
  CHECK(FormatCost(cost, 9) == "0.060000000");
  // One token at 0.03 per 1000 is 0.00003 exactly.
  CHECK(ComputeCost(prices, MakeUsage(1, 0)) == 30'000'000);
}

// Cached and cache-write tokens are parts of input_tokens and are billed at their own prices;
// without those prices they cost the input price, so caching changes nothing.
TEST_CASE("ComputeCost bills cached and cache-write tokens at their prices") {
  CostConfig config;
  config.input_token_cost = 3'000'000;              // 3 per million
  config.output_token_cost = 15'000'000;            // 15 per million
  config.cached_input_token_cost = 300'000;         // 0.30 per million
  config.cache_write_input_token_cost = 3'750'000;  // 3.75 per million
  config.currency = "EUR";
  const Prices prices = Prices::FromConfig(config);
  CHECK(prices.currency == "EUR");
  // 25 uncached + 2000 cached + 100 written, 40 out.
  const PicoUnits cost = ComputeCost(prices, MakeUsage(2125, 40, 2000, 100));
  CHECK(cost == 25 * 3'000'000LL + 2000 * 300'000LL + 100 * 3'750'000LL + 40 * 15'000'000LL);
  CHECK(FormatCost(cost) == "0.001650");

  CostConfig flat;
  flat.input_token_cost = 3'000'000;
  flat.output_token_cost = 15'000'000;
  const Prices flat_prices = Prices::FromConfig(flat);
  CHECK(ComputeCost(flat_prices, MakeUsage(2125, 40, 2000, 100)) ==
        ComputeCost(flat_prices, MakeUsage(2125, 40)));
  // Inconsistent counts (parts above the whole) never bill negative uncached tokens.
  CHECK(ComputeCost(prices, MakeUsage(10, 0, 20, 0)) == 20 * 300'000LL);
}

// The request price is charged with or without usage; usage that is not present adds nothing.
TEST_CASE("ComputeCost charges the request price without usage") {
  CostConfig config;
  config.input_token_cost = 30'000'000;
  config.request_cost = 1'000'000;  // 0.001 per request
  const Prices prices = Prices::FromConfig(config);
  Usage absent = MakeUsage(1000, 1000);
  absent.present = false;
  CHECK(ComputeCost(prices, absent) == 1'000'000'000);
  CHECK(FormatCost(ComputeCost(prices, absent)) == "0.001000");
  CHECK(ComputeCost(prices, MakeUsage(1000, 0)) == 1'000'000'000 + 30'000'000'000);
}

// FormatCost rounds half away from zero, prints exactly `decimals` places, and signs negatives
// only when the rounded value is not zero.
TEST_CASE("FormatCost rounds and pads") {
  CHECK(FormatCost(0) == "0.000000");
  CHECK(FormatCost(123'000'000) == "0.000123");
  CHECK(FormatCost(1'500'000) == "0.000002");
  CHECK(FormatCost(1'499'999) == "0.000001");
  CHECK(FormatCost(-1'500'000) == "-0.000002");
  CHECK(FormatCost(-1'499'999) == "-0.000001");
  CHECK(FormatCost(-1) == "0.000000");
  CHECK(FormatCost(12 * kPicosPerUnit + 345'678'900'000, 2) == "12.35");
  CHECK(FormatCost(5 * kPicosPerUnit / 10, 0) == "1");
  CHECK(FormatCost(-5 * kPicosPerUnit / 10, 0) == "-1");
  CHECK(FormatCost(4 * kPicosPerUnit / 10, 0) == "0");
  CHECK(FormatCost(1, 12) == "0.000000000001");
  CHECK(FormatCost(1, 14) == "0.00000000000100");
  CHECK(FormatCost(999'999'999'999'500'000, 6) == "1000000.000000");
  CHECK(FormatCost(kMax) == "9223372.036855");
  CHECK(FormatCost(kMin) == "-9223372.036855");
  CHECK(FormatCost(kMax, 12) == "9223372.036854775807");
}

// Costs and ledger totals saturate at the int64 limits instead of wrapping around.
TEST_CASE("ComputeCost and the ledger saturate") {
  Prices prices;
  prices.input = 1'000 * kNanos;  // 1000 units per 1000 tokens
  prices.output = 1'000 * kNanos;
  prices.request = kMax / 10;
  CHECK(ComputeCost(prices, MakeUsage(int64_t{1} << 40, 0)) == kMax);
  CHECK(ComputeCost(prices, MakeUsage(int64_t{1} << 40, int64_t{1} << 40)) == kMax);
  Usage absent;
  CHECK(ComputeCost(prices, absent) == kMax);  // kMax / 10 * 1000 overflows

  CostLedger ledger;
  ledger.Record({"r", "b", "", Arm::kNone, "u", "USD"}, MakeUsage(1, 1), kMax - 5);
  ledger.Record({"r", "b", "", Arm::kNone, "u", "USD"}, MakeUsage(1, 1), 10);
  const std::vector<LedgerRow> totals = ledger.Totals();
  REQUIRE(totals.size() == 1);
  CHECK(totals[0].totals.cost == kMax);
  CHECK(totals[0].totals.requests == 2);
}

// The issue-8 ledger corruption: one saturated cost (a backend that reported 2^63-1 tokens) no
// longer pins every total or drives "other" negative. Totals beyond the int64 range read
// saturated; every other row stays exact and keeps growing.
TEST_CASE("CostLedger stays exact after a saturated cost") {
  CostLedger::Options options;
  options.max_users = 2;
  CostLedger ledger(options);
  ledger.Record({"r", "b", "", Arm::kNone, "mallory", "USD"}, MakeUsage(kMax, kMax), kMax);
  for (int i = 0; i < 999; ++i) {
    // 0.0005 USD and 10 tokens each, from users beyond max_users and anonymous ones.
    const std::string user = i % 3 == 0 ? "" : fmt::format("user{}", i);
    ledger.Record({"r", "b2", "", Arm::kNone, user, "USD"}, MakeUsage(5, 5), 500'000'000);
  }
  const std::vector<LedgerRow> totals = ledger.Totals();
  REQUIRE(totals.size() == 1);
  CHECK(totals[0].totals.cost == kMax);  // beyond the int64 range: saturated, not wrapped
  CHECK(totals[0].totals.requests == 1000);
  PicoUnits user_sum = 0;
  int64_t user_tokens = 0;
  for (const LedgerRow& row : ledger.Rows()) {
    INFO(row.dimension << ":" << row.name);
    CHECK(row.totals.cost >= 0);
    CHECK(row.totals.input_tokens >= 0);
    CHECK(row.totals.output_tokens >= 0);
    if (row.dimension == "backend" && row.name == "b2") {
      CHECK(row.totals.cost == 999 * PicoUnits{500'000'000});  // 0.4995 USD, exact
      CHECK(row.totals.input_tokens == 999 * 5);
    }
    if (row.dimension == "user" && row.name != "mallory") {
      user_sum += row.totals.cost;
      user_tokens += row.totals.input_tokens + row.totals.output_tokens;
    }
  }
  // Everything that is not mallory's, in the tracked users and "other", exactly.
  CHECK(user_sum == 999 * PicoUnits{500'000'000});
  CHECK(user_tokens == 999 * 10);
  // Later costs still count.
  ledger.Record({"r", "b2", "", Arm::kNone, "", "USD"}, MakeUsage(5, 5), 500'000'000);
  for (const LedgerRow& row : ledger.Rows()) {
    if (row.dimension == "backend" && row.name == "b2") {
      CHECK(row.totals.cost == 1000 * PicoUnits{500'000'000});
    }
  }
}

// Negative counts and costs are recorded as 0, so no row can go negative.
TEST_CASE("CostLedger records negative values as 0") {
  CostLedger ledger;
  ledger.Record({"r", "b", "", Arm::kNone, "u", "USD"}, MakeUsage(-5, -7, -1, -1), -100);
  const std::vector<LedgerRow> totals = ledger.Totals();
  REQUIRE(totals.size() == 1);
  CHECK(totals[0].totals.requests == 1);
  CHECK(totals[0].totals.cost == 0);
  CHECK(totals[0].totals.input_tokens == 0);
  CHECK(totals[0].totals.output_tokens == 0);
}

// Sums every row of `dimension` in `rows`, per currency.
std::map<std::string, LedgerTotals> SumDimension(const std::vector<LedgerRow>& rows,
                                                 std::string_view dimension) {
  std::map<std::string, LedgerTotals> sums;
  for (const LedgerRow& row : rows) {
    if (row.dimension != dimension) continue;
    LedgerTotals& t = sums[row.currency];
    t.requests += row.totals.requests;
    t.input_tokens += row.totals.input_tokens;
    t.output_tokens += row.totals.output_tokens;
    t.cached_input_tokens += row.totals.cached_input_tokens;
    t.cache_write_input_tokens += row.totals.cache_write_input_tokens;
    t.cost += row.totals.cost;
  }
  return sums;
}

void CheckDimensionsAddUp(const CostLedger& ledger) {
  std::map<std::string, LedgerTotals> grand;
  for (const LedgerRow& row : ledger.Totals()) grand[row.currency] = row.totals;
  const std::vector<LedgerRow> rows = ledger.Rows();
  for (std::string_view dimension : {"route", "backend", "arm", "user"}) {
    INFO("dimension " << dimension);
    const std::map<std::string, LedgerTotals> sums = SumDimension(rows, dimension);
    REQUIRE(sums.size() == grand.size());
    for (const auto& [currency, t] : grand) {
      const LedgerTotals& s = sums.at(currency);
      CHECK(s.requests == t.requests);
      CHECK(s.input_tokens == t.input_tokens);
      CHECK(s.output_tokens == t.output_tokens);
      CHECK(s.cached_input_tokens == t.cached_input_tokens);
      CHECK(s.cache_write_input_tokens == t.cache_write_input_tokens);
      CHECK(s.cost == t.cost);
    }
  }
}

// Rows per route, backend, arm ("experiment/arm", "none" outside experiments) and user add up to
// the grand total per currency, are sorted by cost (highest first, ties by name), and requests
// without a user key land in "other".
TEST_CASE("CostLedger dimensions add up to the grand total") {
  CostLedger ledger;
  ledger.Record({"default/chat", "default/gpt4", "exp", Arm::kControl, "alice", "USD"},
                MakeUsage(1000, 500, 200, 0), 60);
  ledger.Record({"default/chat", "default/claude", "exp", Arm::kTreatment, "bob", "USD"},
                MakeUsage(2000, 100, 0, 50), 90);
  ledger.Record({"default/chat", "default/claude", "", Arm::kNone, "", "USD"}, MakeUsage(10, 10),
                5);
  ledger.Record({"team/embed", "team/local", "", Arm::kNone, "alice", "EUR"}, MakeUsage(8, 0), 7);
  Usage absent;
  ledger.Record({"team/embed", "team/local", "", Arm::kNone, "carol", "EUR"}, absent, 7);
  CheckDimensionsAddUp(ledger);

  const std::vector<LedgerRow> rows = ledger.Rows();
  std::vector<std::string> names;
  for (const LedgerRow& row : rows)
    names.push_back(row.dimension + ":" + row.name + ":" + row.currency);
  CHECK(names == std::vector<std::string>{
                     "route:default/chat:USD", "route:team/embed:EUR", "backend:default/claude:USD",
                     "backend:default/gpt4:USD", "backend:team/local:EUR", "arm:exp/treatment:USD",
                     "arm:exp/control:USD", "arm:none:EUR", "arm:none:USD", "user:bob:USD",
                     "user:alice:USD", "user:alice:EUR", "user:carol:EUR", "user:other:USD"});
  const LedgerRow& chat = rows[0];
  CHECK(chat.totals.requests == 3);
  CHECK(chat.totals.input_tokens == 3010);
  CHECK(chat.totals.output_tokens == 610);
  CHECK(chat.totals.cached_input_tokens == 200);
  CHECK(chat.totals.cache_write_input_tokens == 50);
  CHECK(chat.totals.cost == 155);
  CHECK(rows.back().totals.cost == 5);  // the anonymous request
}

// With more users than max_users, users who spend more than total/max_users are kept by name
// with their exact totals, the rest are summed as "other", and the rows still add up.
TEST_CASE("CostLedger keeps the top spenders by name") {
  CostLedger::Options options;
  options.max_users = 4;
  CostLedger ledger(options);
  // Two big spenders among 300 small ones, interleaved.
  for (int i = 0; i < 300; ++i) {
    const std::string small = fmt::format("user{}", i);
    ledger.Record({"r", "b", "", Arm::kNone, small, "USD"}, MakeUsage(10, 1), 1 + i % 3);
    if (i % 10 == 0) {
      ledger.Record({"r", "b", "", Arm::kNone, "whale", "USD"}, MakeUsage(100, 10), 1000);
    }
    if (i % 15 == 0) {
      ledger.Record({"r", "b", "", Arm::kNone, "shark", "USD"}, MakeUsage(100, 10), 900);
    }
  }
  CheckDimensionsAddUp(ledger);
  const std::vector<LedgerRow> rows = ledger.Rows();
  std::vector<LedgerRow> users;
  for (const LedgerRow& row : rows) {
    if (row.dimension == "user") users.push_back(row);
  }
  REQUIRE(users.size() == 5);  // max_users + "other"
  CHECK(users[0].name == "whale");
  CHECK(users[0].totals.cost == 30 * 1000);
  CHECK(users[0].totals.requests == 30);
  CHECK(users[1].name == "shark");
  CHECK(users[1].totals.cost == 20 * 900);
  CHECK(users[4].name == "other");
  CHECK(users[4].totals.requests > 250);
}

// The same records in the same order give the same rows and the same JSON, byte for byte.
TEST_CASE("CostLedger is deterministic") {
  auto fill = [](CostLedger& ledger) {
    uint64_t x = 12345;
    for (int i = 0; i < 2000; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      const std::string user = fmt::format("u{}", (x >> 33) % 50);
      const std::string route = fmt::format("r{}", (x >> 20) % 3);
      ledger.Record({route, "b", "e", (x >> 40) % 2 ? Arm::kControl : Arm::kTreatment, user, "USD"},
                    MakeUsage(static_cast<int64_t>(x % 1000), 5),
                    static_cast<PicoUnits>((x >> 45) % 10'000));
    }
  };
  CostLedger::Options options;
  options.max_users = 10;
  CostLedger a(options);
  CostLedger b(options);
  fill(a);
  fill(b);
  CHECK(a.RenderJson() == b.RenderJson());
  CheckDimensionsAddUp(a);
}

// Two threads recording at once lose nothing: every count and cost adds up exactly.
TEST_CASE("CostLedger Record is exact under concurrency") {
  CostLedger::Options options;
  options.max_users = 8;
  CostLedger ledger(options);
  constexpr int kPerThread = 20'000;
  auto work = [&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string user = fmt::format("t{}u{}", t, i % 37);
      ledger.Record({t == 0 ? "r0" : "r1", fmt::format("b{}", i % 3), "exp",
                     i % 2 ? Arm::kControl : Arm::kTreatment, user, "USD"},
                    MakeUsage(3, 2, 1, 0), 7);
    }
  };
  std::thread t0(work, 0);
  std::thread t1(work, 1);
  t0.join();
  t1.join();
  const std::vector<LedgerRow> totals = ledger.Totals();
  REQUIRE(totals.size() == 1);
  CHECK(totals[0].totals.requests == 2 * kPerThread);
  CHECK(totals[0].totals.input_tokens == 6 * kPerThread);
  CHECK(totals[0].totals.output_tokens == 4 * kPerThread);
  CHECK(totals[0].totals.cached_input_tokens == 2 * kPerThread);
  CHECK(totals[0].totals.cost == 14 * kPerThread);
  CheckDimensionsAddUp(ledger);
}

// The JSON document has the five sections, costs as a 9-place decimal string and a number.
TEST_CASE("CostLedger RenderJson") {
  CostLedger ledger;
  ledger.Record({"default/chat", "default/gpt4", "exp", Arm::kTreatment, "alice", "USD"},
                MakeUsage(1000, 500), 60'000'000'000);
  const std::string json = ledger.RenderJson();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  simdjson::dom::object total = doc["totals"].at(0).get_object().value();
  CHECK(std::string_view(total["currency"].get_string().value()) == "USD");
  CHECK(std::string_view(total["cost"].get_string().value()) == "0.060000000");
  CHECK(total["cost_value"].get_double().value() == 0.06);
  CHECK(total["requests"].get_uint64().value() == 1);
  CHECK(total["input_tokens"].get_int64().value() == 1000);
  CHECK(std::string_view(doc["by_route"].at(0)["name"].get_string().value()) == "default/chat");
  CHECK(std::string_view(doc["by_backend"].at(0)["name"].get_string().value()) == "default/gpt4");
  CHECK(std::string_view(doc["by_arm"].at(0)["name"].get_string().value()) == "exp/treatment");
  CHECK(std::string_view(doc["by_user"].at(0)["name"].get_string().value()) == "alice");
  CHECK(doc["by_user"].get_array().value().size() == 1);
  CHECK(CostLedger().RenderJson() ==
        R"({"totals":[],"by_route":[],"by_backend":[],"by_arm":[],"by_user":[]})");
}

}  // namespace
}  // namespace inferencegw
