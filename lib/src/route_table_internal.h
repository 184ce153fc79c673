// Internals shared by the RouteTable's translation units: the compiled rule matcher, the
// lookup index, and small ASCII / string-map helpers. Not part of the public API.
#ifndef INFERENCEGW_SRC_ROUTE_TABLE_INTERNAL_H_
#define INFERENCEGW_SRC_ROUTE_TABLE_INTERNAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "inferencegw/route_table.h"
#include "inferencegw/string_hash.h"
#include "inferencegw/weighted_split.h"
#include "re2/re2.h"

namespace inferencegw {

// One compiled `rules[]` entry. Immutable after compilation; safe to share between threads.
struct CompiledRule {
  struct ExactHeader {
    std::string name;  // lowercase
    std::string value;
  };
  struct RegexHeader {
    std::string name;  // lowercase
    std::unique_ptr<const re2::RE2> regex;
  };

  std::string path_prefix;    // "" matches every path
  std::string model_pattern;  // "" matches every model
  std::vector<ExactHeader> headers;
  std::vector<RegexHeader> header_regex;
  std::vector<BackendIndex> backends;  // parallel to split's items
  WeightedSplit split;

  // True when every matcher of the rule holds for `request` and some backend has a positive
  // weight (a rule whose weights are all 0 never matches). Allocates nothing.
  bool Matches(const RequestView& request) const;
};

namespace internal {

constexpr char AsciiToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
std::string AsciiLower(std::string_view s);
// True when `s`, compared ASCII-case-insensitively, equals `lowercase` (already lowercase).
bool EqualsLowercase(std::string_view s, std::string_view lowercase);
// True when `pattern` contains a glob wildcard ('*' or '?').
bool IsGlob(std::string_view pattern);

inline constexpr uint32_t kNoRouteIndex = 0xFFFFFFFF;
// route_by_name value for a name that several namespaces use.
inline constexpr uint32_t kAmbiguousRoute = 0xFFFFFFFE;

// Compiles one backend of `config` (URLs, API key, prices, health). `backend` must live in
// `config`. Defined in route_backends.cc.
CompiledBackend CompileBackend(const ConfigSet& config, const Backend& backend,
                               HealthTracker& health);

}  // namespace internal

// Lookup structures built once by RouteTable::Create.
struct RouteTable::Index {
  struct ModelGlob {
    std::string pattern;
    uint32_t route = 0;
  };
  internal::StringMap<uint32_t> route_by_key;          // "namespace/name" -> index in routes_
  internal::StringMap<uint32_t> route_by_name;         // "name" -> index, or kAmbiguousRoute
  internal::StringMap<BackendIndex> backend_by_key;    // "namespace/name" -> index in backends_
  internal::StringMap<uint32_t> route_by_exact_model;  // best route for a non-glob model name
  std::vector<ModelGlob> model_globs;                  // longest pattern first, then by route key
  uint32_t default_route = internal::kNoRouteIndex;
};

}  // namespace inferencegw

#endif  // INFERENCEGW_SRC_ROUTE_TABLE_INTERNAL_H_
