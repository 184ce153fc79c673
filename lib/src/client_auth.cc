#include "inferencegw/client_auth.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace inferencegw {

std::string Sha256Hex(std::string_view data) {
  // One context per thread, reused: EVP_Digest would allocate and free one per call, and this
  // runs for every request (the log's user hash) and every presented client key.
  struct Context {
    Context() : ctx(EVP_MD_CTX_new()) {}
    ~Context() { EVP_MD_CTX_free(ctx); }
    EVP_MD_CTX* ctx;
  };
  thread_local Context context;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestInit_ex(context.ctx, EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(context.ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.ctx, digest, &length) != 1) {
    EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xF]);
  }
  return hex;
}

std::string_view BearerToken(std::string_view authorization) {
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  authorization = trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  if (authorization[kScheme.size()] != ' ' && authorization[kScheme.size()] != '\t') return {};
  return trim(authorization.substr(kScheme.size()));
}

std::shared_ptr<const ClientAuthenticator> ClientAuthenticator::Create(const ConfigSet& config) {
  auto auth = std::shared_ptr<ClientAuthenticator>(new ClientAuthenticator());
  for (const ClientKey& key : config.client_keys) {
    auth->keys_.emplace(key.sha256_hex, key);
    for (const auto& [header, value] : key.attributes) {
      std::string lower = header;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (std::find(auth->attribute_headers_.begin(), auth->attribute_headers_.end(), lower) ==
          auth->attribute_headers_.end()) {
        auth->attribute_headers_.push_back(std::move(lower));
      }
    }
  }
  std::sort(auth->attribute_headers_.begin(), auth->attribute_headers_.end());
  return auth;
}

const ClientKey* ClientAuthenticator::Authenticate(std::string_view presented_key) const {
  if (presented_key.empty()) return nullptr;
  auto it = keys_.find(Sha256Hex(presented_key));
  return it == keys_.end() ? nullptr : &it->second;
}

}  // namespace inferencegw
