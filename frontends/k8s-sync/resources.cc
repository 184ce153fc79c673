#include "resources.h"

#include "fmt/format.h"

namespace inferencegw::k8s {

std::string GroupVersionPath(const ResourceType& type) {
  if (type.group.empty()) return fmt::format("/api/{}", type.version);
  return fmt::format("/apis/{}/{}", type.group, type.version);
}

std::string CollectionPath(const ResourceType& type, std::string_view ns) {
  if (ns.empty()) return fmt::format("{}/{}", GroupVersionPath(type), type.plural);
  return fmt::format("{}/namespaces/{}/{}", GroupVersionPath(type), UrlEncode(ns), type.plural);
}

std::string ObjectPath(const ResourceType& type, std::string_view ns, std::string_view name,
                       std::string_view subresource) {
  std::string path = fmt::format("{}/{}", CollectionPath(type, ns), UrlEncode(name));
  if (!subresource.empty()) path += fmt::format("/{}", subresource);
  return path;
}

std::string ApiVersionOf(const ResourceType& type) {
  if (type.group.empty()) return std::string(type.version);
  return fmt::format("{}/{}", type.group, type.version);
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                            (u >= '0' && u <= '9') || u == '-' || u == '.' || u == '_' || u == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

}  // namespace inferencegw::k8s
