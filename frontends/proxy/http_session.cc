#include "http_session.h"

#include <sys/socket.h>

#include <utility>

namespace inferencegw::proxy {

namespace {

bool IsTimeout(const beast::error_code& ec) { return ec == beast::error::timeout; }

bool IsEof(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == asio::error::bad_descriptor || ec == http::error::partial_message;
}

}  // namespace

HttpSession::HttpSession(tcp::socket&& socket, HttpHandler* handler, const HttpLimits& limits,
                         Registry* registry)
    : stream_(std::move(socket)),
      read_timer_(stream_.get_executor()),
      handler_(handler),
      limits_(limits),
      registry_(registry) {
  beast::error_code ec;
  stream_.socket().set_option(tcp::no_delay(true), ec);
  const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ = peer.address().to_string();
  if (registry_ != nullptr) registry_->insert(this);
}

HttpSession::~HttpSession() {
  if (registry_ != nullptr) registry_->erase(this);
}

void HttpSession::Start() { ReadHeader(); }

void HttpSession::ReadHeader() {
  if (closed_) return;
  if (draining_) {
    Close();
    return;
  }
  parser_ = std::make_unique<http::request_parser<http::string_body>>();
  parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  parser_->body_limit(limits_.max_body_bytes);
  stream_.expires_never();
  if (buffer_.size() > 0) {  // a pipelined request has begun already
    OnReadable({});
    return;
  }
  // Idle until the next request's first byte; from then on the request timeout runs.
  ArmReadTimer(limits_.idle_timeout);
  stream_.socket().async_wait(
      tcp::socket::wait_read,
      [self = shared_from_this()](beast::error_code ec) { self->OnReadable(ec); });
}

void HttpSession::ArmReadTimer(std::chrono::seconds timeout) {
  read_timed_out_ = false;
  // The generation tells a stale expiry (already queued when the timer was re-armed or
  // cancelled) from the current one.
  const uint64_t generation = ++read_timer_generation_;
  read_timer_.expires_after(timeout);
  read_timer_.async_wait([weak = weak_from_this(), generation](const beast::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock();
        self && !self->closed_ && self->read_timer_generation_ == generation) {
      self->read_timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);  // the pending read ends with operation_aborted
    }
  });
}

void HttpSession::CancelReadTimer() {
  ++read_timer_generation_;
  read_timer_.cancel();
}

void HttpSession::OnReadable(beast::error_code ec) {
  if (closed_) return;
  if (ec) {  // idle timeout, or the socket failed
    Close();
    return;
  }
  ArmReadTimer(limits_.request_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code rec, std::size_t) { self->OnHeader(rec); });
}

void HttpSession::OnHeader(beast::error_code ec) {
  if (closed_) return;
  if (ec) {
    if (read_timed_out_) ec = beast::error::timeout;
    if (ec == http::error::header_limit) {
      ReplyError(431, "request headers are larger than the gateway accepts", "header_too_large");
    } else if (ec == http::error::body_limit) {
      ReplyError(413, "request body is larger than the gateway accepts", "body_too_large");
    } else if (IsTimeout(ec) && parser_->got_some()) {
      ReplyError(408, "the request was not received in time", "request_timeout");
    } else if (IsTimeout(ec) || IsEof(ec)) {
      Close();
    } else {
      ReplyError(400, "malformed HTTP request: " + ec.message(), "bad_request");
    }
    return;
  }
  // A client that waits for "100 Continue" before sending its body gets it now.
  const auto& header = parser_->get();
  auto expect = header.find(http::field::expect);
  if (expect != header.end() && beast::iequals(expect->value(), "100-continue") &&
      !parser_->is_done()) {
    auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    stream_.expires_after(limits_.write_timeout);
    http::async_write(stream_, *interim,
                      [self = shared_from_this(), interim](beast::error_code wec, std::size_t) {
                        if (wec) {
                          self->Close();
                          return;
                        }
                        self->stream_.expires_never();
                        http::async_read(self->stream_, self->buffer_, *self->parser_,
                                         [self](beast::error_code rec, std::size_t) {
                                           self->OnBody(rec);
                                         });
                      });
    return;
  }
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code rec, std::size_t) {
                     self->OnBody(rec);
                   });
}

void HttpSession::OnBody(beast::error_code ec) {
  if (closed_) return;
  if (ec) {
    if (read_timed_out_) ec = beast::error::timeout;
    if (ec == http::error::body_limit) {
      ReplyError(413, "request body is larger than the gateway accepts", "body_too_large");
    } else if (IsTimeout(ec)) {
      ReplyError(408, "the request body was not received in time", "request_timeout");
    } else if (IsEof(ec)) {
      Close();
    } else {
      ReplyError(400, "malformed HTTP request: " + ec.message(), "bad_request");
    }
    return;
  }
  CancelReadTimer();
  busy_ = true;
  request_keep_alive_ = parser_->get().keep_alive();
  Request request = parser_->release();
  parser_.reset();
  handler_->Handle(shared_from_this(), std::move(request));
}

void HttpSession::ReplyError(int status, std::string_view message, std::string_view code) {
  CancelReadTimer();
  busy_ = true;
  request_keep_alive_ = false;  // the stream may be out of sync: close after answering
  linger_ = true;               // the client may still be sending what we did not read
  std::string_view path;
  if (parser_ != nullptr) {  // the target is set once the request line has been parsed
    path = parser_->get().target();
    path = path.substr(0, path.find('?'));
  }
  Response response(static_cast<http::status>(status), 11);
  response.set(http::field::content_type, "application/json");
  response.body() = handler_->ErrorBody(status, path, message, code);
  Reply(std::move(response));
}

void HttpSession::Reply(Response&& response) {
  if (closed_) return;
  StopWatching();
  response.keep_alive(request_keep_alive_ && !draining_);
  response.prepare_payload();
  auto shared = std::make_shared<Response>(std::move(response));
  stream_.expires_after(limits_.write_timeout);
  http::async_write(stream_, *shared,
                    [self = shared_from_this(), shared](beast::error_code ec, std::size_t) {
                      if (ec) {
                        self->Close();
                        return;
                      }
                      self->AfterResponse(shared->keep_alive());
                    });
}

void HttpSession::AfterResponse(bool keep_alive) {
  busy_ = false;
  streaming_ = false;
  on_drained_ = nullptr;
  if (!keep_alive || draining_) {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (linger_) {
      // Closing with unread input makes the kernel reset the connection, which can destroy
      // the answer before the client reads it (and fails the client's send): read and discard
      // until the client closes, for a bounded time.
      ArmReadTimer(kLingerTimeout);
      DiscardInput();
      return;
    }
    Close();
    return;
  }
  ReadHeader();
}

void HttpSession::DiscardInput() {
  discard_.resize(16 * 1024);
  stream_.socket().async_read_some(asio::buffer(discard_),
                                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                                     if (self->closed_) return;
                                     if (ec) {  // the client closed, or the linger time passed
                                       self->Close();
                                       return;
                                     }
                                     self->DiscardInput();
                                   });
}

void HttpSession::BeginStream(http::response<http::empty_body>&& head) {
  if (closed_) return;
  streaming_ = true;
  head.keep_alive(request_keep_alive_ && !draining_);
  head.chunked(true);
  stream_head_ = std::make_unique<http::response<http::empty_body>>(std::move(head));
  stream_serializer_ =
      std::make_unique<http::response_serializer<http::empty_body>>(*stream_head_);
  writing_ = true;
  stream_.expires_after(limits_.write_timeout);
  http::async_write_header(stream_, *stream_serializer_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             self->writing_ = false;
                             if (ec) {
                               self->Close();
                               return;
                             }
                             self->WriteNext();
                           });
}

void HttpSession::StreamChunk(std::string data) {
  if (closed_ || !streaming_ || end_queued_ || data.empty()) return;
  queued_bytes_ += data.size();
  queue_.push_back(std::move(data));
  if (queued_bytes_ > kHighWater) above_high_water_ = true;
  WriteNext();
}

void HttpSession::EndStream() {
  if (closed_ || !streaming_ || end_queued_) return;
  end_queued_ = true;
  queue_.emplace_back();
  WriteNext();
}

void HttpSession::WriteNext() {
  if (writing_ || closed_ || queue_.empty() || stream_serializer_ == nullptr ||
      !stream_serializer_->is_header_done()) {
    return;
  }
  writing_ = true;
  stream_.expires_after(limits_.write_timeout);
  if (queue_.front().empty()) {  // the end marker
    asio::async_write(stream_, http::make_chunk_last(),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        self->queue_.clear();
                        self->end_queued_ = false;
                        if (ec) {
                          self->Close();
                          return;
                        }
                        const bool keep_alive = self->stream_head_->keep_alive();
                        self->stream_serializer_.reset();
                        self->stream_head_.reset();
                        self->AfterResponse(keep_alive);
                      });
    return;
  }
  // Coalesce what is queued (up to the end marker) into one chunk: one write, one syscall.
  if (queue_.size() > 1 && !queue_[1].empty()) {
    std::string merged = std::move(queue_.front());
    queue_.pop_front();
    while (!queue_.empty() && !queue_.front().empty() && merged.size() < 64 * 1024) {
      merged += queue_.front();
      queue_.pop_front();
    }
    queue_.push_front(std::move(merged));
  }
  asio::async_write(stream_, http::make_chunk(asio::buffer(queue_.front())),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (ec) {
                        self->Close();
                        return;
                      }
                      self->queued_bytes_ -= self->queue_.front().size();
                      self->queue_.pop_front();
                      if (self->above_high_water_ && self->queued_bytes_ < kLowWater) {
                        self->above_high_water_ = false;
                        if (self->on_drained_) {
                          auto callback = std::move(self->on_drained_);
                          self->on_drained_ = nullptr;
                          callback();
                        }
                      }
                      self->WriteNext();
                    });
}

void HttpSession::WatchForClientGone(std::function<void()> on_gone) {
  on_gone_ = std::move(on_gone);
  if (watching_ || closed_) return;
  watching_ = true;
  stream_.socket().async_wait(
      tcp::socket::wait_read, [self = shared_from_this()](beast::error_code ec) {
        if (!self->watching_ || self->closed_) return;
        if (ec) return;
        char probe;
        const ssize_t n = ::recv(self->stream_.socket().native_handle(), &probe, 1,
                                 MSG_PEEK | MSG_DONTWAIT);
        if (n > 0) {
          // The client sent more (a pipelined request): nothing to learn until it is read.
          self->watching_ = false;
          return;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
          self->watching_ = false;
          self->WatchForClientGone(std::move(self->on_gone_));
          return;
        }
        self->Close();  // EOF or error: the client is gone
      });
}

void HttpSession::StopWatching() {
  watching_ = false;
  on_gone_ = nullptr;
}

void HttpSession::Drain() {
  draining_ = true;
  if (!busy_) Close();
}

void HttpSession::Close() {
  if (closed_) return;
  closed_ = true;
  CancelReadTimer();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
  queue_.clear();
  queued_bytes_ = 0;
  if (on_gone_) {
    auto callback = std::move(on_gone_);
    on_gone_ = nullptr;
    watching_ = false;
    callback();
  }
}

}  // namespace inferencegw::proxy
