// Fuzzes StreamTranslator (every client API and upstream format, usage flags) with the upstream
// stream cut into pieces chosen by the input's first bytes. Checks: the client bytes, the usage
// and the error and completion flags do not depend on where the stream was cut; a same-format
// stream without an injected usage chunk is forwarded byte for byte; Feed and Finish after
// Finish add nothing.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "fuzz_input.h"
#include "inferencegw/translate.h"

namespace inferencegw::fuzz {
namespace {

struct Result {
  std::string out;
  Usage usage;
  bool error = false;
  bool complete = false;
};

bool SameUsage(const Usage& a, const Usage& b) {
  return a.present == b.present && a.input_tokens == b.input_tokens &&
         a.output_tokens == b.output_tokens && a.cached_input_tokens == b.cached_input_tokens &&
         a.cache_write_input_tokens == b.cache_write_input_tokens &&
         a.reasoning_tokens == b.reasoning_tokens;
}

Result Run(ClientApi api, WireFormat upstream, bool wants_usage, bool injected,
           const std::vector<std::string_view>& pieces) {
  StreamTranslator t(api, upstream, "client-model", wants_usage, injected, 1700000000);
  Result r;
  for (std::string_view piece : pieces) t.Feed(piece, &r.out);
  t.Finish(&r.out);
  const size_t size = r.out.size();
  t.Feed("data: {}\n\n", &r.out);
  t.Finish(&r.out);
  IGW_FUZZ_CHECK(r.out.size() == size);
  r.usage = t.usage();
  r.error = t.upstream_error();
  r.complete = t.upstream_complete();
  return r;
}

}  // namespace
}  // namespace inferencegw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inferencegw;
  using fuzz::kApis;
  using fuzz::kFormats;
  fuzz::FuzzInput in(data, size);
  const uint8_t mode = in.TakeByte();
  const ClientApi api = kApis[(mode / std::size(kFormats)) % std::size(kApis)];
  const WireFormat upstream = kFormats[mode % std::size(kFormats)];
  const uint8_t flags = in.TakeByte();
  const bool wants_usage = flags & 1;
  const bool injected = flags & 2;
  const std::vector<std::string_view> pieces = in.TakeChunked();
  std::string whole;
  for (std::string_view p : pieces) whole.append(p);

  const fuzz::Result split = fuzz::Run(api, upstream, wants_usage, injected, pieces);
  const fuzz::Result one = fuzz::Run(api, upstream, wants_usage, injected, {whole});
  IGW_FUZZ_CHECK(split.out == one.out);
  IGW_FUZZ_CHECK(fuzz::SameUsage(split.usage, one.usage));
  IGW_FUZZ_CHECK(split.error == one.error);
  IGW_FUZZ_CHECK(split.complete == one.complete);
  const bool translated = upstream != WireFormat::kKServe &&
                          (api == ClientApi::kResponses ||
                           ((api == ClientApi::kChatCompletions || api == ClientApi::kMessages) &&
                            ClientWireFormat(api) != upstream));
  if (!translated && !(upstream == WireFormat::kOpenAI && injected && !wants_usage)) {
    IGW_FUZZ_CHECK(one.out == whole);
  }
  return 0;
}
