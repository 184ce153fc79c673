// One event-loop thread of the mock: its own event_base and evhttp accepting on its own
// SO_REUSEPORT listening socket, answering every endpoint.
//
//   Worker w(&shared, 0);
//   absl::Status s = w.Init(listen_fd);
//   std::thread t([&] { w.Run(); });  ...  w.Stop(); t.join();
#ifndef INFERENCEGW_TOOLS_MOCK_LLM_WORKER_H_
#define INFERENCEGW_TOOLS_MOCK_LLM_WORKER_H_

#include <event2/event.h>
#include <event2/http.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "bodies.h"
#include "request_parse.h"
#include "state.h"

namespace inferencegw::mock_llm {

class Exchange;

// The inference APIs the mock serves.
enum class Api {
  kOpenAIChat,
  kOpenAICompletions,
  kOpenAIEmbeddings,
  kOpenAIResponses,
  kAnthropicMessages,
  kCohereChat,
  kKServeV1,
  kKServeV2,
};

// The error body shape of `api`.
ErrorShape ShapeOf(Api api);

// x-mock-* request header overrides; negative (or unset) means "use the knob".
struct Overrides {
  int status = -1;
  int latency_ms = -1;
  int chunks = -1;
  int retry_after = -1;
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;
  bool drop_after_set = false;
  int drop_after = -1;

  bool ChangesBodies() const { return chunks >= 0 || prompt_tokens >= 0 || completion_tokens >= 0; }
};

// Not thread-safe except Stop(): everything else runs on the worker's own loop thread (Init
// and the destructor run on the owning thread while the loop is not running).
class Worker {
 public:
  Worker(SharedState* shared, int index);
  ~Worker();

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the event base and HTTP server and accepts on `listen_fd`, which must be a bound,
  // listening, non-blocking socket; the worker owns it from then on, even on error.
  absl::Status Init(int listen_fd);
  // Runs the event loop until Stop().
  void Run();
  // Asks the loop to exit. Thread-safe.
  void Stop();

  event_base* base() { return base_; }
  SharedState& shared() { return *shared_; }
  void Track(Exchange* exchange) { exchanges_.insert(exchange); }
  void Untrack(Exchange* exchange) { exchanges_.erase(exchange); }

 private:
  static void OnRequest(evhttp_request* req, void* arg);
  void Handle(evhttp_request* req);
  const Snapshot& Current();
  void ScanHeaders(evhttp_request* req);
  void ReadBody(evhttp_request* req);
  void HandleAdmin(evhttp_request* req, evhttp_cmd_type method, std::string_view path);
  void HandleInference(evhttp_request* req, Api api, std::string_view path_model);
  // POST /v1/messages/count_tokens: {"input_tokens": n} by CountInputTokens, with the API key
  // checked as for messages.
  void HandleCountTokens(evhttp_request* req);
  bool Authorized(Api api, const std::string& key) const;
  bool ParseOverrides(Overrides* ov, std::string* error) const;
  const BodySet& BodiesFor(std::string_view model, std::unique_ptr<BodySet>* scratch);
  // Sends a response now, or after `delay_ms` through an Exchange.
  void Respond(evhttp_request* req, int status, const char* content_type, std::string_view body,
               int retry_after, int delay_ms);
  void RespondError(evhttp_request* req, Api api, int status, std::string_view message);

  SharedState* const shared_;
  WorkerStats& stats_;
  event_base* base_ = nullptr;
  evhttp* http_ = nullptr;

  // The snapshot this worker serves from, refreshed when the store's generation changes.
  std::shared_ptr<const Snapshot> snapshot_;
  uint64_t generation_ = 0;
  // Bodies for models other than the served one, cleared with each new snapshot.
  absl::flat_hash_map<std::string, std::unique_ptr<BodySet>, StringViewHash, StringViewEq>
      model_bodies_;
  size_t model_bytes_ = 0;  // body bytes held by model_bodies_

  absl::flat_hash_set<Exchange*> exchanges_;
  RequestParser parser_;

  // Per-request scratch, reused to avoid allocations on the hot path.
  std::string body_;  // request body, with SIMDJSON_PADDING spare capacity
  std::vector<std::pair<const char*, const char*>> headers_;
  const char* authorization_ = nullptr;
  const char* x_api_key_ = nullptr;
  const char* anthropic_version_ = nullptr;
  std::vector<std::pair<const char*, const char*>> mock_headers_;  // x-mock-* only
};

}  // namespace inferencegw::mock_llm

#endif  // INFERENCEGW_TOOLS_MOCK_LLM_WORKER_H_
