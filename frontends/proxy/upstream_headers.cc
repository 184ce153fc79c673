#include "upstream_headers.h"

namespace inferencegw::proxy {

UpstreamHeaderBlock::UpstreamHeaderBlock(const UpstreamTarget& target)
    : url_(target.url), https_(target.url.rfind("https://", 0) == 0) {
  lines_.reserve(target.headers.size() + 1);
  for (const auto& [name, value] : target.headers) lines_.push_back(name + ": " + value);
  lines_.emplace_back("Expect:");  // no 100-continue round trip before large bodies
  nodes_.resize(lines_.size());
  for (size_t i = 0; i < lines_.size(); ++i) {
    nodes_[i].data = lines_[i].data();
    nodes_[i].next = i + 1 < lines_.size() ? &nodes_[i + 1] : nullptr;
  }
}

std::shared_ptr<const UpstreamHeaderBlock> UpstreamHeaderCache::Get(
    const std::shared_ptr<const RouteTable>& table, BackendIndex backend, std::string_view path,
    bool stream) {
  if (table != table_) {
    // Another config: its backends (keys, URLs) may differ under the same index. Blocks are
    // shared with the requests using them, so clearing frees nothing in use.
    blocks_.clear();
    table_ = table;
  }
  auto key = std::make_tuple(backend, std::string(path), stream);
  auto it = blocks_.find(key);
  if (it != blocks_.end()) return it->second;
  auto block = std::make_shared<const UpstreamHeaderBlock>(
      BuildUpstreamTarget(EndpointOf(table->backend(backend)), path, stream));
  blocks_.emplace(std::move(key), block);
  return block;
}

}  // namespace inferencegw::proxy
