// Loading, validating and rendering manifest sets: the same multi-document YAML files a user
// would `kubectl apply` (InferenceBackend, InferenceRoute and Secret documents; JSON documents
// too, since JSON is YAML).
//
//   absl::StatusOr<ConfigSet> config = LoadConfigFromPath("examples/demo");  // file or directory
//   if (!config.ok()) std::cerr << config.status().message();
//   // routes.yaml:14: InferenceRoute default/chatbot-route: spec.fallback.backends[1]:
//   //   unknown backend "claude"
#ifndef INFERENCEGW_CONFIG_LOADER_H_
#define INFERENCEGW_CONFIG_LOADER_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "inferencegw/config.h"

namespace inferencegw {

// One problem found in a manifest set.
struct ConfigIssue {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  std::string file;     // "" when unknown
  int line = 0;         // 1-based; 0 when unknown
  std::string object;   // "InferenceRoute default/chatbot-route"; "" for file-level issues
  std::string field;    // "spec.fallback.backends[1]"
  std::string message;  // "unknown backend \"claude\""
  // A stable CamelCase reason for Kubernetes conditions: "BackendNotFound", "InvalidValue",
  // "UnknownField", "DuplicateName", "SecretNotFound", "ParseError", ...
  std::string reason;

  // "file:line: object: field: message" (parts that are unknown are left out).
  std::string ToString() const;
};

// Parses every document of `yaml` (named `source_name` in messages). Unknown kinds, unknown
// fields, wrong types and out-of-range values are errors. Does not check references between
// objects; see ValidateConfig. Returns InvalidArgument listing every error found (one per line).
// Any input is parsed in time and memory linear in its size: text over 16 MiB, collections
// nested over 256 deep, more than 1'000'000 nodes (aliases expanded), NUL bytes and invalid
// UTF-8 are errors (docs/configuration.md, "Limits of the config parser").
absl::StatusOr<ConfigSet> ParseManifests(std::string_view yaml, std::string_view source_name);

// Checks references and cross-object rules: unknown backends in routes, duplicate names, an
// experiment whose arms are not distinct, more than one default route, ... Missing API-key
// Secrets are warnings (the seed's examples reference Secrets they do not define). Also applies
// ParseManifests' per-object rules (ranges, required fields), so configs built in code are held
// to them too. Issues are sorted by file and line.
std::vector<ConfigIssue> ValidateConfig(const ConfigSet& config);

// ParseManifests + ValidateConfig for text. Fails with every error (not warnings), one per line.
absl::StatusOr<ConfigSet> LoadConfigFromString(std::string_view yaml,
                                               std::string_view source_name = "<string>");

// Loads a file, or every *.yaml / *.yml / *.json file directly inside a directory (sorted by
// name; dot-files skipped, so Kubernetes ConfigMap mounts with ..data symlinks load once).
// The files together may hold at most 16 MiB; more is InvalidArgument (read no further). A
// config with no routes loads (deciding whether that is acceptable is the caller's business).
absl::StatusOr<ConfigSet> LoadConfigFromPath(const std::string& path);

// One input of LoadConfigFromSources: a path (a file or a directory, as LoadConfigFromPath reads
// it), manifest text named `name` in messages, or a set loaded before (not owned; REQUIRES: it
// outlives the call).
struct ConfigSource {
  enum class Kind { kPath, kText, kLoaded };
  Kind kind = Kind::kPath;
  std::string path_or_text;
  std::string name;                   // kText only: "<string>", "secrets (env)", ...
  const ConfigSet* loaded = nullptr;  // kLoaded only

  static ConfigSource Path(std::string path) { return {Kind::kPath, std::move(path), "", nullptr}; }
  static ConfigSource Text(std::string text, std::string name) {
    return {Kind::kText, std::move(text), std::move(name), nullptr};
  }
  static ConfigSource Loaded(const ConfigSet& config) { return {Kind::kLoaded, "", "", &config}; }
};

// Reads several sources as one manifest set, the way LoadConfigFromPath reads the files of one
// directory: objects keep the order of the sources, references are checked across all of them,
// and an object defined twice is a DuplicateName error citing both places ("b.yaml:3:
// InferenceBackend default/x: metadata.name: duplicate InferenceBackend \"default/x\": first
// defined at a.yaml:3"). A kLoaded set contributes its objects as they are (their sources kept,
// not parsed again). Texts and files together may hold at most 16 MiB. Returns NotFound for a
// missing path, else InvalidArgument listing every error, one per line.
absl::StatusOr<ConfigSet> LoadConfigFromSources(const std::vector<ConfigSource>& sources);

// All ConfigIssues with Severity kWarning for a loaded set (for logging at startup).
std::vector<ConfigIssue> ConfigWarnings(const ConfigSet& config);

// The value of key `key` of Secret `namespace/name`, or nullptr.
const std::string* LookupSecretValue(const ConfigSet& config, std::string_view ns,
                                     std::string_view name, std::string_view key);

// The config as JSON for people (/admin/config): every object and field, Secrets listed by
// name and key names only, client keys by user and attributes only. Never contains a secret.
std::string RenderConfigJson(const ConfigSet& config);

// The config as a multi-document YAML manifest set that ParseManifests reads back to an equal
// ConfigSet (Secrets included, base64 `data`). Used by the k8s syncer to write the proxy's config.
std::string RenderManifests(const ConfigSet& config);

// Parses a decimal price such as "0.003" into nano-units ("0.003" -> 3'000'000). At most nine
// decimal places; negative, empty or non-numeric text is InvalidArgument.
absl::StatusOr<PriceNanos> ParsePrice(std::string_view text);
// The inverse of ParsePrice, without trailing zeros: 3'000'000 -> "0.003".
std::string FormatPrice(PriceNanos price);

}  // namespace inferencegw

#endif  // INFERENCEGW_CONFIG_LOADER_H_
