// The proxy's one include of Boost.Asio and Boost.Beast (Debian's Boost 1.74). Boost 1.74's
// asio/awaitable.hpp uses std::exchange without including <utility>, which GCC 12 in C++20
// mode rejects, so <utility> comes first here.
#ifndef INFERENCEGW_PROXY_ASIO_BEAST_H_
#define INFERENCEGW_PROXY_ASIO_BEAST_H_

// <utility> must come first (see above).
// clang-format off
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// clang-format on

namespace inferencegw::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_ASIO_BEAST_H_
