// Reads the few request-body fields the mock reacts to, in one simdjson On-Demand pass.
//
//   RequestParser parser;
//   ParsedRequest req;
//   absl::Status s = parser.Parse(PaddedView(body), &req);  // req.model, req.stream, ...
#ifndef INFERENCEGW_TOOLS_MOCK_LLM_REQUEST_PARSE_H_
#define INFERENCEGW_TOOLS_MOCK_LLM_REQUEST_PARSE_H_

#include <simdjson.h>

#include <string>

#include "absl/status/status.h"

namespace inferencegw::mock_llm {

struct ParsedRequest {
  bool has_model = false;
  std::string model;
  bool stream = false;
  bool include_usage = false;   // stream_options.include_usage
  bool has_max_tokens = false;  // a numeric max_tokens (Anthropic requires it)
  std::string id;               // KServe v2 request "id"; empty when absent
  bool has_input = false;  // an "input" member (the Responses API requires it)
  int inputs = 1;  // items of OpenAI embeddings "input" or KServe v1 "instances" (at least 1)
};

// Not thread-safe; one per worker thread (it reuses the simdjson parser's buffers).
class RequestParser {
 public:
  // Parses a request body that must be a JSON object. Unknown fields are skipped. Returns
  // InvalidArgument with a short reason when the body is not a JSON object or one of the fields
  // above has the wrong type. REQUIRES: `body` has SIMDJSON_PADDING readable bytes past its end.
  absl::Status Parse(simdjson::padded_string_view body, ParsedRequest* out);

 private:
  simdjson::ondemand::parser parser_;
};

}  // namespace inferencegw::mock_llm

#endif  // INFERENCEGW_TOOLS_MOCK_LLM_REQUEST_PARSE_H_
