#include "count_tokens.h"

#include <simdjson.h>

namespace inferencegw::mock_llm {
namespace {

using simdjson::dom::element;

int64_t Words(std::string_view text) {
  int64_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

// A string, or an array of blocks whose `text` members count; anything else counts nothing.
int64_t TextWords(element value) {
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) return Words(text);
  simdjson::dom::array blocks;
  if (value.get_array().get(blocks) != simdjson::SUCCESS) return 0;
  int64_t words = 0;
  for (element block : blocks) {
    if (block["text"].get_string().get(text) == simdjson::SUCCESS) words += Words(text);
  }
  return words;
}

}  // namespace

absl::StatusOr<int64_t> CountInputTokens(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  if (parser.parse(body.data(), body.size()).get_object().get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("request body must be a JSON object");
  }
  std::string_view model;
  if (root["model"].get_string().get(model) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("model: Field required");
  }
  for (std::string_view extra : {"max_tokens", "stream"}) {
    if (root[extra].error() == simdjson::SUCCESS) {
      return absl::InvalidArgumentError(std::string(extra) + ": Extra inputs are not permitted");
    }
  }
  simdjson::dom::array messages;
  if (root["messages"].get_array().get(messages) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("messages: Field required");
  }
  int64_t tokens = 0;
  element system;
  if (root["system"].get(system) == simdjson::SUCCESS) tokens += TextWords(system);
  for (element message : messages) {
    if (!message.is_object()) {
      return absl::InvalidArgumentError("messages: each message must be an object");
    }
    element content;
    if (message["content"].get(content) == simdjson::SUCCESS) tokens += TextWords(content);
    tokens += 3;
  }
  return tokens;
}

}  // namespace inferencegw::mock_llm
