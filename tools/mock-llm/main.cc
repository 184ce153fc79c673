// inferencegw-mock-llm: a fast mock LLM server for the demo, end-to-end tests and load
// benchmarks. See README.md next to this file.
//
// Threading: the main thread parses flags, opens one SO_REUSEPORT listening socket per worker,
// starts the workers (each runs its own event loop) and then waits in sigwait() for SIGTERM or
// SIGINT, after which it stops every loop, joins the threads and exits 0.
#include <arpa/inet.h>
#include <event2/thread.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "flags.h"
#include "state.h"
#include "worker.h"

namespace inferencegw::mock_llm {
namespace {

struct Listeners {
  std::vector<int> fds;
  std::string address;  // "127.0.0.1:PORT" or "[::1]:PORT"
};

void CloseAll(const std::vector<int>& fds) {
  for (int fd : fds) close(fd);
}

absl::StatusOr<int> OpenListener(const addrinfo& ai) {
  const int fd = socket(ai.ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(fmt::format("socket: {}", std::strerror(errno)));
  const int one = 1;
  // TCP_NODELAY on the listener is inherited by accepted sockets on Linux: stream chunks go
  // out as soon as they are written instead of waiting for Nagle.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    const std::string err = std::strerror(errno);
    close(fd);
    return absl::InternalError(fmt::format("setsockopt: {}", err));
  }
  if (bind(fd, ai.ai_addr, ai.ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
    const std::string err = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(fmt::format("bind/listen: {}", err));
  }
  return fd;
}

// Opens `count` listening sockets on host:port. With port 0 the first socket picks the port
// and the others bind to the same one.
absl::StatusOr<Listeners> OpenListeners(const std::string& host, int port, int count) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string port_text = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(
        fmt::format("--listen: cannot resolve \"{}\": {}", host, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> holder(res, &freeaddrinfo);
  if (port != 0) {
    // SO_REUSEPORT would let this process silently share a fixed port with another process of
    // the same user (say a second mock); a plain bind first reports the port as taken.
    const int probe = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const bool taken = probe >= 0 && bind(probe, res->ai_addr, res->ai_addrlen) != 0;
    const std::string err = taken ? std::strerror(errno) : "";
    if (probe >= 0) close(probe);
    if (taken) {
      return absl::UnavailableError(fmt::format("--listen {}:{}: {}", host, port, err));
    }
  }
  Listeners out;
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<int> fd = OpenListener(*res);
    if (!fd.ok()) {
      CloseAll(out.fds);
      return fd.status();
    }
    out.fds.push_back(*fd);
    if (i == 0) {
      getsockname(*fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
      // Later sockets bind to the port the first one got.
      if (res->ai_family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_port =
            reinterpret_cast<sockaddr_in*>(&bound)->sin_port;
      } else if (res->ai_family == AF_INET6) {
        reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_port =
            reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port;
      }
    }
  }
  char text[INET6_ADDRSTRLEN] = {0};
  if (bound.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&bound);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
    out.address = fmt::format("[{}]:{}", text, ntohs(a->sin6_port));
  } else {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&bound);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
    out.address = fmt::format("{}:{}", text, ntohs(a->sin_port));
  }
  return out;
}

int Main(int argc, char** argv) {
  absl::StatusOr<Options> opts = ParseFlags(argc, argv);
  if (!opts.ok()) {
    std::fprintf(stderr, "inferencegw-mock-llm: %s\nTry --help.\n",
                 std::string(opts.status().message()).c_str());
    return 2;
  }
  if (opts->help) {
    std::fputs(HelpText().c_str(), stdout);
    return 0;
  }

  // Writes to a closed connection must fail with EPIPE, not kill the process. SIGTERM and
  // SIGINT are blocked in every thread and taken synchronously by the main thread below.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  if (evthread_use_pthreads() != 0) {
    std::fputs("inferencegw-mock-llm: evthread_use_pthreads failed\n", stderr);
    return 1;
  }
  absl::StatusOr<Listeners> listeners = OpenListeners(opts->host, opts->port, opts->threads);
  if (!listeners.ok()) {
    std::fprintf(stderr, "inferencegw-mock-llm: %s\n",
                 std::string(listeners.status().message()).c_str());
    return 1;
  }

  SharedState shared(opts->knobs, opts->threads);
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < opts->threads; ++i) {
    workers.push_back(std::make_unique<Worker>(&shared, i));
    if (absl::Status st = workers.back()->Init(listeners->fds[i]); !st.ok()) {
      for (int j = i + 1; j < opts->threads; ++j) close(listeners->fds[j]);
      std::fprintf(stderr, "inferencegw-mock-llm: %s\n", std::string(st.message()).c_str());
      return 1;
    }
  }

  std::printf("listening on %s\n", listeners->address.c_str());
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back([worker = w.get()] { worker->Run(); });
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  for (auto& w : workers) w->Stop();
  for (std::thread& t : threads) t.join();
  workers.clear();
  return 0;
}

}  // namespace
}  // namespace inferencegw::mock_llm

int main(int argc, char** argv) { return inferencegw::mock_llm::Main(argc, argv); }
