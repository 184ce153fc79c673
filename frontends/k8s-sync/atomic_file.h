// Replacing a file so that readers see either the old or the new bytes, never a mix: the
// rendered config the proxy hot-reloads.
//
//   absl::StatusOr<bool> wrote = WriteFileIfChanged("/etc/inferencegw/config.yaml", yaml);
#ifndef INFERENCEGW_K8S_SYNC_ATOMIC_FILE_H_
#define INFERENCEGW_K8S_SYNC_ATOMIC_FILE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace inferencegw::k8s {

// Writes `bytes` to `path` atomically (a temporary file in the same directory, fsync, rename,
// fsync of the directory) unless the file already holds exactly these bytes. Returns true when
// it wrote, false when the file was already up to date. The file gets permission bits `mode`.
// Errors name the path and the failing step.
absl::StatusOr<bool> WriteFileIfChanged(const std::string& path, std::string_view bytes,
                                        int mode = 0600);

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_ATOMIC_FILE_H_
