// Fuzzes request inspection and translation: InspectRequest for the API chosen by the first
// byte, then BuildUpstreamBody to every wire format (OpenAI -> Anthropic and Cohere, Anthropic ->
// OpenAI and Cohere, Responses -> chat, Anthropic and Cohere or passed through, same-format
// splicing, KServe pass-through). Checks: a body translated to
// another format is JSON, and a translated body is one its upstream's API accepts.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fuzz_common.h"
#include "fuzz_input.h"
#include "inferencegw/translate.h"

namespace inferencegw::fuzz {
namespace {

void Translate(ClientApi api, std::string_view body, const RequestFacts& facts, WireFormat upstream,
               const TranslateOptions& options) {
  absl::StatusOr<UpstreamRequestBody> up = BuildUpstreamBody(api, body, facts, upstream, options);
  if (!up.ok()) return;
  const bool cross_format = (ClientWireFormat(api) != upstream && upstream != WireFormat::kKServe &&
                             ClientWireFormat(api) != WireFormat::kKServe) ||
                            (api == ClientApi::kResponses && !up->upstream_responses);
  if (!cross_format) return;
  if (!IsJson(up->body)) {
    std::fprintf(stderr, "translated body is not JSON:\n%s\n", up->body.c_str());
    IGW_FUZZ_CHECK(false);
  }
  // What was translated to Anthropic is a Messages request; to OpenAI, a chat completion.
  if (upstream == WireFormat::kAnthropic || upstream == WireFormat::kOpenAI) {
    const ClientApi as =
        upstream == WireFormat::kAnthropic ? ClientApi::kMessages : ClientApi::kChatCompletions;
    absl::StatusOr<RequestFacts> again = InspectRequest(as, up->body);
    if (!again.ok()) {
      std::fprintf(stderr, "translated body rejected: %s\n%s\n",
                   std::string(again.status().message()).c_str(), up->body.c_str());
    }
    IGW_FUZZ_CHECK(again.ok());
  }
}

}  // namespace
}  // namespace inferencegw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inferencegw;
  fuzz::FuzzInput in(data, size);
  const uint8_t mode = in.TakeByte();
  const ClientApi api = fuzz::kApis[(mode & 0x0f) % std::size(fuzz::kApis)];
  TranslateOptions options;
  if (mode & 0x10) options.model_override = "backend-model";
  if (mode & 0x20) options.request_stream_usage = false;
  if (mode & 0x40) options.default_max_tokens = 1;
  if (mode & 0x80) options.upstream_serves_responses = true;
  const std::string_view body = in.Rest();

  absl::StatusOr<RequestFacts> facts = InspectRequest(api, body);
  if (!facts.ok()) return 0;
  for (WireFormat upstream : fuzz::kFormats) fuzz::Translate(api, body, *facts, upstream, options);
  return 0;
}
