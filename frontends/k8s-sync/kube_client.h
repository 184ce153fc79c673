// A small Kubernetes REST client over libcurl: authenticated requests and line-delimited watch
// streams, both cancellable at once from another thread (shutdown never waits for a timeout).
//
//   Canceller cancel;
//   KubeClient client(&credentials, &cancel, "inferencegw-k8s-sync/0.1.0");
//   absl::StatusOr<HttpResponse> r = client.Request("GET", "/api/v1/namespaces/ns/secrets/x");
//   client.Stream(watch_path, [](std::string_view line) { ...; return true; }, 330s);
#ifndef INFERENCEGW_K8S_SYNC_KUBE_CLIENT_H_
#define INFERENCEGW_K8S_SYNC_KUBE_CLIENT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "credentials.h"

typedef void CURLM;

namespace inferencegw::k8s {

// Thread-safe. A stop signal shared by every transfer: Cancel() wakes all transfers in progress
// (they end with StatusCode::kCancelled) and makes later ones fail at once. Also a sleep that
// Cancel() interrupts.
class Canceller {
 public:
  void Cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // Sleeps for `d` or until Cancel(). Returns false when cancelled.
  bool SleepFor(std::chrono::nanoseconds d);

  // For KubeClient: multi handles to wake on Cancel().
  void Register(CURLM* multi);
  void Unregister(CURLM* multi);

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::set<CURLM*> active_;  // guarded by mu_
};

struct HttpResponse {
  long status = 0;
  std::string body;  // the whole body; for a 200 stream, empty (lines went to the callback)
  int retry_after_seconds = 0;  // from a Retry-After header; 0 when absent
};

// Thread-safe; each call uses its own transfer. Connections are reused between calls.
class KubeClient {
 public:
  KubeClient(Credentials* credentials, Canceller* canceller, std::string user_agent);
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  // `path` is the URL path and query under the server ("/api/v1/..."). A transport failure is
  // Unavailable (DeadlineExceeded on timeout); Cancelled after Canceller::Cancel(). Any HTTP
  // status is a successful HttpResponse. A 401 makes the credentials refresh and the request is
  // retried once.
  absl::StatusOr<HttpResponse> Request(std::string_view method, std::string_view path,
                                       std::string_view body = "",
                                       std::string_view content_type = "",
                                       std::chrono::seconds timeout = std::chrono::seconds(30));

  // GETs `path` and, when the answer is 200, calls `on_line` with each '\n'-terminated line of
  // the body as it arrives (without the '\n'; blank lines skipped). `on_line` returning false
  // ends the stream early (still a successful response). A partial last line is dropped. A
  // non-200 answer's body is returned whole in HttpResponse::body.
  absl::StatusOr<HttpResponse> Stream(std::string_view path,
                                      const std::function<bool(std::string_view)>& on_line,
                                      std::chrono::seconds timeout);

  // Any HTTP(S) URL outside the API server (the proxy's admin endpoint): no Kubernetes
  // credentials or CA are used.
  absl::StatusOr<HttpResponse> GetUrl(const std::string& url, std::chrono::seconds timeout);

  // Internal to kube_client.cc (its libcurl callbacks need the type).
  struct Transfer;

 private:
  absl::StatusOr<HttpResponse> Perform(Transfer* transfer);
  absl::StatusOr<HttpResponse> Execute(std::string_view method, std::string_view path,
                                       std::string_view body, std::string_view content_type,
                                       const std::function<bool(std::string_view)>* on_line,
                                       std::chrono::seconds timeout);
  CURLM* TakeMulti();
  void ReturnMulti(CURLM* multi);

  Credentials* const credentials_;
  Canceller* const canceller_;
  const std::string user_agent_;
  std::mutex pool_mu_;
  std::vector<CURLM*> idle_multis_;  // guarded by pool_mu_; each keeps its connection cache
};

}  // namespace inferencegw::k8s

#endif  // INFERENCEGW_K8S_SYNC_KUBE_CLIENT_H_
