#include "proxy_server.h"

#include <signal.h>

#include "fmt/format.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/status.h"
#include "inferencegw/translate.h"
#include "log_sink.h"
#include "ops_endpoints.h"

namespace inferencegw::proxy {

namespace {

absl::StatusOr<tcp::endpoint> Endpoint(const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(fmt::format("not an IP address: \"{}\"", host));
  return tcp::endpoint(address, port);
}

}  // namespace

ProxyServer::ProxyServer(ProxyOptions options)
    : options_(std::move(options)),
      io_(1),
      admin_acceptor_(io_),
      admin_wheel_(io_),
      signals_(io_),
      shutdown_timer_(io_) {}

ProxyServer::~ProxyServer() {
  for (auto& worker : workers_) worker->Stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

absl::StatusOr<std::unique_ptr<ProxyServer>> ProxyServer::Create(ProxyOptions options) {
  std::unique_ptr<ProxyServer> server(new ProxyServer(std::move(options)));
  ProxyOptions& o = server->options_;
  if (o.threads <= 0) o.threads = std::max(1u, std::thread::hardware_concurrency());
  // --max-connections is for the whole process; each worker's loop enforces its share.
  if (o.limits.max_connections > 0) {
    const size_t threads = static_cast<size_t>(o.threads);
    o.limits.max_connections = (o.limits.max_connections + threads - 1) / threads;
  }

  absl::StatusOr<ConfigSet> config = LoadConfigFromPath(o.config_path);
  if (!config.ok()) return config.status();
  absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Create(*config);
  if (!gateway.ok()) return gateway.status();
  server->gateway_ = *std::move(gateway);
  for (const ConfigIssue& issue : ConfigWarnings(*config)) {
    LogSink::Get().Event("warning", "config warning", {{"issue", issue.ToString()}});
  }

  if (o.tracing.enabled) {
    server->tracer_ = std::make_unique<SpanExporter>(o.tracing, server->gateway_->registry());
  }
  absl::StatusOr<tcp::endpoint> listen = Endpoint(o.listen_host, o.listen_port);
  if (!listen.ok()) return listen.status();
  for (int i = 0; i < o.threads; ++i) {
    auto worker = std::make_unique<Worker>(i, *server->gateway_, server->options_);
    worker->SetTracer(server->tracer_.get());
    absl::StatusOr<uint16_t> port = worker->Listen(*listen);
    if (!port.ok()) return port.status();
    if (i == 0) {
      server->listen_port_ = *port;
      listen->port(*port);  // port 0: every worker shares the first worker's port
    }
    server->workers_.push_back(std::move(worker));
  }

  absl::StatusOr<tcp::endpoint> admin = Endpoint(o.admin_host, o.admin_port);
  if (!admin.ok()) return admin.status();
  boost::system::error_code ec;
  server->admin_acceptor_.open(admin->protocol(), ec);
  if (!ec) server->admin_acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) server->admin_acceptor_.bind(*admin, ec);
  if (!ec) server->admin_acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(fmt::format("cannot listen on {}:{} (admin): {}", o.admin_host,
                                              o.admin_port, ec.message()));
  }
  server->admin_port_ = server->admin_acceptor_.local_endpoint().port();
  server->watcher_ =
      std::make_unique<ConfigWatcher>(server->io_, *server->gateway_, o.config_path, o.config_poll);
  server->prober_ = std::make_unique<Prober>(server->io_, *server->gateway_);
  return server;
}

int ProxyServer::Run() {
  // Workers never see these signals; the admin loop handles them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (tracer_ != nullptr) tracer_->Start();  // with the signals blocked, like the workers
  for (auto& worker : workers_) {
    workers_running_.fetch_add(1);
    threads_.emplace_back([this, w = worker.get()] {
      w->Run();
      workers_running_.fetch_sub(1);
      asio::post(io_, [this] {
        if (shutting_down_ && workers_running_.load() == 0) io_.stop();
      });
    });
  }
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  signals_.add(SIGTERM);
  signals_.add(SIGINT);
  signals_.add(SIGHUP);
  WaitForSignals();
  AcceptAdmin();
  watcher_->Start();
  prober_->Start();
  LogSink::Get().Event("info", "listening",
                       {{"listen", fmt::format("{}:{}", options_.listen_host, listen_port_)},
                        {"admin", fmt::format("{}:{}", options_.admin_host, admin_port_)},
                        {"threads", std::to_string(options_.threads)},
                        {"config", options_.config_path},
                        {"backends", std::to_string(gateway_->table()->backends().size())},
                        {"routes", std::to_string(gateway_->table()->routes().size())}});
  io_.run();

  for (auto& worker : workers_) worker->Stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // Every request has ended: send the spans still queued (bounded by the export timeout).
  if (tracer_ != nullptr) tracer_->Stop();
  // Admin sessions must be gone before the wheel they use: close them and run what that ends.
  HttpSession::DrainAll(admin_sessions_, /*close_now=*/true);
  io_.restart();
  for (int round = 0; round < 100 && io_.poll() > 0; ++round) {
  }
  LogSink::Get().Event("info", "stopped");
  return 0;
}

void ProxyServer::WaitForSignals() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    if (signal == SIGHUP) {
      LogSink::Get().Event("info", "SIGHUP: reloading config");
      watcher_->ReloadNow(/*force=*/true);
      WaitForSignals();
      return;
    }
    BeginShutdown();
    WaitForSignals();  // a second SIGTERM during the drain stops at once
  });
}

void ProxyServer::BeginShutdown() {
  if (shutting_down_) {
    LogSink::Get().Event("warning", "second stop signal: stopping without waiting");
    io_.stop();
    return;
  }
  shutting_down_ = true;
  LogSink::Get().Event("info", "draining",
                       {{"timeout_seconds", std::to_string(options_.drain_timeout.count())}});
  boost::system::error_code ec;
  admin_acceptor_.close(ec);
  watcher_->Stop();
  prober_->Stop();
  for (auto& worker : workers_) worker->Drain();
  HttpSession::DrainAll(admin_sessions_, /*close_now=*/false);
  shutdown_timer_.expires_after(options_.drain_timeout);
  shutdown_timer_.async_wait([this](const boost::system::error_code& tec) {
    if (tec) return;
    LogSink::Get().Event("warning", "drain timeout: stopping with requests in flight");
    io_.stop();
  });
  if (workers_running_.load() == 0) io_.stop();
}

void ProxyServer::AcceptAdmin() {
  admin_acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || shutting_down_) return;
      AcceptAdmin();
      return;
    }
    std::make_shared<HttpSession>(std::move(socket), this, options_.limits, &admin_sessions_,
                                  &admin_wheel_)
        ->Start();
    AcceptAdmin();
  });
}

std::string ProxyServer::ErrorBody(int status, std::string_view /*path*/, std::string_view message,
                                   std::string_view code) {
  return OpenAIErrorJson(message, OpenAIErrorTypeFor(status), code);
}

void ProxyServer::Handle(const std::shared_ptr<HttpSession>& session, Request&& request) {
  if (std::optional<Response> response = ServeOps(*gateway_, request, /*admin=*/true)) {
    session->Reply(std::move(*response));
    return;
  }
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if (path == "/admin/budgets" && request.method() == http::verb::get) {
    ReplyBudgets(session, request.version());
    return;
  }
  if (path == "/admin/reload" && request.method() == http::verb::post) {
    const uint64_t before = gateway_->generation();
    watcher_->ReloadNow(/*force=*/true);
    const uint64_t after = gateway_->generation();
    Response response(after != before ? http::status::ok : http::status::unprocessable_entity,
                      request.version());
    response.set(http::field::content_type, "application/json");
    response.body() = fmt::format(R"({{"reloaded":{},"generation":{}}})",
                                  after != before ? "true" : "false", after);
    session->Reply(std::move(response));
    return;
  }
  session->Reply(
      JsonError(request.version(), 404, fmt::format("unknown admin path {}", path), "unknown_url"));
}

void ProxyServer::ReplyBudgets(const std::shared_ptr<HttpSession>& session, unsigned version) {
  const int64_t unix_now = gateway_->clock().UnixNanos() / kNanosPerSecond;
  auto budgets = std::make_shared<std::vector<ConfiguredBudget>>(
      ConfiguredBudgets(gateway_->table()->config(), unix_now));
  std::vector<std::pair<std::string, int64_t>> scopes;
  for (const ConfiguredBudget& b : *budgets) scopes.emplace_back(b.scope, b.bounds.start_unix);
  CounterStore* shared = gateway_->shared_store();
  const bool local = shared == nullptr;
  auto reply = [session, version, budgets](std::string_view source, bool ok,
                                           const std::vector<BudgetReading>& readings) {
    Response response(http::status::ok, version);
    response.set(http::field::content_type, "application/json");
    response.set(http::field::cache_control, "no-store");
    response.body() = RenderBudgetsJson(*budgets, readings, source, ok);
    session->Reply(std::move(response));
  };
  if (local) {
    gateway_->local_store().ReadBudgets(
        scopes, [&](bool ok, std::vector<BudgetReading> readings) {
          reply("local", ok, readings);
        });
    return;
  }
  Gateway* gateway = gateway_.get();
  shared->ReadBudgets(scopes, [this, gateway, scopes, reply](bool ok,
                                                             std::vector<BudgetReading> readings) {
    // On the store's thread: answer from the admin loop.
    asio::post(io_, [gateway, scopes, reply, ok, readings = std::move(readings)]() mutable {
      if (ok) {
        reply("redis", true, readings);
        return;
      }
      // The shared store did not answer: this replica's own counters, marked as such.
      gateway->local_store().ReadBudgets(scopes, [&](bool, std::vector<BudgetReading> mine) {
        reply("redis", false, mine);
      });
    });
  });
}

}  // namespace inferencegw::proxy
