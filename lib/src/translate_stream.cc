// StreamTranslator: byte passthrough, usage-chunk filtering, or decode + encode.
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "inferencegw/sse.h"
#include "inferencegw/translate.h"
#include "translate_responses_internal.h"
#include "translate_stream_internal.h"

namespace inferencegw {
namespace internal {

struct StreamState {
  enum class Mode : uint8_t {
    kRaw,          // same format: forward the bytes as they arrive
    kFilterUsage,  // same format (OpenAI): forward whole events, minus the injected usage chunk
    kTranslate,    // cross format: decode, encode
  };
  Mode mode = Mode::kRaw;
  WireFormat upstream = WireFormat::kOpenAI;
  bool responses = false;  // the upstream speaks the Responses API (passthrough)
  SseParser sse;
  Usage usage;
  bool error = false;
  bool complete = false;
  bool finished = false;
  std::unique_ptr<StreamDecoder> decoder;
  std::unique_ptr<StreamEncoder> encoder;

  // Whether `data` may report usage: it names "usage", and not only as OpenAI's
  // `"usage":null` (a quote cannot occur unescaped inside a JSON string, so the text match is
  // exact). Saves a parse per chunk on the passthrough path.
  static bool MayCarryUsage(std::string_view data) {
    constexpr std::string_view kKey = "\"usage\"", kNull = "\"usage\":null";
    const size_t at = data.find(kKey);
    if (at == std::string_view::npos) return false;
    return data.substr(at, kNull.size()) != kNull ||
           data.find(kKey, at + kKey.size()) != std::string_view::npos;
  }

  void CountUsage(const SseEvent& e) {
    if (MayCarryUsage(e.data)) ApplyStreamEventUsage(upstream, e.event, e.data, &usage);
  }

  // Same-format streams: notes the end marker and error events.
  void Observe(const SseEvent& e) {
    CountUsage(e);
    if (upstream == WireFormat::kAnthropic || responses) {
      std::string_view type = e.event;
      dom::object o;
      if (type.empty() && ParseData(e.data, &o)) type = StringField(o, "type");
      // Responses streams have no [DONE]: the final response event ends them.
      if (type == "message_stop" || type == "response.completed" || type == "response.incomplete") {
        complete = true;
      }
      if (type == "error" || type == "response.failed") error = true;
      return;
    }
    if (e.data == "[DONE]") {
      complete = true;
      return;
    }
    dom::object o;
    dom::element err;
    if (e.data.find("\"error\"") != std::string_view::npos && ParseData(e.data, &o) &&
        Lookup(o, "error", &err) && !IsNull(err)) {
      error = true;
    }
  }

  // An OpenAI chunk with `choices: []` and a usage object: the chunk include_usage adds.
  bool IsUsageChunk(std::string_view data) {
    if (!MayCarryUsage(data)) return false;
    dom::object o;
    dom::element choices, u;
    dom::array list;
    return ParseData(data, &o) && Lookup(o, "usage", &u) && u.type() == dom::element_type::OBJECT &&
           Lookup(o, "choices", &choices) && choices.get_array().get(list) == simdjson::SUCCESS &&
           list.size() == 0;
  }

  void Translate(const SseEvent& e, std::string* out) {
    CountUsage(e);
    if (encoder->closed()) return;  // e.g. [DONE] after the usage chunk closed the message
    switch (decoder->Decode(e.event, e.data, usage, *encoder, out)) {
      case DecodeResult::kEnd:
        complete = true;
        break;
      case DecodeResult::kError:
        error = true;
        break;
      case DecodeResult::kContinue:
        break;
    }
  }

  void OnEvent(const SseEvent& e, std::string* out) {
    switch (mode) {
      case Mode::kRaw:
        Observe(e);
        break;
      case Mode::kFilterUsage:
        Observe(e);
        if (!IsUsageChunk(e.data)) AppendSseEvent(out, e.event, e.data);
        break;
      case Mode::kTranslate:
        Translate(e, out);
        break;
    }
  }

  static bool ParseData(std::string_view data, dom::object* out) {
    dom::element root;
    return DocumentParser().parse(data.data(), data.size(), true).get(root) == simdjson::SUCCESS &&
           root.get_object().get(*out) == simdjson::SUCCESS;
  }
};

}  // namespace internal

StreamTranslator::StreamTranslator(ClientApi api, WireFormat upstream, std::string client_model,
                                   bool client_wants_usage, bool injected_usage,
                                   int64_t created_unix_seconds, std::string_view json_tool_name,
                                   bool upstream_responses)
    : state_(std::make_unique<internal::StreamState>()) {
  using Mode = internal::StreamState::Mode;
  internal::StreamState& s = *state_;
  s.upstream = upstream;
  const WireFormat client = ClientWireFormat(api);
  const bool responses = api == ClientApi::kResponses;
  s.responses = responses && upstream_responses;
  const bool translate = upstream != WireFormat::kKServe &&
                         (((api == ClientApi::kChatCompletions || api == ClientApi::kMessages) &&
                           client != upstream) ||
                          (responses && !upstream_responses));
  if (!translate) {
    s.mode = upstream == WireFormat::kOpenAI && injected_usage && !client_wants_usage
                 ? Mode::kFilterUsage
                 : Mode::kRaw;
    return;
  }
  s.mode = Mode::kTranslate;
  if (responses) {
    s.encoder = internal::NewResponsesEventEncoder(std::move(client_model), created_unix_seconds);
  } else if (client == WireFormat::kAnthropic) {
    s.encoder = internal::NewAnthropicEventEncoder(std::move(client_model));
  } else {
    s.encoder = internal::NewOpenAIChunkEncoder(std::move(client_model), created_unix_seconds,
                                                client_wants_usage);
  }
  switch (upstream) {
    case WireFormat::kAnthropic:
      s.decoder = internal::NewAnthropicEventDecoder(std::string(json_tool_name));
      break;
    case WireFormat::kCohere:
      s.decoder = internal::NewCohereEventDecoder();
      break;
    default:
      s.decoder = internal::NewOpenAIChunkDecoder();
      break;
  }
}

StreamTranslator::StreamTranslator(StreamTranslator&&) noexcept = default;
StreamTranslator& StreamTranslator::operator=(StreamTranslator&&) noexcept = default;
StreamTranslator::~StreamTranslator() = default;

void StreamTranslator::Feed(std::string_view upstream_bytes, std::string* out) {
  internal::StreamState& s = *state_;
  if (s.finished || s.sse.overflowed()) return;
  if (s.mode == internal::StreamState::Mode::kRaw) out->append(upstream_bytes);
  s.sse.Feed(upstream_bytes, [&](const SseEvent& e) { s.OnEvent(e, out); });
}

void StreamTranslator::Finish(std::string* out) {
  internal::StreamState& s = *state_;
  if (s.finished) return;
  s.finished = true;
  internal::TrimParsersOnExit trim;
  s.sse.Finish([&](const SseEvent& e) { s.OnEvent(e, out); });
  if (s.mode == internal::StreamState::Mode::kTranslate && !s.encoder->closed()) {
    s.encoder->End(s.usage, out);
  }
}

const Usage& StreamTranslator::usage() const { return state_->usage; }
bool StreamTranslator::upstream_error() const { return state_->error; }
bool StreamTranslator::upstream_complete() const { return state_->complete; }
bool StreamTranslator::overflowed() const { return state_->sse.overflowed(); }
void StreamTranslator::set_max_event_bytes(size_t bytes) { state_->sse.set_max_event_bytes(bytes); }

}  // namespace inferencegw
