// Drives one libcurl multi handle from one Asio io_context, so upstream transfers run on the
// worker's own event loop (no thread per request). curl's sockets are kept in an epoll set of
// this class's own, changed only when curl changes what it waits for; the loop watches that one
// descriptor. (An Asio wait per socket would cost an epoll_ctl on every re-arm, that is on every
// chunk of every stream.) curl's timer is an asio::steady_timer or a wheel timer. Connections are
// kept in the multi handle's cache and reused across transfers.
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
  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int OnTimer(CURLM* multi, long timeout_ms, void* userp);
  static curl_socket_t OnOpenSocket(void* clientp, curlsocktype purpose,
                                    struct curl_sockaddr* address);
  static int OnCloseSocket(void* clientp, curl_socket_t fd);

  // Waits (once) for the epoll set to have events; OnEvents hands them to curl.
  void WatchSockets();
  void OnEvents();
  void Action(curl_socket_t fd, int event_mask);
  void DrainMessages();

  asio::io_context& io_;
  CURLM* multi_;
  int epoll_fd_ = -1;
  asio::posix::stream_descriptor epoll_watch_;  // the epoll set, readable when a socket is ready
  bool watching_ = false;                       // a wait on epoll_watch_ is pending
  asio::steady_timer timer_;  // timeouts up to one wheel slot (0: as soon as possible)
  WheelTimer coarse_timer_;   // longer timeouts
  struct Socket {
    uint32_t events = 0;  // what the epoll set watches it for (0: opened, not yet watched)
    uint64_t cookie = 0;  // the kernel's SO_COOKIE: tells this socket from a later one that
                          // reuses its number after curl closed it without telling us
  };
  // curl's sockets, by descriptor.
  std::unordered_map<curl_socket_t, Socket> sockets_;
  size_t watched_ = 0;  // sockets in the epoll set
  std::vector<CURL*> pool_;
  size_t running_ = 0;
  bool draining_ = false;
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_CURL_MULTI_H_
