// Internal: the Responses API side of translation. Requests become OpenAI chat requests (which
// then go on to the backend's format); whole responses and stream steps become Responses
// objects and events.
#ifndef INFERENCEGW_SRC_TRANSLATE_RESPONSES_INTERNAL_H_
#define INFERENCEGW_SRC_TRANSLATE_RESPONSES_INTERNAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "inferencegw/usage_parser.h"
#include "translate_internal.h"

namespace inferencegw::internal {

class StreamEncoder;

// Writes the chat completion request equivalent to the Responses request `request` into
// `chat_body` and appends to `dropped` the parameters it leaves out (as the client spelled
// them; `store: true` among them). InvalidArgument (OpenAI-style message) for items, parts,
// tools or tool choices chat backends cannot take.
absl::Status ResponsesToChatRequest(dom::object request, std::string* chat_body,
                                    std::vector<std::string>* dropped);

struct CompletionToolCall {
  std::string_view id;
  std::string_view name;
  std::string arguments;  // JSON text
};

// A whole response, format-neutral. Views point into the parsed upstream document.
struct Completion {
  std::string_view id;
  std::string_view model;
  std::string text;
  std::string reasoning;
  std::vector<CompletionToolCall> tool_calls;
  FinishReason finish = FinishReason::kStop;
};

// The Responses object for `c`: output items (reasoning, message, function calls), `status`
// "incomplete" with its reason when cut by the token limit or a filter, usage (null when
// `usage.present` is false).
std::string EncodeResponsesObject(const Completion& c, std::string_view model, int64_t created,
                                  const Usage& usage);

// Responses API events (response.created ... response.completed) with an increasing
// sequence_number; reasoning steps are not sent.
std::unique_ptr<StreamEncoder> NewResponsesEventEncoder(std::string model, int64_t created);

// Ids of the Responses objects built from an upstream id: "resp_<id>", "msg_<id>", "fc_<id>".
std::string ResponsesId(std::string_view prefix, std::string_view upstream_id);

// The `usage` object of a Responses object.
void WriteResponsesUsage(JsonWriter& w, const Usage& u);

}  // namespace inferencegw::internal

#endif  // INFERENCEGW_SRC_TRANSLATE_RESPONSES_INTERNAL_H_
