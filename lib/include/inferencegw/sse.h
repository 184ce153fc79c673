// An incremental Server-Sent Events parser: feed it bytes as they arrive, split anywhere, and it
// calls back once per complete event. Handles `\n`, `\r\n` and `\r` line ends, several `data:`
// lines per event (joined with "\n"), `data:` with or without the space, comment lines, and a
// final event without its blank line at Finish(). Memory is bounded: an event (its partial line
// plus the fields read so far) larger than max_event_bytes() stops the parser for good.
//
//   SseParser parser;
//   parser.Feed(chunk, [&](const SseEvent& e) { if (e.data != "[DONE]") Handle(e.event, e.data);
//   }); parser.Finish([&](const SseEvent& e) { ... });
#ifndef INFERENCEGW_SSE_H_
#define INFERENCEGW_SSE_H_

#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"

namespace inferencegw {

// Views into the parser's buffer, valid only during the callback.
struct SseEvent {
  std::string_view event;  // the `event:` field, "" when absent
  std::string_view data;   // the `data:` lines joined with "\n"
  std::string_view id;     // the `id:` field, "" when absent
};

// Not thread-safe; one per stream.
class SseParser {
 public:
  using Callback = absl::FunctionRef<void(const SseEvent&)>;

  // LLM stream events are a few hundred bytes; 4 MiB leaves room for large tool arguments and
  // inline images while bounding what one backend can make a stream hold.
  static constexpr size_t kDefaultMaxEventBytes = 4 << 20;
  void set_max_event_bytes(size_t bytes) { max_event_bytes_ = bytes; }
  size_t max_event_bytes() const { return max_event_bytes_; }
  // True once an event grew past max_event_bytes(): what was held is freed, no event is
  // delivered for it, and every later byte is ignored (the stream cannot be trusted to resume
  // at an event boundary). The caller should end the stream as broken.
  bool overflowed() const { return overflowed_; }

  // Consumes `bytes`, calling `on_event` for each event completed by them.
  void Feed(std::string_view bytes, Callback on_event);
  // Ends the stream: an event still pending (no trailing blank line) is delivered.
  void Finish(Callback on_event);

  // Bytes held for an incomplete event (its partial last line and the fields read so far).
  size_t buffered() const {
    return buffer_.size() - consumed_ + event_.size() + data_.size() + id_.size();
  }

 private:
  void DispatchLine(std::string_view line, Callback on_event);
  void Dispatch(Callback on_event);
  // Checks the cap; on overflow frees everything held. Returns false when overflowed.
  bool WithinCap();

  std::string buffer_;
  size_t consumed_ = 0;
  bool last_was_cr_ = false;
  std::string event_;
  std::string data_;
  std::string id_;
  bool has_data_ = false;
  size_t max_event_bytes_ = kDefaultMaxEventBytes;
  bool overflowed_ = false;
};

// Appends one event in wire form ("event: x\ndata: y\n\n"; the event line only when non-empty).
// A `data` containing newlines becomes several data: lines.
void AppendSseEvent(std::string* out, std::string_view event, std::string_view data);

}  // namespace inferencegw

#endif  // INFERENCEGW_SSE_H_
