// The operational endpoints: /healthz, /readyz and /metrics on the client port,
// plus /admin/config, /admin/backends, /admin/costs and /admin/experiments on the admin port
// only. All render library state; none shows a secret.
//
//   if (std::optional<Response> r = ServeOps(gateway, request, /*admin=*/false))
//   session->Reply(*r);
#ifndef INFERENCEGW_PROXY_OPS_ENDPOINTS_H_
#define INFERENCEGW_PROXY_OPS_ENDPOINTS_H_

#include <optional>

#include "http_session.h"
#include "inferencegw/gateway.h"

namespace inferencegw::proxy {

// The answer to an ops request, or nullopt when the path is not an ops endpoint. Admin-only
// paths answer only when `admin` is true. Thread-safe (reads Gateway state).
std::optional<Response> ServeOps(Gateway& gateway, const Request& request, bool admin);

// A JSON response (no-store) with this status and body.
Response JsonResponse(unsigned version, int status, std::string body);

// A JSON error response in OpenAI's shape.
Response JsonError(unsigned version, int status, std::string_view message, std::string_view code);

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_OPS_ENDPOINTS_H_
