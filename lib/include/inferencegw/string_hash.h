// Transparent string hashing for lookup maps keyed by std::string, probed with std::string_view
// without building a string. Internal to the library (namespace internal); in a public header
// because public types (SimulationTrace, RequestBuilder) hold such maps.
//
//   internal::StringMap<int> ids;
//   ids.emplace("default/chat", 1);
//   auto it = ids.find(std::string_view("default/chat"));
#ifndef INFERENCEGW_STRING_HASH_H_
#define INFERENCEGW_STRING_HASH_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace inferencegw::internal {

// absl's own string hash: Debian's abseil hashes a std::string_view with std::hash (murmur,
// slower), so the view is passed as an absl::string_view. Seeded per process: for lookups only,
// never for decisions or for an order anything depends on.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return absl::HashOf(absl::string_view(s.data(), s.size()));
  }
};
struct StringEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

template <typename V>
using StringMap = absl::flat_hash_map<std::string, V, StringHash, StringEq>;

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_STRING_HASH_H_
