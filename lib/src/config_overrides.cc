// ApplyConfigOverrides: an object is rendered as manifest YAML, its spec deep-merged with the
// patch into a JSON document, and that document read back by the loader (ParseManifestsInto),
// so a changed object is held to exactly the rules a file is.
#include "inferencegw/config_overrides.h"

#include <re2/re2.h>

#include "config_internal.h"
#include "config_yaml_internal.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "json_writer.h"

namespace inferencegw {

namespace {

using internal::JsonWriter;
using internal::YamlNode;
using internal::YamlStream;

// True for YAML plain text that is also a JSON number or boolean.
bool IsJsonLiteral(const std::string& text) {
  static const RE2 kNumber(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
  return text == "true" || text == "false" || RE2::FullMatch(text, kNumber);
}

// `node` as JSON, keeping what the loader tells apart: quoted scalars stay strings, plain
// numbers and booleans stay plain.
void WriteNode(const YamlNode& node, JsonWriter& w) {
  switch (node.type()) {
    case YamlNode::Type::kUndefined:
    case YamlNode::Type::kNull:
      w.Null();
      return;
    case YamlNode::Type::kScalar:
      if (!node.IsQuoted() && IsJsonLiteral(node.Scalar())) {
        w.Raw(node.Scalar());
      } else {
        w.String(node.Scalar());
      }
      return;
    case YamlNode::Type::kSequence:
      w.BeginArray();
      for (size_t i = 0; i < node.size(); ++i) WriteNode(node[i], w);
      w.EndArray();
      return;
    case YamlNode::Type::kMap:
      w.BeginObject();
      for (const auto& [key, value] : node) {
        w.Key(key.Scalar());
        WriteNode(value, w);
      }
      w.EndObject();
      return;
  }
}

// The value of `key` in mapping `map`; undefined when absent (or `map` is not a mapping).
YamlNode Lookup(const YamlNode& map, const std::string& key) {
  for (const auto& [k, v] : map) {
    if (k.Scalar() == key) return v;
  }
  return YamlNode();
}

// `base` with `patch` merged in: mappings key by key (null deletes), anything else replaced.
void WriteMerged(const YamlNode& base, const YamlNode& patch, JsonWriter& w) {
  if (!patch.IsMap()) {
    WriteNode(patch.IsDefined() ? patch : base, w);
    return;
  }
  w.BeginObject();
  for (const auto& [key, value] : base) {
    const YamlNode change = Lookup(patch, key.Scalar());
    if (change.IsNull()) continue;
    w.Key(key.Scalar());
    WriteMerged(value, change, w);
  }
  for (const auto& [key, value] : patch) {
    if (value.IsNull() || Lookup(base, key.Scalar()).IsDefined()) continue;
    w.Key(key.Scalar());
    WriteMerged(YamlNode(), value, w);
  }
  w.EndObject();
}

ConfigIssue OverrideIssue(const ConfigOverride& o, std::string message, std::string_view reason) {
  ConfigIssue issue;
  issue.file = o.source_name;
  issue.message = std::move(message);
  issue.reason = std::string(reason);
  return issue;
}

// The index of the object `o` names, or nullopt (reported).
template <typename T>
std::optional<size_t> FindObject(const ConfigOverride& o, std::string_view kind,
                                 const std::vector<T>& objects, std::vector<ConfigIssue>* issues) {
  const bool qualified = o.name.find('/') != std::string::npos;
  std::vector<size_t> found;
  std::string known;
  for (size_t i = 0; i < objects.size(); ++i) {
    const ObjectMeta& meta = objects[i].meta;
    if ((qualified ? meta.Key() : meta.name) == o.name) found.push_back(i);
    known += fmt::format("{}{}", known.empty() ? "" : ", ", meta.Key());
  }
  if (found.size() == 1) return found[0];
  if (found.empty()) {
    // Like an unknown field: the nearest name within two edits, when there is one.
    std::string suggestion;
    int best = 3;
    for (const T& object : objects) {
      const std::string candidate = qualified ? object.meta.Key() : object.meta.name;
      const int distance = internal::EditDistance(o.name, candidate);
      if (distance < best) {
        best = distance;
        suggestion = fmt::format("; did you mean \"{}\"?", candidate);
      }
    }
    issues->push_back(OverrideIssue(o,
                                    fmt::format("no {} \"{}\"{} (there are: {})", kind, o.name,
                                                suggestion, known.empty() ? "none" : known),
                                    kind == internal::kKindBackend
                                        ? internal::kReasonBackendNotFound
                                        : internal::kReasonRouteNotFound));
  } else {
    issues->push_back(OverrideIssue(
        o,
        fmt::format("{} \"{}\" is in several namespaces; name it as namespace/name", kind, o.name),
        internal::kReasonInvalidValue));
  }
  return std::nullopt;
}

ConfigSet Alone(const Backend& b) { return ConfigSet{{b}, {}, {}, {}}; }
ConfigSet Alone(const Route& r) { return ConfigSet{{}, {r}, {}, {}}; }
std::vector<Backend>& ObjectsOf(ConfigSet& c, const Backend*) { return c.backends; }
std::vector<Route>& ObjectsOf(ConfigSet& c, const Route*) { return c.routes; }

// The object `o` names with its spec patched, read back by the loader; nullopt when the patch
// cannot be read or the object is no longer one (reported).
template <typename T>
std::optional<T> Patched(const ConfigOverride& o, const T& object,
                         std::vector<ConfigIssue>* issues) {
  YamlStream patch;
  if (std::optional<internal::YamlError> e = internal::ParseYamlStream(*o.spec_patch, &patch)) {
    issues->push_back(
        OverrideIssue(o, "cannot parse the patch: " + e->message, internal::kReasonParseError));
    return std::nullopt;
  }
  const std::vector<YamlNode> patch_docs = patch.documents();
  if (patch_docs.size() != 1 || !(patch_docs[0].IsMap() || patch_docs[0].IsNull())) {
    issues->push_back(OverrideIssue(o, "the patch must be one mapping of spec fields",
                                    internal::kReasonInvalidType));
    return std::nullopt;
  }
  YamlStream rendered;
  if (internal::ParseYamlStream(RenderManifests(Alone(object)), &rendered)) {
    issues->push_back(OverrideIssue(o, "cannot render the object", internal::kReasonParseError));
    return std::nullopt;
  }
  const YamlNode doc = rendered.documents().at(0);
  std::string json;
  JsonWriter w(&json);
  w.BeginObject();
  for (const auto& [key, value] : doc) {
    w.Key(key.Scalar());
    if (key.Scalar() == "spec") {
      WriteMerged(value, patch_docs[0], w);
    } else {
      WriteNode(value, w);
    }
  }
  if (!Lookup(doc, "spec").IsDefined()) WriteMerged(YamlNode(), patch_docs[0], w.Key("spec"));
  w.EndObject();

  ConfigSet parsed;
  std::vector<ConfigIssue> found;
  internal::ParseManifestsInto(json, o.source_name, &parsed, &found);
  for (ConfigIssue& issue : found) {
    issue.line = 0;  // lines of the generated document would mean nothing to the reader
    issues->push_back(std::move(issue));
  }
  std::vector<T>& objects = ObjectsOf(parsed, &object);
  if (objects.size() != 1) return std::nullopt;
  T changed = std::move(objects[0]);
  changed.meta.source = SourceInfo{o.source_name, 0, {}};
  return changed;
}

template <typename T>
void Apply(const ConfigOverride& o, std::string_view kind, std::vector<T>* objects,
           std::vector<ConfigIssue>* issues) {
  const std::optional<size_t> index = FindObject(o, kind, *objects, issues);
  if (!index) return;
  if (!o.spec_patch) {
    objects->erase(objects->begin() + static_cast<ptrdiff_t>(*index));
    return;
  }
  std::optional<T> changed = Patched(o, (*objects)[*index], issues);
  if (changed) (*objects)[*index] = std::move(*changed);
}

}  // namespace

absl::StatusOr<ConfigSet> ApplyConfigOverrides(const ConfigSet& base,
                                               const std::vector<ConfigOverride>& overrides) {
  ConfigSet result = base;
  std::vector<ConfigIssue> issues;
  for (const ConfigOverride& o : overrides) {
    if (o.kind == ConfigOverride::Kind::kBackend) {
      Apply(o, internal::kKindBackend, &result.backends, &issues);
    } else {
      Apply(o, internal::kKindRoute, &result.routes, &issues);
    }
  }
  internal::CheckReferences(result, &issues);
  absl::Status status = internal::IssuesToStatus(std::move(issues));
  if (!status.ok()) return status;
  return result;
}

}  // namespace inferencegw
