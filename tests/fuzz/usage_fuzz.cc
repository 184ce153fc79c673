// Fuzzes the usage parser: ParseUsage of a body, ApplyStreamEventUsage of one event, and
// StreamUsageParser over a stream cut into pieces chosen by the input's first bytes, for the
// wire format chosen by the first byte. Checks: stream usage does not depend on where the
// stream was cut; counts are never negative.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fuzz_common.h"
#include "fuzz_input.h"
#include "inferencegw/usage_parser.h"

namespace inferencegw::fuzz {
namespace {

bool SameUsage(const Usage& a, const Usage& b) {
  return a.present == b.present && a.input_tokens == b.input_tokens &&
         a.output_tokens == b.output_tokens && a.cached_input_tokens == b.cached_input_tokens &&
         a.cache_write_input_tokens == b.cache_write_input_tokens &&
         a.reasoning_tokens == b.reasoning_tokens;
}

void CheckCounts(const Usage& u) {
  IGW_FUZZ_CHECK(u.input_tokens >= 0 && u.output_tokens >= 0 && u.cached_input_tokens >= 0 &&
                 u.cache_write_input_tokens >= 0 && u.reasoning_tokens >= 0);
}

Usage Stream(WireFormat format, const std::vector<std::string_view>& pieces) {
  StreamUsageParser parser(format);
  for (std::string_view piece : pieces) parser.Feed(piece);
  parser.Finish();
  return parser.usage();
}

}  // namespace
}  // namespace inferencegw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inferencegw;
  fuzz::FuzzInput in(data, size);
  const WireFormat format = fuzz::kFormats[in.TakeByte() % std::size(fuzz::kFormats)];
  const std::vector<std::string_view> pieces = in.TakeChunked();
  std::string whole;
  for (std::string_view p : pieces) whole.append(p);

  // The whole text as a body, and as one event's data (with and without an event name).
  absl::StatusOr<Usage> body = ParseUsage(format, whole);
  if (body.ok()) fuzz::CheckCounts(*body);
  for (std::string_view event : {"", "message_start", "message_delta", "message-end"}) {
    Usage u;
    ApplyStreamEventUsage(format, event, whole, &u);
    fuzz::CheckCounts(u);
  }

  const Usage split = fuzz::Stream(format, pieces);
  fuzz::CheckCounts(split);
  IGW_FUZZ_CHECK(fuzz::SameUsage(split, fuzz::Stream(format, {whole})));
  return 0;
}
