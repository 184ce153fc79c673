#include "curl_multi.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>

namespace inferencegw::proxy {

namespace {

// Events handed to curl per wake-up of the loop; more wait for the next turn (the set stays
// readable: it is level-triggered).
constexpr int kMaxEvents = 256;

// The socket's unique identity (SO_COOKIE, Linux 4.12), or 0 when fd is not an open socket.
uint64_t SocketCookie(int fd) {
  uint64_t cookie = 0;
  socklen_t size = sizeof(cookie);
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &size) != 0) return 0;
  return cookie;
}

}  // namespace

CurlMulti::CurlMulti(asio::io_context& io, TimerWheel& wheel)
    : io_(io),
      multi_(curl_multi_init()),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      epoll_watch_(io),
      timer_(io),
      coarse_timer_(wheel, [this] { Action(CURL_SOCKET_TIMEOUT, 0); }) {
  if (epoll_fd_ >= 0) epoll_watch_.assign(epoll_fd_);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMulti::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMulti::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 1024L);
  curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
}

CurlMulti::~CurlMulti() {
  timer_.cancel();
  coarse_timer_.Cancel();
  for (CURL* easy : pool_) curl_easy_cleanup(easy);
  // Closes cached connections through OnCloseSocket.
  curl_multi_cleanup(multi_);
  boost::system::error_code ec;
  epoll_watch_.close(ec);  // closes epoll_fd_; a pending wait's handler sees the error
}

CURL* CurlMulti::AcquireEasy() {
  if (!pool_.empty()) {
    CURL* easy = pool_.back();
    pool_.pop_back();
    return easy;
  }
  CURL* easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &CurlMulti::OnOpenSocket);
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &CurlMulti::OnCloseSocket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  return easy;
}

void CurlMulti::ReleaseEasy(CURL* easy) {
  if (pool_.size() < 256) {
    pool_.push_back(easy);
  } else {
    curl_easy_cleanup(easy);
  }
}

void CurlMulti::Start(CURL* easy, CurlTransfer* transfer) {
  curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer);
  curl_multi_add_handle(multi_, easy);
  ++running_;
}

void CurlMulti::Abort(CURL* easy) {
  curl_multi_remove_handle(multi_, easy);
  --running_;
}

curl_socket_t CurlMulti::OnOpenSocket(void* clientp, curlsocktype purpose,
                                      struct curl_sockaddr* address) {
  auto* self = static_cast<CurlMulti*>(clientp);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  const curl_socket_t fd =
      ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  Socket& entry = self->sockets_[fd];
  if (entry.events != 0) --self->watched_;  // a stale entry under the same number (see OnSocket)
  entry = Socket{0, SocketCookie(fd)};
  return fd;
}

int CurlMulti::OnCloseSocket(void* clientp, curl_socket_t fd) {
  auto* self = static_cast<CurlMulti*>(clientp);
  auto it = self->sockets_.find(fd);
  if (it != self->sockets_.end()) {
    if (it->second.events != 0) {
      ::epoll_ctl(self->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      --self->watched_;
    }
    self->sockets_.erase(it);
  }
  return ::close(fd);
}

int CurlMulti::OnSocket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
  auto* self = static_cast<CurlMulti*>(userp);
  auto it = self->sockets_.find(fd);
  if (it == self->sockets_.end() || self->epoll_fd_ < 0) return 0;  // not one of ours
  uint32_t wanted = 0;
  switch (what) {
    case CURL_POLL_IN:
      wanted = EPOLLIN;
      break;
    case CURL_POLL_OUT:
      wanted = EPOLLOUT;
      break;
    case CURL_POLL_INOUT:
      wanted = EPOLLIN | EPOLLOUT;
      break;
    default:  // CURL_POLL_REMOVE
      break;
  }
  Socket& entry = it->second;
  if (wanted == entry.events) return 0;  // curl restating what it waits for: nothing to change
  if (wanted == 0 && SocketCookie(fd) != entry.cookie) {
    // libcurl 7.88 closes a socket that never finished connecting (a transfer removed while it
    // connects) with a plain close(), not through OnCloseSocket, and tells us afterwards. The
    // kernel has already dropped it from the epoll set, and its number may now belong to a
    // socket of another thread: forget it without touching the descriptor.
    --self->watched_;
    self->sockets_.erase(it);
    return 0;
  }
  epoll_event ev{};
  ev.events = wanted;
  ev.data.fd = fd;
  int rc = 0;
  if (wanted == 0) {
    rc = ::epoll_ctl(self->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  } else if (entry.events == 0) {
    rc = ::epoll_ctl(self->epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  } else {
    rc = ::epoll_ctl(self->epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  }
  if (entry.events != 0) --self->watched_;
  entry.events = rc == 0 ? wanted : 0;
  if (entry.events != 0) {
    ++self->watched_;
    self->WatchSockets();
  }
  return 0;
}

void CurlMulti::WatchSockets() {
  if (watching_ || !epoll_watch_.is_open()) return;
  watching_ = true;
  epoll_watch_.async_wait(asio::posix::stream_descriptor::wait_read,
                          [this](const boost::system::error_code& ec) {
                            watching_ = false;
                            if (ec) return;  // closed: the multi handle is going away
                            OnEvents();
                          });
}

void CurlMulti::OnEvents() {
  std::array<epoll_event, kMaxEvents> events;
  const int n = ::epoll_wait(epoll_fd_, events.data(), kMaxEvents, 0);
  for (int i = 0; i < n; ++i) {
    const curl_socket_t fd = events[i].data.fd;
    // An earlier event of this batch may have made curl close the socket (then curl no longer
    // knows the descriptor, or knows a new socket under the same number, which is harmless).
    if (sockets_.find(fd) == sockets_.end()) continue;
    int mask = 0;
    if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) mask |= CURL_CSELECT_IN;
    if (events[i].events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
    if (events[i].events & EPOLLERR) mask |= CURL_CSELECT_ERR;
    Action(fd, mask);
  }
  if (watched_ > 0) WatchSockets();  // again, while curl waits on any socket
}

int CurlMulti::OnTimer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<CurlMulti*>(userp);
  self->coarse_timer_.Cancel();
  if (timeout_ms < 0) {
    self->timer_.cancel();
    return 0;
  }
  if (timeout_ms > TimerWheel::kSlot.count()) {
    self->timer_.cancel();
    self->coarse_timer_.Arm(std::chrono::milliseconds(timeout_ms));
    return 0;
  }
  if (timeout_ms == 0) {
    // "As soon as possible": a posted call, no timer at all. (Not from inside this callback:
    // curl forbids re-entering socket_action from its own callbacks.)
    self->timer_.cancel();
    asio::post(self->io_, [self] { self->Action(CURL_SOCKET_TIMEOUT, 0); });
    return 0;
  }
  self->timer_.expires_after(std::chrono::milliseconds(timeout_ms));
  self->timer_.async_wait([self](const boost::system::error_code& ec) {
    if (!ec) self->Action(CURL_SOCKET_TIMEOUT, 0);
  });
  return 0;
}

void CurlMulti::Action(curl_socket_t fd, int event_mask) {
  int still_running = 0;
  curl_multi_socket_action(multi_, fd, event_mask, &still_running);
  DrainMessages();
}

void CurlMulti::DrainMessages() {
  if (draining_) return;  // OnCurlDone started a transfer: the outer loop picks it up
  draining_ = true;
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &pending)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    const CURLcode code = msg->data.result;
    CurlTransfer* transfer = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, reinterpret_cast<char**>(&transfer));
    curl_multi_remove_handle(multi_, easy);
    --running_;
    if (transfer != nullptr) transfer->OnCurlDone(code);
  }
  draining_ = false;
}

}  // namespace inferencegw::proxy
