// Fuzzes the SSE parser with the stream cut into pieces chosen by the input's first bytes.
// Checks: the events do not depend on where the stream was cut (whole vs pieces, and one byte
// at a time for short streams), and every event written back with AppendSseEvent parses to the
// same event name and data.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "inferencegw/sse.h"

namespace inferencegw::fuzz {
namespace {

struct Event {
  std::string event, data, id;
  bool operator==(const Event&) const = default;
};

std::vector<Event> Parse(const std::vector<std::string_view>& pieces) {
  std::vector<Event> events;
  SseParser parser;
  auto on_event = [&](const SseEvent& e) {
    events.push_back({std::string(e.event), std::string(e.data), std::string(e.id)});
  };
  size_t fed = 0;
  for (std::string_view piece : pieces) {
    parser.Feed(piece, on_event);
    fed += piece.size();
    IGW_FUZZ_CHECK(parser.buffered() <= fed);  // only bytes of the pending event are held
  }
  parser.Finish(on_event);
  IGW_FUZZ_CHECK(parser.buffered() == 0);
  return events;
}

}  // namespace
}  // namespace inferencegw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inferencegw;
  using fuzz::Event;
  fuzz::FuzzInput in(data, size);
  const std::vector<std::string_view> pieces = in.TakeChunked();
  std::string whole;
  for (std::string_view p : pieces) whole.append(p);

  const std::vector<Event> split = fuzz::Parse(pieces);
  IGW_FUZZ_CHECK(fuzz::Parse({whole}) == split);
  if (whole.size() <= 512) {
    std::vector<std::string_view> bytes;
    for (size_t i = 0; i < whole.size(); ++i) bytes.push_back(std::string_view(whole).substr(i, 1));
    IGW_FUZZ_CHECK(fuzz::Parse(bytes) == split);
  }

  // Written back, each event reads the same (ids are not written).
  std::string wire;
  for (const Event& e : split) AppendSseEvent(&wire, e.event, e.data);
  std::vector<Event> again = fuzz::Parse({wire});
  IGW_FUZZ_CHECK(again.size() == split.size());
  for (size_t i = 0; i < split.size(); ++i) {
    IGW_FUZZ_CHECK(again[i].event == split[i].event);
    IGW_FUZZ_CHECK(again[i].data == split[i].data);
  }
  return 0;
}
