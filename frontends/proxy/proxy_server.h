// The whole gateway process: the Gateway (library state), one Worker per thread serving clients,
// and the admin loop on the calling thread, which serves the admin port, runs health probes,
// watches the config and handles signals (SIGHUP reloads; SIGTERM/SIGINT drain and stop).
//
//   auto server = ProxyServer::Create(options);   // loads the config; fails with its errors
//   if (!server.ok()) { print; exit(1); }
//   return (*server)->Run();                      // until SIGTERM; returns the exit code
#ifndef INFERENCEGW_PROXY_PROXY_SERVER_H_
#define INFERENCEGW_PROXY_PROXY_SERVER_H_

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "asio_beast.h"
#include "config_watcher.h"
#include "http_session.h"
#include "inferencegw/gateway.h"
#include "prober.h"
#include "span_exporter.h"
#include "proxy_options.h"
#include "worker.h"

namespace inferencegw::proxy {

class ProxyServer : public HttpHandler {
 public:
  // Loads and compiles the config and binds both ports. Errors: InvalidArgument with the
  // loader's messages, Unavailable when a port cannot be bound.
  static absl::StatusOr<std::unique_ptr<ProxyServer>> Create(ProxyOptions options);
  ~ProxyServer() override;

  // Serves until a terminating signal has drained the workers. Returns the exit code.
  int Run();

  uint16_t listen_port() const { return listen_port_; }
  uint16_t admin_port() const { return admin_port_; }

  // HttpHandler for the admin port.
  void Handle(const std::shared_ptr<HttpSession>& session, Request&& request) override;
  // Access to the gateway, e.g. to attach a shared store before Run.
  Gateway& gateway() { return *gateway_; }
  std::string ErrorBody(int status, std::string_view path, std::string_view message,
                        std::string_view code) override;

 private:
  explicit ProxyServer(ProxyOptions options);
  void AcceptAdmin();
  // GET /admin/budgets: asks the store (shared or local) and answers from the admin loop.
  void ReplyBudgets(const std::shared_ptr<HttpSession>& session, unsigned version);
  void WaitForSignals();
  void BeginShutdown();

  ProxyOptions options_;
  std::unique_ptr<Gateway> gateway_;
  asio::io_context io_;
  tcp::acceptor admin_acceptor_;
  HttpSession::Registry admin_sessions_;
  TimerWheel admin_wheel_;
  asio::signal_set signals_;
  std::unique_ptr<ConfigWatcher> watcher_;
  std::unique_ptr<Prober> prober_;
  std::unique_ptr<SpanExporter> tracer_;  // when tracing is on; outlives the workers' requests
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<int> workers_running_{0};
  asio::steady_timer shutdown_timer_;
  bool shutting_down_ = false;
  uint16_t listen_port_ = 0;
  uint16_t admin_port_ = 0;
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_PROXY_SERVER_H_
