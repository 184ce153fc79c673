// The mock's behaviour knobs: one table shared by the command-line flags, POST /mock/config and
// --help, so a knob has the same name and range everywhere.
//
//   Knobs k;
//   absl::Status s = SetKnobFromText(k, "latency-ms", "25");   // flag spelling
//   s.Update(ApplyConfigJson(R"({"status":503})", k, nullptr)); // /mock/config spelling
#ifndef INFERENCEGW_TOOLS_MOCK_LLM_KNOBS_H_
#define INFERENCEGW_TOOLS_MOCK_LLM_KNOBS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace inferencegw::mock_llm {

// Every runtime-adjustable setting. A plain value type; snapshots of it are immutable once
// published (see state.h), so readers never see a half-applied change.
struct Knobs {
  int latency_ms = 0;          // delay before the response, or before the first stream event
  int chunk_interval_ms = 0;   // delay between stream content chunks
  int chunks = 5;              // content chunks per stream (and pieces of the content text)
  double failure_rate = 0.0;   // fraction of inference requests answered with fail_status
  uint64_t seed = 1;           // seed of the failure draw sequence
  int fail_status = 503;       // status used by failure_rate
  int status = 200;            // force every inference response to this status; 200 = normal
  int retry_after = 0;         // seconds sent as retry-after on 429/503 errors; 0 = not sent
  int64_t prompt_tokens = 10;  // total prompt tokens, cached and cache-write tokens included
  int64_t completion_tokens = 20;
  int64_t cached_tokens = 0;         // prompt tokens read from a cache (part of prompt_tokens)
  int64_t cache_write_tokens = 0;    // prompt tokens written to a cache (part of prompt_tokens)
  std::string model = "mock-model";  // the served model name (GET /v1/models)
  std::string name = "mock";         // x-mock-backend header and "Hello from NAME"
  int health_status = 200;           // status of GET /health
  bool stamp_chunks = false;         // prefix each content chunk's text with "t=<monotonic ns> "
  int drop_after_chunks = -1;        // close the stream after N content chunks; negative = never
  bool drop_with_reset = false;      // drop_after_chunks resets the connection (a TCP RST)
  int stall_after_chunks = -1;       // go silent after N content chunks; negative = never
  int malformed_chunk = -1;          // content chunk N is malformed (see `malformed`); -1 = none
  std::string malformed = "json";    // how: "json" (truncated JSON) or "sse" (junk bytes)
  std::string require_api_key;       // when non-empty, inference endpoints require this key
};

// Which knobs a config change touched, for side effects such as restarting the failure sequence.
struct KnobChange {
  bool failure_sequence = false;  // seed or failure_rate was set
};

// Sets one knob from text. `name` may use dashes or underscores ("latency-ms", "latency_ms").
// Returns InvalidArgument naming the knob when the name is unknown or the value is not a valid
// value of the knob's type and range. Cross-knob rules are checked by ValidateKnobs.
absl::Status SetKnobFromText(Knobs& knobs, std::string_view name, std::string_view value);

// True when `name` (dashes or underscores) is a knob that takes no value on the command line.
bool IsBoolKnob(std::string_view name);
// True when `name` (dashes or underscores) names a knob.
bool IsKnob(std::string_view name);

// Checks rules that span knobs (cached + cache-write tokens must not exceed prompt tokens) and
// enumerated values (`malformed` is "json" or "sse").
absl::Status ValidateKnobs(const Knobs& knobs);

// Applies a JSON object of knob values (keys with dashes or underscores; JSON numbers, booleans
// and strings of the knob's type) to `knobs`. All-or-nothing: on error `knobs` is unchanged and
// the status says which key failed. `change` may be null.
absl::Status ApplyConfigJson(std::string_view json, Knobs& knobs, KnobChange* change);

// Returns all knobs as one compact JSON object with underscore names.
std::string KnobsToJson(const Knobs& knobs);

// Returns the --help lines for every knob (flag spelling, value, default, meaning).
std::string KnobsHelp();

// Parses a non-negative decimal integer no larger than `max`; false on any other text.
bool ParseBoundedInt(std::string_view text, int64_t max, int64_t* out);

}  // namespace inferencegw::mock_llm

#endif  // INFERENCEGW_TOOLS_MOCK_LLM_KNOBS_H_
