// A minimal append-only JSON text builder for the mock's precomputed bodies.
//
//   std::string out;
//   JsonOut(out).Raw(R"({"model":)").Str(model).Raw(R"(,"n":)").Int(3).Raw("}");
//
// The mock deliberately does not share code with the inferencegw library it is used to test.
#ifndef INFERENCEGW_TOOLS_MOCK_LLM_JSON_OUT_H_
#define INFERENCEGW_TOOLS_MOCK_LLM_JSON_OUT_H_

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace inferencegw::mock_llm {

// Appends `s` to `out` escaped for use inside a JSON string literal (no surrounding quotes).
// Bytes >= 0x80 are copied unchanged, so valid UTF-8 stays valid UTF-8.
inline void AppendJsonEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 0xf];
        } else {
          out += c;
        }
    }
  }
}

// Chainable builder over a caller-owned string. Not thread-safe; one per body being built.
class JsonOut {
 public:
  explicit JsonOut(std::string& out) : out_(out) {}

  // Appends `text` verbatim; the caller guarantees it is valid JSON syntax.
  JsonOut& Raw(std::string_view text) {
    out_ += text;
    return *this;
  }
  // Appends `s` as a quoted, escaped JSON string.
  JsonOut& Str(std::string_view s) {
    out_ += '"';
    AppendJsonEscaped(out_, s);
    out_ += '"';
    return *this;
  }
  // Appends `s` escaped, without quotes (for text spliced into an open string literal).
  JsonOut& Esc(std::string_view s) {
    AppendJsonEscaped(out_, s);
    return *this;
  }
  JsonOut& Int(int64_t v) {
    const fmt::format_int f(v);
    out_.append(f.data(), f.size());
    return *this;
  }
  JsonOut& Bool(bool v) {
    out_ += v ? "true" : "false";
    return *this;
  }
  // Appends a finite double in shortest round-trip form.
  JsonOut& Double(double v) {
    out_ += fmt::format("{}", v);
    return *this;
  }
  size_t size() const { return out_.size(); }

 private:
  std::string& out_;
};

}  // namespace inferencegw::mock_llm

#endif  // INFERENCEGW_TOOLS_MOCK_LLM_JSON_OUT_H_
