// One proxy worker: an event loop thread with its own listening socket (SO_REUSEPORT, so the
// kernel spreads connections over workers), its own libcurl multi handle for upstreams, and its
// own entropy stream. Every request is handled start to end on the worker that accepted it.
//
//   Worker w(0, gateway, options);
//   w.Listen(endpoint);              // before Run
//   std::thread t([&] { w.Run(); });
//   w.Drain();                       // from any thread: stop accepting, finish in-flight, stop
#ifndef INFERENCEGW_PROXY_WORKER_H_
#define INFERENCEGW_PROXY_WORKER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "asio_beast.h"
#include "curl_multi.h"
#include "http_session.h"
#include "inferencegw/gateway.h"
#include "proxy_options.h"
#include "upstream_headers.h"

namespace inferencegw::proxy {

// Not thread-safe except Drain and the atomics; everything else runs on the worker's thread.
class SpanExporter;

class Worker : public HttpHandler {
 public:
  Worker(int id, Gateway& gateway, const ProxyOptions& options);
  ~Worker() override;

  // Opens this worker's listening socket on `endpoint` (port 0 picks one; all workers then use
  // the first worker's port). Returns the bound port.
  absl::StatusOr<uint16_t> Listen(const tcp::endpoint& endpoint);

  // Runs the loop until Drain has finished (or Stop).
  void Run();
  // Thread-safe: stop accepting; finish in-flight requests; then the loop ends.
  void Drain();
  // Thread-safe: end the loop now.
  void Stop();

  // HttpHandler.
  void Handle(const std::shared_ptr<HttpSession>& session, Request&& request) override;
  std::string ErrorBody(int status, std::string_view path, std::string_view message,
                        std::string_view code) override;

  // For ProxyExchange (worker thread only).
  asio::io_context& io() { return io_; }
  CurlMulti& curl() { return curl_; }
  TimerWheel& wheel() { return wheel_; }
  UpstreamHeaderCache& upstream_headers() { return upstream_headers_; }
  Gateway& gateway() { return gateway_; }
  const ProxyOptions& options() const { return options_; }
  uint64_t NextEntropy() { return rng_(); }
  // Where sampled requests' spans go; null when tracing is off. Set before Run; not owned.
  SpanExporter* tracer() const { return tracer_; }
  void SetTracer(SpanExporter* tracer) { tracer_ = tracer; }
  std::string NextRequestId();
  void Log(std::string_view line);
  void ExchangeStarted() { ++in_flight_; }
  void ExchangeEnded();

  int in_flight() const { return in_flight_; }
  uint64_t connections_refused() const { return connections_refused_; }

 private:
  void Accept();
  void FlushLog();
  void ScheduleLogFlush();
  void MaybeFinishDrain();
  void CloseEverything();
  void ReplyOps(const std::shared_ptr<HttpSession>& session, Request&& request);

  const int id_;
  Gateway& gateway_;
  const ProxyOptions& options_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  TimerWheel wheel_;  // before everything that arms wheel timers
  CurlMulti curl_;
  UpstreamHeaderCache upstream_headers_;
  HttpSession::Registry sessions_;
  std::mt19937_64 rng_;
  SpanExporter* tracer_ = nullptr;
  uint64_t request_counter_ = 0;
  std::string request_id_prefix_;
  std::string log_buffer_;
  asio::steady_timer log_timer_;
  bool log_timer_armed_ = false;
  int in_flight_ = 0;
  uint64_t connections_refused_ = 0;
  bool draining_ = false;
  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>> work_;
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_WORKER_H_
