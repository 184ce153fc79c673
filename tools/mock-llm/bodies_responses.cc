// OpenAI Responses API bodies (POST /v1/responses): the response object and its event stream
// (responses-api-and-otlp.md, "OpenAI Responses API"). Written for the mock alone: it shares no
// code with the gateway's translation.
#include <string>

#include "bodies.h"
#include "json_out.h"

namespace inferencegw::mock_llm {
namespace {

std::string ResponseId(const BodyParams& p) { return "resp_mock_" + p.name; }
std::string MessageId(const BodyParams& p) { return "msg_mock_" + p.name; }

void AppendUsage(JsonOut& j, const BodyParams& p) {
  j.Raw(R"({"input_tokens":)")
      .Int(p.prompt_tokens)
      .Raw(R"(,"input_tokens_details":{"cached_tokens":)")
      .Int(p.cached_tokens)
      .Raw(R"(},"output_tokens":)")
      .Int(p.completion_tokens)
      .Raw(R"(,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":)")
      .Int(p.prompt_tokens + p.completion_tokens)
      .Raw("}");
}

// The message output item, complete (`text` given) or as first announced (no content yet).
void AppendMessage(JsonOut& j, const BodyParams& p, const std::string* text) {
  j.Raw(R"({"type":"message","id":)").Str(MessageId(p));
  if (text == nullptr) {
    j.Raw(R"(,"status":"in_progress","role":"assistant","content":[]})");
    return;
  }
  j.Raw(R"(,"status":"completed","role":"assistant","content":[{"type":"output_text","text":)")
      .Str(*text)
      .Raw(R"(,"annotations":[]}]})");
}

// The response object; `text` null: in progress, no output and no usage yet.
void AppendResponse(JsonOut& j, const BodyParams& p, const std::string* text) {
  j.Raw(R"({"id":)")
      .Str(ResponseId(p))
      .Raw(R"(,"object":"response","created_at":)")
      .Int(p.created)
      .Raw(text == nullptr ? R"(,"status":"in_progress")" : R"(,"status":"completed")")
      .Raw(R"(,"error":null,"incomplete_details":null,"model":)")
      .Str(p.model)
      .Raw(R"(,"output":[)");
  if (text != nullptr) AppendMessage(j, p, text);
  j.Raw(R"(],"usage":)");
  if (text == nullptr) {
    j.Raw("null");
  } else {
    AppendUsage(j, p);
  }
  j.Raw("}");
}

// Opens event `type` up to the members after `sequence_number`.
void OpenEvent(JsonOut& j, std::string_view type, int64_t sequence) {
  j.Raw("event: ").Raw(type).Raw("\ndata: {\"type\":").Str(type);
  j.Raw(R"(,"sequence_number":)").Int(sequence);
}

// The position members of the message's text part.
void AppendPartPosition(JsonOut& j, const BodyParams& p) {
  j.Raw(R"(,"item_id":)").Str(MessageId(p)).Raw(R"(,"output_index":0,"content_index":0)");
}

}  // namespace

std::string OpenAIResponsesBody(const BodyParams& p) {
  std::string out;
  JsonOut j(out);
  const std::string text = ContentText(p.name, p.chunks);
  AppendResponse(j, p, &text);
  return out;
}

StreamScript OpenAIResponsesStream(const BodyParams& p) {
  StreamScript s;
  int64_t sequence = 0;
  {
    JsonOut j(s.preamble);
    for (std::string_view type : {"response.created", "response.in_progress"}) {
      OpenEvent(j, type, sequence++);
      j.Raw(R"(,"response":)");
      AppendResponse(j, p, nullptr);
      j.Raw("}\n\n");
    }
    OpenEvent(j, "response.output_item.added", sequence++);
    j.Raw(R"(,"output_index":0,"item":)");
    AppendMessage(j, p, nullptr);
    j.Raw("}\n\n");
    OpenEvent(j, "response.content_part.added", sequence++);
    AppendPartPosition(j, p);
    j.Raw(R"(,"part":{"type":"output_text","text":"","annotations":[]}})").Raw("\n\n");
  }
  InitChunks(s, p);
  {
    // Deltas carry no sequence_number: a script's chunk bytes are the same for every chunk.
    JsonOut j(s.chunk_prefix);
    j.Raw("event: response.output_text.delta\ndata: ");
    j.Raw(R"({"type":"response.output_text.delta")");
    AppendPartPosition(j, p);
    j.Raw(R"(,"delta":")");
    s.chunk_suffix = "\"}\n\n";
  }
  sequence += s.chunks;
  const std::string text = ContentText(p.name, p.chunks);
  JsonOut j(s.trailer);
  OpenEvent(j, "response.output_text.done", sequence++);
  AppendPartPosition(j, p);
  j.Raw(R"(,"text":)").Str(text).Raw("}\n\n");
  OpenEvent(j, "response.content_part.done", sequence++);
  AppendPartPosition(j, p);
  j.Raw(R"(,"part":{"type":"output_text","text":)").Str(text);
  j.Raw(R"(,"annotations":[]}})").Raw("\n\n");
  OpenEvent(j, "response.output_item.done", sequence++);
  j.Raw(R"(,"output_index":0,"item":)");
  AppendMessage(j, p, &text);
  j.Raw("}\n\n");
  OpenEvent(j, "response.completed", sequence++);
  j.Raw(R"(,"response":)");
  AppendResponse(j, p, &text);
  j.Raw("}\n\n");
  return s;
}

}  // namespace inferencegw::mock_llm
