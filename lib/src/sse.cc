#include "inferencegw/sse.h"

#include <cstring>

namespace inferencegw {
namespace {

// Position of the first '\r' or '\n' in [begin, end), or end. Two memchr passes (both SIMD in
// glibc) beat a byte loop: lines almost always end in '\n', and a '\r' can only come before it.
const char* FindLineEnd(const char* begin, const char* end) {
  const size_t n = static_cast<size_t>(end - begin);
  const void* lf = std::memchr(begin, '\n', n);
  const char* limit = lf ? static_cast<const char*>(lf) : end;
  const void* cr = std::memchr(begin, '\r', static_cast<size_t>(limit - begin));
  return cr ? static_cast<const char*>(cr) : limit;
}

}  // namespace

// Lines are parsed straight from the caller's bytes. Only the tail that does not end in a line
// terminator is copied, into buffer_ (a partial line); the fields of a pending event are copied
// into event_, data_ and id_ one whole line at a time.
bool SseParser::WithinCap() {
  if (buffered() <= max_event_bytes_) return true;
  overflowed_ = true;
  std::string().swap(buffer_);  // give the memory back, not just the size
  std::string().swap(event_);
  std::string().swap(data_);
  std::string().swap(id_);
  consumed_ = 0;
  has_data_ = false;
  return false;
}

void SseParser::Feed(std::string_view bytes, Callback on_event) {
  if (bytes.empty() || overflowed_) return;
  if (last_was_cr_) {
    // The previous piece ended in '\r', which already ended its line; a '\n' right after it is
    // the second half of a "\r\n".
    last_was_cr_ = false;
    if (bytes.front() == '\n') bytes.remove_prefix(1);
    if (bytes.empty()) return;
  }
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  if (buffer_.size() > consumed_) {
    // Complete the partial line held from the previous piece.
    const char* eol = FindLineEnd(p, end);
    buffer_.append(p, static_cast<size_t>(eol - p));
    if (!WithinCap() || eol == end) return;
    // DispatchLine may not touch buffer_, so the view stays valid while it runs.
    DispatchLine(std::string_view(buffer_).substr(consumed_), on_event);
    buffer_.clear();
    consumed_ = 0;
    if (!WithinCap()) return;
    p = eol;
    if (*p++ == '\r') {
      if (p == end) {
        last_was_cr_ = true;
        return;
      }
      if (*p == '\n') ++p;
    }
  }
  while (p < end) {
    const char* eol = FindLineEnd(p, end);
    if (eol == end) {
      buffer_.assign(p, static_cast<size_t>(end - p));
      consumed_ = 0;
      WithinCap();
      return;
    }
    DispatchLine(std::string_view(p, static_cast<size_t>(eol - p)), on_event);
    if (!WithinCap()) return;
    p = eol + 1;
    if (*eol == '\r') {
      if (p == end) {
        last_was_cr_ = true;
        return;
      }
      if (*p == '\n') ++p;
    }
  }
}

void SseParser::Finish(Callback on_event) {
  if (overflowed_) return;
  if (buffer_.size() > consumed_) {
    std::string line = std::move(buffer_);
    buffer_.clear();
    DispatchLine(std::string_view(line).substr(consumed_), on_event);
  }
  consumed_ = 0;
  last_was_cr_ = false;
  Dispatch(on_event);
}

void SseParser::DispatchLine(std::string_view line, Callback on_event) {
  if (line.empty()) {
    Dispatch(on_event);
    return;
  }
  if (line.front() == ':') return;  // a comment (keep-alive)
  std::string_view field = line;
  std::string_view value;
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value);
  } else if (field == "id") {
    // Per the SSE specification an id containing NUL is ignored.
    if (value.find('\0') == std::string_view::npos) id_.assign(value);
  }
  // `retry:` and unknown fields are ignored.
}

void SseParser::Dispatch(Callback on_event) {
  if (has_data_ || !event_.empty()) {
    on_event(SseEvent{event_, data_, id_});
  }
  event_.clear();
  data_.clear();
  id_.clear();
  has_data_ = false;
}

void AppendSseEvent(std::string* out, std::string_view event, std::string_view data) {
  if (!event.empty()) {
    out->append("event: ");
    out->append(event);
    out->push_back('\n');
  }
  // Every line break form ends a data line on the wire, so each one starts a new data: line
  // ("\r\n" counts as one break).
  while (true) {
    // memchr, not find_first_of (a byte-at-a-time scan over a two-character set).
    const char* end = data.data() + data.size();
    const char* found = FindLineEnd(data.data(), end);
    const size_t eol = found == end ? std::string_view::npos : static_cast<size_t>(found - data.data());
    const std::string_view line = data.substr(0, eol);
    out->append(line.empty() ? "data:" : "data: ");
    out->append(line);
    out->push_back('\n');
    if (eol == std::string_view::npos) break;
    const bool crlf = data[eol] == '\r' && eol + 1 < data.size() && data[eol + 1] == '\n';
    data.remove_prefix(eol + (crlf ? 2 : 1));
  }
  out->push_back('\n');
}

}  // namespace inferencegw
