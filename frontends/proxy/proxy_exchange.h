// One client API request on its way through the gateway: inspect and authenticate it, let the
// library's Exchange route and admit it, then send attempts upstream through libcurl until one
// answers, translating the answer (whole or streamed) into the client's format. Nothing of a
// failed attempt reaches the client; once the first byte of an answer has been sent, there is
// no switching.
//
//   auto ex = std::make_shared<ProxyExchange>(worker, session, std::move(request), api);
//   ex->Start();   // answers the client through `session` when done
#ifndef INFERENCEGW_PROXY_PROXY_EXCHANGE_H_
#define INFERENCEGW_PROXY_PROXY_EXCHANGE_H_

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asio_beast.h"
#include "curl_multi.h"
#include "http_session.h"
#include "inferencegw/exchange_report.h"
#include "inferencegw/exchange_trace.h"
#include "inferencegw/gateway.h"
#include "inferencegw/translate.h"
#include "timer_wheel.h"
#include "upstream_headers.h"

namespace inferencegw::proxy {

class Worker;

// Not thread-safe; lives on its worker's loop. Keeps itself alive (shared_from_this) while a
// transfer or timer is pending.
class ProxyExchange : public CurlTransfer, public std::enable_shared_from_this<ProxyExchange> {
 public:
  ProxyExchange(Worker& worker, std::shared_ptr<HttpSession> session, Request&& request,
                ClientApi api);
  ~ProxyExchange() override;

  void Start();
  void OnCurlDone(CURLcode code) override;

 private:
  // How the current attempt's response body is being handled.
  enum class Mode : uint8_t {
    kHeaders,    // no final status line yet
    kStream,     // a 2xx event stream: translated and forwarded as it arrives
    kBuffer,     // a 2xx answer kept whole, translated at the end
    kRetryable,  // a failure that moves on: the body is kept only for the log
    kPassError,  // a failure that goes to the client (e.g. 400), translated
  };

  bool Authenticate();
  void AskSharedStore();
  void OnAdmissionVerdict(AdmissionVerdict verdict);
  void AfterBegin(BeginStatus status);
  void Reject(int status, std::string_view message, std::string_view code,
              const HeaderList& extra = {});
  void NextAttempt();
  void SendAttempt();
  bool PrepareUpstreamBody(const CompiledBackend& backend);
  static size_t OnHeaderLine(char* data, size_t size, size_t count, void* self);
  static size_t OnBodyData(char* data, size_t size, size_t count, void* self);
  size_t HandleBody(std::string_view data);
  void Classify();
  void CommitStream();
  void ArmIdleTimer();
  void OnStreamIdle();
  void FinishStream(FailureKind failure);  // kNone: the upstream ended the stream normally
  void EndStreamWithError(FailureKind kind);
  void FinishBuffered();
  void PassError();
  void AttemptFailed(FailureKind kind);
  void OnFirstByteTimeout();
  void OnTimer();
  void OnClientGone();
  void ReleaseTransfer();
  void Complete(int status, const ExchangeResult* result, std::string_view error,
                std::string_view response_body = {});
  void ReplyJson(int status, std::string body, const HeaderList& headers);
  HeaderList ResponseHeaders(const ExchangeResult* result) const;
  TimeNs Now() const;
  // Wall-clock time for spans: the start's, advanced by the monotonic clock.
  int64_t UnixNow() const { return started_unix_nanos_ + (Now() - started_); }
  void BeginTrace();
  void EndTrace(int status, const ExchangeResult* result, std::string_view error,
                std::string_view response_body);

  Worker& worker_;
  std::shared_ptr<HttpSession> session_;
  Request request_;
  const ClientApi api_;
  std::string path_;
  std::string request_id_;
  TimeNs started_ = 0;
  int64_t started_unix_nanos_ = 0;
  RequestFacts facts_;
  std::vector<Header> headers_;
  std::vector<std::pair<std::string, std::string>> trusted_headers_;  // auth attributes
  std::string user_;
  bool authenticated_ = false;
  std::shared_ptr<const ClientAuthenticator> auth_;  // holds client_key_
  const ClientKey* client_key_ = nullptr;
  RequestView view_;  // what the router saw (views into request_ and headers_)
  std::optional<Exchange> exchange_;
  bool log_bodies_ = false;
  // This request's spans when tracing is on and the request is sampled; else null.
  std::unique_ptr<ExchangeTrace> trace_;

  // The current attempt.
  std::optional<Exchange::Attempt> attempt_;
  UpstreamRequestBody upstream_;
  std::string upstream_key_;  // format + model of upstream_, to reuse it across attempts
  WireFormat upstream_format_ = WireFormat::kOpenAI;  // the format upstream_ was built for
  CURL* easy_ = nullptr;
  std::shared_ptr<const UpstreamHeaderBlock> header_block_;  // URL and fixed headers
  std::vector<std::string> header_lines_;                    // this request's own headers
  std::vector<curl_slist> header_nodes_;                     // ...linked before the block
  std::shared_ptr<ProxyExchange> self_;  // set while a transfer or a backoff wait runs
  Mode mode_ = Mode::kHeaders;
  int upstream_status_ = 0;
  std::vector<std::pair<std::string, std::string>> upstream_headers_;  // lowercase names
  std::string content_type_;
  std::string body_;
  bool body_overflow_ = false;
  std::optional<StreamTranslator> translator_;
  bool committed_ = false;
  bool paused_ = false;      // we paused the upstream for a slow client
  TimeNs last_data_at_ = 0;  // the upstream's last stream data (idle timeout after commit)
  TimeNs first_byte_at_ = -1;
  // One timer, for the current wait: a backoff before the next attempt, the first byte of a
  // stream, or a silence in a committed stream.
  enum class TimerPurpose : uint8_t { kNone, kBackoff, kFirstByte, kStreamIdle };
  TimerPurpose timer_purpose_ = TimerPurpose::kNone;
  WheelTimer timer_;
  bool finished_ = false;
};

}  // namespace inferencegw::proxy

#endif  // INFERENCEGW_PROXY_PROXY_EXCHANGE_H_
