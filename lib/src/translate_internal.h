// Internal: helpers shared by the translate_*.cc files (JSON access with simdjson's DOM, the
// finish-reason and usage vocabularies, the top-level object scanner used to splice
// same-format requests, and the cross-format request builders).
#ifndef INFERENCEGW_SRC_TRANSLATE_INTERNAL_H_
#define INFERENCEGW_SRC_TRANSLATE_INTERNAL_H_

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "inferencegw/translate.h"
#include "inferencegw/usage_parser.h"
#include "json_writer.h"

namespace inferencegw::internal {

namespace dom = simdjson::dom;

// Thread-local DOM parsers. A document parsed with one stays valid until that parser parses
// again, so nested JSON (tool-call arguments inside a request or response being translated)
// goes through the scratch parser.
dom::parser& DocumentParser();
dom::parser& ScratchParser();

// Frees the thread-local parsers' buffers when a large document grew them past 1 MiB, so that
// a thread does not keep memory for the largest document it ever saw. Declare one first in a
// function that parses whole bodies: it runs when the function returns.
// REQUIRES: no parsed view is used after it runs.
class TrimParsersOnExit {
 public:
  TrimParsersOnExit() = default;
  TrimParsersOnExit(const TrimParsersOnExit&) = delete;
  TrimParsersOnExit& operator=(const TrimParsersOnExit&) = delete;
  ~TrimParsersOnExit();
};

// Parses `json` as an object. InvalidArgument "<what> is not valid JSON (<reason>)" or
// "<what> is not a JSON object".
absl::StatusOr<dom::object> ParseObject(dom::parser& parser, std::string_view json,
                                        std::string_view what);

// `key` of `object` into `out`; false when absent.
inline bool Lookup(dom::object object, std::string_view key, dom::element* out) {
  return object.at_key(key).get(*out) == simdjson::SUCCESS;
}
// The string value of `key`, or "" when absent or not a string.
std::string_view StringField(dom::object object, std::string_view key);

// InvalidArgument with `message`: every translation error is one.
inline absl::Status Invalid(std::string message) {
  return absl::InvalidArgumentError(std::move(message));
}

// Calls `fn(index, function)` for the `function` object of each OpenAI tool in `tools`, in
// order, stopping at the first error it returns. A tool that is not a function tool is
// InvalidArgument "tools[i]: only function tools can be sent to <provider> backends".
absl::Status ForEachFunctionTool(dom::array tools, std::string_view provider,
                                 absl::FunctionRef<absl::Status(size_t, dom::object)> fn);
// The string `e`, or "" when it is not a string.
std::string_view AsString(dom::element e);
bool IsNull(dom::element e);

// Serializes `e` compactly through `w` (objects keep their key order).
void WriteElement(JsonWriter& w, dom::element e);

// Validates `json` as a JSON object with the scratch parser and writes it through `w`
// (re-serialized compactly). Empty or whitespace-only text writes {}. False when it is not an
// object (nothing written).
bool WriteObjectText(JsonWriter& w, std::string_view json);

// Finish reasons across providers, precise enough to round-trip OpenAI and Anthropic.
enum class FinishReason : uint8_t {
  kNone,           // not known yet
  kStop,           // natural end
  kStopSequence,   // a stop sequence matched
  kLength,         // max tokens (or the context window)
  kToolCalls,      // the model called tools
  kContentFilter,  // refused or filtered
};
// Unknown values map to kStop (a stream must not fail on a new reason).
FinishReason FinishFromOpenAI(std::string_view finish_reason);
FinishReason FinishFromAnthropic(std::string_view stop_reason);
FinishReason FinishFromCohere(std::string_view finish_reason);
// kNone maps like kStop.
std::string_view OpenAIFinishName(FinishReason r);
std::string_view AnthropicStopName(FinishReason r);

// The OpenAI `usage` object: prompt_tokens includes cached and cache-write tokens.
void WriteOpenAIUsage(JsonWriter& w, const Usage& u);
// The Anthropic `usage` object: input_tokens excludes cache reads and writes, which get their
// own fields when non-zero.
void WriteAnthropicUsage(JsonWriter& w, const Usage& u);

// One member of a JSON object, as byte offsets into the scanned text.
struct JsonMember {
  std::string_view key;  // raw, without quotes (escapes not decoded)
  size_t begin = 0;      // the key's opening quote
  size_t value_begin = 0;
  size_t value_end = 0;  // one past the value
};
struct ScannedObject {
  std::vector<JsonMember> members;
  size_t open = 0;   // offset of '{'
  size_t close = 0;  // offset of '}'
};
// Scans the object that starts at the first non-space byte at or after `start`, checking its
// structure (strings, nesting, separators) but not scalar syntax. With `whole`, only
// whitespace may follow it. InvalidArgument when the structure is broken.
absl::Status ScanObject(std::string_view json, size_t start, bool whole, ScannedObject* out);

// A `data:<media type>;base64,<data>` URL.
struct DataUrl {
  std::string_view media_type;
  std::string_view data;
};
bool ParseBase64DataUrl(std::string_view url, DataUrl* out);

// The error type an Anthropic client sees for an upstream error type: Anthropic's own types
// are kept, anything else is "api_error".
std::string_view AnthropicClientErrorType(std::string_view upstream_type);

// Whether a request parameter the upstream cannot take was sent with its default value, so
// that leaving it out changes nothing and it is not listed as dropped: false for logprobs,
// store, stream (and true for parallel_tool_calls); 0 for the penalties and top_logprobs; an
// empty logit_bias or metadata object; `{"type":"disabled"}` thinking.
bool IsDefaultParamValue(std::string_view key, dom::element value);

// Cross-format request builders (translate_to_anthropic.cc, translate_from_anthropic.cc,
// translate_to_cohere.cc). Each writes out->body and out->dropped_params.
absl::Status OpenAIChatToAnthropic(dom::object request, const RequestFacts& facts,
                                   const TranslateOptions& options, UpstreamRequestBody* out);
// With `keep_top_k` (the OpenAI form is an intermediate on the way to Cohere, which takes
// `k`), top_k is kept as a non-standard OpenAI member instead of being dropped.
absl::Status AnthropicToOpenAIChat(dom::object request, const RequestFacts& facts,
                                   const TranslateOptions& options, bool keep_top_k,
                                   UpstreamRequestBody* out);
absl::Status OpenAIChatToCohere(dom::object request, const RequestFacts& facts,
                                const TranslateOptions& options, UpstreamRequestBody* out);

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_TRANSLATE_INTERNAL_H_
