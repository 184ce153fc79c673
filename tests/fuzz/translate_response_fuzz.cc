// Fuzzes response and error translation: TranslateResponseBody and TranslateErrorBody for the
// (client API, upstream format) pair and the HTTP status chosen by the first two bytes, and the
// gateway's own error bodies with the input as the message. Checks: translated bodies and error
// bodies are JSON (for UTF-8 input: the JSON writer copies bytes >= 0x80 as they are); a
// same-format response is returned unchanged.
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

constexpr int kStatuses[] = {400, 401, 402, 403, 404, 408, 413, 422,
                             429, 500, 502, 503, 504, 529, 418, 599};

void CheckJson(std::string_view what, const std::string& text) {
  if (IsJson(text)) return;
  std::fprintf(stderr, "%.*s is not JSON:\n%s\n", static_cast<int>(what.size()), what.data(),
               text.c_str());
  IGW_FUZZ_CHECK(false);
}

}  // namespace
}  // namespace inferencegw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inferencegw;
  using fuzz::kApis;
  using fuzz::kFormats;
  fuzz::FuzzInput in(data, size);
  const uint8_t pair = in.TakeByte();
  const int status = fuzz::kStatuses[in.TakeByte() % std::size(fuzz::kStatuses)];
  const ClientApi api = kApis[(pair / std::size(kFormats)) % std::size(kApis)];
  const WireFormat upstream = kFormats[pair % std::size(kFormats)];
  const std::string_view body = in.Rest();
  const bool utf8 = simdjson::validate_utf8(body.data(), body.size());
  const bool kserve_client = ClientWireFormat(api) == WireFormat::kKServe;

  Usage usage;
  absl::StatusOr<std::string> translated =
      TranslateResponseBody(api, upstream, body, "client-model", 1700000000, &usage);
  if (translated.ok()) {
    // A Responses client is translated from every format unless the upstream serves it.
    if (ClientWireFormat(api) == upstream && api != ClientApi::kResponses) {
      IGW_FUZZ_CHECK(*translated == body);
    } else if (!kserve_client && upstream != WireFormat::kKServe) {
      fuzz::CheckJson("translated response", *translated);
    }
  }
  (void)TranslateResponseBody(api, upstream, body, "", 0, nullptr);
  if (api == ClientApi::kResponses && upstream == WireFormat::kOpenAI) {
    absl::StatusOr<std::string> same =
        TranslateResponseBody(api, upstream, body, "client-model", 1700000000, &usage, {}, true);
    IGW_FUZZ_CHECK(!same.ok() || *same == body);
  }

  const std::string error = TranslateErrorBody(api, upstream, status, body);
  if (!kserve_client && utf8 && error != body) fuzz::CheckJson("translated error", error);
  if (utf8) {
    fuzz::CheckJson("ErrorJsonFor", ErrorJsonFor(api, status, body, body));
    fuzz::CheckJson("OpenAIErrorJson", OpenAIErrorJson(body, body, body, body));
    fuzz::CheckJson("AnthropicErrorJson", AnthropicErrorJson(body, body));
  }
  (void)AnthropicErrorTypeFor(status);
  return 0;
}
