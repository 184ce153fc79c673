// Structured logging for inferencegw-k8s-sync: one JSON object per line on stderr.
//
//   k8s::Log(k8s::LogLevel::kInfo, "rendered config", {{"bytes", "1234"}, {"path", out}});
//   // {"ts":"2026-01-01T00:00:00.000Z","level":"info","msg":"rendered config","bytes":"1234",...}
//
// Callers never pass Secret values, tokens or other credentials as fields.
#ifndef INFERENCEGW_K8S_SYNC_LOG_H_
#define INFERENCEGW_K8S_SYNC_LOG_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inferencegw::k8s {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Parses "debug", "info", "warning" (or "warn"), "error". Returns false for anything else.
bool ParseLogLevel(std::string_view text, LogLevel* level);

// Sets the lowest level that is written. Thread-safe.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

using LogFields = std::vector<std::pair<std::string_view, std::string>>;

// Writes one JSON line to stderr if `level` is enabled. Thread-safe: lines never interleave.
void Log(LogLevel level, std::string_view message, const LogFields& fields = {});

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_LOG_H_
