// Responses that outlive the request callback: a reply sent after a delay, and SSE streams
// paced by event timers (never by sleeping in the loop thread).
//
//   Exchange::StartReply(worker, req, {503, kJson, body, backend, 2}, /*delay_ms=*/50);
//   Exchange::StartStream(worker, req, {script, backend, 10, -1, false}, /*delay_ms=*/0);
#ifndef INFERENCEGW_TOOLS_MOCK_LLM_EXCHANGE_H_
#define INFERENCEGW_TOOLS_MOCK_LLM_EXCHANGE_H_

#include <event2/event.h>
#include <event2/http.h>

#include <cstdint>
#include <memory>
#include <string>

#include "bodies.h"

namespace inferencegw::mock_llm {

class Worker;

// One deferred response. Owns itself: it is deleted when the response is complete, when the
// connection closes (the client went away, or the server shuts down), or by Discard. The
// client's close is noticed when it happens (an EV_CLOSED watch on the socket), not at the next
// write. Not thread-safe; lives on its worker's event loop thread.
class Exchange {
 public:
  struct Reply {
    int status = 200;
    const char* content_type = nullptr;  // static string
    std::string body;
    std::string backend;  // x-mock-backend value
    int retry_after = 0;
  };
  struct StreamPlan {
    std::shared_ptr<const StreamScript> script;
    std::string backend;
    int interval_ms = 0;  // between content chunks
    int drop_after = -1;  // close the connection after this many content chunks; < 0 = never
    bool drop_with_reset = false;  // the drop is a TCP reset instead of a clean close
    int stall_after = -1;          // go silent after this many content chunks; < 0 = never
    int malformed_chunk = -1;      // this content chunk is sent malformed; < 0 = none
    bool malformed_sse = false;    // junk bytes instead of truncated JSON
    bool stamp = false;            // prefix each chunk's text with "t=<CLOCK_MONOTONIC ns> "
  };

  // Sends `reply` after `delay_ms`. REQUIRES: called from `worker`'s loop thread inside the
  // request callback of `req`.
  static void StartReply(Worker* worker, evhttp_request* req, Reply reply, int delay_ms);
  // Starts an SSE stream after `delay_ms`: preamble, content chunks `interval_ms` apart, then
  // the trailer; or, with drop_after, an abrupt close after that many chunks.
  static void StartStream(Worker* worker, evhttp_request* req, StreamPlan plan, int delay_ms);

  // Deletes the exchange without touching its request or connection (already freed).
  void Discard();

  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

 private:
  enum class Phase { kDelayedReply, kStreamPending, kStreaming, kDraining };

  Exchange(Worker* worker, evhttp_request* req, Phase phase);
  ~Exchange();

  static void OnTimer(evutil_socket_t fd, short what, void* arg);
  static void OnClose(evhttp_connection* evcon, void* arg);
  static void OnPeerClosed(evutil_socket_t fd, short what, void* arg);

  void Schedule(int delay_ms);
  void ScheduleNanos(int64_t delay_ns);
  void Step();
  void BeginStream();
  void ContinueStream();
  void SendPiece(const char* data, size_t size);
  void SendChunk(int index);
  void FinishStream();
  void CheckDrainedThenDrop();
  bool Backlogged() const;  // more than 64 KiB not yet handed to the kernel
  void ReleaseConnection();

  Worker* const worker_;
  evhttp_request* req_;
  evhttp_connection* const evcon_;
  event* timer_ = nullptr;
  event* close_watch_ = nullptr;  // EV_CLOSED on the connection's socket: the client left
  evbuffer* chunk_ = nullptr;     // reused for every chunk; evhttp moves its bytes out
  std::string text_scratch_;
  Phase phase_;
  Reply reply_;
  StreamPlan plan_;
  int next_chunk_ = 0;
  int64_t first_chunk_ns_ = 0;  // CLOCK_MONOTONIC when content chunk 0 was sent
  int limit_ = 0;               // chunks to send before the trailer or the drop
};

}  // namespace inferencegw::mock_llm

#endif  // INFERENCEGW_TOOLS_MOCK_LLM_EXCHANGE_H_
