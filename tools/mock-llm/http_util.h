// Small libevent evhttp helpers shared by the worker and deferred exchanges.
//
//   AddResponseHeaders(req, "application/json", "mock", 503, /*retry_after=*/2);
//   SendComplete(req, 503, body);
#ifndef INFERENCEGW_TOOLS_MOCK_LLM_HTTP_UTIL_H_
#define INFERENCEGW_TOOLS_MOCK_LLM_HTTP_UTIL_H_

#include <event2/buffer.h>
#include <event2/http.h>
#include <fmt/format.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace inferencegw::mock_llm {

inline constexpr const char kJson[] = "application/json";
inline constexpr const char kText[] = "text/plain; charset=utf-8";
inline constexpr const char kEventStream[] = "text/event-stream";

// Adds Content-Type, x-mock-backend and, for a 429 or 503 with retry_after > 0, retry-after.
inline void AddResponseHeaders(evhttp_request* req, const char* content_type,
                               const std::string& backend, int status, int retry_after) {
  evkeyvalq* headers = evhttp_request_get_output_headers(req);
  evhttp_add_header(headers, "Content-Type", content_type);
  evhttp_add_header(headers, "x-mock-backend", backend.c_str());
  if (retry_after > 0 && (status == 429 || status == 503)) {
    const fmt::format_int seconds(retry_after);
    evhttp_add_header(headers, "retry-after", seconds.c_str());
  }
}

// Sends a complete (non-chunked) response. The request is owned by libevent afterwards.
inline void SendComplete(evhttp_request* req, int status, std::string_view body) {
  evbuffer_add(evhttp_request_get_output_buffer(req), body.data(), body.size());
  evhttp_send_reply(req, status, nullptr, nullptr);
}

// CLOCK_MONOTONIC in nanoseconds.
inline int64_t MonotonicNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace inferencegw::mock_llm

#endif  // INFERENCEGW_TOOLS_MOCK_LLM_HTTP_UTIL_H_
