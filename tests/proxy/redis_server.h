// A redis-server for tests: started on a free loopback port without persistence, stopped (and
// reaped) when the test ends, restartable on the same port.
//
//   RedisServer server;                          // FAILs when redis-server is not on PATH
//   server.Integer({"PTTL", "{igw}:rl:route"});  // a command on a connection of its own
//   server.Kill();  server.Start();              // the same port, an empty server
#ifndef INFERENCEGW_TESTS_PROXY_REDIS_SERVER_H_
#define INFERENCEGW_TESTS_PROXY_REDIS_SERVER_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace inferencegw::proxy::testing {

using namespace std::chrono_literals;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

inline std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// A loopback port that was free a moment ago (bound to port 0, then released).
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

// Polls `done` until it holds or `limit` passes (for processes outside the test's control).
template <typename Pred>
bool WaitUntil(Pred done, std::chrono::milliseconds limit = 15s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// A redis-server of the test's own on a free loopback port, without persistence; killed and
// reaped when destroyed. Start again after Kill: the same port.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra = {})
      : port_(FreePort()), extra_(std::move(extra)) {
    Start();
  }
  ~RedisServer() { Kill(); }

  int port() const { return port_; }

  void Start() {
    signal(SIGPIPE, SIG_IGN);
    const std::string binary = FindOnPath("redis-server");
    if (binary.empty()) {
      FAIL("redis-server is not on PATH: install Debian's redis-server (scripts/install-deps.sh)");
    }
    std::vector<std::string> args = {"redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--daemonize",
                                     "no",
                                     "--enable-debug-command",
                                     "local",
                                     "--dir",
                                     "/tmp"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, STDOUT_FILENO);
      dup2(null, STDERR_FILENO);
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    const bool answered = WaitUntil([&] {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("redis-server exited at startup (status " << status << ")");
      }
      ReplyPtr pong = Command({"PING"}, /*quiet=*/true);
      return pong != nullptr;
    });
    if (!answered) {
      Kill();
      FAIL("redis-server did not answer PING on port " << port_);
    }
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Runs `commands` on a connection of its own (the password first when there is one); returns
  // the last reply, or null when the server does not answer (an error unless `quiet`).
  ReplyPtr Commands(std::vector<std::vector<std::string>> commands, bool quiet = false) {
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeval{2, 0});
    if (c == nullptr || c->err != 0) {
      if (c != nullptr) redisFree(c);
      if (!quiet) FAIL("cannot connect to redis-server on port " << port_);
      return nullptr;
    }
    if (!password_.empty()) commands.insert(commands.begin(), {"AUTH", password_});
    ReplyPtr last;
    for (const auto& command : commands) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const std::string& a : command) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      last.reset(static_cast<redisReply*>(
          redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data())));
      if (last == nullptr) break;
    }
    redisFree(c);
    if (last == nullptr && !quiet) FAIL("redis-server on port " << port_ << " did not answer");
    return last;
  }
  ReplyPtr Command(std::vector<std::string> command, bool quiet = false) {
    return Commands({std::move(command)}, quiet);
  }
  long long Integer(std::vector<std::string> command) {
    ReplyPtr r = Command(std::move(command));
    REQUIRE(r->type == REDIS_REPLY_INTEGER);
    return r->integer;
  }
  std::string String(std::vector<std::string> command) {
    ReplyPtr r = Command(std::move(command));
    REQUIRE(r->type == REDIS_REPLY_STRING);
    return std::string(r->str, r->len);
  }
  void set_password(std::string password) { password_ = std::move(password); }

 private:
  const int port_;
  const std::vector<std::string> extra_;
  std::string password_;
  pid_t pid_ = -1;
};

}  // namespace inferencegw::proxy::testing

#endif  // INFERENCEGW_TESTS_PROXY_REDIS_SERVER_H_
