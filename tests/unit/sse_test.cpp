#include "inferencegw/sse.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace inferencegw {
namespace {

// An owned copy of an SseEvent, for comparing after the callback returned.
struct Event {
  std::string event;
  std::string data;
  std::string id;
  bool operator==(const Event& o) const { return event == o.event && data == o.data && id == o.id; }
};

std::ostream& operator<<(std::ostream& os, const Event& e) {
  return os << "{event=\"" << e.event << "\" data=\"" << e.data << "\" id=\"" << e.id << "\"}";
}

// Feeds `pieces` in order, then Finish(), and returns every event delivered.
std::vector<Event> ParsePieces(const std::vector<std::string_view>& pieces) {
  std::vector<Event> events;
  auto collect = [&](const SseEvent& e) {
    events.push_back({std::string(e.event), std::string(e.data), std::string(e.id)});
  };
  SseParser parser;
  for (std::string_view piece : pieces) parser.Feed(piece, collect);
  parser.Finish(collect);
  return events;
}

std::vector<Event> Parse(std::string_view stream) { return ParsePieces({stream}); }

// Every piece of the stream cut at all of `cuts` (sorted byte offsets).
std::vector<std::string_view> Cut(std::string_view stream, const std::vector<size_t>& cuts) {
  std::vector<std::string_view> pieces;
  size_t start = 0;
  for (size_t cut : cuts) {
    pieces.push_back(stream.substr(start, cut - start));
    start = cut;
  }
  pieces.push_back(stream.substr(start));
  return pieces;
}

// The same two events are read whether lines end in "\n", "\r\n" or "\r", or a mix of them.
TEST_CASE("SseParser accepts every line-ending style") {
  const std::vector<Event> want = {{"a", "1", ""}, {"", "2", "7"}};
  CHECK(Parse("event: a\ndata: 1\n\ndata: 2\nid: 7\n\n") == want);
  CHECK(Parse("event: a\r\ndata: 1\r\n\r\ndata: 2\r\nid: 7\r\n\r\n") == want);
  CHECK(Parse("event: a\rdata: 1\r\rdata: 2\rid: 7\r\r") == want);
  CHECK(Parse("event: a\r\ndata: 1\n\r\ndata: 2\rid: 7\n\r") == want);
}

// Several data: lines of one event are joined with "\n"; an empty data line adds an empty line.
TEST_CASE("SseParser joins multiple data lines") {
  CHECK(Parse("data: first\ndata: second\ndata:\ndata: third\n\n") ==
        std::vector<Event>{{"", "first\nsecond\n\nthird", ""}});
}

// `data:x` without a space is legal; exactly one leading space is stripped, not more.
TEST_CASE("SseParser strips exactly one space after the colon") {
  CHECK(Parse("data:x\n\n") == std::vector<Event>{{"", "x", ""}});
  CHECK(Parse("data:  two spaces\n\n") == std::vector<Event>{{"", " two spaces", ""}});
  CHECK(Parse("event:ping\ndata:{}\n\n") == std::vector<Event>{{"ping", "{}", ""}});
  CHECK(Parse("data: a:b: c\n\n") == std::vector<Event>{{"", "a:b: c", ""}});
}

// Comment lines, retry: and unknown fields are ignored; an event that has neither data nor a
// name is not dispatched, while an event with only a name is.
TEST_CASE("SseParser ignores comments, retry and empty events") {
  CHECK(Parse(": keep-alive\n\n:ping\nretry: 3000\nfoo: bar\n\n\n\ndata: x\n: mid\n\n") ==
        std::vector<Event>{{"", "x", ""}});
  CHECK(Parse("id: 5\n\n").empty());
  CHECK(Parse("event: ping\n\n") == std::vector<Event>{{"ping", "", ""}});
  // A field name without a colon has an empty value.
  CHECK(Parse("data\n\n") == std::vector<Event>{{"", "", ""}});
}

// Finish() delivers a last event that lacks its blank line, with or without the final line end,
// and nothing more afterwards.
TEST_CASE("SseParser Finish flushes the final event") {
  CHECK(Parse("data: a\n\ndata: b") == std::vector<Event>{{"", "a", ""}, {"", "b", ""}});
  CHECK(Parse("event: e\ndata: b\n") == std::vector<Event>{{"e", "b", ""}});
  CHECK(Parse("data: b\r") == std::vector<Event>{{"", "b", ""}});
  CHECK(Parse("").empty());
}

// A "\r\n" split between two Feed calls is one line end, not a line end plus an empty line.
TEST_CASE("SseParser handles CRLF split between feeds") {
  CHECK(ParsePieces({"data: a\r", "\ndata: b\r", "\n\r", "\n"}) ==
        std::vector<Event>{{"", "a\nb", ""}});
  CHECK(ParsePieces({"data: a\r", "", "\n", "\r", "\n"}) == std::vector<Event>{{"", "a", ""}});
  // A lone "\r" at the end of a piece followed by a new line is two line ends.
  CHECK(ParsePieces({"data: a\r", "\r", "data: b\n\n"}) ==
        std::vector<Event>{{"", "a", ""}, {"", "b", ""}});
}

// A multi-event stream in every line-ending style gives identical events when cut at any one
// byte boundary, at any two boundaries, and when fed one byte at a time.
TEST_CASE("SseParser is independent of how the stream is split") {
  const std::string lf =
      ": hello\n"
      "event: message_start\n"
      "data: {\"type\":\"message_start\"}\n"
      "\n"
      "data: line one\n"
      "data:line two\n"
      "id: 42\n"
      "retry: 10\n"
      "\n"
      "event: ping\n"
      "data: {\"type\": \"ping\"}\n"
      "\n"
      "data: caf\xc3\xa9 \xe2\x82\xac\n"
      "\n"
      "data: [DONE]\n"
      "\n";
  std::string crlf;
  std::string cr;
  for (char c : lf) {
    crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
    cr += c == '\n' ? '\r' : c;
  }
  const std::vector<Event> want = {{"message_start", "{\"type\":\"message_start\"}", ""},
                                   {"", "line one\nline two", "42"},
                                   {"ping", "{\"type\": \"ping\"}", ""},
                                   {"", "caf\xc3\xa9 \xe2\x82\xac", ""},
                                   {"", "[DONE]", ""}};
  for (const std::string& stream : {lf, crlf, cr}) {
    REQUIRE(Parse(stream) == want);
    for (size_t i = 0; i <= stream.size(); ++i) {
      INFO("cut at " << i);
      REQUIRE(ParsePieces(Cut(stream, {i})) == want);
    }
    for (size_t i = 0; i <= stream.size(); i += 3) {
      for (size_t j = i; j <= stream.size(); ++j) {
        INFO("cut at " << i << " and " << j);
        REQUIRE(ParsePieces(Cut(stream, {i, j})) == want);
      }
    }
    std::vector<size_t> every;
    for (size_t i = 1; i < stream.size(); ++i) every.push_back(i);
    REQUIRE(ParsePieces(Cut(stream, every)) == want);
  }
}

// buffered() counts the bytes held for the incomplete event: its partial line and the fields
// read so far; it drops to 0 once the event is dispatched.
TEST_CASE("SseParser reports buffered bytes") {
  SseParser parser;
  int events = 0;
  auto count = [&](const SseEvent&) { ++events; };
  parser.Feed("data: {\"partial", count);
  CHECK(parser.buffered() == 15);
  parser.Feed("\":1}\n", count);
  CHECK(parser.buffered() == 13);  // {"partial":1}
  parser.Feed("event: x\n", count);
  CHECK(parser.buffered() == 14);
  parser.Feed("\n", count);
  CHECK(events == 1);
  CHECK(parser.buffered() == 0);
}

// AppendSseEvent writes the wire form, splits multi-line data into several data: lines, and
// what it writes parses back to the same event.
TEST_CASE("AppendSseEvent writes events that parse back") {
  std::string out;
  AppendSseEvent(&out, "message_stop", "{\"type\":\"message_stop\"}");
  AppendSseEvent(&out, "", "a\nb\r\nc\rd\n");
  AppendSseEvent(&out, "", "");
  CHECK(out ==
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        "data: a\ndata: b\ndata: c\ndata: d\ndata:\n\n"
        "data:\n\n");
  CHECK(Parse(out) == std::vector<Event>{{"message_stop", "{\"type\":\"message_stop\"}", ""},
                                         {"", "a\nb\nc\nd\n", ""},
                                         {"", "", ""}});
}

// An event over the cap stops the parser and frees what it held, whether the excess arrives as
// one long line or as many data lines, split anywhere; events before it were delivered (issue 8).
TEST_CASE("SseParser stops at an event larger than its cap, with flat memory") {
  int delivered = 0;
  auto count = [&](const SseEvent&) { ++delivered; };
  SECTION("one long line in small pieces") {
    SseParser parser;
    parser.set_max_event_bytes(1024);
    parser.Feed("data: small\n\n", count);
    CHECK(delivered == 1);
    const std::string piece(100, 'x');
    parser.Feed("data: ", count);
    for (int i = 0; i < 100 && !parser.overflowed(); ++i) {
      parser.Feed(piece, count);
      CHECK(parser.buffered() <= 1024 + piece.size());
    }
    CHECK(parser.overflowed());
    CHECK(parser.buffered() == 0);
    parser.Feed("\n\ndata: after\n\n", count);
    parser.Finish(count);
    CHECK(delivered == 1);
  }
  SECTION("many data lines of one event") {
    SseParser parser;
    parser.set_max_event_bytes(1024);
    std::string lines;
    for (int i = 0; i < 50; ++i) lines += "data: " + std::string(40, 'y') + "\n";
    parser.Feed(lines, count);
    CHECK(parser.overflowed());
    CHECK(parser.buffered() == 0);
    CHECK(delivered == 0);
  }
  SECTION("events under the cap are untouched") {
    SseParser parser;
    parser.set_max_event_bytes(64);
    for (int i = 0; i < 1000; ++i) parser.Feed("data: " + std::string(50, 'z') + "\n\n", count);
    CHECK_FALSE(parser.overflowed());
    CHECK(delivered == 1000);
  }
}

}  // namespace
}  // namespace inferencegw
