#include "inferencegw/json_writer.h"

#include <catch2/catch.hpp>
#include <simdjson.h>

namespace inferencegw {
namespace {

// Nested containers get commas in the right places and keys are quoted.
TEST_CASE("JsonWriter writes compact nested JSON") {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject()
      .Key("a").Int(-1)
      .Key("b").BeginArray().String("x").Bool(true).Null().Double(0.5).EndArray()
      .Key("c").BeginObject().EndObject()
      .Key("d").Raw("[1,2]")
      .EndObject();
  CHECK(out == R"({"a":-1,"b":["x",true,null,0.5],"c":{},"d":[1,2]})");
}

// Every control character, quote and backslash is escaped so that a JSON parser reads back the
// exact input; non-ASCII UTF-8 passes through unchanged.
TEST_CASE("AppendJsonString round-trips through a parser") {
  std::string input;
  for (int c = 0; c < 0x20; ++c) input.push_back(static_cast<char>(c));
  input += "\"\\/ plain text, caf\xc3\xa9";
  std::string out;
  JsonWriter(&out).BeginArray().String(input).EndArray();
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(out);
  std::string_view back = doc.at(0).get_string().value();
  CHECK(back == input);
}

// Doubles that are not finite become null (JSON has no NaN), integral doubles print compactly.
TEST_CASE("AppendJsonDouble handles special values") {
  std::string out;
  AppendJsonDouble(&out, 2.0);
  out += ' ';
  AppendJsonDouble(&out, 1.0 / 0.0);
  out += ' ';
  AppendJsonDouble(&out, 0.1);
  CHECK(out == "2 null 0.1");
}

}  // namespace
}  // namespace inferencegw
