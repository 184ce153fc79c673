#include "log_sink.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <ctime>

#include "fmt/format.h"
#include "inferencegw/json_writer.h"

namespace inferencegw::proxy {

LogSink& LogSink::Get() {
  static LogSink* const sink = new LogSink();
  return *sink;
}

void LogSink::Write(std::string_view lines) {
  std::lock_guard<std::mutex> lock(mu_);
  while (!lines.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, lines.data(), lines.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // stdout is gone: logging must never take the gateway down
    }
    lines.remove_prefix(static_cast<size_t>(n));
  }
}

void LogSink::Event(std::string_view level, std::string_view msg,
                    const std::vector<std::pair<std::string, std::string>>& fields) {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const time_t secs = static_cast<time_t>(ms.count() / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  std::string line = fmt::format(R"({{"ts":"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z","level":)",
                                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                 tm.tm_min, tm.tm_sec, ms.count() % 1000);
  AppendJsonString(&line, level);
  line += ",\"msg\":";
  AppendJsonString(&line, msg);
  for (const auto& [key, value] : fields) {
    line.push_back(',');
    AppendJsonString(&line, key);
    line.push_back(':');
    AppendJsonString(&line, value);
  }
  line += "}\n";
  Write(line);
}

}  // namespace inferencegw::proxy
