// Fuzzes the proxy's inbound request handling: bytes, arriving in pieces chosen by the input's
// first bytes, go to Boost.Beast's request_parser<string_body> with the limits the proxy's
// HttpSession sets (HttpLimits' defaults: header_limit, body_limit), pipelined requests one
// after another; each parsed request then takes the proxy's first steps (path -> ClientApi,
// InspectRequest for POSTs, the error body for the path, the headers the exchange reads).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "http_session.h"  // frontends/proxy: HttpLimits, Request, and asio_beast.h
#include "inferencegw/translate.h"

namespace inferencegw::fuzz {
namespace {

namespace asio = proxy::asio;
namespace beast = proxy::beast;
namespace http = proxy::http;

// What Worker::Handle and ProxyExchange::Start do with a request before any I/O.
void Handle(const proxy::Request& request) {
  const std::string_view target = request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  (void)request.keep_alive();
  for (const auto& field : request) {
    (void)field.name_string();
    (void)field.value();
  }
  for (std::string_view name : {"x-request-id", "x-api-key", "authorization", "x-route"}) {
    auto it = request.find(name);
    if (it != request.end()) (void)it->value();
  }
  const std::optional<ClientApi> api = ClientApiForPath(path);
  if (!api) return;
  (void)ErrorJsonFor(*api, 405, "accepts POST only", "method_not_allowed");
  if (request.method() != http::verb::post) return;
  absl::StatusOr<RequestFacts> facts = InspectRequest(*api, request.body());
  if (!facts.ok()) {
    (void)ErrorJsonFor(*api, 400, std::string(facts.status().message()), "invalid_request_error");
    return;
  }
  (void)BuildUpstreamBody(*api, request.body(), *facts, ClientWireFormat(*api), {});
}

}  // namespace
}  // namespace inferencegw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inferencegw;
  namespace asio = fuzz::asio;
  namespace beast = fuzz::beast;
  namespace http = fuzz::http;
  fuzz::FuzzInput in(data, size);
  const std::vector<std::string_view> pieces = in.TakeChunked();
  const proxy::HttpLimits limits;

  std::string buffer;  // received, not yet consumed by a parser (the session's flat_buffer)
  size_t next_piece = 0;
  for (int requests = 0; requests < 8; ++requests) {
    // As in HttpSession::ReadHeader.
    auto parser = std::make_unique<http::request_parser<http::string_body>>();
    parser->header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser->body_limit(limits.max_body_bytes);
    parser->eager(true);
    beast::error_code ec;
    bool eof = false;
    while (!parser->is_done()) {
      if (buffer.empty() || ec == http::error::need_more) {
        ec = {};
        if (next_piece == pieces.size()) {
          // The client closed. Before a request's first byte that is a clean close.
          eof = true;
          if (!parser->got_some()) return 0;
          parser->put_eof(ec);
          break;
        }
        buffer.append(pieces[next_piece++]);
        if (buffer.empty()) continue;
      }
      const size_t used = parser->put(asio::buffer(buffer.data(), buffer.size()), ec);
      buffer.erase(0, used);
      if (!ec && used == 0) ec = http::error::need_more;
      if (ec && ec != http::error::need_more) break;
    }
    if (ec || !parser->is_done()) {
      // HttpSession::ReplyError reads the target of what was parsed, then closes.
      std::string_view path = parser->get().target();
      path = path.substr(0, path.find('?'));
      if (std::optional<ClientApi> api = ClientApiForPath(path)) {
        (void)ErrorJsonFor(*api, 400, ec.message(), "bad_request");
      }
      break;
    }
    const bool keep_alive = parser->get().keep_alive();
    proxy::Request request = parser->release();
    fuzz::Handle(request);
    if (!keep_alive || eof) break;
  }
  return 0;
}
