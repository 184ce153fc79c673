// LoadConfigFromPath: one manifest file, or every manifest file directly inside a directory.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "config_internal.h"
#include "fmt/format.h"
#include "inferencegw/config_loader.h"

namespace inferencegw {

namespace {

namespace fs = std::filesystem;
using internal::kMaxConfigBytes;

bool IsManifestName(const std::string& name) {
  if (name.empty() || name.front() == '.') return false;
  for (std::string_view ext : {".yaml", ".yml", ".json"}) {
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      return true;
    }
  }
  return false;
}

// The file's contents; InvalidArgument when it cannot be read or holds more than `max_bytes`
// (never reading more than max_bytes + 1 bytes, whatever the file's size: /dev/zero included).
absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  }
  std::string text;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof(buffer));
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      return absl::InvalidArgumentError(fmt::format(
          "{}: the config is larger than {} bytes (all files together)", path, kMaxConfigBytes));
    }
  }
  if (in.bad()) {
    return absl::InvalidArgumentError(fmt::format("{}: cannot read", path));
  }
  return text;
}

// The manifest files of a directory, sorted by name (symlinks followed).
absl::StatusOr<std::vector<std::string>> ListManifests(const std::string& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(fmt::format("{}: cannot list: {}", dir, ec.message()));
  }
  std::vector<std::string> names;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!IsManifestName(name)) continue;
    const fs::file_status status = fs::status(it->path(), ec);  // follows symlinks
    if (ec) {
      return absl::InvalidArgumentError(
          fmt::format("{}: cannot read: {}", it->path().string(), ec.message()));
    }
    if (fs::is_directory(status)) continue;
    names.push_back(name);
  }
  if (ec) {
    return absl::InvalidArgumentError(fmt::format("{}: cannot list: {}", dir, ec.message()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The manifest files `path` stands for: itself, or the manifest files directly inside it.
absl::StatusOr<std::vector<std::string>> FilesOf(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    return absl::NotFoundError(fmt::format("{}: no such file or directory", path));
  }
  if (!fs::is_directory(status)) return std::vector<std::string>{path};
  absl::StatusOr<std::vector<std::string>> names = ListManifests(path);
  if (!names.ok()) return names.status();
  if (names->empty()) {
    return absl::InvalidArgumentError(
        fmt::format("{}: no *.yaml, *.yml or *.json files in the directory", path));
  }
  std::vector<std::string> files;
  for (const std::string& name : *names) files.push_back((fs::path(path) / name).string());
  return files;
}

template <typename T>
void Append(const std::vector<T>& from, std::vector<T>* to) {
  to->insert(to->end(), from.begin(), from.end());
}

}  // namespace

absl::StatusOr<ConfigSet> LoadConfigFromSources(const std::vector<ConfigSource>& sources) {
  ConfigSet config;
  std::vector<ConfigIssue> issues;
  size_t budget = internal::kMaxConfigBytes;
  for (const ConfigSource& source : sources) {
    switch (source.kind) {
      case ConfigSource::Kind::kPath: {
        absl::StatusOr<std::vector<std::string>> files = FilesOf(source.path_or_text);
        if (!files.ok()) return files.status();
        for (const std::string& file : *files) {
          absl::StatusOr<std::string> text = ReadFile(file, budget);
          if (!text.ok()) return text.status();
          budget -= text->size();
          internal::ParseManifestsInto(*text, file, &config, &issues);
        }
        break;
      }
      case ConfigSource::Kind::kText:
        if (source.path_or_text.size() > budget) {
          return absl::InvalidArgumentError(
              fmt::format("{}: the config is larger than {} bytes (all sources together)",
                          source.name, kMaxConfigBytes));
        }
        budget -= source.path_or_text.size();
        internal::ParseManifestsInto(source.path_or_text, source.name, &config, &issues);
        break;
      case ConfigSource::Kind::kLoaded:
        Append(source.loaded->backends, &config.backends);
        Append(source.loaded->routes, &config.routes);
        Append(source.loaded->secrets, &config.secrets);
        Append(source.loaded->client_keys, &config.client_keys);
        break;
    }
  }
  internal::CheckReferences(config, &issues);
  absl::Status result = internal::IssuesToStatus(std::move(issues));
  if (!result.ok()) return result;
  return config;
}

absl::StatusOr<ConfigSet> LoadConfigFromPath(const std::string& path) {
  return LoadConfigFromSources({ConfigSource::Path(path)});
}

}  // namespace inferencegw
