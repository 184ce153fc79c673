// Internal: typed reading of yaml-cpp nodes for the manifest parser. Every field seen has its
// line recorded; every problem (wrong type, unknown or duplicate key) becomes a ConfigIssue.
// yaml-cpp may throw: callers wrap whole documents in try/catch (config_parse.cc does).
//
//   YamlReader r(source_name, &meta.source);
//   r.Map(node, "spec", {{"priority", [&](const YAML::Node& v, const std::string& p) {
//                          r.Int(v, p, &spec.priority); }}});
#ifndef INFERENCEGW_SRC_CONFIG_YAML_INTERNAL_H_
#define INFERENCEGW_SRC_CONFIG_YAML_INTERNAL_H_

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inferencegw/config.h"
#include "inferencegw/config_loader.h"

namespace inferencegw::internal {

// "spec" + "priority" -> "spec.priority"; "" + "spec" -> "spec".
std::string JoinPath(std::string_view path, std::string_view name);

// Not thread-safe; one per object being read.
class YamlReader {
 public:
  using Handler = std::function<void(const YAML::Node& value, const std::string& path)>;
  struct Field {
    std::string_view name;
    Handler read;
  };

  // Lines are recorded into `source` (may be null: then nothing is recorded).
  YamlReader(std::string_view file, SourceInfo* source) : file_(file), source_(source) {}

  // Reads a mapping: records each key's line, reports duplicate keys and unknown ones (with a
  // did-you-mean suggestion), skips `ignored` keys and calls the matching handler for the rest.
  // Null reads as an empty mapping. Returns false (reported) when `node` is not a mapping.
  bool Map(const YAML::Node& node, const std::string& path, std::initializer_list<Field> fields,
           std::initializer_list<std::string_view> ignored = {});
  // Calls `each(item, "path[i]", i)` for every element of a sequence (null: none). Returns false
  // (reported) when `node` is not a sequence.
  bool List(const YAML::Node& node, const std::string& path,
            const std::function<void(const YAML::Node&, const std::string&, size_t)>& each);

  // Scalars. Null leaves `*out` unchanged (Kubernetes reads null as "not set"). Numbers and
  // booleans must be plain (unquoted) YAML scalars, as kubectl's schema validation requires.
  void String(const YAML::Node& node, const std::string& path, std::string* out);
  void Int(const YAML::Node& node, const std::string& path, int* out);
  void Int64(const YAML::Node& node, const std::string& path, int64_t* out);
  void Bool(const YAML::Node& node, const std::string& path, bool* out);
  // A price: a decimal string or a YAML number, exact to nine decimal places, not negative.
  void Price(const YAML::Node& node, const std::string& path, PriceNanos* out);
  // A number 0..100 with at most two decimals, as basis points (12.5 -> 1250).
  void Percent(const YAML::Node& node, const std::string& path, int* basis_points);
  // One of `names` (listed in the error message when the value is not).
  template <typename T>
  void Enum(const YAML::Node& node, const std::string& path,
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
  void StringMap(const YAML::Node& node, const std::string& path,
                 std::map<std::string, std::string>* out, bool lowercase_keys = false);
  void StringList(const YAML::Node& node, const std::string& path, std::vector<std::string>* out);

  // Records an issue at `node`'s line (or the fixed line, see FixLine).
  void Error(const YAML::Node& node, std::string path, std::string message,
             std::string_view reason);
  // Records an issue at the line recorded for `path` (or its nearest recorded parent).
  void ErrorAt(std::string path, std::string message, std::string_view reason);
  // Records the line of `path` (the first time it is seen).
  void Record(const std::string& path, const YAML::Node& node);
  // While non-zero, every line recorded or reported is `line` (for YAML nested inside a string,
  // whose own marks are relative to the string).
  void FixLine(int line) { fixed_line_ = line; }
  int LineOf(const YAML::Node& node) const;

  std::vector<ConfigIssue>& issues() { return issues_; }

 private:
  // The text of a scalar node; false when null (nothing to read) or not a scalar (reported).
  bool ScalarText(const YAML::Node& node, const std::string& path, std::string_view expected,
                  std::string* out);
  // A number or boolean written as a quoted string; `looks_right` when only the quotes are wrong.
  void QuotedError(const YAML::Node& node, const std::string& path, std::string_view expected,
                   const std::string& text, bool looks_right);
  void EnumError(const YAML::Node& node, const std::string& path, const std::string& expected,
                 const std::string& got);

  std::string file_;
  SourceInfo* source_;
  int fixed_line_ = 0;
  std::vector<ConfigIssue> issues_;
};

// The `spec` of an InferenceBackend / InferenceRoute (config_parse_spec.cc). `node` is the
// spec's value; paths start with "spec".
void ReadBackendSpec(YamlReader* r, const YAML::Node& node, BackendSpec* spec);
void ReadRouteSpec(YamlReader* r, const YAML::Node& node, RouteSpec* spec);

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_CONFIG_YAML_INTERNAL_H_
