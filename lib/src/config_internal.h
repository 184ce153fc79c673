// Internal: what the config files (config*.cc) share. Not part of the public API.
//
//   std::vector<ConfigIssue> issues;
//   internal::CheckBackend(backend, &issues);     // ranges and required fields of one object
//   absl::Status s = internal::IssuesToStatus(std::move(issues));  // errors sorted, one per line
#ifndef INFERENCEGW_SRC_CONFIG_INTERNAL_H_
#define INFERENCEGW_SRC_CONFIG_INTERNAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "inferencegw/config.h"
#include "inferencegw/config_loader.h"

namespace inferencegw::internal {

inline constexpr std::string_view kKindBackend = "InferenceBackend";
inline constexpr std::string_view kKindRoute = "InferenceRoute";
inline constexpr std::string_view kKindSecret = "Secret";

// Stable reasons (ConfigIssue::reason). docs/configuration.md lists them.
inline constexpr std::string_view kReasonParseError = "ParseError";
inline constexpr std::string_view kReasonUnknownKind = "UnknownKind";
inline constexpr std::string_view kReasonInvalidApiVersion = "InvalidApiVersion";
inline constexpr std::string_view kReasonUnknownField = "UnknownField";
inline constexpr std::string_view kReasonDuplicateKey = "DuplicateKey";
inline constexpr std::string_view kReasonInvalidType = "InvalidType";
inline constexpr std::string_view kReasonMissingField = "MissingField";
inline constexpr std::string_view kReasonInvalidValue = "InvalidValue";
inline constexpr std::string_view kReasonDuplicateName = "DuplicateName";
inline constexpr std::string_view kReasonBackendNotFound = "BackendNotFound";
inline constexpr std::string_view kReasonDuplicateDefaultRoute = "DuplicateDefaultRoute";
inline constexpr std::string_view kReasonDuplicateClientKey = "DuplicateClientKey";
inline constexpr std::string_view kReasonSecretNotFound = "SecretNotFound";
inline constexpr std::string_view kReasonModelConflict = "ModelConflict";
inline constexpr std::string_view kReasonNoRouteWithoutHeader = "NoRouteWithoutHeader";
inline constexpr std::string_view kReasonNoBackend = "NoBackend";
inline constexpr std::string_view kReasonRouteNotFound = "RouteNotFound";
inline constexpr std::string_view kReasonBudgetNeverCharged = "BudgetNeverCharged";
inline constexpr std::string_view kReasonReadError = "ReadError";

// Kubernetes annotation kubectl apply writes with the whole object (a Secret's values included).
inline constexpr std::string_view kLastAppliedAnnotation =
    "kubectl.kubernetes.io/last-applied-configuration";

// "InferenceRoute default/chatbot-route".
std::string ObjectLabel(std::string_view kind, const ObjectMeta& meta);

// An issue about `field` of an object; file and line come from the object's SourceInfo.
ConfigIssue MakeIssue(std::string_view kind, const ObjectMeta& meta, std::string field,
                      std::string message, std::string_view reason,
                      ConfigIssue::Severity severity = ConfigIssue::Severity::kError);

// True when the Secret carries the client-keys annotation with the value "true".
bool IsClientKeySecret(const Secret& secret);

// Sorts by file, then line, keeping the order of discovery otherwise.
void SortIssues(std::vector<ConfigIssue>* issues);

// OK when `issues` holds no error; else InvalidArgument with every error's ToString(), sorted,
// one per line. Warnings are ignored.
absl::Status IssuesToStatus(std::vector<ConfigIssue> issues);

// True for ConfigIssue::Severity::kError.
bool IsError(const ConfigIssue& issue);

// Per-object rules: required fields, ranges, formats (what a single manifest can get wrong).
void CheckBackend(const Backend& backend, std::vector<ConfigIssue>* issues);
void CheckRoute(const Route& route, std::vector<ConfigIssue>* issues);
void CheckSecret(const Secret& secret, std::vector<ConfigIssue>* issues);
// A problem found by a rule that objects of several kinds share: `field` is relative to where
// the checked value sits ("limit", "routes[1]"; "" for the value itself).
struct FieldProblem {
  std::string field;
  std::string message;
  std::string_view reason = kReasonInvalidValue;
};
// `parent` + `field`: ("spec.budget", "limit") -> "spec.budget.limit"; ("a", "") -> "a".
std::string SubField(std::string_view parent, std::string_view field);
// A spend budget's rules: limit and perUser not negative, at least one of them set, a currency
// code; `on_key` (a client key's own budget): perUser not allowed.
std::vector<FieldProblem> CheckBudget(const BudgetConfig& budget, bool on_key);
// A client key's policy rules: routes as "namespace/name", model globs not empty, limits not
// negative, the budget (CheckBudget), expiry from 1970 to 9999. Fields are relative to the key's
// entry ("routes[0]", "rateLimit.requestsPerMinute", "budget.limit", "expires").
std::vector<FieldProblem> CheckKeyPolicy(const ClientKey& key);
// Client keys built in code: user, hash format, attribute names, policy (the parser ensures
// these).
void CheckClientKeyFormats(const ConfigSet& config, std::vector<ConfigIssue>* issues);
// Cross-object rules: duplicates, references, default routes, client keys, model claims,
// budgets that nothing charges.
void CheckReferences(const ConfigSet& config, std::vector<ConfigIssue>* issues);

// The largest config accepted: one string for ParseManifests / LoadConfigFromString, and all the
// files of LoadConfigFromPath together. Larger input is an error before anything is parsed.
inline constexpr size_t kMaxConfigBytes = 16 * 1024 * 1024;

// Parses every document of `yaml` into `config` (appending) and `issues` (appending), including
// the per-object checks. Objects with errors are still appended (best effort) so that
// cross-object checks over them do not report spurious missing references.
void ParseManifestsInto(std::string_view yaml, std::string_view source_name, ConfigSet* config,
                        std::vector<ConfigIssue>* issues);

// An exact decimal with at most `scale` fractional digits, scaled by 10^scale: ("0.003", 9) is
// 3'000'000, ("12.5", 2) is 1250. Accepts an optional sign, ".5", "5." and an exponent ("1e-3").
// On failure returns nullopt and sets `*error` to why ("has more than 9 decimal places", ...).
std::optional<int64_t> ParseScaledDecimal(std::string_view text, int scale, std::string* error);
// The inverse: (1250, 2) is "12.5", (0, 9) is "0", (-5, 2) is "-0.05".
std::string FormatScaledDecimal(int64_t value, int scale);

// Standard base64 (RFC 4648, padded). Decoding ignores '\r' and '\n'; nullopt when invalid.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// Lowercase hex SHA-256 of `bytes` (OpenSSL).
std::string Sha256Hex(std::string_view bytes);

// Kubernetes names: DNS-1123 subdomain (object names) and label (namespaces).
bool IsDns1123Subdomain(std::string_view s);
bool IsDns1123Label(std::string_view s);
// An HTTP header field name (RFC 9110 token).
bool IsHeaderName(std::string_view s);
// 64 hex digits (either case).
bool IsSha256Hex(std::string_view s);
// ASCII lowercase copy.
std::string ToLower(std::string_view s);
// Three uppercase ASCII letters ("USD").
bool IsCurrencyCode(std::string_view s);
// "http://..." or "https://..." with something after the scheme.
bool IsHttpUrl(std::string_view s);

// Optimal-string-alignment edit distance (insert, delete, substitute, swap neighbours).
int EditDistance(std::string_view a, std::string_view b);

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_CONFIG_INTERNAL_H_
