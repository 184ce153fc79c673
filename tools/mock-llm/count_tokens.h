// The mock's Anthropic token counter (POST /v1/messages/count_tokens): a real, deterministic
// count by its own rule, independent of the gateway's code.
//
//   absl::StatusOr<int64_t> n = CountInputTokens(body);   // {"input_tokens": n}
#ifndef INFERENCEGW_TOOLS_MOCK_LLM_COUNT_TOKENS_H_
#define INFERENCEGW_TOOLS_MOCK_LLM_COUNT_TOKENS_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace inferencegw::mock_llm {

// The rule: every run of non-whitespace characters in the text of `system` (a string, or the
// `text` of its blocks) and of each message's `content` (a string, or the `text` of its blocks)
// is one token, and each message adds 3 more (role and framing). InvalidArgument, with a message
// in Anthropic's style, when the body is not a JSON object, `model` is not a string, `messages`
// is missing or not an array of objects, or the body has `max_tokens` or `stream` (which the
// real endpoint refuses as extra inputs).
absl::StatusOr<int64_t> CountInputTokens(std::string_view body);

}  // namespace inferencegw::mock_llm

#endif  // INFERENCEGW_TOOLS_MOCK_LLM_COUNT_TOKENS_H_
