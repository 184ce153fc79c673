// Changing fields of a loaded config without editing its files ("what if local-mistral took 20
// requests at once?"): each override deep-merges a patch into one object's `spec`, and the
// result is validated by the loader's own code, as if the changed object had been read from a file.
//
//   ConfigOverride o{ConfigOverride::Kind::kBackend, "local-mistral", R"({"maxConcurrency": 20})",
//                    "<override backends.local-mistral>"};
//   absl::StatusOr<ConfigSet> changed = ApplyConfigOverrides(config, {o});
#ifndef INFERENCEGW_CONFIG_OVERRIDES_H_
#define INFERENCEGW_CONFIG_OVERRIDES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "inferencegw/config.h"

namespace inferencegw {

// A change to one InferenceBackend or InferenceRoute.
struct ConfigOverride {
  enum class Kind { kBackend, kRoute };
  Kind kind = Kind::kBackend;
  // "namespace/name", or a bare name when exactly one object of the kind has it.
  std::string name;
  // A YAML (or JSON) mapping in the manifests' own field names (camelCase), merged into the
  // object's `spec`: mappings merge key by key, a null value deletes the field (it takes its
  // default), anything else (lists included) replaces the field whole. nullopt removes the
  // object from the set.
  std::optional<std::string> spec_patch;
  // Names the override in messages, in place of a file name: "<override backends.local-mistral>".
  std::string source_name;
};

// Returns a copy of `base` with every override applied in order, or InvalidArgument listing
// every error, one per line: an unknown or ambiguous object name ("<override backends.nope>: no
// InferenceBackend \"nope\"; backends: default/a, default/b"), a patch that is not a mapping, and
// whatever the loader finds wrong with a changed object, in its words, with `source_name` as
// the file ("<override backends.x>: InferenceBackend default/x: spec.maxConcurrency: must be at
// least 1"), or with the set as a whole (a route naming a removed backend). A changed object's
// source becomes `source_name` (no line). Never copies a Secret's value into a message.
absl::StatusOr<ConfigSet> ApplyConfigOverrides(const ConfigSet& base,
                                               const std::vector<ConfigOverride>& overrides);

}  // namespace inferencegw

#endif  // INFERENCEGW_CONFIG_OVERRIDES_H_
