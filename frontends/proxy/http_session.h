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
  std::chrono::seconds header_timeout{15};   // from the first byte of a request to its header's end
  std::chrono::seconds request_timeout{60};  // from the first byte of a request to its end
  std::chrono::seconds write_timeout{60};    // for each write to the client
  // Open client connections per event loop; past it a new connection gets a 503 and is closed.
  // 0: no cap (the open-files limit is the cap).
  size_t max_connections = 0;
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

// Not thread-safe; lives on one event loop. Owned by shared_ptrs: each pending Asio operation's
// handler holds one, and so does the handler's exchange while it answers. Nothing else keeps a
// pointer to it but its Registry, which it leaves in its destructor. Every buffer a pending
// operation reads or writes is owned by the session (or by the operation's handler) and is not
// freed before that operation's handler has run: Close() only cancels.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // Sessions of one server, so that draining can close idle ones. Loop-local.
  using Registry = std::unordered_set<HttpSession*>;
  // Drains (`close_now` false: idle sessions close now, busy ones after their answer) or closes
  // every session of `registry`. Safe when a session's close ends its exchange and destroys it.
  static void DrainAll(const Registry& registry, bool close_now);

  HttpSession(tcp::socket&& socket, HttpHandler* handler, const HttpLimits& limits,
              Registry* registry, TimerWheel* wheel);
  ~HttpSession();

  void Start();
  // Answers `status` with the handler's JSON error body and closes, without reading a request
  // (a connection over the server's cap).
  void RefuseConnection(int status, std::string_view message, std::string_view code);

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
  static constexpr size_t kHighWater = 256 << 10;
  static constexpr size_t kLowWater = 64 << 10;

  // While the handler works on a request, calls `on_gone` if the client closes its side.
  void WatchForClientGone(std::function<void()> on_gone);
  void StopWatching();

  // True once the connection is closed or broken; further writes are dropped.
  bool closed() const { return closed_; }
  // After the current exchange, close instead of reading the next request; closes now when idle.
  void Drain();
  // Closes the connection now: cancels every pending operation (their handlers still run, and
  // see closed()), and tells the handler through the WatchForClientGone callback.
  void Close();

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
  void OnChunkWritten(beast::error_code ec);
  // Whether the request header carries framing that RFC 9112 says to refuse (a
  // Transfer-Encoding other than a lone "chunked", or one with Content-Length); sets `why`.
  bool BadFraming(std::string* why) const;
  // Frees the stream queue once no write uses it.
  void ReleaseQueue();

  beast::tcp_stream stream_;
  // Bound reads (idle wait, then the whole request from its first byte) and each write. Wheel
  // timers, not the stream's own expiry: they cost no system call per request, and expiring a
  // read only cancels it, which leaves a way to answer 408.
  WheelTimer read_timer_;
  WheelTimer write_timer_;
  bool read_timed_out_ = false;
  std::chrono::steady_clock::time_point request_started_;
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
