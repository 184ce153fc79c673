#include "worker.h"

#include <sys/socket.h>

#include "fmt/format.h"
#include "inferencegw/exchange_report.h"
#include "inferencegw/model_directory.h"
#include "inferencegw/status.h"
#include "inferencegw/translate.h"
#include "log_sink.h"
#include "ops_endpoints.h"
#include "proxy_exchange.h"

namespace inferencegw::proxy {

namespace {

constexpr size_t kLogFlushBytes = 32 * 1024;
constexpr auto kLogFlushInterval = std::chrono::milliseconds(20);

}  // namespace

Worker::Worker(int id, Gateway& gateway, const ProxyOptions& options)
    : id_(id),
      gateway_(gateway),
      options_(options),
      io_(1),
      acceptor_(io_),
      wheel_(io_),
      curl_(io_, wheel_),
      rng_(std::random_device{}()),
      log_timer_(io_) {
  request_id_prefix_ = fmt::format("{:08x}{:02x}", static_cast<uint32_t>(rng_()), id_ & 0xff);
}

Worker::~Worker() {
  CloseEverything();
  FlushLog();
}

void Worker::CloseEverything() {
  // Every session and exchange must be gone while the loop's wheel, curl multi handle and
  // registry still exist: close every connection (which ends each exchange and aborts its
  // transfer), then run the handlers that this completes, which drop the last references.
  boost::system::error_code ec;
  acceptor_.close(ec);
  HttpSession::DrainAll(sessions_, /*close_now=*/true);
  log_timer_.cancel();
  io_.restart();
  for (int round = 0; round < 100 && io_.poll() > 0; ++round) {
  }
}

absl::StatusOr<uint16_t> Worker::Listen(const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) {
    const int one = 1;
    if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      ec = boost::system::error_code(errno, boost::system::system_category());
    }
  }
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(fmt::format("cannot listen on {}:{}: {}",
                                              endpoint.address().to_string(), endpoint.port(),
                                              ec.message()));
  }
  return acceptor_.local_endpoint().port();
}

void Worker::Run() {
  work_ = std::make_unique<asio::executor_work_guard<asio::io_context::executor_type>>(
      io_.get_executor());
  Accept();
  io_.run();
  CloseEverything();
  FlushLog();
}

void Worker::Accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || draining_) return;
      // Out of descriptors or similar: keep accepting after a short pause.
      auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
      timer->async_wait([this, timer](const boost::system::error_code&) {
        if (!draining_) Accept();
      });
      return;
    }
    auto session =
        std::make_shared<HttpSession>(std::move(socket), this, options_.limits, &sessions_, &wheel_);
    if (options_.limits.max_connections > 0 &&
        sessions_.size() > options_.limits.max_connections) {
      // Over the cap: a short 503 and close, rather than a connection nobody will serve.
      ++connections_refused_;
      session->RefuseConnection(503, "the gateway has too many open connections; retry later",
                                "too_many_connections");
    } else {
      session->Start();
    }
    Accept();
  });
}

void Worker::Drain() {
  asio::post(io_, [this] {
    if (draining_) return;
    draining_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    // Idle keep-alive connections close now; busy ones after their current answer.
    HttpSession::DrainAll(sessions_, /*close_now=*/false);
    MaybeFinishDrain();
  });
}

void Worker::Stop() {
  asio::post(io_, [this] {
    FlushLog();
    work_.reset();
    io_.stop();
  });
}

void Worker::MaybeFinishDrain() {
  if (!draining_ || in_flight_ > 0) return;
  // Give the last responses a moment to be written, then end the loop.
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
  timer->async_wait([this, timer](const boost::system::error_code&) {
    FlushLog();
    work_.reset();
    io_.stop();
  });
}

void Worker::ExchangeEnded() {
  --in_flight_;
  MaybeFinishDrain();
}

std::string Worker::NextRequestId() {
  return fmt::format("{}-{:x}", request_id_prefix_, ++request_counter_);
}

void Worker::Log(std::string_view line) {
  log_buffer_.append(line);
  if (log_buffer_.size() >= kLogFlushBytes) {
    FlushLog();
  } else {
    ScheduleLogFlush();
  }
}

void Worker::ScheduleLogFlush() {
  if (log_timer_armed_) return;
  log_timer_armed_ = true;
  log_timer_.expires_after(kLogFlushInterval);
  log_timer_.async_wait([this](const boost::system::error_code&) {
    log_timer_armed_ = false;
    FlushLog();
  });
}

void Worker::FlushLog() {
  if (log_buffer_.empty()) return;
  LogSink::Get().Write(log_buffer_);
  log_buffer_.clear();
}

std::string Worker::ErrorBody(int status, std::string_view path, std::string_view message,
                              std::string_view code) {
  // An API path gets its API's error shape (Anthropic's for /v1/messages).
  if (std::optional<ClientApi> api = ClientApiForPath(path)) {
    return ErrorJsonFor(*api, status, message, code);
  }
  return OpenAIErrorJson(message, OpenAIErrorTypeFor(status), code);
}

void Worker::Handle(const std::shared_ptr<HttpSession>& session, Request&& request) {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if (request.method() == http::verb::post) {
    if (std::optional<ClientApi> api = ClientApiForPath(path)) {
      std::make_shared<ProxyExchange>(*this, session, std::move(request), *api)->Start();
      return;
    }
  }
  if (request.method() == http::verb::get) {
    // The models endpoints and KServe metadata paths: answered here, or forwarded (docs/proxy.md).
    const ModelsShape shape = request.find("anthropic-version") != request.end()
                                  ? ModelsShape::kAnthropic
                                  : ModelsShape::kOpenAI;
    ModelGet get =
        ResolveModelGet(*gateway_.table(), path, shape,
                        gateway_.clock().UnixNanos() / kNanosPerSecond, gateway_.clock().Now());
    if (get.kind == ModelGet::Kind::kForward) {
      std::make_shared<ProxyExchange>(*this, session, std::move(request),
                                      ClientApi::kKServeMetadata)
          ->Start();
      return;
    }
    if (get.kind == ModelGet::Kind::kAnswer) {
      session->Reply(JsonResponse(request.version(), get.status, std::move(get.body)));
      return;
    }
  }
  ReplyOps(session, std::move(request));
}

void Worker::ReplyOps(const std::shared_ptr<HttpSession>& session, Request&& request) {
  if (std::optional<Response> response = ServeOps(gateway_, request, /*admin=*/false)) {
    session->Reply(std::move(*response));
    return;
  }
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  if (std::optional<ClientApi> api = ClientApiForPath(path)) {
    const std::string message = fmt::format("{} accepts POST only", path);
    Response response = JsonError(request.version(), 405, message, "method_not_allowed");
    response.body() = ErrorJsonFor(*api, 405, message, "method_not_allowed");  // the API's shape
    response.set(http::field::allow, "POST");
    session->Reply(std::move(response));
    return;
  }
  session->Reply(
      JsonError(request.version(), 404, fmt::format("unknown path {}", path), "unknown_url"));
}

}  // namespace inferencegw::proxy
