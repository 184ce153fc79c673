// One inbound HTTP/1.1 connection, on Boost.Beast: reads requests with size limits and
// timeouts, hands each to an HttpHandler, and writes its answer either whole or as a chunked
// stream with a bounded write queue. Errors in the request itself (too large, malformed, too
// slow) are answered here with JSON bodies the handler provides.
//
//   auto session = std::make_shared<HttpSession>(std::move(socket), &handler, limits, &registry,
//                                                &wheel);
//   session->Start();
//   // in the handler: session->Reply(std::move(response));  or  BeginStream / StreamChunk /
//   EndStream
#ifndef INFERENCEGW_PROXY_HTTP_SESSION_H_
#define INFERENCEGW_PROXY_HTTP_SESSION_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "asio_beast.h"
#include "timer_wheel.h"

namespace inferencegw::proxy {

class HttpSession;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct HttpLimits {
  size_t max_body_bytes = 16 * 1024 * 1024;
  size_t max_header_bytes = 64 * 1024;
  std::chrono::seconds idle_timeout{75};     // keep-alive: waiting for the next request
  std::chrono::seconds request_timeout{60};  // from the first byte of a request to its end
  std::chrono::seconds write_timeout{60};    // for each write to the client
};

// Implemented by the proxy and the admin server. Called on the session's loop thread.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // A complete request. The handler must eventually answer it through the session (Reply or
  // BeginStream...EndStream), or the session must be closed.
  virtual void Handle(const std::shared_ptr<HttpSession>& session, Request&& request) = 0;
  // The JSON body for an error the session answers by itself (413, 431, 400, 408). `path` is
  // the request's path when its header was read (so the body can take the API's shape), else "".
  virtual std::string ErrorBody(int status, std::string_view path, std::string_view message,
                                std::string_view code) = 0;
};

// Not thread-safe; lives on one event loop. Owned by shared_ptrs (its pending operations and
// its handler's request hold it).
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // Sessions of one server, so that draining can close idle ones. Loop-local.
  using Registry = std::unordered_set<HttpSession*>;

  HttpSession(tcp::socket&& socket, HttpHandler* handler, const HttpLimits& limits,
              Registry* registry, TimerWheel* wheel);
  ~HttpSession();

  void Start();

  // Answers the current request with a complete response, then reads the next one (unless the
  // response or the request says close, or the server is draining).
  void Reply(Response&& response);

  // Starts a chunked response. Then any number of StreamChunk, then EndStream.
  void BeginStream(http::response<http::empty_body>&& head);
  void StreamChunk(std::string data);
  void EndStream();
  // Bytes queued but not yet written to the client.
  size_t queued_bytes() const { return queued_bytes_; }
  // Called (once per registration) when the queue drops below the low-water mark after having
  // passed the high-water mark; lets the handler resume a paused upstream.
  void OnDrained(std::function<void()> callback) { on_drained_ = std::move(callback); }
  static constexpr size_t kHighWater = 1 << 20;
  static constexpr size_t kLowWater = 256 << 10;

  // While the handler works on a request, calls `on_gone` if the client closes its side.
  void WatchForClientGone(std::function<void()> on_gone);
  void StopWatching();

  // True once the connection is closed or broken; further writes are dropped.
  bool closed() const { return closed_; }
  // After the current exchange, close instead of reading the next request; closes now when idle.
  void Drain();

  const std::string& remote_address() const { return remote_; }

 private:
  void ReadHeader();
  void StartRead();
  void OnReadable(beast::error_code ec);
  void ArmReadTimer(std::chrono::seconds timeout);
  void CancelReadTimer();
  void OnReadTimeout();
  void ArmWriteTimer();
  void OnWriteTimeout();
  void OnHeader(beast::error_code ec);
  void OnBody(beast::error_code ec);
  void ReplyError(int status, std::string_view message, std::string_view code);
  void AfterResponse(bool keep_alive);
  void DiscardInput();
  void WriteNext();
  void Close();

  beast::tcp_stream stream_;
  // Bound reads (idle wait, then the whole request from its first byte) and each write. Wheel
  // timers, not the stream's own expiry: they cost no system call per request, and expiring a
  // read only cancels it, which leaves a way to answer 408.
  WheelTimer read_timer_;
  WheelTimer write_timer_;
  bool read_timed_out_ = false;
  // After an error answer the connection closes gracefully: input is read and discarded for up
  // to kLingerTimeout first.
  static constexpr std::chrono::seconds kLingerTimeout{2};
  static constexpr size_t kFirstReadBytes = 16 * 1024;
  bool linger_ = false;
  std::string discard_;
  beast::flat_buffer buffer_;
  HttpHandler* handler_;
  HttpLimits limits_;
  Registry* registry_;
  std::string remote_;
  std::unique_ptr<http::request_parser<http::string_body>> parser_;
  bool request_keep_alive_ = true;
  bool busy_ = false;  // a request is being handled (not reading)
  bool closed_ = false;
  bool draining_ = false;
  // Streaming state.
  bool streaming_ = false;
  bool writing_ = false;
  bool end_queued_ = false;
  std::deque<std::string> queue_;  // chunk payloads; "" marks the last chunk
  size_t queued_bytes_ = 0;
  bool above_high_water_ = false;
  std::function<void()> on_drained_;
  std::unique_ptr<http::response<http::empty_body>> stream_head_;
  std::unique_ptr<http::response_serializer<http::empty_body>> stream_serializer_;
  // The one read of our own (not the parser's) that may be pending, and what it is for.
  bool read_pending_ = false;
  bool awaiting_request_ = false;  // it waits for the next request; else it watches the client
  std::function<void()> on_gone_;  // called when the client hangs up during a request
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_HTTP_SESSION_H_
