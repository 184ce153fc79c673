// Anthropic Messages and Cohere v2 chat bodies and streams (provider-apis.md sections 2.3, 2.4,
// 4.3 and 4.4).
#include <algorithm>
#include <string>

#include "bodies.h"
#include "json_out.h"

namespace inferencegw::mock_llm {
namespace {

// Appends one `event:` + `data:` SSE event; `json` is the complete data object.
void AppendEvent(std::string& out, std::string_view event, std::string_view json) {
  out += "event: ";
  out += event;
  out += "\ndata: ";
  out += json;
  out += "\n\n";
}

// Anthropic usage: input_tokens excludes cache reads and writes (section 2.3).
void AppendAnthropicUsage(JsonOut& j, const BodyParams& p, int64_t output_tokens) {
  j.Raw(R"({"input_tokens":)")
      .Int(p.prompt_tokens - p.cached_tokens - p.cache_write_tokens)
      .Raw(R"(,"output_tokens":)")
      .Int(output_tokens)
      .Raw(R"(,"cache_creation_input_tokens":)")
      .Int(p.cache_write_tokens)
      .Raw(R"(,"cache_read_input_tokens":)")
      .Int(p.cached_tokens)
      .Raw("}");
}

void AppendCohereUsage(JsonOut& j, const BodyParams& p) {
  j.Raw(R"({"billed_units":{"input_tokens":)")
      .Int(p.prompt_tokens)
      .Raw(R"(,"output_tokens":)")
      .Int(p.completion_tokens)
      .Raw(R"(},"tokens":{"input_tokens":)")
      .Int(p.prompt_tokens)
      .Raw(R"(,"output_tokens":)")
      .Int(p.completion_tokens)
      .Raw(R"(},"cached_tokens":)")
      .Int(p.cached_tokens)
      .Raw("}");
}

}  // namespace

std::string AnthropicMessageBody(const BodyParams& p) {
  std::string out;
  JsonOut j(out);
  j.Raw(R"({"id":)")
      .Str("msg_mock_" + p.name)
      .Raw(R"(,"type":"message","role":"assistant","model":)")
      .Str(p.model)
      .Raw(R"(,"content":[{"type":"text","text":)")
      .Str(ContentText(p.name, p.chunks))
      .Raw(R"(}],"stop_reason":"end_turn","stop_sequence":null,"usage":)");
  AppendAnthropicUsage(j, p, p.completion_tokens);
  j.Raw("}");
  return out;
}

StreamScript AnthropicStream(const BodyParams& p) {
  StreamScript s;
  std::string json;
  JsonOut j(json);
  j.Raw(R"({"type":"message_start","message":{"id":)")
      .Str("msg_mock_" + p.name)
      .Raw(R"(,"type":"message","role":"assistant","content":[],"model":)")
      .Str(p.model)
      .Raw(R"(,"stop_reason":null,"stop_sequence":null,"usage":)");
  AppendAnthropicUsage(j, p, std::min<int64_t>(1, p.completion_tokens));
  j.Raw("}}");
  AppendEvent(s.preamble, "message_start", json);
  AppendEvent(s.preamble, "content_block_start",
              R"({"type":"content_block_start","index":0,)"
              R"("content_block":{"type":"text","text":""}})");
  InitChunks(s, p);
  s.chunk_prefix =
      "event: content_block_delta\ndata: "
      R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")";
  s.chunk_suffix = "\"}}\n\n";
  AppendEvent(s.trailer, "content_block_stop", R"({"type":"content_block_stop","index":0})");
  json.clear();
  j.Raw(R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
        R"("usage":{"output_tokens":)")
      .Int(p.completion_tokens)
      .Raw("}}");
  AppendEvent(s.trailer, "message_delta", json);
  AppendEvent(s.trailer, "message_stop", R"({"type":"message_stop"})");
  return s;
}

std::string CohereChatBody(const BodyParams& p) {
  std::string out;
  JsonOut j(out);
  j.Raw(R"({"id":)")
      .Str("mock-" + p.name)
      .Raw(R"(,"finish_reason":"COMPLETE","message":{"role":"assistant","content":[)")
      .Raw(R"({"type":"text","text":)")
      .Str(ContentText(p.name, p.chunks))
      .Raw(R"(}]},"usage":)");
  AppendCohereUsage(j, p);
  j.Raw("}");
  return out;
}

StreamScript CohereStream(const BodyParams& p) {
  StreamScript s;
  std::string json;
  JsonOut j(json);
  j.Raw(R"({"id":)")
      .Str("mock-" + p.name)
      .Raw(R"(,"type":"message-start","delta":{"message":{"role":"assistant","content":[],)"
           R"("tool_plan":"","tool_calls":[]}}})");
  AppendEvent(s.preamble, "message-start", json);
  AppendEvent(s.preamble, "content-start",
              R"({"type":"content-start","index":0,)"
              R"("delta":{"message":{"content":{"type":"text","text":""}}}})");
  InitChunks(s, p);
  s.chunk_prefix =
      "event: content-delta\ndata: "
      R"({"type":"content-delta","index":0,"delta":{"message":{"content":{"text":")";
  s.chunk_suffix = "\"}}}}\n\n";
  AppendEvent(s.trailer, "content-end", R"({"type":"content-end","index":0})");
  json.clear();
  j.Raw(R"({"type":"message-end","delta":{"finish_reason":"COMPLETE","usage":)");
  AppendCohereUsage(j, p);
  j.Raw("}}");
  AppendEvent(s.trailer, "message-end", json);
  return s;
}

}  // namespace inferencegw::mock_llm
