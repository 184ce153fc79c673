#include "config_watcher.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "fmt/format.h"
#include "inferencegw/client_auth.h"
#include "inferencegw/config_loader.h"
#include "log_sink.h"

namespace inferencegw::proxy {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> allow_empty_config{false};

bool IsConfigFile(const fs::path& p) {
  const std::string name = p.filename().string();
  if (name.empty() || name[0] == '.') return false;
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

}  // namespace

absl::Status RequireRoutes(const ConfigSet& config, const std::string& path) {
  if (!config.routes.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      fmt::format("{}: no InferenceRoute ({} backends, 0 routes): every request would get 404; "
                  "start with --allow-empty-config to accept a config without routes",
                  path, config.backends.size()));
}

void ConfigWatcher::SetAllowEmptyConfig(bool allow) { allow_empty_config.store(allow); }

ConfigWatcher::ConfigWatcher(asio::io_context& io, Gateway& gateway, std::string path,
                             std::chrono::milliseconds poll_interval)
    : io_(io),
      gateway_(gateway),
      path_(std::move(path)),
      poll_interval_(poll_interval),
      debounce_(io),
      poll_(io) {
  loaded_fingerprint_ = Fingerprint(path_);
}

ConfigWatcher::~ConfigWatcher() { Stop(); }

std::string ConfigWatcher::Fingerprint(const std::string& path) {
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (IsConfigFile(entry.path()) && fs::is_regular_file(entry.path(), ec)) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
  } else {
    files.push_back(path);
  }
  std::string all;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return "";
    std::ostringstream content;
    content << in.rdbuf();
    all += file.filename().string();
    all.push_back('\0');
    all += content.str();
    all.push_back('\0');
  }
  return Sha256Hex(all);
}

void ConfigWatcher::Start() {
  stopped_ = false;
  std::error_code ec;
  const std::string dir =
      fs::is_directory(path_, ec) ? path_ : fs::path(path_).parent_path().string();
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd >= 0) {
    const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                          IN_ATTRIB | IN_MODIFY;
    if (::inotify_add_watch(fd, dir.empty() ? "." : dir.c_str(), mask) >= 0) {
      inotify_.emplace(io_, fd);
      ReadEvents();
    } else {
      ::close(fd);
    }
  }
  Poll();
}

void ConfigWatcher::Stop() {
  stopped_ = true;
  debounce_.cancel();
  poll_.cancel();
  if (inotify_.has_value()) {
    boost::system::error_code ec;
    inotify_->close(ec);
    inotify_.reset();
  }
}

void ConfigWatcher::ReadEvents() {
  inotify_->async_read_some(asio::buffer(events_),
                            [this](const boost::system::error_code& ec, std::size_t) {
                              if (ec || stopped_) return;
                              Debounce();
                              ReadEvents();
                            });
}

void ConfigWatcher::Debounce() {
  // Editors and ConfigMap updates touch several files: reload once things are quiet.
  debounce_.expires_after(std::chrono::milliseconds(150));
  debounce_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) ReloadNow(false);
  });
}

void ConfigWatcher::Poll() {
  poll_.expires_after(poll_interval_);
  poll_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    ReloadNow(false);
    Poll();
  });
}

void ConfigWatcher::ReloadNow(bool force) {
  const std::string fingerprint = Fingerprint(path_);
  if (!force && (fingerprint.empty() || fingerprint == loaded_fingerprint_)) return;
  absl::StatusOr<ConfigSet> config = LoadConfigFromPath(path_);
  if (config.ok() && !allow_empty_config.load()) {
    absl::Status routes = RequireRoutes(*config, path_);
    if (!routes.ok()) config = routes;
  }
  if (!config.ok()) {
    loaded_fingerprint_ = fingerprint;  // do not retry the same broken files every poll
    gateway_.metrics().config_reloads_total->GetCounter({"failure"})->Inc();
    LogSink::Get().Event("error", "config reload rejected; the running config stays",
                         {{"path", path_}, {"error", std::string(config.status().message())}});
    return;
  }
  absl::Status status = gateway_.Reload(*config);
  loaded_fingerprint_ = fingerprint;
  if (!status.ok()) {
    LogSink::Get().Event("error", "config reload rejected; the running config stays",
                         {{"path", path_}, {"error", std::string(status.message())}});
    return;
  }
  for (const ConfigIssue& issue : ConfigWarnings(*config)) {
    LogSink::Get().Event("warning", "config warning", {{"issue", issue.ToString()}});
  }
  LogSink::Get().Event("info", "config reloaded",
                       {{"path", path_},
                        {"generation", std::to_string(gateway_.generation())},
                        {"routes", std::to_string(config->routes.size())},
                        {"backends", std::to_string(config->backends.size())}});
}

}  // namespace inferencegw::proxy
