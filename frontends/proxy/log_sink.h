// JSON-lines output on stdout: request lines (rendered by the library's RenderRequestLog) and
// the proxy's own events (start, reload, errors). Whole lines are written with one write(2)
// under a mutex, so lines from different threads never interleave.
//
//   LogSink::Get().Event("info", "config reloaded", {{"generation", "3"}});
//   worker_buffer += RenderRequestLog(entry);  LogSink::Get().Write(worker_buffer);
#ifndef INFERENCEGW_PROXY_LOG_SINK_H_
#define INFERENCEGW_PROXY_LOG_SINK_H_

#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inferencegw::proxy {

// Thread-safe.
class LogSink {
 public:
  static LogSink& Get();

  // Writes complete lines (each ends in '\n').
  void Write(std::string_view lines);
  // {"ts":...,"level":level,"msg":msg, fields...}. Field values are strings.
  void Event(std::string_view level, std::string_view msg,
             const std::vector<std::pair<std::string, std::string>>& fields = {});

 private:
  std::mutex mu_;
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_LOG_SINK_H_
