// Request, response, stream and error translation between what a client called (OpenAI chat
// completions, completions, embeddings, responses; Anthropic messages; KServe) and what a
// backend speaks (WireFormat). Pure and I/O-free: the proxy moves the bytes, this header decides
// them.
//
//   IGW_ASSIGN_OR_RETURN(RequestFacts facts, InspectRequest(api, body));
//   IGW_ASSIGN_OR_RETURN(UpstreamRequestBody up,
//                        BuildUpstreamBody(api, body, facts, WireFormat::kAnthropic, {}));
//   StreamTranslator t(api, WireFormat::kAnthropic, facts.model, facts.include_usage,
//                      up.injected_usage, unix_seconds, up.json_tool_name);
//
// Policies (docs/translation.md): a translated response names the model the client asked for;
// a same-format response is passed through untouched. Parameters a backend cannot take are
// emulated where a faithful emulation exists (OpenAI `response_format` to Anthropic: a forced
// tool, see UpstreamRequestBody::json_tool_name), else dropped and listed in
// UpstreamRequestBody::dropped_params, except those whose loss would change the answer's shape
// (n > 1 to Anthropic or Cohere, non-function tools, audio and file parts), which are rejected
// with InvalidArgument.
#ifndef INFERENCEGW_TRANSLATE_H_
#define INFERENCEGW_TRANSLATE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "inferencegw/usage_parser.h"

namespace inferencegw {

// What the client called.
enum class ClientApi : uint8_t {
  kChatCompletions,  // POST /v1/chat/completions
  kCompletions,      // POST /v1/completions
  kEmbeddings,       // POST /v1/embeddings
  kMessages,         // POST /v1/messages (Anthropic)
  kKServeV1,         // POST /v1/models/{name}:predict
  kKServeV2,         // POST /v2/models/{name}[/versions/{v}]/infer
  kResponses,        // POST /v1/responses (OpenAI Responses API)
  // POST /v1/messages/count_tokens (Anthropic). Forwarded to Anthropic backends only (the body
  // is spliced like kMessages: the model rewritten, nothing added); never counted here.
  kCountTokens,
  // GET KServe metadata: /v1/models/{name}, /v2/models/{name}[/versions/{v}][/ready]. No body;
  // the client's path is forwarded (model_directory.h decides which GETs these are).
  kKServeMetadata,
};
std::string_view ClientApiName(ClientApi api);  // "chat_completions", "messages", "responses"...

// The POST API a request path (without the query string) calls, or nullopt for any other path.
// Only the exact POST paths above are recognized (a trailing '/' is tolerated); never
// kKServeMetadata.
std::optional<ClientApi> ClientApiForPath(std::string_view path);

// The wire format of the client's side: kOpenAI, kAnthropic (kMessages, kCountTokens) or
// kKServe (kKServeV1, kKServeV2, kKServeMetadata).
WireFormat ClientWireFormat(ClientApi api);

// What routing and rate limiting need to know about a request body.
struct RequestFacts {
  std::string model;  // "" for KServe bodies (the model is in the path)
  bool stream = false;
  // The client asked for usage in the stream (OpenAI `stream_options.include_usage`). Always
  // true for streamed Anthropic and Responses requests, whose streams always carry usage.
  bool include_usage = false;
  // max_completion_tokens, else max_tokens (Anthropic: max_tokens; Responses:
  // max_output_tokens); -1 when absent.
  int64_t max_tokens = -1;
  int n = 1;
  // Bytes of prompt text (message and system text, tool-call arguments and results, prompt or
  // input strings; 4 per token id) divided by 4, rounded up.
  int64_t estimated_prompt_tokens = 0;
};

// One On-Demand pass over `body`. InvalidArgument, with a message fit for an OpenAI error body,
// when the body is not a JSON object, a required field is missing (`model`; `messages` for chat,
// messages and count_tokens; `prompt` for completions; `input` for embeddings and responses)
// or a field has the wrong type. count_tokens facts never stream and have no max_tokens.
// kKServeMetadata has no body: empty facts, `body` unread. Responses requests that need
// state the gateway does not keep (`previous_response_id`, `conversation`, `background:
// true`) are InvalidArgument naming the parameter, whatever the backend.
absl::StatusOr<RequestFacts> InspectRequest(ClientApi api, std::string_view body);

struct TranslateOptions {
  // The backend's model; "" keeps the client's. The view must outlive the call.
  std::string_view model_override;
  // Sent to Anthropic when the client gave no max_tokens (Anthropic requires it).
  int64_t default_max_tokens = 4096;
  // Ask OpenAI-format upstreams for stream usage (stream_options.include_usage=true). Turn it
  // off for backends that reject stream_options. stream_options is never sent for requests that
  // are not streamed.
  bool request_stream_usage = true;
  // Responses requests only: the backend serves the Responses API itself (OpenAI; see
  // ServesResponsesApi in provider.h), so the body passes through to "/responses". Otherwise it
  // is translated to a chat request (OpenAI-compatible, Anthropic or Cohere).
  bool upstream_serves_responses = false;
};

struct UpstreamRequestBody {
  std::string body;
  // Appended to the backend's api_base_url: "/chat/completions", "/completions", "/embeddings",
  // "/responses", "/messages" or "/chat" (Cohere). "" for KServe bodies: the proxy keeps the
  // client's path.
  std::string path;
  bool stream = false;
  // We set stream_options.include_usage although the client did not: the usage chunk must not
  // reach the client (StreamTranslator drops it).
  bool injected_usage = false;
  // Top-level request parameters left out because the upstream has no equivalent, as the
  // client spelled them (a parameter sent with its default value, such as `logprobs: false`,
  // is not listed). Log them bounded (RenderRequestLog) and count them by DroppedParamLabel.
  std::vector<std::string> dropped_params;
  // Non-empty when the client's `response_format` (json_object, json_schema) is emulated with
  // an Anthropic tool of this name: pass it to TranslateResponseBody and StreamTranslator,
  // which turn that tool's call back into the message content.
  std::string json_tool_name;
  // A Responses request passed through to a backend that serves the Responses API: give it to
  // TranslateResponseBody and StreamTranslator (`upstream_responses`).
  bool upstream_responses = false;
};

// The metric label for a dropped parameter (UpstreamRequestBody::dropped_params): a known
// OpenAI chat or Anthropic messages request parameter is its own name, anything else (clients
// can send arbitrary keys) is "other". The view is static: it never points into `key`.
std::string_view DroppedParamLabel(std::string_view key);

// The body to send upstream. OpenAI -> OpenAI and Anthropic -> Anthropic keep the client's text
// and splice in only the changes (model rewrite, stream_options, a default max_tokens).
// Cross-format: OpenAI chat -> Anthropic or Cohere v2, Anthropic -> OpenAI or Cohere (through
// the OpenAI form). KServe bodies pass through untouched. count_tokens goes to Anthropic only
// (path "/messages/count_tokens", model rewritten, no max_tokens added).
// REQUIRES: `facts` is InspectRequest(api, body).
// InvalidArgument when the body cannot be expressed for this upstream (completions or
// embeddings to a non-OpenAI backend, count_tokens to a non-Anthropic backend, n > 1 to
// Anthropic or Cohere, unsupported content parts, tool-call arguments that are not a JSON
// object, invalid JSON).
// Responses requests pass through to "/responses" when `options.upstream_serves_responses`;
// otherwise they become a chat request (docs/translation.md, "The Responses API") that goes on
// to the backend's format as an OpenAI chat request would; built-in tools, `input_file` parts
// and items other than messages, function calls and their outputs are InvalidArgument.
absl::StatusOr<UpstreamRequestBody> BuildUpstreamBody(ClientApi api, std::string_view body,
                                                      const RequestFacts& facts,
                                                      WireFormat upstream,
                                                      const TranslateOptions& options);

// A complete (non-streamed) upstream 2xx body in the client's format: Anthropic or Cohere ->
// OpenAI chat completion, OpenAI or Cohere -> Anthropic message. Translated responses carry
// `model` = `client_model` and `created` = `created_unix_seconds`. Same format: the body is
// returned unchanged. `usage` (may be null) receives the upstream's usage (ParseUsage; not
// present when the body reports none). InvalidArgument when a body to translate is not JSON.
// `json_tool_name` is UpstreamRequestBody::json_tool_name: a call of that tool in an Anthropic
// response becomes the message `content` (its input as JSON text), and when no other tool was
// called, finish_reason is "stop".
// Responses clients: with `upstream_responses` (UpstreamRequestBody::upstream_responses) the body
// passes through and its usage is read; otherwise the chat, Anthropic or Cohere body becomes a
// Responses object (`status` "incomplete" when cut by the token limit).
absl::StatusOr<std::string> TranslateResponseBody(ClientApi api, WireFormat upstream,
                                                  std::string_view upstream_body,
                                                  std::string_view client_model,
                                                  int64_t created_unix_seconds, Usage* usage,
                                                  std::string_view json_tool_name = {},
                                                  bool upstream_responses = false);

namespace internal {
struct StreamState;
}

// Translates one upstream SSE stream into the client's stream, event by event: output for an
// upstream event is produced as soon as that event is complete, and at most one incomplete
// event is held. Same-format streams are forwarded byte for byte, except that an OpenAI usage
// chunk the client did not ask for (`injected_usage`) is dropped; the events are then
// re-framed as `data: ...\n\n`. Usage is counted in every mode.
// Not thread-safe; one per stream.
class StreamTranslator {
 public:
  // `client_wants_usage`: an OpenAI client asked for the usage chunk (ignored for Anthropic
  // clients, whose streams always carry usage). `created_unix_seconds` is the `created` of
  // translated OpenAI chunks. `json_tool_name` is UpstreamRequestBody::json_tool_name: the
  // input_json_delta fragments of that tool's block in an Anthropic stream become `content`
  // deltas, and when no other tool was called, finish_reason is "stop".
  // Responses clients: `upstream_responses` (UpstreamRequestBody::upstream_responses) forwards
  // the upstream's Responses events; otherwise chat, Anthropic or Cohere events become the
  // Responses event sequence (response.created ... response.completed with usage).
  // REQUIRES: the pair (api, upstream) is one BuildUpstreamBody accepted.
  StreamTranslator(ClientApi api, WireFormat upstream, std::string client_model,
                   bool client_wants_usage, bool injected_usage, int64_t created_unix_seconds,
                   std::string_view json_tool_name = {}, bool upstream_responses = false);
  StreamTranslator(StreamTranslator&&) noexcept;
  StreamTranslator& operator=(StreamTranslator&&) noexcept;
  ~StreamTranslator();

  // Appends to `out` the client bytes for every upstream event `upstream_bytes` completes.
  void Feed(std::string_view upstream_bytes, std::string* out);
  // The upstream ended: delivers a last event without its blank line, then closes the client's
  // stream if it is not closed yet. OpenAI clients: the finish chunk if none was sent, the usage
  // chunk if asked, `data: [DONE]`. Anthropic clients: open blocks closed, message_delta,
  // message_stop. Nothing after an error event. Same-format streams get nothing added.
  // Later calls to Feed or Finish append nothing.
  void Finish(std::string* out);

  // The usage reported so far (assigned, never summed; `present` false if none arrived).
  const Usage& usage() const;
  // An error event arrived after the 200 (Anthropic `event: error`, OpenAI `data: {"error":..}`,
  // Cohere message-end with an error). Translated streams report it to the client in its own
  // shape and end without a normal close.
  bool upstream_error() const;
  // The upstream's own end marker arrived (`[DONE]`, message_stop, message-end): false after
  // Finish means the stream was cut.
  bool upstream_complete() const;
  // An upstream event was larger than the cap (SseParser::max_event_bytes): the translator
  // stopped, and the stream must be ended as broken (a protocol error).
  bool overflowed() const;
  void set_max_event_bytes(size_t bytes);

 private:
  std::unique_ptr<internal::StreamState> state_;
};

// An upstream error response (any status >= 400) in the client's error shape. OpenAI clients
// get {"error":{"message","type","param","code"}} with `type` from the HTTP status
// (OpenAIErrorTypeFor) and `code` the upstream's own error type or code; Anthropic clients get
// {"type":"error","error":{"type","message"}} with `type` from the HTTP status
// (AnthropicErrorTypeFor). A body already in the client's shape is returned unchanged; a body
// that is not JSON becomes the message (at most 512 bytes). KServe clients get the body as is.
std::string TranslateErrorBody(ClientApi api, WireFormat upstream, int status,
                               std::string_view body);

// {"error":{"message":..,"type":..,"param":..,"code":..}}: all four keys, null when empty.
std::string OpenAIErrorJson(std::string_view message, std::string_view type,
                            std::string_view code = {}, std::string_view param = {});
// {"type":"error","error":{"type":..,"message":..}}
std::string AnthropicErrorJson(std::string_view type, std::string_view message);

// The Anthropic error type for an HTTP status: invalid_request_error (400 and other 4xx),
// authentication_error (401), billing_error (402), permission_error (403), not_found_error
// (404), request_too_large (413), rate_limit_error (429), timeout_error (504),
// overloaded_error (503, 529), api_error (other 5xx).
std::string_view AnthropicErrorTypeFor(int http_status);

// Appends the event that ends a client's stream the gateway must break off (the upstream
// stream broke after the first byte): Anthropic `event: error` with an api_error; Responses
// `event: error` with {type:"error", code, message, param}; OpenAI chat and completions a
// `data: {"error":{...}}` chunk of type server_error. `code` is a short machine-readable reason.
void AppendStreamErrorEvent(ClientApi api, std::string_view message, std::string_view code,
                            std::string* out);

// The gateway's own error body in the shape the client expects: OpenAI for OpenAI APIs,
// Anthropic for kMessages, {"error": message} for KServe.
std::string ErrorJsonFor(ClientApi api, int http_status, std::string_view message,
                         std::string_view code = {});

}  // namespace inferencegw

#endif  // INFERENCEGW_TRANSLATE_H_
