// Command-line flags of inferencegw-mock-llm.
//
//   absl::StatusOr<Options> opts = ParseFlags(argc, argv);
//   if (!opts.ok()) { /* print, exit 2 */ }
//   if (opts->help) std::fputs(HelpText().c_str(), stdout);
#ifndef INFERENCEGW_TOOLS_MOCK_LLM_FLAGS_H_
#define INFERENCEGW_TOOLS_MOCK_LLM_FLAGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "knobs.h"

namespace inferencegw::mock_llm {

struct Options {
  std::string host = "127.0.0.1";  // numeric address or name; "[::1]" brackets removed
  int port = 8000;                 // 0 picks a free port
  int threads = 2;
  bool help = false;
  Knobs knobs;
};

// Parses `--flag value` and `--flag=value` forms; boolean knobs take no value (or =true/false).
// Returns InvalidArgument naming the offending flag for unknown flags, missing or malformed
// values, and positional arguments.
absl::StatusOr<Options> ParseFlags(int argc, const char* const* argv);

// The --help text: usage, endpoints and every flag.
std::string HelpText();

}  // namespace inferencegw::mock_llm

#endif  // INFERENCEGW_TOOLS_MOCK_LLM_FLAGS_H_
