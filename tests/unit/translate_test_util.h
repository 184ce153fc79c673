// Helpers for the translate_* and provider tests: JSON inspection with simdjson's DOM and
// SSE output splitting.
#ifndef INFERENCEGW_TESTS_UNIT_TRANSLATE_TEST_UTIL_H_
#define INFERENCEGW_TESTS_UNIT_TRANSLATE_TEST_UTIL_H_

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "inferencegw/sse.h"

namespace igw_test {

// A parsed JSON document; the test fails when the text is not JSON.
class Json {
 public:
  explicit Json(std::string_view text)
      : text_(text), parser_(std::make_unique<simdjson::dom::parser>()) {
    INFO("json: " << text_);
    REQUIRE(parser_->parse(text_).get(root_) == simdjson::SUCCESS);
  }

  // The element at a JSON pointer ("" is the root); fails the test when absent.
  simdjson::dom::element at(std::string_view pointer) const {
    simdjson::dom::element e;
    INFO("pointer " << pointer << " in " << text_);
    REQUIRE(root_.at_pointer(pointer).get(e) == simdjson::SUCCESS);
    return e;
  }
  bool has(std::string_view pointer) const {
    simdjson::dom::element e;
    return root_.at_pointer(pointer).get(e) == simdjson::SUCCESS;
  }
  std::string str(std::string_view pointer) const {
    std::string_view s;
    INFO("pointer " << pointer << " in " << text_);
    REQUIRE(at(pointer).get_string().get(s) == simdjson::SUCCESS);
    return std::string(s);
  }
  int64_t num(std::string_view pointer) const {
    int64_t v = 0;
    INFO("pointer " << pointer << " in " << text_);
    REQUIRE(at(pointer).get_int64().get(v) == simdjson::SUCCESS);
    return v;
  }
  double dbl(std::string_view pointer) const {
    double v = 0;
    INFO("pointer " << pointer << " in " << text_);
    REQUIRE(at(pointer).get_double().get(v) == simdjson::SUCCESS);
    return v;
  }
  bool boolean(std::string_view pointer) const {
    bool v = false;
    INFO("pointer " << pointer << " in " << text_);
    REQUIRE(at(pointer).get_bool().get(v) == simdjson::SUCCESS);
    return v;
  }
  bool is_null(std::string_view pointer) const { return at(pointer).is_null(); }
  // Number of elements of an array or members of an object.
  size_t size(std::string_view pointer) const {
    simdjson::dom::element e = at(pointer);
    simdjson::dom::array a;
    if (e.get_array().get(a) == simdjson::SUCCESS) return a.size();
    simdjson::dom::object o;
    INFO("pointer " << pointer << " in " << text_);
    REQUIRE(e.get_object().get(o) == simdjson::SUCCESS);
    return o.size();
  }
  std::string minified(std::string_view pointer) const { return simdjson::minify(at(pointer)); }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::unique_ptr<simdjson::dom::parser> parser_;
  simdjson::dom::element root_;
};

struct Event {
  std::string event;
  std::string data;
};

// The events of a complete SSE byte stream.
inline std::vector<Event> SseEvents(std::string_view bytes) {
  std::vector<Event> events;
  inferencegw::SseParser parser;
  auto add = [&](const inferencegw::SseEvent& e) {
    events.push_back({std::string(e.event), std::string(e.data)});
  };
  parser.Feed(bytes, add);
  parser.Finish(add);
  return events;
}

// Every event's data is a JSON object (or the OpenAI terminator "[DONE]").
inline void RequireJsonEvents(const std::vector<Event>& events) {
  for (const Event& e : events) {
    if (e.data == "[DONE]") continue;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    INFO("event " << e.event << " data " << e.data);
    REQUIRE(parser.parse(e.data).get(root) == simdjson::SUCCESS);
    REQUIRE(root.type() == simdjson::dom::element_type::OBJECT);
  }
}

// Joins SSE events in wire form: "event: e\ndata: d\n\n" (event line only when given).
inline std::string Sse(const std::vector<std::pair<std::string, std::string>>& events) {
  std::string out;
  for (const auto& [event, data] : events) {
    if (!event.empty()) out += "event: " + event + "\n";
    out += "data: " + data + "\n\n";
  }
  return out;
}

}  // namespace igw_test

#endif  // INFERENCEGW_TESTS_UNIT_TRANSLATE_TEST_UTIL_H_
