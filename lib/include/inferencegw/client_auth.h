// Client authentication with gateway API keys. Keys come from Secrets annotated
// gateway.inference-gateway.io/client-keys: "true" (see config.h); only their SHA-256 hashes are
// held. Each key maps to a user id and trusted attribute headers that rules can match.
//
//   auto auth = ClientAuthenticator::Create(config);
//   if (auth->enabled()) {
//     const ClientKey* who = auth->Authenticate(BearerToken(authorization_header));
//     if (who == nullptr) return Reply401();
//   }
#ifndef INFERENCEGW_CLIENT_AUTH_H_
#define INFERENCEGW_CLIENT_AUTH_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "inferencegw/config.h"

namespace inferencegw {

// Immutable after Create; safe to share between threads.
class ClientAuthenticator {
 public:
  static std::shared_ptr<const ClientAuthenticator> Create(const ConfigSet& config);

  // True when at least one client key is configured: every client request must then carry one.
  bool enabled() const { return !keys_.empty(); }

  // The key entry for a presented key, or nullptr. Compares SHA-256 hashes; the presented key is
  // neither stored nor logged.
  const ClientKey* Authenticate(std::string_view presented_key) const;

  // Header names that some key sets as an attribute (lowercase). With authentication on, the
  // client's own values for these headers are never trusted.
  const std::vector<std::string>& attribute_headers() const { return attribute_headers_; }

 private:
  absl::flat_hash_map<std::string, ClientKey> keys_;  // by lowercase hex SHA-256
  std::vector<std::string> attribute_headers_;
};

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// The token of an "Authorization: Bearer <token>" value (case-insensitive scheme, surrounding
// spaces trimmed), or "" when the value is not a bearer credential.
std::string_view BearerToken(std::string_view authorization);

}  // namespace inferencegw

#endif  // INFERENCEGW_CLIENT_AUTH_H_
