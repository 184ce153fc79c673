#include "prober.h"

#include <set>

namespace inferencegw::proxy {

namespace {
constexpr auto kTick = std::chrono::milliseconds(200);
}  // namespace

class Prober::Probe : public CurlTransfer {
 public:
  Probe(Prober& prober, std::string key, std::shared_ptr<BackendHealth> health, std::string url,
        int timeout_seconds)
      : prober_(prober), key_(std::move(key)), health_(std::move(health)), url_(std::move(url)) {
    easy_ = prober_.curl_.AcquireEasy();
    curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(easy_, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy_, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_seconds) * 1000L);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &Probe::Discard);
    curl_easy_setopt(easy_, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  }
  ~Probe() override {
    if (easy_ != nullptr) prober_.curl_.ReleaseEasy(easy_);
  }
  void Begin() { prober_.curl_.Start(easy_, this); }
  void Cancel() { prober_.curl_.Abort(easy_); }

  void OnCurlDone(CURLcode code) override {
    long status = 0;
    curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
    const bool ok = code == CURLE_OK && status >= 200 && status < 300;
    const TimeNs now = prober_.gateway_.clock().Now();
    health_->RecordProbe(ok, now);
    auto it = prober_.schedule_.find(key_);
    if (it != prober_.schedule_.end()) it->second.in_flight = false;
    // Destroys this.
    prober_.probes_.erase(key_);
  }

 private:
  static size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

  Prober& prober_;
  std::string key_;
  std::shared_ptr<BackendHealth> health_;
  std::string url_;
  CURL* easy_ = nullptr;
};

Prober::Prober(asio::io_context& io, Gateway& gateway)
    : io_(io), gateway_(gateway), wheel_(io), curl_(io, wheel_), timer_(io) {}

Prober::~Prober() { Stop(); }

void Prober::Start() {
  stopped_ = false;
  Tick();
}

void Prober::Stop() {
  stopped_ = true;
  timer_.cancel();
  for (auto& [key, probe] : probes_) probe->Cancel();
  probes_.clear();
}

void Prober::Tick() {
  if (stopped_) return;
  const TimeNs now = gateway_.clock().Now();
  std::shared_ptr<const RouteTable> table = gateway_.table();
  std::set<std::string> current;
  for (const CompiledBackend& backend : table->backends()) {
    if (!backend.health_check.has_value()) continue;
    current.insert(backend.key);
    Schedule& s = schedule_[backend.key];
    if (s.in_flight || now < s.next_due) continue;
    const HealthCheck& check = *backend.health_check;
    s.next_due = now + Seconds(check.interval_seconds);
    s.in_flight = true;
    auto probe = std::make_unique<Probe>(*this, backend.key, backend.health,
                                         backend.root_url + check.path, check.timeout_seconds);
    Probe* raw = probe.get();
    probes_[backend.key] = std::move(probe);
    raw->Begin();
  }
  // Backends removed from the config stop being probed.
  for (auto it = schedule_.begin(); it != schedule_.end();) {
    if (current.count(it->first) == 0 && !it->second.in_flight) {
      it = schedule_.erase(it);
    } else {
      ++it;
    }
  }
  timer_.expires_after(kTick);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) Tick();
  });
}

}  // namespace inferencegw::proxy
