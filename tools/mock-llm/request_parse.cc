#include "request_parse.h"

#include <string_view>
#include <utility>

namespace inferencegw::mock_llm {
namespace {

using simdjson::SUCCESS;
using simdjson::ondemand::json_type;

absl::Status Bad(std::string_view why) { return absl::InvalidArgumentError(std::string(why)); }

// Reads a boolean that may also be null (null reads as false).
bool ReadOptionalBool(simdjson::ondemand::value v, bool* out) {
  json_type t;
  if (v.type().get(t) != SUCCESS) return false;
  if (t == json_type::null) {
    *out = false;
    return true;
  }
  return v.get_bool().get(*out) == SUCCESS;
}

// Counts the items an embeddings "input" or KServe "instances" value stands for: a string or a
// flat list of token ids is one item; any other array is one item per element.
bool CountItems(simdjson::ondemand::value v, int* out) {
  json_type t;
  if (v.type().get(t) != SUCCESS) return false;
  if (t != json_type::array) {
    *out = 1;
    return true;
  }
  simdjson::ondemand::array arr;
  if (v.get_array().get(arr) != SUCCESS) return false;
  int n = 0;
  bool token_ids = false;
  for (auto element : arr) {
    simdjson::ondemand::value item;
    if (element.get(item) != SUCCESS) return false;
    if (n == 0) {
      json_type first;
      if (item.type().get(first) != SUCCESS) return false;
      token_ids = first == json_type::number;
    }
    ++n;
  }
  *out = (token_ids || n == 0) ? 1 : n;
  return true;
}

}  // namespace

absl::Status RequestParser::Parse(simdjson::padded_string_view body, ParsedRequest* out) {
  *out = ParsedRequest();
  simdjson::ondemand::document doc;
  if (parser_.iterate(body).get(doc) != SUCCESS) return Bad("request body is not valid JSON");
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj) != SUCCESS) return Bad("request body must be a JSON object");
  for (auto field_result : obj) {
    simdjson::ondemand::field field;
    if (std::move(field_result).get(field) != SUCCESS) return Bad("request body is not valid JSON");
    std::string_view key;
    if (field.unescaped_key().get(key) != SUCCESS) return Bad("request body is not valid JSON");
    simdjson::ondemand::value value = field.value();
    if (key == "model") {
      std::string_view model;
      if (value.get_string().get(model) != SUCCESS) return Bad("model must be a string");
      out->model.assign(model.data(), model.size());
      out->has_model = true;
    } else if (key == "stream") {
      if (!ReadOptionalBool(value, &out->stream)) return Bad("stream must be a boolean");
    } else if (key == "stream_options") {
      json_type t;
      if (value.type().get(t) != SUCCESS) return Bad("request body is not valid JSON");
      if (t == json_type::null) continue;
      simdjson::ondemand::object options;
      if (value.get_object().get(options) != SUCCESS) {
        return Bad("stream_options must be an object");
      }
      for (auto option_result : options) {
        simdjson::ondemand::field option;
        std::string_view option_key;
        if (std::move(option_result).get(option) != SUCCESS ||
            option.unescaped_key().get(option_key) != SUCCESS) {
          return Bad("request body is not valid JSON");
        }
        if (option_key == "include_usage" &&
            !ReadOptionalBool(option.value(), &out->include_usage)) {
          return Bad("stream_options.include_usage must be a boolean");
        }
      }
    } else if (key == "max_tokens") {
      json_type t;
      if (value.type().get(t) != SUCCESS || t != json_type::number) {
        return Bad("max_tokens must be a number");
      }
      out->has_max_tokens = true;
    } else if (key == "id") {
      std::string_view id;
      if (value.get_string().get(id) != SUCCESS) return Bad("id must be a string");
      out->id.assign(id.data(), id.size());
    } else if (key == "input" || key == "instances") {
      if (key == "input") out->has_input = true;
      if (!CountItems(value, &out->inputs)) return Bad("request body is not valid JSON");
    }
  }
  return absl::OkStatus();
}

}  // namespace inferencegw::mock_llm
