// Provider adapters: upstream URLs and auth headers, the client-header allow-list, and the
// retry hints read from upstream rate-limit headers.
#include "inferencegw/provider.h"

#include <catch2/catch.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "inferencegw/route_table.h"

namespace inferencegw {
namespace {

std::optional<std::string> HeaderValue(const UpstreamTarget& t, std::string_view name) {
  for (const auto& [n, v] : t.headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

// OpenAI-format backends get a Bearer token; streams also ask for text/event-stream.
TEST_CASE("OpenAI target uses Bearer auth") {
  BackendEndpoint b{"https://api.openai.com", "https://api.openai.com/v1", WireFormat::kOpenAI,
                    "sk-test"};
  const UpstreamTarget t = BuildUpstreamTarget(b, "/chat/completions", /*stream=*/true);
  CHECK(t.url == "https://api.openai.com/v1/chat/completions");
  CHECK(HeaderValue(t, "authorization") == "Bearer sk-test");
  CHECK(HeaderValue(t, "content-type") == "application/json");
  CHECK(HeaderValue(t, "accept") == "text/event-stream");
  CHECK_FALSE(HeaderValue(t, "x-api-key").has_value());
  const UpstreamTarget plain = BuildUpstreamTarget(b, "/embeddings", false);
  CHECK_FALSE(HeaderValue(plain, "accept").has_value());
}

// Anthropic backends get x-api-key and anthropic-version, never a Bearer token.
TEST_CASE("Anthropic target uses x-api-key and anthropic-version") {
  BackendEndpoint b{"https://api.anthropic.com", "https://api.anthropic.com/v1",
                    WireFormat::kAnthropic, "sk-ant"};
  const UpstreamTarget t = BuildUpstreamTarget(b, "/messages", false);
  CHECK(t.url == "https://api.anthropic.com/v1/messages");
  CHECK(HeaderValue(t, "x-api-key") == "sk-ant");
  CHECK(HeaderValue(t, "anthropic-version") == "2023-06-01");
  CHECK_FALSE(HeaderValue(t, "authorization").has_value());
}

// In-cluster backends without a key get no auth header; KServe passthrough uses the root URL.
TEST_CASE("Keyless and KServe passthrough targets") {
  BackendEndpoint b{"http://iris-predictor.ml.svc.cluster.local",
                    "http://iris-predictor.ml.svc.cluster.local/openai/v1", WireFormat::kOpenAI,
                    ""};
  const UpstreamTarget chat = BuildUpstreamTarget(b, "/chat/completions", false);
  CHECK(chat.url == "http://iris-predictor.ml.svc.cluster.local/openai/v1/chat/completions");
  CHECK_FALSE(HeaderValue(chat, "authorization").has_value());
  const UpstreamTarget v2 = BuildPassthroughTarget(b, "/v2/models/iris/infer");
  CHECK(v2.url == "http://iris-predictor.ml.svc.cluster.local/v2/models/iris/infer");
  CHECK(HeaderValue(v2, "content-type") == "application/json");
  BackendEndpoint cohere{"https://api.cohere.com", "https://api.cohere.com/v2", WireFormat::kCohere,
                         "co-key"};
  const UpstreamTarget c = BuildUpstreamTarget(cohere, "/chat", true);
  CHECK(c.url == "https://api.cohere.com/v2/chat");
  CHECK(HeaderValue(c, "authorization") == "Bearer co-key");
}

// EndpointOf takes the compiled backend's URLs, format and key.
TEST_CASE("EndpointOf reads a compiled backend") {
  CompiledBackend backend;
  backend.root_url = std::string("https://api.anthropic.com");
  backend.api_base_url = std::string("https://api.anthropic.com/v1");
  backend.format = WireFormat::kAnthropic;
  backend.api_key = std::string("secret-key");
  const BackendEndpoint e = EndpointOf(backend);
  CHECK(e.root_url == "https://api.anthropic.com");
  CHECK(e.api_base_url == "https://api.anthropic.com/v1");
  CHECK(e.format == WireFormat::kAnthropic);
  CHECK(e.api_key == "secret-key");
}

// Client credentials never go upstream; only the documented headers do.
TEST_CASE("ForwardClientHeader allow-list") {
  for (WireFormat f :
       {WireFormat::kOpenAI, WireFormat::kAnthropic, WireFormat::kCohere, WireFormat::kKServe}) {
    CHECK_FALSE(ForwardClientHeader(f, "authorization"));
    CHECK_FALSE(ForwardClientHeader(f, "x-api-key"));
    CHECK_FALSE(ForwardClientHeader(f, "anthropic-version"));
    CHECK_FALSE(ForwardClientHeader(f, "cookie"));
    CHECK_FALSE(ForwardClientHeader(f, "host"));
    CHECK(ForwardClientHeader(f, "x-request-id"));
    CHECK(ForwardClientHeader(f, "traceparent"));
  }
  CHECK(ForwardClientHeader(WireFormat::kAnthropic, "anthropic-beta"));
  CHECK_FALSE(ForwardClientHeader(WireFormat::kOpenAI, "anthropic-beta"));
  CHECK(ForwardClientHeader(WireFormat::kOpenAI, "openai-organization"));
  CHECK(ForwardClientHeader(WireFormat::kOpenAI, "openai-project"));
  CHECK_FALSE(ForwardClientHeader(WireFormat::kAnthropic, "openai-organization"));
  CHECK(ForwardClientHeader(WireFormat::kCohere, "x-client-name"));
}

// OpenAI reset durations and RFC 3339 timestamps parse; malformed values do not.
TEST_CASE("Reset durations and RFC 3339 times") {
  CHECK(ParseResetDuration("6m0s") == Seconds(360));
  CHECK(ParseResetDuration("1s") == Seconds(1));
  CHECK(ParseResetDuration("12ms") == Milliseconds(12));
  CHECK(ParseResetDuration("51.189s") == Milliseconds(51189));
  CHECK(ParseResetDuration("1h2m3.5s") == Seconds(3723) + Milliseconds(500));
  CHECK_FALSE(ParseResetDuration("").has_value());
  CHECK_FALSE(ParseResetDuration("soon").has_value());
  CHECK_FALSE(ParseResetDuration("5").has_value());
  CHECK(ParseRfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseRfc3339("2023-11-14T22:13:20Z") == 1'700'000'000LL * kNanosPerSecond);
  CHECK(ParseRfc3339("2023-11-14T22:13:20.25Z") ==
        1'700'000'000LL * kNanosPerSecond + Milliseconds(250));
  CHECK(ParseRfc3339("2023-11-15T00:13:20+02:00") == 1'700'000'000LL * kNanosPerSecond);
  CHECK_FALSE(ParseRfc3339("2023-11-14 22:13").has_value());
  CHECK_FALSE(ParseRfc3339("2023-13-14T22:13:20Z").has_value());
  CHECK_FALSE(ParseRfc3339("2023-11-14T22:13:20").has_value());
}

// Times beyond int64 nanoseconds do not parse as nanoseconds (no overflow) but do as seconds;
// FormatRfc3339 writes UTC times that parse back to the same second.
TEST_CASE("RFC 3339 times in seconds, far dates and formatting") {
  CHECK(ParseRfc3339("2262-04-11T23:47:15Z").has_value());
  CHECK_FALSE(ParseRfc3339("2263-01-01T00:00:00Z").has_value());
  CHECK_FALSE(ParseRfc3339("9999-12-31T23:59:59Z").has_value());
  CHECK(ParseRfc3339Seconds("9999-12-31T23:59:59Z") == 253'402'300'799);
  CHECK(ParseRfc3339Seconds("2023-11-14T22:13:20.999Z") == 1'700'000'000);
  CHECK(ParseRfc3339Seconds("2027-01-01T00:00:00+01:00") == 1'798'758'000);
  CHECK(ParseRfc3339Seconds("1969-12-31T23:59:59Z") == -1);
  CHECK_FALSE(ParseRfc3339Seconds("2027-01-01").has_value());
  CHECK(FormatRfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(FormatRfc3339(1'700'000'000) == "2023-11-14T22:13:20Z");
  CHECK(FormatRfc3339(-1) == "1969-12-31T23:59:59Z");
  CHECK(FormatRfc3339(951'782'400) == "2000-02-29T00:00:00Z");
  for (int64_t t :
       {int64_t{1}, int64_t{1'798'758'000}, int64_t{253'402'300'799}, int64_t{-62'167'219'200}}) {
    INFO(t);
    CHECK(ParseRfc3339Seconds(FormatRfc3339(t)) == t);
  }
}

// Retry-After wins; otherwise the latest reset of an exhausted window; 0 when nothing says.
TEST_CASE("UpstreamRetryAfter reads upstream hints") {
  const int64_t now = 1'700'000'000LL * kNanosPerSecond;
  auto wait = [&](std::map<std::string, std::string> headers) {
    return UpstreamRetryAfter(
        [&](std::string_view name) -> std::optional<std::string_view> {
          auto it = headers.find(std::string(name));
          if (it == headers.end()) return std::nullopt;
          return std::string_view(it->second);
        },
        now);
  };
  CHECK(wait({{"retry-after", "3"}}) == Seconds(3));
  CHECK(wait({{"retry-after-ms", "250"}}) == Milliseconds(250));
  CHECK(wait({}) == 0);
  CHECK(wait({{"x-ratelimit-remaining-requests", "0"},
              {"x-ratelimit-reset-requests", "1s"},
              {"x-ratelimit-remaining-tokens", "0"},
              {"x-ratelimit-reset-tokens", "6m0s"}}) == Seconds(360));
  CHECK(wait({{"x-ratelimit-remaining-requests", "5"}, {"x-ratelimit-reset-requests", "1s"}}) == 0);
  CHECK(wait({{"anthropic-ratelimit-tokens-remaining", "0"},
              {"anthropic-ratelimit-tokens-reset", "2023-11-14T22:13:30Z"}}) == Seconds(10));
  CHECK(wait({{"anthropic-ratelimit-requests-remaining", "0"},
              {"anthropic-ratelimit-requests-reset", "2023-11-14T22:13:00Z"}}) == 0);
}

}  // namespace
}  // namespace inferencegw
