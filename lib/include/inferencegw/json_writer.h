// A small writer of compact JSON text, used wherever the library and its frontends emit JSON
// (admin documents, error bodies, translated requests and responses, log lines). Not a parser:
// parsing is simdjson's.
//
//   std::string out;
//   JsonWriter w(&out);
//   w.BeginObject().Key("model").String("gpt-4").Key("n").Int(1).EndObject();  //
//   {"model":"gpt-4","n":1}
#ifndef INFERENCEGW_JSON_WRITER_H_
#define INFERENCEGW_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/container/inlined_vector.h"

namespace inferencegw {

// Appends `s` as a JSON string literal, quotes included. Control characters, '"' and '\\' are
// escaped; bytes >= 0x80 are copied as they are (the input is assumed to be UTF-8).
void AppendJsonString(std::string* out, std::string_view s);

// Appends a double the way JSON wants it: shortest round-trip form, integers without ".0" when
// exact, and `null` for NaN and infinities.
void AppendJsonDouble(std::string* out, double v);

// Not thread-safe. Appends to a caller-owned string; commas are inserted automatically.
// REQUIRES: calls form valid JSON (keys only inside objects, balanced Begin/End).
class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view v);
  JsonWriter& Int(int64_t v);
  JsonWriter& UInt(uint64_t v);
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();
  // Inserts already-serialized JSON (e.g. a sub-document copied from a parsed request).
  JsonWriter& Raw(std::string_view json);

  std::string* out() { return out_; }

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  void Separate();

  std::string* out_;
  absl::InlinedVector<bool, 16> first_;  // per open container: no element written yet
  bool after_key_ = false;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_JSON_WRITER_H_
