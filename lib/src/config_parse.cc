// ParseManifests: YAML documents (and `kind: List`) into InferenceBackend, InferenceRoute and
// Secret objects, with client keys hashed. Nothing here throws: YAML comes from ParseYamlStream.
#include <algorithm>

#include "config_internal.h"
#include "config_yaml_internal.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/provider.h"

namespace inferencegw {
namespace internal {

namespace {

using Node = const YamlNode&;
using Path = const std::string&;

constexpr std::string_view kSecretApiVersion = "v1";

struct Context {
  std::string file;
  ConfigSet* config;
  std::vector<ConfigIssue>* issues;
};

// The first value of `key` in a mapping, or an undefined node.
YamlNode FindKey(const YamlNode& map, std::string_view key) {
  for (const auto& pair : map) {
    if (pair.first.IsScalar() && pair.first.Scalar() == key) return pair.second;
  }
  return YamlNode();
}

int FirstLine(const YamlNode& doc) {
  if (doc.IsMap() && doc.size() > 0) return doc.Key(0).Line();
  return doc.Line();
}

void AddFileIssue(const Context& ctx, int line, std::string field, std::string message,
                  std::string_view reason) {
  ConfigIssue issue;
  issue.file = ctx.file;
  issue.line = line;
  issue.field = std::move(field);
  issue.message = std::move(message);
  issue.reason = std::string(reason);
  ctx.issues->push_back(std::move(issue));
}

// A handler that only records the field (apiVersion and kind are read before dispatch).
YamlReader::Handler Seen() {
  return [](Node, Path) {};
}

YamlReader::Handler ApiVersionCheck(YamlReader* r, std::string_view kind,
                                    std::string_view expected) {
  return [r, kind, expected](Node v, Path p) {
    std::string got;
    r->String(v, p, &got);
    if (got != expected) {
      r->Error(v, p, fmt::format("must be \"{}\" for {}, got \"{}\"", expected, kind, got),
               kReasonInvalidApiVersion);
    }
  };
}

void ReadMeta(YamlReader* r, Node node, Path path, ObjectMeta* meta) {
  r->Map(node, path,
         {{"name", [&](Node v, Path p) { r->String(v, p, &meta->name); }},
          {"namespace",
           [&](Node v, Path p) {
             r->String(v, p, &meta->namespace_);
             if (meta->namespace_.empty()) meta->namespace_ = "default";
           }},
          {"labels", [&](Node v, Path p) { r->StringMap(v, p, &meta->labels); }},
          {"annotations", [&](Node v, Path p) { r->StringMap(v, p, &meta->annotations); }},
          {"resourceVersion", [&](Node v, Path p) { r->String(v, p, &meta->resource_version); }},
          {"generation", [&](Node v, Path p) { r->Int64(v, p, &meta->generation); }}},
         {"uid", "creationTimestamp", "managedFields", "finalizers", "ownerReferences",
          "deletionTimestamp", "deletionGracePeriodSeconds", "generateName", "selfLink"});
}

// True when `field` is `error_field` or lies inside it.
bool Covers(std::string_view error_field, std::string_view field) {
  if (field.substr(0, error_field.size()) != error_field) return false;
  return field.size() == error_field.size() || error_field.empty() ||
         field[error_field.size()] == '.' || field[error_field.size()] == '[';
}

// Moves the reader's issues (labelled with the object) and the object's own checks into the
// context, leaving out checks on fields that already have a parse error, and "missing" checks
// on a block with a parse error inside (the value that failed to parse is what is missing).
void Finish(const Context& ctx, std::string_view kind, const ObjectMeta& meta, YamlReader* r,
            std::vector<ConfigIssue> checks) {
  const std::string label = ObjectLabel(kind, meta);
  for (ConfigIssue& issue : r->issues()) {
    issue.object = label;
    ctx.issues->push_back(issue);
  }
  for (ConfigIssue& check : checks) {
    const bool covered = std::any_of(r->issues().begin(), r->issues().end(), [&](const auto& i) {
      return IsError(i) && (Covers(i.field, check.field) ||
                            (check.reason == kReasonMissingField && Covers(check.field, i.field)));
    });
    if (!covered) ctx.issues->push_back(std::move(check));
  }
}

void ReadBackend(const Context& ctx, Node doc) {
  Backend backend;
  backend.meta.source.file = ctx.file;
  backend.meta.source.line = FirstLine(doc);
  YamlReader r(ctx.file, &backend.meta.source);
  bool has_spec = false;
  r.Map(doc, "",
        {{"apiVersion", ApiVersionCheck(&r, kKindBackend, kApiVersion)},
         {"kind", Seen()},
         {"metadata", [&](Node v, Path p) { ReadMeta(&r, v, p, &backend.meta); }},
         {"spec",
          [&](Node v, Path) {
            has_spec = true;
            ReadBackendSpec(&r, v, &backend.spec);
          }}},
        {"status"});
  if (!has_spec) r.ErrorAt("spec", "required", kReasonMissingField);
  std::vector<ConfigIssue> checks;
  if (has_spec) CheckBackend(backend, &checks);
  // Without a valid type, which block is required or not allowed is unknown.
  const bool bad_type = std::any_of(r.issues().begin(), r.issues().end(),
                                    [](const ConfigIssue& i) { return i.field == "spec.type"; });
  if (bad_type) {
    checks.erase(std::remove_if(checks.begin(), checks.end(),
                                [](const ConfigIssue& i) {
                                  return i.field == "spec.kserve" || i.field == "spec.external" ||
                                         i.field == "spec.kubernetes";
                                }),
                 checks.end());
  }
  Finish(ctx, kKindBackend, backend.meta, &r, std::move(checks));
  ctx.config->backends.push_back(std::move(backend));
}

void ReadRoute(const Context& ctx, Node doc) {
  Route route;
  route.meta.source.file = ctx.file;
  route.meta.source.line = FirstLine(doc);
  YamlReader r(ctx.file, &route.meta.source);
  bool has_spec = false;
  r.Map(doc, "",
        {{"apiVersion", ApiVersionCheck(&r, kKindRoute, kApiVersion)},
         {"kind", Seen()},
         {"metadata", [&](Node v, Path p) { ReadMeta(&r, v, p, &route.meta); }},
         {"spec",
          [&](Node v, Path) {
            has_spec = true;
            ReadRouteSpec(&r, v, &route.spec);
          }}},
        {"status"});
  if (!has_spec) r.ErrorAt("spec", "required", kReasonMissingField);
  std::vector<ConfigIssue> checks;
  if (has_spec) CheckRoute(route, &checks);
  Finish(ctx, kKindRoute, route.meta, &r, std::move(checks));
  ctx.config->routes.push_back(std::move(route));
}

// One value of a Secret's data or stringData.
struct SecretEntry {
  std::string path;      // "data[api-key]"
  YamlNode node;         // the value as written
  std::string text;      // decoded (data) or as written (stringData); "" for a mapping
  bool mapping = false;  // a mapping under stringData (allowed for client keys only)
};

void ReadSecretEntries(YamlReader* r, Node node, Path path, bool base64,
                       std::map<std::string, SecretEntry>* out) {
  if (node.IsNull()) return;
  if (!node.IsMap()) {
    r->Error(node, path, "expected a mapping", kReasonInvalidType);
    return;
  }
  for (const auto& pair : node) {
    if (!pair.first.IsScalar()) {
      r->Error(pair.first, path, "keys must be strings", kReasonInvalidType);
      continue;
    }
    const std::string& key = pair.first.Scalar();
    SecretEntry entry{fmt::format("{}[{}]", path, key), pair.second, "",
                      !base64 && pair.second.IsMap()};
    if (out->count(key) > 0) {
      r->Error(pair.first, entry.path,
               fmt::format("duplicate key (first at line {})", r->LineOf((*out)[key].node)),
               kReasonDuplicateKey);
      continue;
    }
    r->Record(entry.path, pair.first);
    if (!entry.mapping) {
      r->String(pair.second, entry.path, &entry.text);
      if (base64) {
        std::optional<std::string> decoded = Base64Decode(entry.text);
        if (!decoded) {
          r->Error(pair.second, entry.path, "invalid base64", kReasonInvalidValue);
          continue;
        }
        entry.text = std::move(*decoded);
      }
    }
    (*out)[key] = std::move(entry);
  }
}

// An RFC 3339 time (UTC or with an offset) as Unix seconds, rounded down.
void ReadExpiry(YamlReader* r, Node node, Path path, int64_t* unix_seconds) {
  std::string text;
  r->String(node, path, &text);
  if (text.empty()) return;
  const std::optional<int64_t> seconds = ParseRfc3339Seconds(text);
  if (!seconds) {
    r->Error(
        node, path,
        fmt::format("must be an RFC 3339 time such as \"2027-01-01T00:00:00Z\", got \"{}\"", text),
        kReasonInvalidValue);
    return;
  }
  if (*seconds <= 0) {
    r->Error(node, path, fmt::format("must be after 1970-01-01T00:00:00Z, got \"{}\"", text),
             kReasonInvalidValue);
    return;
  }
  *unix_seconds = *seconds;
}

// A key's `routes`, stored as "namespace/name" (a bare name is in `ns`, the Secret's namespace).
void ReadKeyRoutes(YamlReader* r, Node node, Path path, std::string_view ns,
                   std::vector<std::string>* routes) {
  r->StringList(node, path, routes);
  for (std::string& route : *routes) {
    if (!route.empty() && route.find('/') == std::string::npos) {
      route = fmt::format("{}/{}", ns, route);
    }
  }
}

// A key's own `rateLimit`: {requestsPerMinute, tokensPerMinute}.
void ReadKeyRateLimit(YamlReader* r, Node node, Path path, ClientKey* ck) {
  r->Map(node, path,
         {{"requestsPerMinute", [&](Node v, Path p) { r->Int(v, p, &ck->requests_per_minute); }},
          {"tokensPerMinute", [&](Node v, Path p) { r->Int64(v, p, &ck->tokens_per_minute); }}});
}

// A client-key entry: the key itself, or {key | keySha256, attributes, policy fields}. `ns` is
// the Secret's namespace.
std::optional<ClientKey> ReadClientKey(YamlReader* r, const std::string& user, std::string_view ns,
                                       const SecretEntry& entry) {
  ClientKey ck;
  ck.user = user;
  YamlNode structured;
  YamlStream parsed;  // owns `structured` when the value is YAML text
  if (entry.mapping) {
    structured = entry.node;
  } else if (!ParseYamlStream(entry.text, &parsed).has_value()) {
    // The first document, if a mapping; anything else (or text that is not YAML) is the key.
    const std::vector<YamlNode> docs = parsed.documents();
    if (!docs.empty() && docs[0].IsMap()) structured = docs[0];
  }
  if (!structured.IsDefined() || structured.IsNull()) {
    if (entry.text.empty()) {
      r->ErrorAt(entry.path, "the key must not be empty", kReasonMissingField);
      return std::nullopt;
    }
    ck.sha256_hex = Sha256Hex(entry.text);
    return ck;
  }
  if (!entry.mapping) r->FixLine(r->LineOf(entry.node));  // marks inside the text are relative
  std::string key, hash;
  bool has_key = false, has_hash = false;
  const size_t before = r->issues().size();
  r->Map(structured, entry.path,
         {{"key",
           [&](Node v, Path p) {
             has_key = true;
             r->String(v, p, &key);
           }},
          {"keySha256",
           [&](Node v, Path p) {
             has_hash = true;
             r->String(v, p, &hash);
           }},
          {"attributes", [&](Node v, Path p) { r->StringMap(v, p, &ck.attributes, true); }},
          {"routes", [&](Node v, Path p) { ReadKeyRoutes(r, v, p, ns, &ck.routes); }},
          {"models", [&](Node v, Path p) { r->StringList(v, p, &ck.models); }},
          {"rateLimit", [&](Node v, Path p) { ReadKeyRateLimit(r, v, p, &ck); }},
          {"budget",
           [&](Node v, Path p) {
             if (!v.IsNull()) ReadBudget(r, v, p, /*on_key=*/true, &ck.budget.emplace());
           }},
          {"expires", [&](Node v, Path p) { ReadExpiry(r, v, p, &ck.expires_unix_seconds); }}});
  for (const auto& [name, value] : ck.attributes) {
    if (!IsHeaderName(name)) {
      r->ErrorAt(fmt::format("{}.attributes[{}]", entry.path, name),
                 fmt::format("invalid header name \"{}\"", name), kReasonInvalidValue);
    }
  }
  if (has_key == has_hash) {
    r->ErrorAt(entry.path, "needs exactly one of key or keySha256", kReasonMissingField);
  } else if (has_key && key.empty()) {
    r->ErrorAt(entry.path + ".key", "the key must not be empty", kReasonMissingField);
  } else if (has_hash && !IsSha256Hex(hash)) {
    r->ErrorAt(entry.path + ".keySha256", "must be 64 hex digits (a SHA-256)", kReasonInvalidValue);
  }
  if (r->issues().size() == before) {
    for (FieldProblem& p : CheckKeyPolicy(ck)) {
      r->ErrorAt(SubField(entry.path, p.field), std::move(p.message), p.reason);
    }
  }
  r->FixLine(0);
  if (r->issues().size() != before) return std::nullopt;
  ck.sha256_hex = has_key ? Sha256Hex(key) : ToLower(hash);
  return ck;
}

void ReadSecret(const Context& ctx, Node doc) {
  Secret secret;
  secret.meta.source.file = ctx.file;
  secret.meta.source.line = FirstLine(doc);
  YamlReader r(ctx.file, &secret.meta.source);
  std::map<std::string, SecretEntry> data, string_data;
  r.Map(
      doc, "",
      {{"apiVersion", ApiVersionCheck(&r, kKindSecret, kSecretApiVersion)},
       {"kind", Seen()},
       {"metadata", [&](Node v, Path p) { ReadMeta(&r, v, p, &secret.meta); }},
       {"type", [&](Node v, Path p) { r.String(v, p, &secret.type); }},
       {"immutable", [&](Node v, Path p) { r.Bool(v, p, &secret.immutable); }},
       {"data", [&](Node v, Path p) { ReadSecretEntries(&r, v, p, true, &data); }},
       {"stringData", [&](Node v, Path p) { ReadSecretEntries(&r, v, p, false, &string_data); }}});
  // kubectl apply copies the whole Secret, values included, into this annotation.
  secret.meta.annotations.erase(std::string(kLastAppliedAnnotation));
  for (auto& [key, entry] : string_data) data[key] = std::move(entry);  // stringData wins
  const bool client_keys = IsClientKeySecret(secret);
  for (const auto& [key, entry] : data) {
    if (client_keys) {
      std::optional<ClientKey> ck = ReadClientKey(&r, key, secret.meta.namespace_, entry);
      if (!ck) continue;
      ck->secret = secret.meta.Key();
      ctx.config->client_keys.push_back(std::move(*ck));
    } else if (entry.mapping) {
      r.Error(entry.node, entry.path, "expected a string, got a mapping", kReasonInvalidType);
    } else {
      secret.data[key] = entry.text;
    }
  }
  std::vector<ConfigIssue> checks;
  CheckSecret(secret, &checks);
  Finish(ctx, kKindSecret, secret.meta, &r, std::move(checks));
  ctx.config->secrets.push_back(std::move(secret));
}

void ReadDocument(const Context& ctx, Node doc);

void ReadList(const Context& ctx, Node doc, const std::string& kind) {
  YamlReader r(ctx.file, nullptr);
  const std::string_view item_kind = std::string_view(kind).substr(0, kind.size() - 4);
  const std::string_view expected =
      kind == "List" || item_kind == kKindSecret ? kSecretApiVersion : kApiVersion;
  r.Map(doc, "",
        {{"apiVersion", ApiVersionCheck(&r, kind, expected)},
         {"kind", Seen()},
         {"metadata", Seen()},
         {"items", [&](Node v, Path p) {
            r.List(v, p, [&](Node item, Path, size_t) { ReadDocument(ctx, item); });
          }}});
  for (ConfigIssue& issue : r.issues()) ctx.issues->push_back(std::move(issue));
}

void ReadDocument(const Context& ctx, Node doc) {
  if (doc.IsNull()) return;
  if (!doc.IsMap()) {
    AddFileIssue(ctx, doc.Line(), "", "a manifest must be a mapping", kReasonInvalidType);
    return;
  }
  const YamlNode kind_node = FindKey(doc, "kind");
  if (!kind_node.IsDefined() || !kind_node.IsScalar() || kind_node.Scalar().empty()) {
    AddFileIssue(ctx, FirstLine(doc), "kind", "required", kReasonMissingField);
    return;
  }
  const std::string& kind = kind_node.Scalar();
  if (kind == kKindBackend) {
    ReadBackend(ctx, doc);
  } else if (kind == kKindRoute) {
    ReadRoute(ctx, doc);
  } else if (kind == kKindSecret) {
    ReadSecret(ctx, doc);
  } else if (kind == "List" || kind == "InferenceBackendList" || kind == "InferenceRouteList" ||
             kind == "SecretList") {
    ReadList(ctx, doc, kind);
  } else {
    AddFileIssue(ctx, kind_node.Line(), "kind",
                 fmt::format("unknown kind \"{}\" (expected InferenceBackend, InferenceRoute, "
                             "Secret or List)",
                             kind),
                 kReasonUnknownKind);
  }
}

}  // namespace

void ParseManifestsInto(std::string_view yaml, std::string_view source_name, ConfigSet* config,
                        std::vector<ConfigIssue>* issues) {
  const Context ctx{std::string(source_name), config, issues};
  if (yaml.size() > kMaxConfigBytes) {
    AddFileIssue(ctx, 0, "",
                 fmt::format("larger than {} bytes ({} bytes)", kMaxConfigBytes, yaml.size()),
                 kReasonParseError);
    return;
  }
  YamlStream stream;
  if (std::optional<YamlError> e = ParseYamlStream(yaml, &stream)) {
    AddFileIssue(ctx, e->line, "",
                 e->column > 0 ? fmt::format("invalid YAML: {} (column {})", e->message, e->column)
                               : fmt::format("invalid YAML: {}", e->message),
                 kReasonParseError);
    return;
  }
  for (const YamlNode& doc : stream.documents()) ReadDocument(ctx, doc);
}

}  // namespace internal

absl::StatusOr<ConfigSet> ParseManifests(std::string_view yaml, std::string_view source_name) {
  ConfigSet config;
  std::vector<ConfigIssue> issues;
  internal::ParseManifestsInto(yaml, source_name, &config, &issues);
  absl::Status status = internal::IssuesToStatus(std::move(issues));
  if (!status.ok()) return status;
  return config;
}

}  // namespace inferencegw
