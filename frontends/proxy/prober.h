// Active health probes: for every backend with a healthCheck, a GET of its root URL + path every
// intervalSeconds (timeout timeoutSeconds) on the admin loop's own libcurl multi handle. A 2xx
// answer is healthy; anything else (401 and 404 included) or no answer is not. Results go to the
// library's BackendHealth, which applies the failure and success thresholds.
//
//   Prober prober(io, gateway);
//   prober.Start();   // follows config reloads by itself
#ifndef INFERENCEGW_PROXY_PROBER_H_
#define INFERENCEGW_PROXY_PROBER_H_

#include <map>
#include <memory>
#include <string>

#include "asio_beast.h"
#include "curl_multi.h"
#include "inferencegw/gateway.h"

namespace inferencegw::proxy {

// Not thread-safe; runs on one loop.
class Prober {
 public:
  Prober(asio::io_context& io, Gateway& gateway);
  ~Prober();
  void Start();
  void Stop();

 private:
  class Probe;
  void Tick();

  asio::io_context& io_;
  Gateway& gateway_;
  TimerWheel wheel_;
  CurlMulti curl_;
  asio::steady_timer timer_;
  bool stopped_ = false;
  struct Schedule {
    TimeNs next_due = 0;
    bool in_flight = false;
  };
  std::map<std::string, Schedule> schedule_;              // by backend key
  std::map<std::string, std::unique_ptr<Probe>> probes_;  // in flight, by backend key
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_PROBER_H_
