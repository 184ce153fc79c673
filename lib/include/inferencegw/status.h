// The library's one result type is absl::Status / absl::StatusOr<T>. This header adds the two
// propagation macros and the mapping from a Status to an HTTP status and an OpenAI error type.
//
//   IGW_ASSIGN_OR_RETURN(ConfigSet config, LoadConfigFromPath("routes.yaml"));
//   IGW_RETURN_IF_ERROR(ValidateConfig(config));
//   int http = HttpStatusFor(status);   // 400 for InvalidArgument, 429 for ResourceExhausted, ...
//
// Codes are chosen deliberately across the library:
//   InvalidArgument   bad config or a malformed request      (HTTP 400)
//   NotFound          no route / unknown model / unknown ref (HTTP 404)
//   ResourceExhausted a rate limit or size limit was hit      (HTTP 429, or 413 by the caller)
//   Unavailable       no backend is left to try              (HTTP 503)
//   DeadlineExceeded  the overall deadline passed            (HTTP 504)
//   Unauthenticated   missing or unknown client key          (HTTP 401)
//
// Note for contributors: on Debian 12 `absl::string_view` is not `std::string_view` and the two
// do not convert. The library uses std::string_view; build messages with fmt::format and pass a
// std::string to absl::XxxError.
#ifndef INFERENCEGW_STATUS_H_
#define INFERENCEGW_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define IGW_STATUS_CONCAT_INNER_(a, b) a##b
#define IGW_STATUS_CONCAT_(a, b) IGW_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define IGW_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::absl::Status igw_status_ = (expr);       \
    if (!igw_status_.ok()) return igw_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status if not OK, else moves the value
// into `lhs` (which may be a declaration).
#define IGW_ASSIGN_OR_RETURN(lhs, rexpr) \
  IGW_ASSIGN_OR_RETURN_IMPL_(IGW_STATUS_CONCAT_(igw_statusor_, __LINE__), lhs, rexpr)
#define IGW_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)   \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace inferencegw {

// A Status's message as a std::string_view (absl::Status::message() returns absl::string_view,
// which on Debian 12 is not std::string_view). Valid while `status` lives.
inline std::string_view StatusMessage(const absl::Status& status) {
  const auto message = status.message();
  return std::string_view(message.data(), message.size());
}

// The HTTP status a frontend answers with for a failed Status (200 for OK).
int HttpStatusFor(const absl::Status& status);

// The OpenAI error `type` for an HTTP status, as OpenAI uses them: "invalid_request_error" for
// every 4xx but 429 (401 and 404 included; the `code` says more, e.g. "invalid_api_key",
// "model_not_found"), "rate_limit_error" (429), "server_error" (5xx). SDKs classify errors by
// the HTTP status, so the type is for people.
std::string_view OpenAIErrorTypeFor(int http_status);

}  // namespace inferencegw

#endif  // INFERENCEGW_STATUS_H_
