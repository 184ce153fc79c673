// Internal: the manifest parser's YAML tree (libyaml events into an immutable, bounded tree;
// config_parse_yaml.cc) and typed reading of its nodes. Every field seen has its line recorded;
// every problem (wrong type, unknown or duplicate key) becomes a ConfigIssue. Nothing throws.
//
//   YamlStream stream;
//   if (std::optional<YamlError> e = ParseYamlStream(text, &stream)) { report e; }
//   YamlReader r(source_name, &meta.source);
//   r.Map(stream.documents()[0], "spec", {{"priority", [&](const YamlNode& v,
//                          const std::string& p) { r.Int(v, p, &spec.priority); }}});
#ifndef INFERENCEGW_SRC_CONFIG_YAML_INTERNAL_H_
#define INFERENCEGW_SRC_CONFIG_YAML_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inferencegw/config.h"
#include "inferencegw/config_loader.h"

namespace inferencegw::internal {

// Limits of ParseYamlStream, so that any input is parsed in time and memory linear in its size
// (docs/configuration.md, "Limits of the config parser"). The input size itself is capped by the
// callers (kMaxConfigBytes in config_internal.h). Collections nested deeper than this are an error
// (the tree is read recursively).
inline constexpr int kMaxYamlDepth = 256;
// At most this many nodes, counting every node an alias stands for ("billion laughs").
inline constexpr uint64_t kMaxYamlNodes = 1'000'000;

class YamlStream;

// One node of a YamlStream: a null (also `~`, empty), a scalar, a sequence or a mapping; or
// undefined (a default-constructed node, or a missing key). A cheap handle: valid while its
// YamlStream lives. An alias is the node its anchor names (the same handle).
class YamlNode {
 public:
  enum class Type : uint8_t { kUndefined, kNull, kScalar, kSequence, kMap };
  YamlNode() = default;

  Type type() const;
  bool IsDefined() const { return type() != Type::kUndefined; }
  bool IsNull() const { return type() == Type::kNull; }
  bool IsScalar() const { return type() == Type::kScalar; }
  bool IsSequence() const { return type() == Type::kSequence; }
  bool IsMap() const { return type() == Type::kMap; }
  // The text of a scalar ("" for any other type).
  const std::string& Scalar() const;
  // True for a scalar written quoted or as a block (| or >), or tagged !!str: a string even when
  // its text looks like a number or a boolean.
  bool IsQuoted() const;
  // 1-based line where the node starts (for an alias: where its anchor's node starts); 0 unknown.
  int Line() const;
  // Items of a sequence, pairs of a mapping; 0 for other types.
  size_t size() const;
  // REQUIRES: IsSequence() and i < size().
  YamlNode operator[](size_t i) const;
  // REQUIRES: IsMap() and i < size().
  YamlNode Key(size_t i) const;
  YamlNode Value(size_t i) const;
  // Range-for over the key/value pairs of a mapping (nothing for other types).
  class PairIterator;
  PairIterator begin() const;
  PairIterator end() const;

 private:
  friend class YamlStream;
  YamlNode(const YamlStream* stream, uint32_t index) : stream_(stream), index_(index) {}

  const YamlStream* stream_ = nullptr;
  uint32_t index_ = 0;
};

// One key/value pair of a mapping.
struct YamlPair {
  YamlNode first;
  YamlNode second;
};

class YamlNode::PairIterator {
 public:
  PairIterator(YamlNode map, size_t i) : map_(map), i_(i) {}
  YamlPair operator*() const { return {map_.Key(i_), map_.Value(i_)}; }
  PairIterator& operator++() {
    ++i_;
    return *this;
  }
  bool operator!=(const PairIterator& other) const { return i_ != other.i_; }

 private:
  YamlNode map_;
  size_t i_;
};

inline YamlNode::PairIterator YamlNode::begin() const { return PairIterator(*this, 0); }
inline YamlNode::PairIterator YamlNode::end() const {
  return PairIterator(*this, IsMap() ? size() : 0);
}

// A parse failure: 1-based line and column (0 when unknown) and what is wrong.
struct YamlError {
  int line = 0;
  int column = 0;
  std::string message;
};

// The documents of a YAML stream. Not copyable or movable (its nodes point to it); immutable
// once parsed, so concurrent reads are safe.
class YamlStream {
 public:
  YamlStream() = default;
  YamlStream(const YamlStream&) = delete;
  YamlStream& operator=(const YamlStream&) = delete;

  // One root per document, in order (an empty document is a null node).
  std::vector<YamlNode> documents() const;

 private:
  friend class YamlNode;
  friend class YamlStreamBuilder;
  struct NodeData {
    YamlNode::Type type = YamlNode::Type::kNull;
    bool quoted = false;
    bool complete = false;  // the collection has ended (an alias to it is allowed)
    int line = 0;
    uint64_t expanded = 1;  // nodes this one stands for, itself and aliases expanded included
    std::string text;
    std::vector<uint32_t> children;  // items; for a mapping: key, value, key, value, ...
  };
  std::vector<NodeData> nodes_;  // flat, so that destroying a deep tree does not recurse
  std::vector<uint32_t> roots_;
};

// Parses a YAML stream (JSON included) with libyaml. Rejects NUL bytes and invalid UTF-8 (with
// their position), aliases to undefined or enclosing anchors, and input over kMaxYamlDepth /
// kMaxYamlNodes. Returns nullopt on success (`out` filled; REQUIRES:
// `out` freshly constructed), else the first error (`out` in an unspecified state).
std::optional<YamlError> ParseYamlStream(std::string_view text, YamlStream* out);

// "spec" + "priority" -> "spec.priority"; "" + "spec" -> "spec".
std::string JoinPath(std::string_view path, std::string_view name);

// Not thread-safe; one per object being read.
class YamlReader {
 public:
  using Handler = std::function<void(const YamlNode& value, const std::string& path)>;
  struct Field {
    std::string_view name;
    Handler read;
  };

  // Lines are recorded into `source` (may be null: then nothing is recorded).
  YamlReader(std::string_view file, SourceInfo* source) : file_(file), source_(source) {}

  // Reads a mapping: records each key's line, reports duplicate keys and unknown ones (with a
  // did-you-mean suggestion), skips `ignored` keys and calls the matching handler for the rest.
  // Null reads as an empty mapping. Returns false (reported) when `node` is not a mapping.
  bool Map(const YamlNode& node, const std::string& path, std::initializer_list<Field> fields,
           std::initializer_list<std::string_view> ignored = {});
  // Calls `each(item, "path[i]", i)` for every element of a sequence (null: none). Returns false
  // (reported) when `node` is not a sequence.
  bool List(const YamlNode& node, const std::string& path,
            const std::function<void(const YamlNode&, const std::string&, size_t)>& each);

  // Scalars. Null leaves `*out` unchanged (Kubernetes reads null as "not set"). Numbers and
  // booleans must be plain (unquoted) YAML scalars, as kubectl's schema validation requires.
  void String(const YamlNode& node, const std::string& path, std::string* out);
  void Int(const YamlNode& node, const std::string& path, int* out);
  void Int64(const YamlNode& node, const std::string& path, int64_t* out);
  void Bool(const YamlNode& node, const std::string& path, bool* out);
  // A price: a decimal string or a YAML number, exact to nine decimal places, not negative.
  void Price(const YamlNode& node, const std::string& path, PriceNanos* out);
  // A number 0..100 with at most two decimals, as basis points (12.5 -> 1250).
  void Percent(const YamlNode& node, const std::string& path, int* basis_points);
  // One of `names` (listed in the error message when the value is not).
  template <typename T>
  void Enum(const YamlNode& node, const std::string& path,
            std::initializer_list<std::pair<std::string_view, T>> names, T* out) {
    std::string text;
    if (!ScalarText(node, path, "a string", &text)) return;
    std::string expected;
    for (const auto& [name, value] : names) {
      if (name == text) {
        *out = value;
        return;
      }
      expected += expected.empty() ? "" : ", ";
      expected += name;
    }
    EnumError(node, path, expected, text);
  }

  // A mapping of strings to strings (null: empty). With `lowercase_keys`, keys are stored in
  // lowercase and keys equal but for case are duplicates.
  void StringMap(const YamlNode& node, const std::string& path,
                 std::map<std::string, std::string>* out, bool lowercase_keys = false);
  void StringList(const YamlNode& node, const std::string& path, std::vector<std::string>* out);

  // Records an issue at `node`'s line (or the fixed line, see FixLine).
  void Error(const YamlNode& node, std::string path, std::string message, std::string_view reason);
  // Records an issue at the line recorded for `path` (or its nearest recorded parent).
  void ErrorAt(std::string path, std::string message, std::string_view reason);
  // Records the line of `path` (the first time it is seen).
  void Record(const std::string& path, const YamlNode& node);
  // While non-zero, every line recorded or reported is `line` (for YAML nested inside a string,
  // whose own marks are relative to the string).
  void FixLine(int line) { fixed_line_ = line; }
  int LineOf(const YamlNode& node) const;

  std::vector<ConfigIssue>& issues() { return issues_; }

 private:
  // The text of a scalar node; false when null (nothing to read) or not a scalar (reported).
  bool ScalarText(const YamlNode& node, const std::string& path, std::string_view expected,
                  std::string* out);
  // A number or boolean written as a quoted string; `looks_right` when only the quotes are wrong.
  void QuotedError(const YamlNode& node, const std::string& path, std::string_view expected,
                   const std::string& text, bool looks_right);
  void EnumError(const YamlNode& node, const std::string& path, const std::string& expected,
                 const std::string& got);

  std::string file_;
  SourceInfo* source_;
  int fixed_line_ = 0;
  std::vector<ConfigIssue> issues_;
};

// The `spec` of an InferenceBackend / InferenceRoute (config_parse_spec.cc). `node` is the
// spec's value; paths start with "spec".
void ReadBackendSpec(YamlReader* r, const YamlNode& node, BackendSpec* spec);
void ReadRouteSpec(YamlReader* r, const YamlNode& node, RouteSpec* spec);
// A spend budget {limit, perUser, period, currency} at `path` (a route's spec.budget, or a client
// key's budget: `on_key`, where perUser is an error). A limit written as 0 is an error; the other
// rules are CheckBudget's.
void ReadBudget(YamlReader* r, const YamlNode& node, const std::string& path, bool on_key,
                BudgetConfig* budget);

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_CONFIG_YAML_INTERNAL_H_
