#include "ops_endpoints.h"

#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/experiment_compare.h"
#include "inferencegw/status.h"
#include "inferencegw/translate.h"

namespace inferencegw::proxy {

namespace {

Response Json(unsigned version, std::string body, http::status status = http::status::ok) {
  Response response(status, version);
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(body);
  return response;
}

}  // namespace

Response JsonResponse(unsigned version, int status, std::string body) {
  return Json(version, std::move(body), static_cast<http::status>(status));
}

Response JsonError(unsigned version, int status, std::string_view message, std::string_view code) {
  return Json(version, OpenAIErrorJson(message, OpenAIErrorTypeFor(status), code),
              static_cast<http::status>(status));
}

std::optional<Response> ServeOps(Gateway& gateway, const Request& request, bool admin) {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const unsigned version = request.version();
  if (request.method() != http::verb::get) return std::nullopt;
  const TimeNs now = gateway.clock().Now();

  if (path == "/healthz") return Json(version, R"({"status":"ok"})");
  if (path == "/readyz") {
    // Ready: a config is loaded and at least one backend is not known to be down.
    std::shared_ptr<const RouteTable> table = gateway.table();
    size_t usable = 0;
    for (const CompiledBackend& backend : table->backends()) {
      if (backend.health->IsAvailable(now)) ++usable;
    }
    if (usable == 0) {
      return Json(
          version,
          fmt::format(
              R"({{"status":"unavailable","reason":"no backend is available","backends":{}}})",
              table->backends().size()),
          http::status::service_unavailable);
    }
    return Json(version,
                fmt::format(R"({{"status":"ready","available_backends":{},"backends":{}}})", usable,
                            table->backends().size()));
  }
  if (path == "/metrics") {
    Response response(http::status::ok, version);
    response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    response.body() = gateway.registry().RenderPrometheus();
    return response;
  }
  if (!admin) return std::nullopt;
  if (path == "/admin/config") return Json(version, RenderConfigJson(gateway.table()->config()));
  if (path == "/admin/backends") return Json(version, gateway.RenderBackendsJson(now));
  if (path == "/admin/costs") return Json(version, gateway.ledger().RenderJson());
  if (path == "/admin/experiments") {
    return Json(version, RenderExperimentsJson(gateway.experiments(), gateway.table()->config()));
  }
  return std::nullopt;
}

}  // namespace inferencegw::proxy
