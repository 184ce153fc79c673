// Where an upstream request goes and with which headers, and how long the upstream asked us to
// wait. Pure: the proxy sends what these functions describe.
//
//   UpstreamTarget t = BuildUpstreamTarget(EndpointOf(backend), up.path, up.stream);
//   if (ForwardClientHeader(backend.format, "anthropic-beta")) t.headers.emplace_back(...);
//   DurationNs wait = UpstreamRetryAfter(lookup, clock.UnixNanos());
//
// Credentials: the upstream gets the backend's own key only. The client's Authorization,
// x-api-key, anthropic-* and every other header are never forwarded, except the allow-list of
// ForwardClientHeader (docs/translation.md).
#ifndef INFERENCEGW_PROVIDER_H_
#define INFERENCEGW_PROVIDER_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "inferencegw/clock.h"
#include "inferencegw/usage_parser.h"

namespace inferencegw {

struct CompiledBackend;

inline constexpr std::string_view kAnthropicVersion = "2023-06-01";

// The few facts about a backend that addressing it needs. Views; they must outlive the calls.
struct BackendEndpoint {
  std::string_view root_url;      // scheme://host[:port][/path], no trailing slash
  std::string_view api_base_url;  // where UpstreamRequestBody::path is appended
  WireFormat format = WireFormat::kOpenAI;
  std::string_view api_key;  // "" when the backend needs none
};

// The endpoint of a compiled backend (views into it).
BackendEndpoint EndpointOf(const CompiledBackend& backend);

struct UpstreamTarget {
  std::string url;
  // Lowercase names. Authentication, content type, and for streams the accepted type.
  std::vector<std::pair<std::string, std::string>> headers;
};

// Whether the backend serves OpenAI's Responses API (POST {api_base_url}/responses): true for an
// external backend whose provider is openai. Other OpenAI-format backends (custom, KServe,
// Kubernetes: vLLM, Ollama, ...) get Responses requests translated to chat completions.
bool ServesResponsesApi(const CompiledBackend& backend);

// The request for `path` (an UpstreamRequestBody::path) appended to the api base URL.
// Headers: `authorization: Bearer <key>` (OpenAI, Cohere and KServe formats, when a key is set)
// or `x-api-key: <key>` plus `anthropic-version: 2023-06-01` (Anthropic); always
// `content-type: application/json`; `accept: text/event-stream` when `stream`.
UpstreamTarget BuildUpstreamTarget(const BackendEndpoint& backend, std::string_view path,
                                   bool stream);

// A KServe passthrough request: the client's path (e.g. "/v2/models/m/infer", with its query
// string if any) appended to the root URL, with the same headers as above.
UpstreamTarget BuildPassthroughTarget(const BackendEndpoint& backend, std::string_view client_path);

// Whether a client request header (lowercase name) is copied to an upstream of this format:
// x-request-id, traceparent and tracestate to all; anthropic-beta to Anthropic;
// openai-organization and openai-project to OpenAI; x-client-name to Cohere. Nothing else.
bool ForwardClientHeader(WireFormat upstream, std::string_view lowercase_name);

// Returns the value of the upstream response header with this lowercase name, if present.
using HeaderLookup = absl::FunctionRef<std::optional<std::string_view>(std::string_view)>;

// How long the upstream asked us to wait before trying it again: `retry-after-ms` or
// `retry-after` (seconds or an HTTP date) when present; otherwise the latest reset among the
// exhausted rate-limit windows (`remaining` 0): OpenAI `x-ratelimit-reset-{requests,tokens}`
// (durations like "6m0s", "1.5s", "20ms") and Anthropic
// `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset` (RFC 3339 times).
// 0 when nothing says.
DurationNs UpstreamRetryAfter(HeaderLookup header, int64_t unix_now_nanos);

// Parses an OpenAI reset duration ("1h2m3.5s", "6m0s", "12ms"); nullopt when malformed.
std::optional<DurationNs> ParseResetDuration(std::string_view text);
// Parses an RFC 3339 time ("2024-05-01T12:00:30Z", "...30.25+02:00") to Unix nanoseconds;
// nullopt when malformed or outside what int64 nanoseconds hold (1677 to 2262).
std::optional<int64_t> ParseRfc3339(std::string_view text);
// The same, to Unix seconds rounded down (fractions are dropped): any year from 0000 to 9999.
std::optional<int64_t> ParseRfc3339Seconds(std::string_view text);
// Unix seconds as an RFC 3339 UTC time, "2027-01-01T00:00:00Z" (ParseRfc3339Seconds reads it
// back; years 0000 to 9999).
std::string FormatRfc3339(int64_t unix_seconds);

}  // namespace inferencegw

#endif  // INFERENCEGW_PROVIDER_H_
