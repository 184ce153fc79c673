// Drives one libcurl multi handle from one Asio io_context: curl's sockets are watched with
// asio::posix::stream_descriptor waits and its timer with an asio::steady_timer, so upstream
// transfers run on the worker's own event loop (no thread per request). Connections are kept in
// the multi handle's cache and reused across transfers.
//
//   CurlMulti multi(io);
//   CURL* easy = multi.AcquireEasy();        // a reset handle from the pool
//   curl_easy_setopt(easy, CURLOPT_URL, url);
//   multi.Start(easy, &transfer);            // transfer.OnCurlDone(code) when it ends
#ifndef INFERENCEGW_PROXY_CURL_MULTI_H_
#define INFERENCEGW_PROXY_CURL_MULTI_H_

#include <curl/curl.h>

#include <memory>
#include <unordered_map>
#include <vector>

#include "asio_beast.h"
#include "timer_wheel.h"

namespace inferencegw::proxy {

// Receives the end of one transfer.
class CurlTransfer {
 public:
  virtual ~CurlTransfer() = default;
  // Called once, on the loop's thread, outside any curl callback, after the easy handle has been
  // removed from the multi handle. The handle still belongs to the caller (ReleaseEasy it).
  virtual void OnCurlDone(CURLcode code) = 0;
};

// Not thread-safe; one per event loop, used only from that loop's thread.
class CurlMulti {
 public:
  // Timeouts curl asks for are kept on `wheel` when longer than one slot (no system call to
  // re-arm: curl re-arms its timer on most calls), else on a precise asio timer.
  CurlMulti(asio::io_context& io, TimerWheel& wheel);
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  // A handle from the pool with the socket callbacks this class needs set. It is not reset (a
  // reset costs more than setting a few options): it keeps the options of its previous use, so
  // every user of one CurlMulti must set each option it relies on, every time.
  CURL* AcquireEasy();
  // Returns a handle (not running) to the pool.
  void ReleaseEasy(CURL* easy);

  // Starts a configured transfer. `transfer` must stay alive until OnCurlDone or Abort.
  void Start(CURL* easy, CurlTransfer* transfer);
  // Stops a running transfer without calling OnCurlDone. Must not be called from inside a curl
  // callback (return an error from the callback instead).
  void Abort(CURL* easy);

  size_t running() const { return running_; }

 private:
  struct Socket;
  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int OnTimer(CURLM* multi, long timeout_ms, void* userp);
  static curl_socket_t OnOpenSocket(void* clientp, curlsocktype purpose,
                                    struct curl_sockaddr* address);
  static int OnCloseSocket(void* clientp, curl_socket_t fd);

  void Arm(const std::shared_ptr<Socket>& socket);
  void Action(curl_socket_t fd, int event_mask);
  void DrainMessages();

  asio::io_context& io_;
  CURLM* multi_;
  asio::steady_timer timer_;  // timeouts up to one wheel slot (0: as soon as possible)
  WheelTimer coarse_timer_;   // longer timeouts
  std::unordered_map<curl_socket_t, std::shared_ptr<Socket>> sockets_;
  std::vector<CURL*> pool_;
  size_t running_ = 0;
  bool draining_ = false;
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_CURL_MULTI_H_
