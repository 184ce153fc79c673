#include "curl_multi.h"

#include <sys/socket.h>
#include <unistd.h>

namespace inferencegw::proxy {

struct CurlMulti::Socket {
  Socket(asio::io_context& io, curl_socket_t fd) : descriptor(io, fd), fd(fd) {}
  asio::posix::stream_descriptor descriptor;
  curl_socket_t fd;
  int wanted = 0;  // CURL_POLL_IN / CURL_POLL_OUT bits
  bool reading = false;
  bool writing = false;
  bool closed = false;
};

CurlMulti::CurlMulti(asio::io_context& io, TimerWheel& wheel)
    : io_(io),
      multi_(curl_multi_init()),
      timer_(io),
      coarse_timer_(wheel, [this] { Action(CURL_SOCKET_TIMEOUT, 0); }) {
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
  for (auto& [fd, socket] : sockets_) {
    socket->closed = true;
    boost::system::error_code ec;
    socket->descriptor.close(ec);
  }
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
  const curl_socket_t fd = ::socket(address->family, address->socktype, address->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  self->sockets_[fd] = std::make_shared<Socket>(self->io_, fd);
  return fd;
}

int CurlMulti::OnCloseSocket(void* clientp, curl_socket_t fd) {
  auto* self = static_cast<CurlMulti*>(clientp);
  auto it = self->sockets_.find(fd);
  if (it == self->sockets_.end()) return ::close(fd);
  std::shared_ptr<Socket> socket = std::move(it->second);
  self->sockets_.erase(it);
  socket->closed = true;
  boost::system::error_code ec;
  socket->descriptor.close(ec);  // cancels pending waits (their handlers see `closed`)
  return 0;
}

int CurlMulti::OnSocket(CURL*, curl_socket_t fd, int what, void* userp, void*) {
  auto* self = static_cast<CurlMulti*>(userp);
  auto it = self->sockets_.find(fd);
  if (it == self->sockets_.end()) return 0;  // not one of ours (cannot happen: we open them)
  const std::shared_ptr<Socket>& socket = it->second;
  switch (what) {
    case CURL_POLL_IN:
      socket->wanted = CURL_POLL_IN;
      break;
    case CURL_POLL_OUT:
      socket->wanted = CURL_POLL_OUT;
      break;
    case CURL_POLL_INOUT:
      socket->wanted = CURL_POLL_IN | CURL_POLL_OUT;
      break;
    case CURL_POLL_REMOVE: {
      socket->wanted = 0;
      boost::system::error_code ec;
      socket->descriptor.cancel(ec);
      return 0;
    }
    default:
      break;
  }
  self->Arm(socket);
  return 0;
}

void CurlMulti::Arm(const std::shared_ptr<Socket>& socket) {
  if (socket->closed) return;
  if ((socket->wanted & CURL_POLL_IN) && !socket->reading) {
    socket->reading = true;
    socket->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                  [this, socket](const boost::system::error_code& ec) {
                                    socket->reading = false;
                                    if (ec || socket->closed) return;
                                    if (socket->wanted & CURL_POLL_IN)
                                      Action(socket->fd, CURL_CSELECT_IN);
                                    Arm(socket);
                                  });
  }
  if ((socket->wanted & CURL_POLL_OUT) && !socket->writing) {
    socket->writing = true;
    socket->descriptor.async_wait(asio::posix::stream_descriptor::wait_write,
                                  [this, socket](const boost::system::error_code& ec) {
                                    socket->writing = false;
                                    if (ec || socket->closed) return;
                                    if (socket->wanted & CURL_POLL_OUT)
                                      Action(socket->fd, CURL_CSELECT_OUT);
                                    Arm(socket);
                                  });
  }
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
