#include "kube_client.h"

#include <curl/curl.h>

#include <cstdlib>

#include "absl/status/status.h"
#include "fmt/format.h"

namespace inferencegw::k8s {

void Canceller::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_.store(true, std::memory_order_release);
  for (CURLM* multi : active_) curl_multi_wakeup(multi);
  cv_.notify_all();
}

bool Canceller::SleepFor(std::chrono::nanoseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, d, [this] { return cancelled(); });
  return !cancelled();
}

void Canceller::Register(CURLM* multi) {
  std::lock_guard<std::mutex> lock(mu_);
  active_.insert(multi);
}

void Canceller::Unregister(CURLM* multi) {
  std::lock_guard<std::mutex> lock(mu_);
  active_.erase(multi);
}

// One request's state, reachable from libcurl's callbacks.
struct KubeClient::Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  const std::function<bool(std::string_view)>* on_line = nullptr;
  std::string pending;  // bytes of an incomplete line
  HttpResponse response;
  bool stopped_by_callback = false;
  bool cancelled = false;

  ~Transfer() {
    if (headers != nullptr) curl_slist_free_all(headers);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

namespace {

size_t WriteCallback(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<KubeClient::Transfer*>(user);
  const size_t n = size * count;
  long code = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
  if (t->on_line == nullptr || code != 200) {
    t->response.body.append(data, n);
    return n;
  }
  t->pending.append(data, n);
  size_t start = 0;
  while (true) {
    const size_t nl = t->pending.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(t->pending.data() + start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = nl + 1;
    if (line.empty()) continue;
    if (!(*t->on_line)(line)) {
      t->stopped_by_callback = true;
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
  }
  t->pending.erase(0, start);
  return n;
}

size_t HeaderCallback(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<KubeClient::Transfer*>(user);
  const size_t n = size * count;
  std::string_view line(data, n);
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (line.size() > kRetryAfter.size()) {
    std::string lower(line.substr(0, kRetryAfter.size()));
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == kRetryAfter) {
      t->response.retry_after_seconds =
          std::atoi(std::string(line.substr(kRetryAfter.size())).c_str());
    }
  }
  return n;
}

void SetBlob(CURL* easy, CURLoption option, const std::string& bytes) {
  curl_blob blob{const_cast<char*>(bytes.data()), bytes.size(), CURL_BLOB_COPY};
  curl_easy_setopt(easy, option, &blob);
}

}  // namespace

KubeClient::KubeClient(Credentials* credentials, Canceller* canceller, std::string user_agent)
    : credentials_(credentials), canceller_(canceller), user_agent_(std::move(user_agent)) {}

KubeClient::~KubeClient() {
  for (CURLM* multi : idle_multis_) curl_multi_cleanup(multi);
}

CURLM* KubeClient::TakeMulti() {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (idle_multis_.empty()) return curl_multi_init();
  CURLM* multi = idle_multis_.back();
  idle_multis_.pop_back();
  return multi;
}

void KubeClient::ReturnMulti(CURLM* multi) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  idle_multis_.push_back(multi);
}

absl::StatusOr<HttpResponse> KubeClient::Perform(Transfer* t) {
  if (canceller_->cancelled()) return absl::CancelledError("shutting down");
  CURLM* multi = TakeMulti();
  if (multi == nullptr) return absl::InternalError("curl_multi_init failed");
  curl_multi_add_handle(multi, t->easy);
  canceller_->Register(multi);
  CURLcode result = CURLE_OK;
  bool done = false;
  while (!done) {
    if (canceller_->cancelled()) {
      t->cancelled = true;
      break;
    }
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) {
      result = CURLE_FAILED_INIT;
      break;
    }
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
      if (msg->msg == CURLMSG_DONE && msg->easy_handle == t->easy) {
        result = msg->data.result;
        done = true;
      }
    }
    if (done) break;
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  canceller_->Unregister(multi);
  curl_multi_remove_handle(multi, t->easy);
  ReturnMulti(multi);
  if (t->cancelled) return absl::CancelledError("shutting down");
  if (result == CURLE_WRITE_ERROR && t->stopped_by_callback) result = CURLE_OK;
  if (result == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(fmt::format("timed out: {}", curl_easy_strerror(result)));
  }
  if (result != CURLE_OK) {
    return absl::UnavailableError(fmt::format("{}", curl_easy_strerror(result)));
  }
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->response.status);
  return std::move(t->response);
}

absl::StatusOr<HttpResponse> KubeClient::Execute(
    std::string_view method, std::string_view path, std::string_view body,
    std::string_view content_type, const std::function<bool(std::string_view)>* on_line,
    std::chrono::seconds timeout) {
  auto auth = credentials_->Get();
  if (!auth.ok()) return auth.status();
  const ClusterConfig& cluster = credentials_->config();

  Transfer t;
  t.easy = curl_easy_init();
  if (t.easy == nullptr) return absl::InternalError("curl_easy_init failed");
  t.on_line = on_line;
  CURL* easy = t.easy;
  const std::string url = cluster.server + std::string(path);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent_.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, HeaderCallback);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, std::string(body).c_str());
  }
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, std::string(method).c_str());

  t.headers = curl_slist_append(t.headers, "Accept: application/json");
  if (!content_type.empty()) {
    t.headers = curl_slist_append(t.headers, fmt::format("Content-Type: {}", content_type).c_str());
  }
  if (!auth->bearer_token.empty()) {
    t.headers = curl_slist_append(
        t.headers, fmt::format("Authorization: Bearer {}", auth->bearer_token).c_str());
  } else if (!cluster.username.empty()) {
    curl_easy_setopt(easy, CURLOPT_USERNAME, cluster.username.c_str());
    curl_easy_setopt(easy, CURLOPT_PASSWORD, cluster.password.c_str());
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t.headers);

  if (!cluster.ca_data.empty()) {
    SetBlob(easy, CURLOPT_CAINFO_BLOB, cluster.ca_data);
  } else if (!cluster.ca_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, cluster.ca_file.c_str());
  }
  if (cluster.insecure_skip_tls_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  const std::string& cert_pem =
      auth->client_cert_pem.empty() ? cluster.client_cert_data : auth->client_cert_pem;
  const std::string& key_pem =
      auth->client_key_pem.empty() ? cluster.client_key_data : auth->client_key_pem;
  if (!cert_pem.empty()) {
    SetBlob(easy, CURLOPT_SSLCERT_BLOB, cert_pem);
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
  } else if (!cluster.client_cert_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, cluster.client_cert_file.c_str());
  }
  if (!key_pem.empty()) {
    SetBlob(easy, CURLOPT_SSLKEY_BLOB, key_pem);
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!cluster.client_key_file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLKEY, cluster.client_key_file.c_str());
  }
  if (!cluster.proxy_url.empty()) curl_easy_setopt(easy, CURLOPT_PROXY, cluster.proxy_url.c_str());
  return Perform(&t);
}

absl::StatusOr<HttpResponse> KubeClient::Request(std::string_view method, std::string_view path,
                                                 std::string_view body,
                                                 std::string_view content_type,
                                                 std::chrono::seconds timeout) {
  auto response = Execute(method, path, body, content_type, nullptr, timeout);
  if (response.ok() && response->status == 401) {
    credentials_->Invalidate();
    response = Execute(method, path, body, content_type, nullptr, timeout);
  }
  return response;
}

absl::StatusOr<HttpResponse> KubeClient::Stream(
    std::string_view path, const std::function<bool(std::string_view)>& on_line,
    std::chrono::seconds timeout) {
  auto response = Execute("GET", path, "", "", &on_line, timeout);
  if (response.ok() && response->status == 401) {
    credentials_->Invalidate();
    response = Execute("GET", path, "", "", &on_line, timeout);
  }
  return response;
}

absl::StatusOr<HttpResponse> KubeClient::GetUrl(const std::string& url,
                                                std::chrono::seconds timeout) {
  Transfer t;
  t.easy = curl_easy_init();
  if (t.easy == nullptr) return absl::InternalError("curl_easy_init failed");
  curl_easy_setopt(t.easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(t.easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t.easy, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(t.easy, CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
  curl_easy_setopt(t.easy, CURLOPT_USERAGENT, user_agent_.c_str());
  curl_easy_setopt(t.easy, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(t.easy, CURLOPT_WRITEDATA, &t);
  t.headers = curl_slist_append(t.headers, "Accept: application/json");
  curl_easy_setopt(t.easy, CURLOPT_HTTPHEADER, t.headers);
  return Perform(&t);
}

}  // namespace inferencegw::k8s
