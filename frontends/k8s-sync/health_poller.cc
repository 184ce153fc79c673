#include "health_poller.h"

#include "absl/status/status.h"
#include "fmt/format.h"
#include "simdjson.h"

namespace inferencegw::k8s {

absl::StatusOr<HealthMap> ParseAdminBackends(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("/admin/backends: not JSON");
  }
  simdjson::dom::array list;
  if (doc.get(list) != simdjson::SUCCESS && doc["backends"].get(list) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("/admin/backends: expected an array of backends");
  }
  HealthMap out;
  for (simdjson::dom::element item : list) {
    std::string_view key;
    std::string_view health;
    if (item["key"].get(key) != simdjson::SUCCESS) continue;
    if (item["health"].get(health) != simdjson::SUCCESS) health = "Unknown";
    out.insert_or_assign(std::string(key), std::string(health));
  }
  return out;
}

HealthPoller::HealthPoller(KubeClient* client, std::string admin_url)
    : client_(client), url_(std::move(admin_url)) {}

absl::StatusOr<HealthMap> HealthPoller::Poll() {
  std::string url = url_;
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto response = client_->GetUrl(url + "/admin/backends", std::chrono::seconds(5));
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return absl::UnavailableError(fmt::format("{}/admin/backends: HTTP {}", url, response->status));
  }
  return ParseAdminBackends(response->body);
}

}  // namespace inferencegw::k8s
