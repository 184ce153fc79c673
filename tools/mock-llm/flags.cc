#include "flags.h"

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace inferencegw::mock_llm {
namespace {

absl::Status ParseListen(std::string_view text, Options* opts) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        fmt::format("--listen: \"{}\" is not HOST:PORT (e.g. 127.0.0.1:0)", text));
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int64_t port = 0;
  if (host.empty() || !ParseBoundedInt(text.substr(colon + 1), 65535, &port)) {
    return absl::InvalidArgumentError(
        fmt::format("--listen: \"{}\" is not HOST:PORT with a port 0..65535", text));
  }
  opts->host = std::string(host);
  opts->port = static_cast<int>(port);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Options> ParseFlags(int argc, const char* const* argv) {
  Options opts;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      opts.help = true;
      continue;
    }
    if (arg.substr(0, 2) != "--" || arg.size() == 2) {
      return absl::InvalidArgumentError(fmt::format("unexpected argument \"{}\"", arg));
    }
    std::string_view name = arg.substr(2);
    std::string_view value;
    bool has_value = false;
    if (const size_t eq = name.find('='); eq != std::string_view::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const bool is_bool = IsBoolKnob(name);
    const bool known = name == "listen" || name == "threads" || IsKnob(name);
    if (!known) return absl::InvalidArgumentError(fmt::format("unknown flag --{}", name));
    if (!has_value && is_bool) {
      value = "true";
      has_value = true;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(fmt::format("--{} needs a value", name));
      }
      value = argv[++i];
    }
    if (name == "listen") {
      if (absl::Status st = ParseListen(value, &opts); !st.ok()) return st;
    } else if (name == "threads") {
      int64_t threads = 0;
      if (!ParseBoundedInt(value, 256, &threads) || threads < 1) {
        return absl::InvalidArgumentError(
            fmt::format("--threads: \"{}\" is not an integer in [1, 256]", value));
      }
      opts.threads = static_cast<int>(threads);
    } else if (absl::Status st = SetKnobFromText(opts.knobs, name, value); !st.ok()) {
      return absl::InvalidArgumentError(fmt::format("--{}: {}", name, std::string(st.message())));
    }
  }
  if (absl::Status st = ValidateKnobs(opts.knobs); !st.ok()) return st;
  return opts;
}

std::string HelpText() {
  std::string text =
      "Usage: inferencegw-mock-llm [--listen HOST:PORT] [--threads N] [knob flags]\n"
      "\n"
      "A fast mock LLM server speaking OpenAI, Anthropic, Cohere v2 and KServe formats,\n"
      "streaming or not. Prints \"listening on ADDRESS:PORT\" as its first stdout line.\n"
      "SIGTERM or SIGINT exit cleanly with status 0. Bad flags exit with status 2.\n"
      "\n"
      "Server:\n"
      "  --listen HOST:PORT           address to listen on; port 0 picks a free port "
      "(default 127.0.0.1:8000)\n"
      "  --threads N                  event-loop threads, each with its own SO_REUSEPORT "
      "socket (default 2)\n"
      "  --help                       print this text and exit\n"
      "\n"
      "Knobs (also settable at runtime: POST /mock/config {\"latency_ms\":5,...}):\n";
  text += KnobsHelp();
  text +=
      "\n"
      "Per-request overrides (headers): x-mock-status, x-mock-latency-ms, x-mock-chunks,\n"
      "  x-mock-drop-after-chunks, x-mock-retry-after, x-mock-prompt-tokens,\n"
      "  x-mock-completion-tokens.\n"
      "\n"
      "Endpoints:\n"
      "  POST /v1/chat/completions, /v1/completions, /v1/embeddings (also under /openai)\n"
      "  POST /v1/messages, /v1/messages/count_tokens (Anthropic)   POST /v2/chat (Cohere v2)\n"
      "  POST /v1/models/NAME:predict, /v2/models/NAME/infer (KServe)\n"
      "  GET /v1/models/NAME, /v2/models/NAME[/ready] (KServe metadata)\n"
      "  GET /health, /v1/models, /v2/health/ready, /v2/health/live, /\n"
      "  GET /mock/stats, GET|POST /mock/config, POST /mock/reset\n";
  return text;
}

}  // namespace inferencegw::mock_llm
