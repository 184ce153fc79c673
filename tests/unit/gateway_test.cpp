// Tests for Exchange (gateway.h) on the numbers clients and backends supply: token reservations,
// out-of-range usage, and the Retry-After of an exchange that ended on 429s (issue 8).
#include "inferencegw/gateway.h"

#include <catch2/catch.hpp>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/exchange_report.h"
#include "inferencegw/translate.h"

namespace inferencegw {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// Two priced backends; the route falls back from `primary` to `backup` and shares one bucket of
// 100000 tokens a minute.
constexpr std::string_view kConfig = R"(
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: primary}
spec:
  type: external
  external: {url: "http://127.0.0.1:1/v1", provider: openai}
  cost: {inputTokenCost: "0.001", outputTokenCost: "0.002"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: backup}
spec:
  type: external
  external: {url: "http://127.0.0.1:2/v1", provider: openai}
  cost: {inputTokenCost: "0.001", outputTokenCost: "0.002"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: chat}
spec:
  default: true
  defaultBackend: {name: primary}
  fallback: {backends: [primary, backup], timeoutSeconds: 10}
  rateLimit: {tokensPerMinute: 100000}
  experiments: []
)";

struct Fixture {
  Fixture() {
    absl::StatusOr<ConfigSet> config = LoadConfigFromString(kConfig);
    REQUIRE(config.ok());
    GatewayOptions options;
    options.clock = &clock;
    absl::StatusOr<std::unique_ptr<Gateway>> created = Gateway::Create(*config, options);
    REQUIRE(created.ok());
    gateway = *std::move(created);
    view.path = "/v1/chat/completions";
    view.model = "gpt-4o";
  }

  SimulatedClock clock;
  std::unique_ptr<Gateway> gateway;
  RequestView view;
};

Usage MakeUsage(int64_t in, int64_t out) {
  Usage u;
  u.input_tokens = in;
  u.output_tokens = out;
  u.present = true;
  return u;
}

// Runs one exchange at `now` that the first backend answers with 200 and `usage`.
ExchangeResult Serve(Fixture& f, TimeNs now, int64_t estimate, const Usage& usage) {
  Exchange ex(*f.gateway, /*entropy=*/7, now);
  REQUIRE(ex.Begin(f.view, estimate) == BeginStatus::kOk);
  REQUIRE(ex.NextAttempt(now).has_value());
  ex.AttemptCommitted(200, now + Milliseconds(10));
  FinishInfo info;
  info.usage = usage;
  return ex.Finish(info, now + Milliseconds(20));
}

std::optional<std::string> FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

// The issue-8 reproduction: one request with max_tokens = INT64_MAX on a 100000 tokens/minute
// route is admitted and takes at most the bucket: while it runs others wait well under a
// second (they used to get 429 with retry-after 89940), and once it finishes they pass.
TEST_CASE("a huge max_tokens does not lock the route", "[gateway]") {
  Fixture f;
  Exchange huge(*f.gateway, 7, 0);
  REQUIRE(huge.Begin(f.view, TokenReservation(25, kInt64Max)) == BeginStatus::kOk);
  CHECK(huge.admission().reserved_tokens == 100000);
  REQUIRE(huge.NextAttempt(0).has_value());
  {
    Exchange during(*f.gateway, 8, Milliseconds(10));
    REQUIRE(during.Begin(f.view, 600) == BeginStatus::kRateLimited);
    CHECK(during.admission().retry_after < Seconds(1));
  }
  huge.AttemptCommitted(200, Milliseconds(10));
  FinishInfo info;
  info.usage = MakeUsage(25, 1000);
  huge.Finish(info, Milliseconds(20));
  Exchange next(*f.gateway, 9, Milliseconds(30));
  REQUIRE(next.Begin(f.view, 600) == BeginStatus::kOk);
  CHECK(next.admission().tokens.remaining >= 100000 - 1025 - 600);
}

// A frontend that computed prompt + max_tokens with wrapping arithmetic passes a negative
// estimate: it reserves nothing, and finishing charges the real usage only (Finish used to
// "refund" the negative reservation and charge the maximum debt of 150 million tokens).
TEST_CASE("a wrapped negative estimate charges only real usage", "[gateway]") {
  Fixture f;
  const int64_t wrapped = static_cast<int64_t>(uint64_t{25} + static_cast<uint64_t>(kInt64Max));
  REQUIRE(wrapped < 0);
  Serve(f, 0, wrapped, MakeUsage(25, 1000));
  Exchange next(*f.gateway, 8, Milliseconds(20));
  REQUIRE(next.Begin(f.view, 600) == BeginStatus::kOk);
  CHECK(next.admission().tokens.remaining == 100000 - 1025 - 600);
}

// Usage beyond kMaxUsageTokens is accounted as unknown: the ledger and the metrics keep exact,
// growing totals, and the later normal request's cost shows (it used to pin the totals at
// 9223372.036854776 and make "other" negative).
TEST_CASE("out-of-range usage does not corrupt the ledger", "[gateway]") {
  Fixture f;
  const ExchangeResult bad = Serve(f, 0, 100, MakeUsage(1'000'000'000'000'000, 10));
  CHECK_FALSE(bad.usage.present);
  CHECK(bad.usage.out_of_range);
  CHECK(bad.usage.input_tokens == 0);
  CHECK(bad.cost_known);
  CHECK(bad.cost == 0);  // no request price configured
  Serve(f, Seconds(1), 100, MakeUsage(kInt64Max, kInt64Max));
  const ExchangeResult good = Serve(f, Seconds(2), 100, MakeUsage(1000, 500));
  CHECK(good.cost == 2'000'000'000);  // 0.001 + 0.001

  const std::vector<LedgerRow> totals = f.gateway->ledger().Totals();
  REQUIRE(totals.size() == 1);
  CHECK(totals[0].totals.requests == 3);
  CHECK(totals[0].totals.cost == 2'000'000'000);
  CHECK(totals[0].totals.input_tokens == 1000);
  CHECK(totals[0].totals.output_tokens == 500);
  for (const LedgerRow& row : f.gateway->ledger().Rows()) {
    INFO(row.dimension << " " << row.name);
    CHECK(row.totals.cost >= 0);
    CHECK(row.totals.input_tokens >= 0);
  }
  const std::string metrics = f.gateway->registry().RenderPrometheus();
  CHECK(metrics.find("inference_gateway_cost_total{route=\"default/chat\",backend=\"default/"
                     "primary\",currency=\"USD\"} 0.002") != std::string::npos);
  CHECK(metrics.find("18446744") == std::string::npos);
  CHECK(metrics.find("9223372") == std::string::npos);
}

// Every backend answers 429 (Retry-After 7 s, then 3 s): the client gets 429, not 502, with the
// shortest Retry-After, from the same header helper the frontends already call.
TEST_CASE("all-429 exhaustion passes on the shortest Retry-After", "[gateway]") {
  Fixture f;
  Exchange ex(*f.gateway, 7, 0);
  REQUIRE(ex.Begin(f.view, 100) == BeginStatus::kOk);
  std::optional<Exchange::Attempt> a = ex.NextAttempt(0);
  REQUIRE(a.has_value());
  CHECK(a->target->key == "default/primary");
  CHECK(ex.ExhaustedRetryAfter() == 0);  // not exhausted yet
  ex.AttemptFailed(FailureKind::kStatus429, 429, Seconds(7), Milliseconds(5));
  a = ex.NextAttempt(Milliseconds(5));
  REQUIRE(a.has_value());
  CHECK(a->target->key == "default/backup");
  ex.AttemptFailed(FailureKind::kStatus429, 429, Seconds(3), Milliseconds(10));
  CHECK_FALSE(ex.NextAttempt(Milliseconds(10)).has_value());
  CHECK(ex.ExhaustedHttpStatus() == 429);
  CHECK(ex.ExhaustedRetryAfter() == Seconds(3));
  HeaderList headers;
  AppendDecisionHeaders(ex, nullptr, &headers);
  CHECK(FindHeader(headers, "retry-after") == "3");
  // The route's own limiter admitted the request: no second retry-after from it.
  AppendRateLimitHeaders(*ex.route(), ex.admission(), &headers);
  int retry_after_headers = 0;
  for (const auto& [name, value] : headers) retry_after_headers += name == "retry-after";
  CHECK(retry_after_headers == 1);
}

// Retry-After is rounded up to whole seconds (at least 1), and 429s without one give none.
TEST_CASE("all-429 Retry-After rounding and absence", "[gateway]") {
  Fixture f;
  {
    Exchange ex(*f.gateway, 7, 0);
    REQUIRE(ex.Begin(f.view, 100) == BeginStatus::kOk);
    REQUIRE(ex.NextAttempt(0).has_value());
    ex.AttemptFailed(FailureKind::kStatus429, 429, Milliseconds(1500), 0);
    REQUIRE(ex.NextAttempt(0).has_value());
    ex.AttemptFailed(FailureKind::kStatus429, 429, 0, 0);  // no Retry-After
    REQUIRE_FALSE(ex.NextAttempt(0).has_value());
    CHECK(ex.ExhaustedRetryAfter() == Milliseconds(1500));
    HeaderList headers;
    AppendDecisionHeaders(ex, nullptr, &headers);
    CHECK(FindHeader(headers, "retry-after") == "2");
  }
  {
    Exchange ex(*f.gateway, 8, 0);
    REQUIRE(ex.Begin(f.view, 100) == BeginStatus::kOk);
    REQUIRE(ex.NextAttempt(0).has_value());
    ex.AttemptFailed(FailureKind::kStatus429, 429, 0, 0);
    REQUIRE(ex.NextAttempt(0).has_value());
    ex.AttemptFailed(FailureKind::kStatus429, 429, 0, 0);
    REQUIRE_FALSE(ex.NextAttempt(0).has_value());
    CHECK(ex.ExhaustedHttpStatus() == 429);
    CHECK(ex.ExhaustedRetryAfter() == 0);
    HeaderList headers;
    AppendDecisionHeaders(ex, nullptr, &headers);
    CHECK_FALSE(FindHeader(headers, "retry-after").has_value());
  }
}

// A 429 followed by a 5xx ends as 502 and passes on no Retry-After.
TEST_CASE("mixed failures give 502 without Retry-After", "[gateway]") {
  Fixture f;
  Exchange ex(*f.gateway, 7, 0);
  REQUIRE(ex.Begin(f.view, 100) == BeginStatus::kOk);
  REQUIRE(ex.NextAttempt(0).has_value());
  ex.AttemptFailed(FailureKind::kStatus429, 429, Seconds(7), 0);
  REQUIRE(ex.NextAttempt(0).has_value());
  ex.AttemptFailed(FailureKind::kStatus5xx, 503, Seconds(3), 0);
  REQUIRE_FALSE(ex.NextAttempt(0).has_value());
  CHECK(ex.ExhaustedHttpStatus() == 502);
  CHECK(ex.ExhaustedRetryAfter() == 0);
  HeaderList headers;
  AppendDecisionHeaders(ex, nullptr, &headers);
  CHECK_FALSE(FindHeader(headers, "retry-after").has_value());
}

// InspectRequest (which builds the reservation's max_tokens) rejects max_tokens and
// max_completion_tokens above INT32_MAX as InvalidArgument, which frontends answer with 400.
TEST_CASE("InspectRequest bounds max_tokens", "[gateway]") {
  auto inspect = [](ClientApi api, std::string_view field, std::string_view value) {
    const std::string body =
        api == ClientApi::kCompletions
            ? fmt::format(R"({{"model":"m","prompt":"hi","{}":{}}})", field, value)
            : fmt::format(
                  R"({{"model":"m","messages":[{{"role":"user","content":"hi"}}],"{}":{}}})", field,
                  value);
    return InspectRequest(api, body);
  };
  absl::StatusOr<RequestFacts> ok =
      inspect(ClientApi::kChatCompletions, "max_tokens", "2147483647");
  REQUIRE(ok.ok());
  CHECK(ok->max_tokens == 2147483647);
  for (ClientApi api :
       {ClientApi::kChatCompletions, ClientApi::kMessages, ClientApi::kCompletions}) {
    for (std::string_view value : {"2147483648", "9223372036854775807"}) {
      INFO(ClientApiName(api) << " " << value);
      absl::StatusOr<RequestFacts> r = inspect(api, "max_tokens", value);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
      CHECK_THAT(std::string(r.status().message()),
                 Catch::Contains("'max_tokens': must be at most 2147483647"));
    }
  }
  absl::StatusOr<RequestFacts> r =
      inspect(ClientApi::kChatCompletions, "max_completion_tokens", "9223372036854775807");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
}

// An unmetered exchange (count_tokens, KServe metadata) takes nothing from the route's token
// bucket, even with a huge reported usage, and is not priced or put in the ledger.
TEST_CASE("BeginUnmetered neither limits nor charges", "[gateway]") {
  Fixture f;
  for (int i = 0; i < 3; ++i) {
    Exchange ex(*f.gateway, 7, Milliseconds(i));
    REQUIRE(ex.BeginUnmetered(f.view) == BeginStatus::kOk);
    CHECK(ex.unmetered());
    REQUIRE(ex.NextAttempt(Milliseconds(i)).has_value());
    ex.AttemptCommitted(200, Milliseconds(i));
    FinishInfo info;
    info.usage = MakeUsage(90000, 90000);
    const ExchangeResult& result = ex.Finish(info, Milliseconds(i));
    CHECK_FALSE(result.cost_known);
    CHECK_FALSE(result.usage.present);
  }
  CHECK(f.gateway->ledger().RenderJson().find("default/primary") == std::string::npos);
  // The bucket is still full: a metered request of the whole minute's tokens is admitted.
  Exchange metered(*f.gateway, 8, Milliseconds(5));
  REQUIRE(metered.Begin(f.view, 100000) == BeginStatus::kOk);
  CHECK(metered.admission().reserved_tokens == 100000);
}

// BeginUnmetered still routes: an unknown route header is refused as by Begin.
TEST_CASE("BeginUnmetered routes like Begin", "[gateway]") {
  Fixture f;
  const Header header{"x-inferencegw-route", "nope"};
  f.view.headers = std::span<const Header>(&header, 1);
  Exchange ex(*f.gateway, 7, 0);
  CHECK(ex.BeginUnmetered(f.view) == BeginStatus::kUnknownRoute);
}

}  // namespace
}  // namespace inferencegw
