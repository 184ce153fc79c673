#include "http_session.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

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
                         Registry* registry, TimerWheel* wheel)
    : stream_(std::move(socket)),
      read_timer_(*wheel, [this] { OnReadTimeout(); }),
      write_timer_(*wheel, [this] { OnWriteTimeout(); }),
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

void HttpSession::DrainAll(const Registry& registry, bool close_now) {
  // Closing a session can end its exchange, which may drop the last reference to the session:
  // hold each one while it is told.
  std::vector<std::shared_ptr<HttpSession>> sessions;
  sessions.reserve(registry.size());
  for (HttpSession* session : registry) {
    if (std::shared_ptr<HttpSession> held = session->weak_from_this().lock()) {
      sessions.push_back(std::move(held));
    }
  }
  for (const auto& session : sessions) {
    if (close_now) {
      session->Close();
    } else {
      session->Drain();
    }
  }
}

void HttpSession::Start() { ReadHeader(); }

void HttpSession::RefuseConnection(int status, std::string_view message, std::string_view code) {
  busy_ = true;
  request_keep_alive_ = false;
  linger_ = true;  // the client may have sent its request already: do not reset it unread
  Response response(static_cast<http::status>(status), 11);
  response.set(http::field::content_type, "application/json");
  response.set(http::field::retry_after, "1");
  response.body() = handler_->ErrorBody(status, "", message, code);
  Reply(std::move(response));
}

void HttpSession::ReadHeader() {
  if (closed_) return;
  if (draining_) {
    Close();
    return;
  }
  parser_ = std::make_unique<http::request_parser<http::string_body>>();
  parser_->header_limit(static_cast<std::uint32_t>(limits_.max_header_bytes));
  parser_->body_limit(limits_.max_body_bytes);
  if (buffer_.size() > 0) {  // a pipelined request has begun already (no read is pending then)
    OnReadable({});
    return;
  }
  // Idle until the next request's first bytes; from then on the request timeout runs. The
  // read may already be pending: the one that watched the connection during the last answer.
  awaiting_request_ = true;
  ArmReadTimer(limits_.idle_timeout);
  if (!read_pending_) StartRead();
}

void HttpSession::StartRead() {
  // A plain read into the parser's buffer, not a readiness wait (Asio 1.74 pays for a wait with
  // an epoll_ctl on every call). At most one is pending; it is either the wait for a request's
  // first bytes or, while a request is handled, the watch for the client hanging up.
  read_pending_ = true;
  stream_.socket().async_read_some(
      buffer_.prepare(kFirstReadBytes),
      [self = shared_from_this()](beast::error_code ec, std::size_t n) {
        self->read_pending_ = false;
        if (self->closed_) return;
        if (!ec) self->buffer_.commit(n);
        if (self->awaiting_request_) {
          self->awaiting_request_ = false;
          self->OnReadable(ec);
          return;
        }
        // It watched a request being handled. EOF or an error: the client is gone (Close tells
        // the handler). Data: the start of a pipelined request, kept in buffer_ for later; the
        // watch ends there (reading on would buffer without bound).
        if (ec) self->Close();
      });
}

void HttpSession::ArmReadTimer(std::chrono::seconds timeout) {
  read_timed_out_ = false;
  read_timer_.Arm(timeout);
}

void HttpSession::CancelReadTimer() { read_timer_.Cancel(); }

void HttpSession::OnReadTimeout() {
  if (closed_) return;
  read_timed_out_ = true;
  beast::error_code ignored;
  stream_.socket().cancel(ignored);  // the pending read ends with operation_aborted
}

void HttpSession::ArmWriteTimer() { write_timer_.Arm(limits_.write_timeout); }

void HttpSession::OnWriteTimeout() {
  // The client stopped reading: the pending write ends with an error, which closes.
  beast::error_code ignored;
  if (!closed_) stream_.socket().cancel(ignored);
}

void HttpSession::OnReadable(beast::error_code ec) {
  if (closed_) return;
  if (ec) {  // idle timeout, or the socket failed
    Close();
    return;
  }
  // The header must arrive within the header timeout (slowloris), the whole request within the
  // request timeout; both count from the request's first byte.
  ArmReadTimer(std::min(limits_.header_timeout, limits_.request_timeout));
  request_started_ = std::chrono::steady_clock::now();
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
  std::string why;
  if (BadFraming(&why)) {
    ReplyError(400, why, "bad_request");
    return;
  }
  if (limits_.header_timeout < limits_.request_timeout && !parser_->is_done()) {
    const auto spent = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::steady_clock::now() - request_started_);
    ArmReadTimer(std::max(std::chrono::seconds(1), limits_.request_timeout - spent));
  }
  // A client that waits for "100 Continue" before sending its body gets it now.
  const auto& header = parser_->get();
  auto expect = header.find(http::field::expect);
  if (expect != header.end() && beast::iequals(expect->value(), "100-continue") &&
      !parser_->is_done()) {
    auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    ArmWriteTimer();
    http::async_write(stream_, *interim,
                      [self = shared_from_this(), interim](beast::error_code wec, std::size_t) {
                        if (wec || self->closed_) {
                          self->Close();
                          return;
                        }
                        self->write_timer_.Cancel();
                        http::async_read(
                            self->stream_, self->buffer_, *self->parser_,
                            [self](beast::error_code rec, std::size_t) { self->OnBody(rec); });
                      });
    return;
  }
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code rec, std::size_t) { self->OnBody(rec); });
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
  // A complete response is its header block and its body: formatted here into one string and
  // written with the body in one gather write (Beast's general serializer costs more per
  // response than the whole format).
  struct Pending {
    std::string head;
    Response response;
  };
  auto pending = std::make_shared<Pending>();
  pending->response = std::move(response);
  const Response& r = pending->response;
  std::string& head = pending->head;
  head.reserve(256);
  head.append(r.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  head.append(std::to_string(r.result_int()));
  head.push_back(' ');
  head.append(r.reason());
  head.append("\r\n");
  for (const auto& field : r) {
    head.append(field.name_string());
    head.append(": ");
    head.append(field.value());
    head.append("\r\n");
  }
  head.append("\r\n");
  const std::array<asio::const_buffer, 2> buffers = {asio::buffer(head), asio::buffer(r.body())};
  ArmWriteTimer();
  asio::async_write(stream_, buffers,
                    [self = shared_from_this(), pending](beast::error_code ec, std::size_t) {
                      self->write_timer_.Cancel();
                      if (ec || self->closed_) {
                        self->Close();
                        return;
                      }
                      self->AfterResponse(pending->response.keep_alive());
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
  stream_serializer_ = std::make_unique<http::response_serializer<http::empty_body>>(*stream_head_);
  writing_ = true;
  ArmWriteTimer();
  http::async_write_header(stream_, *stream_serializer_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) {
                             self->writing_ = false;
                             self->write_timer_.Cancel();
                             if (ec || self->closed_) {
                               self->Close();
                               self->ReleaseQueue();
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
  ArmWriteTimer();
  if (queue_.front().empty()) {  // the end marker
    asio::async_write(stream_, http::make_chunk_last(),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->writing_ = false;
                        self->write_timer_.Cancel();
                        self->queue_.clear();
                        self->queued_bytes_ = 0;
                        self->end_queued_ = false;
                        if (ec || self->closed_) {
                          self->Close();
                          self->ReleaseQueue();
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
  // The write reads queue_.front() until its handler runs; nothing frees it before then (Close
  // leaves the queue to this handler).
  asio::async_write(stream_, http::make_chunk(asio::buffer(queue_.front())),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->OnChunkWritten(ec);
                    });
}

void HttpSession::OnChunkWritten(beast::error_code ec) {
  writing_ = false;
  write_timer_.Cancel();
  if (ec || closed_) {  // closed while the write was in flight: its buffer is free to go now
    Close();
    ReleaseQueue();
    return;
  }
  queued_bytes_ -= queue_.front().size();
  queue_.pop_front();
  if (above_high_water_ && queued_bytes_ < kLowWater) {
    above_high_water_ = false;
    if (on_drained_) {
      auto callback = std::move(on_drained_);
      on_drained_ = nullptr;
      callback();  // may queue more (and start the next write)
      if (closed_) return;
    }
  }
  WriteNext();
}

void HttpSession::ReleaseQueue() {
  if (writing_) return;
  queue_.clear();
  queued_bytes_ = 0;
  above_high_water_ = false;
  on_drained_ = nullptr;
}

bool HttpSession::BadFraming(std::string* why) const {
  const auto& header = parser_->get();
  auto te = header.find(http::field::transfer_encoding);
  if (te == header.end()) return false;
  // RFC 9112 6.1: a request whose final transfer coding is not chunked has no reliable length
  // (answer 400 and close); we accept no coding but chunked at all, and never a
  // Transfer-Encoding with a Content-Length (a smuggling vector), nor one in HTTP/1.0.
  std::string_view value = te->value();
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  int count = 0;
  for (auto it = te; it != header.end() && it->name() == http::field::transfer_encoding; ++it) {
    ++count;
  }
  if (count != 1 || !beast::iequals(value, "chunked")) {
    *why = "unsupported Transfer-Encoding (only chunked is accepted)";
    return true;
  }
  if (header.find(http::field::content_length) != header.end()) {
    *why = "a request may not carry both Transfer-Encoding and Content-Length";
    return true;
  }
  if (header.version() < 11) {
    *why = "Transfer-Encoding is not allowed in HTTP/1.0";
    return true;
  }
  return false;
}

void HttpSession::WatchForClientGone(std::function<void()> on_gone) {
  on_gone_ = std::move(on_gone);
  // With a pipelined request already buffered there is nothing to watch with: a read would
  // only buffer more.
  if (closed_ || read_pending_ || buffer_.size() > 0) return;
  StartRead();
}

void HttpSession::StopWatching() { on_gone_ = nullptr; }

void HttpSession::Drain() {
  draining_ = true;
  if (!busy_) Close();
}

void HttpSession::Close() {
  if (closed_) return;
  closed_ = true;
  CancelReadTimer();
  write_timer_.Cancel();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
  ReleaseQueue();  // unless a write still reads it: then its handler does
  if (on_gone_) {
    auto callback = std::move(on_gone_);
    on_gone_ = nullptr;
    callback();
  }
}

}  // namespace inferencegw::proxy
