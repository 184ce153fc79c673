// Internal: the two halves of a cross-format StreamTranslator. A decoder turns each upstream
// SSE event into format-neutral steps (text, reasoning, tool-call fragments, finish, end,
// error); an encoder turns the steps into the client's events as they come.
#ifndef INFERENCEGW_SRC_TRANSLATE_STREAM_INTERNAL_H_
#define INFERENCEGW_SRC_TRANSLATE_STREAM_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "inferencegw/usage_parser.h"
#include "translate_internal.h"

namespace inferencegw::internal {

// Writes the client's stream. Content before Start() starts the message implicitly; nothing is
// written once closed (after End or Error). Not thread-safe.
class StreamEncoder {
 public:
  virtual ~StreamEncoder() = default;
  // The message begins (`id` is the upstream's message id). Later calls do nothing.
  virtual void Start(std::string_view id, std::string* out) = 0;
  virtual void Text(std::string_view text, std::string* out) = 0;
  virtual void Reasoning(std::string_view text, std::string* out) = 0;
  // Tool call number `tool` (0, 1, ... in order of appearance) begins.
  virtual void ToolStart(int tool, std::string_view id, std::string_view name,
                         std::string* out) = 0;
  // A fragment of the arguments' JSON text of call `tool`.
  virtual void ToolArguments(int tool, std::string_view fragment, std::string* out) = 0;
  virtual void ToolEnd(int tool, std::string* out) = 0;
  // Remembers why the message ended; written by End().
  virtual void Finish(FinishReason reason) = 0;
  virtual void KeepAlive(std::string* out) = 0;
  // Closes the message normally; `usage` is the stream's count so far.
  virtual void End(const Usage& usage, std::string* out) = 0;
  // Reports an upstream error in the client's shape and closes.
  virtual void Error(std::string_view type, std::string_view message, std::string* out) = 0;

  bool closed() const { return closed_; }

 protected:
  bool closed_ = false;
};

enum class DecodeResult : uint8_t {
  kContinue,
  kEnd,    // the upstream's end marker (the encoder has been ended)
  kError,  // an upstream error event (the encoder reported it)
};

// Reads one upstream format. Not thread-safe; one per stream.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // One complete upstream event. `usage` already includes what this event reported.
  virtual DecodeResult Decode(std::string_view event, std::string_view data, const Usage& usage,
                              StreamEncoder& encoder, std::string* out) = 0;
};

// OpenAI chat.completion.chunk events; the usage chunk only when `send_usage`.
std::unique_ptr<StreamEncoder> NewOpenAIChunkEncoder(std::string model, int64_t created,
                                                     bool send_usage);
// Anthropic Messages events.
std::unique_ptr<StreamEncoder> NewAnthropicEventEncoder(std::string model);

std::unique_ptr<StreamDecoder> NewOpenAIChunkDecoder();
// A tool_use block named `json_tool_name` (non-empty) is the answer to an emulated
// response_format: its input_json_delta fragments become Text steps ("{}" when it has none),
// and a tool_use stop reason becomes kStop when no other tool was called.
std::unique_ptr<StreamDecoder> NewAnthropicEventDecoder(std::string json_tool_name = {});
std::unique_ptr<StreamDecoder> NewCohereEventDecoder();

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_TRANSLATE_STREAM_INTERNAL_H_
