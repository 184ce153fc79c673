// The URL and fixed request headers of an upstream target (backend, API path, streamed or not),
// built once per worker and config, as a libcurl header list that each request prepends its own
// few nodes to (x-request-id, forwarded client headers). A typical attempt then allocates
// nothing for its headers.
//
//   std::shared_ptr<const UpstreamHeaderBlock> block =
//       cache.Get(exchange.shared_table(), backend_index, "/chat/completions", false);
//   curl_easy_setopt(easy, CURLOPT_URL, block->url.c_str());
//   request_node.next = block->head();   // then CURLOPT_HTTPHEADER = &request_node
#ifndef INFERENCEGW_PROXY_UPSTREAM_HEADERS_H_
#define INFERENCEGW_PROXY_UPSTREAM_HEADERS_H_

#include <curl/curl.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "inferencegw/provider.h"
#include "inferencegw/route_table.h"

namespace inferencegw::proxy {

// Immutable once built. The list's nodes point into `lines`; curl only reads them.
class UpstreamHeaderBlock {
 public:
  explicit UpstreamHeaderBlock(const UpstreamTarget& target);
  UpstreamHeaderBlock(const UpstreamHeaderBlock&) = delete;
  UpstreamHeaderBlock& operator=(const UpstreamHeaderBlock&) = delete;

  const std::string& url() const { return url_; }
  bool https() const { return https_; }
  // The fixed headers (authentication, content type, accept, an empty Expect) as a list.
  curl_slist* head() const { return const_cast<curl_slist*>(nodes_.data()); }

 private:
  std::string url_;
  bool https_ = false;
  std::vector<std::string> lines_;
  std::vector<curl_slist> nodes_;
};

// Not thread-safe; one per worker. Follows one RouteTable at a time: a request on another table
// (a reload) clears it.
class UpstreamHeaderCache {
 public:
  // The block for this backend of `table`, API path (UpstreamRequestBody::path) and stream flag.
  std::shared_ptr<const UpstreamHeaderBlock> Get(const std::shared_ptr<const RouteTable>& table,
                                                 BackendIndex backend, std::string_view path,
                                                 bool stream);

 private:
  std::shared_ptr<const RouteTable> table_;  // held, so its address cannot be reused meanwhile
  std::map<std::tuple<BackendIndex, std::string, bool>, std::shared_ptr<const UpstreamHeaderBlock>,
           std::less<>>
      blocks_;
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_UPSTREAM_HEADERS_H_
