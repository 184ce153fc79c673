#include "exchange.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <utility>

#include "http_util.h"
#include "state.h"
#include "worker.h"

namespace inferencegw::mock_llm {

// Lifetime notes (libevent 2.1 evhttp):
// - The connection's close callback fires when evhttp frees the connection: on a write error
//   or timeout (the client went away), or on evhttp_free at shutdown. It is cleared before the
//   exchange completes, so a kept-alive connection never calls back into a freed exchange.
// - When the connection fails while a chunked reply is unfinished, evhttp detaches the request
//   (its connection becomes null) and leaves freeing it to the user; OnClose does that.

Exchange::Exchange(Worker* worker, evhttp_request* req, Phase phase)
    : worker_(worker), req_(req), evcon_(evhttp_request_get_connection(req)), phase_(phase) {
  timer_ = evtimer_new(worker_->base(), &Exchange::OnTimer, this);
  evhttp_connection_set_closecb(evcon_, &Exchange::OnClose, this);
  // evhttp only notices a client that left when a write fails; watch for the peer's FIN or RST
  // so that in_flight (and the stream's timer) end when the client goes.
  const evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon_));
  if (fd >= 0) {
    close_watch_ = event_new(worker_->base(), fd, EV_CLOSED, &Exchange::OnPeerClosed, this);
    if (close_watch_ != nullptr) event_add(close_watch_, nullptr);
  }
  worker_->shared().streams().in_flight.fetch_add(1, std::memory_order_relaxed);
  worker_->Track(this);
}

Exchange::~Exchange() {
  worker_->shared().streams().in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (close_watch_ != nullptr) event_free(close_watch_);
  if (timer_ != nullptr) event_free(timer_);
  if (chunk_ != nullptr) evbuffer_free(chunk_);
  worker_->Untrack(this);
}

void Exchange::StartReply(Worker* worker, evhttp_request* req, Reply reply, int delay_ms) {
  auto* self = new Exchange(worker, req, Phase::kDelayedReply);
  self->reply_ = std::move(reply);
  self->Schedule(delay_ms);
}

void Exchange::StartStream(Worker* worker, evhttp_request* req, StreamPlan plan, int delay_ms) {
  auto* self = new Exchange(worker, req, Phase::kStreamPending);
  self->plan_ = std::move(plan);
  self->chunk_ = evbuffer_new();
  worker->shared().streams().active.fetch_add(1, std::memory_order_relaxed);
  if (delay_ms > 0) {
    self->Schedule(delay_ms);
  } else {
    self->BeginStream();
  }
}

void Exchange::Discard() { delete this; }

void Exchange::OnTimer(evutil_socket_t, short, void* arg) { static_cast<Exchange*>(arg)->Step(); }

void Exchange::OnClose(evhttp_connection*, void* arg) {
  auto* self = static_cast<Exchange*>(arg);
  if (self->phase_ != Phase::kDelayedReply) {
    StreamCounters& counters = self->worker_->shared().streams();
    counters.active.fetch_sub(1, std::memory_order_relaxed);
    counters.aborted.fetch_add(1, std::memory_order_relaxed);
  }
  // A detached request is ours to free; an attached one is freed with its connection.
  if (evhttp_request_get_connection(self->req_) == nullptr) evhttp_request_free(self->req_);
  delete self;
}

// The client closed (or reset) its connection while the answer was pending: free the
// connection, which runs OnClose (counting an aborted stream) and deletes this exchange.
void Exchange::OnPeerClosed(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Exchange*>(arg);
  evhttp_connection_free(self->evcon_);
}

void Exchange::Schedule(int delay_ms) { ScheduleNanos(static_cast<int64_t>(delay_ms) * 1'000'000); }

void Exchange::ScheduleNanos(int64_t delay_ns) {
  const timeval tv{static_cast<time_t>(delay_ns / 1'000'000'000),
                   static_cast<suseconds_t>((delay_ns % 1'000'000'000) / 1000)};
  evtimer_add(timer_, &tv);
}

void Exchange::Step() {
  switch (phase_) {
    case Phase::kDelayedReply:
      ReleaseConnection();
      AddResponseHeaders(req_, reply_.content_type, reply_.backend, reply_.status,
                         reply_.retry_after);
      SendComplete(req_, reply_.status, reply_.body);
      delete this;
      return;
    case Phase::kStreamPending:
      BeginStream();
      return;
    case Phase::kStreaming:
      ContinueStream();
      return;
    case Phase::kDraining:
      CheckDrainedThenDrop();
      return;
  }
}

void Exchange::BeginStream() {
  phase_ = Phase::kStreaming;
  AddResponseHeaders(req_, kEventStream, plan_.backend, 200, 0);
  evhttp_add_header(evhttp_request_get_output_headers(req_), "Cache-Control", "no-cache");
  evhttp_send_reply_start(req_, 200, "OK");
  const int n = plan_.script->chunks;
  limit_ = plan_.drop_after >= 0 ? std::min(plan_.drop_after, n) : n;
  if (plan_.stall_after >= 0) limit_ = std::min(limit_, plan_.stall_after);
  SendPiece(plan_.script->preamble.data(), plan_.script->preamble.size());
  ContinueStream();
}

// Content chunk k is due interval_ms * k after chunk 0 (an absolute schedule), so timer
// lateness does not accumulate over a long stream.
void Exchange::ContinueStream() {
  while (next_chunk_ < limit_) {
    if (next_chunk_ == 0) first_chunk_ns_ = MonotonicNanos();
    SendChunk(next_chunk_++);
    if (next_chunk_ < limit_ && plan_.interval_ms == 0 && Backlogged()) {
      Schedule(1);  // the client is not reading: wait instead of buffering the whole stream
      return;
    }
    if (next_chunk_ < limit_ && plan_.interval_ms > 0) {
      const int64_t due_ns =
          first_chunk_ns_ + static_cast<int64_t>(next_chunk_) * plan_.interval_ms * 1'000'000;
      ScheduleNanos(std::max<int64_t>(0, due_ns - MonotonicNanos()));
      return;
    }
  }
  if (plan_.stall_after >= 0 && plan_.stall_after <= next_chunk_ &&
      (plan_.drop_after < 0 || plan_.stall_after < plan_.drop_after)) {
    return;  // silent from now on; OnClose or OnPeerClosed ends the exchange
  }
  if (plan_.drop_after >= 0) {
    phase_ = Phase::kDraining;
    CheckDrainedThenDrop();
    return;
  }
  SendPiece(plan_.script->trailer.data(), plan_.script->trailer.size());
  FinishStream();
}

void Exchange::SendPiece(const char* data, size_t size) {
  if (size == 0) return;
  evbuffer_add(chunk_, data, size);
  evhttp_send_reply_chunk(req_, chunk_);
}

bool Exchange::Backlogged() const {
  constexpr size_t kMaxUnsentBytes = 64 * 1024;
  bufferevent* bev = evhttp_connection_get_bufferevent(evcon_);
  return evbuffer_get_length(bufferevent_get_output(bev)) > kMaxUnsentBytes;
}

void Exchange::SendChunk(int index) {
  const StreamScript& script = *plan_.script;
  worker_->shared().streams().chunks_sent.fetch_add(1, std::memory_order_relaxed);
  if (index == plan_.malformed_chunk) {
    if (plan_.malformed_sse) {
      static constexpr char kJunk[] = "\xff\xfe\x00junk:\r\rdata: {\"choices\":[{\n";
      evbuffer_add(chunk_, kJunk, sizeof(kJunk) - 1);
    } else {
      const std::string_view text = script.EscapedChunkText(index, text_scratch_);
      evbuffer_add(chunk_, script.chunk_prefix.data(), script.chunk_prefix.size());
      evbuffer_add(chunk_, text.data(), text.size());
      evbuffer_add(chunk_, "\n\n", 2);  // the JSON is never closed
    }
    evhttp_send_reply_chunk(req_, chunk_);
    return;
  }
  evbuffer_add(chunk_, script.chunk_prefix.data(), script.chunk_prefix.size());
  if (plan_.stamp) {
    const fmt::format_int ns(MonotonicNanos());
    evbuffer_add(chunk_, "t=", 2);
    evbuffer_add(chunk_, ns.data(), ns.size());
    evbuffer_add(chunk_, " ", 1);
  }
  const std::string_view text = script.EscapedChunkText(index, text_scratch_);
  evbuffer_add(chunk_, text.data(), text.size());
  evbuffer_add(chunk_, script.chunk_suffix.data(), script.chunk_suffix.size());
  evhttp_send_reply_chunk(req_, chunk_);
}

void Exchange::FinishStream() {
  StreamCounters& counters = worker_->shared().streams();
  counters.active.fetch_sub(1, std::memory_order_relaxed);
  counters.completed.fetch_add(1, std::memory_order_relaxed);
  ReleaseConnection();
  evhttp_send_reply_end(req_);
  delete this;
}

// drop_after: wait until evhttp has handed every byte sent so far to the kernel, then close the
// connection without the final events or the chunked terminator (a broken stream).
void Exchange::CheckDrainedThenDrop() {
  bufferevent* bev = evhttp_connection_get_bufferevent(evcon_);
  if (evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
    Schedule(1);
    return;
  }
  StreamCounters& counters = worker_->shared().streams();
  counters.active.fetch_sub(1, std::memory_order_relaxed);
  counters.dropped.fetch_add(1, std::memory_order_relaxed);
  ReleaseConnection();
  if (plan_.drop_with_reset) {
    // Linux: connect() to AF_UNSPEC disconnects a TCP socket with a RST (tcp_disconnect).
    // SO_LINGER 0 would not do: evhttp shuts the socket down (a FIN) before closing it.
    sockaddr unspec{};
    unspec.sa_family = AF_UNSPEC;
    connect(bufferevent_getfd(bev), &unspec, sizeof(unspec));
  }
  evhttp_connection_free(evcon_);  // also frees req_
  delete this;
}

void Exchange::ReleaseConnection() { evhttp_connection_set_closecb(evcon_, nullptr, nullptr); }

}  // namespace inferencegw::mock_llm
