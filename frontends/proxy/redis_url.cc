// RedisCounterStore::ParseRedisUrl and DisplayUrl: the --redis URL.
#include <charconv>
#include <string>
#include <string_view>

#include "fmt/format.h"
#include "redis_store.h"

namespace inferencegw::proxy {
namespace {

// A whole decimal number in [0, max].
bool ParseInt(std::string_view text, int max, int* out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && *out <= max;
}

bool ConsumePrefix(std::string_view* text, std::string_view prefix) {
  if (!text->starts_with(prefix)) return false;
  text->remove_prefix(prefix.size());
  return true;
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    int value = 0;
    if (i + 2 >= in.size()) return false;
    for (size_t k = i + 1; k <= i + 2; ++k) {
      const char ch = in[k];
      const int digit = ch >= '0' && ch <= '9'   ? ch - '0'
                        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                 : -1;
      if (digit < 0) return false;
      value = value * 16 + digit;
    }
    out->push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

}  // namespace

absl::StatusOr<RedisCounterStore::Options> RedisCounterStore::ParseRedisUrl(std::string_view url) {
  constexpr std::string_view kForm = "redis://[[user]:password@]host[:port][/db]";
  if (url.starts_with("rediss://")) {
    return absl::InvalidArgumentError(
        "redis URL: rediss:// (TLS) is not supported: this build's hiredis (0.14) has no TLS");
  }
  if (!ConsumePrefix(&url, "redis://")) {
    return absl::InvalidArgumentError(fmt::format("redis URL: expected {}", kForm));
  }
  Options o;
  // The last '@' ends the credentials, so a password may hold '@', ':' and '/' unencoded.
  if (const size_t at = url.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = url.substr(0, at);
    url.remove_prefix(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("redis URL: credentials must be [user]:password ({})", kForm));
    }
    if (!PercentDecode(userinfo.substr(0, colon), &o.user) ||
        !PercentDecode(userinfo.substr(colon + 1), &o.password)) {
      return absl::InvalidArgumentError("redis URL: bad percent-encoding in the credentials");
    }
    if (o.password.empty()) return absl::InvalidArgumentError("redis URL: empty password");
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        fmt::format("redis URL: query strings and fragments are not supported ({})", kForm));
  }
  std::string_view hostport = url;
  if (const size_t slash = url.find('/'); slash != std::string_view::npos) {
    hostport = url.substr(0, slash);
    const std::string_view db = url.substr(slash + 1);
    if (!db.empty() && !ParseInt(db, 1 << 30, &o.db)) {
      return absl::InvalidArgumentError(
          fmt::format("redis URL: the database must be a number, not \"{}\"", db));
    }
  }
  std::string_view port;
  bool has_port = false;
  if (ConsumePrefix(&hostport, "[")) {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("redis URL: an IPv6 host needs its closing ']'");
    }
    o.host = std::string(hostport.substr(0, close));
    hostport.remove_prefix(close + 1);
    has_port = ConsumePrefix(&hostport, ":");
    if (!has_port && !hostport.empty()) {
      return absl::InvalidArgumentError("redis URL: expected ':port' after the IPv6 host");
    }
    port = hostport;
  } else {
    const size_t colon = hostport.find(':');
    o.host = std::string(hostport.substr(0, colon));
    has_port = colon != std::string_view::npos;
    if (has_port) port = hostport.substr(colon + 1);
  }
  if (o.host.empty()) {
    return absl::InvalidArgumentError(fmt::format("redis URL: no host ({})", kForm));
  }
  if (has_port && (!ParseInt(port, 65535, &o.port) || o.port < 1)) {
    return absl::InvalidArgumentError(
        fmt::format("redis URL: the port must be 1..65535, not \"{}\"", port));
  }
  return o;
}

std::string RedisCounterStore::DisplayUrl(const Options& options) {
  const bool v6 = options.host.find(':') != std::string::npos;
  return fmt::format("redis://{}{}{}:{}/{}", v6 ? "[" : "", options.host, v6 ? "]" : "",
                     options.port, options.db);
}

}  // namespace inferencegw::proxy
