// Whole responses in the Responses API shape: a format-neutral Completion (decoded from a chat,
// Anthropic or Cohere body) -> a Responses object.
#include <string>
#include <string_view>

#include "translate_responses_internal.h"

namespace inferencegw::internal {

std::string ResponsesId(std::string_view prefix, std::string_view upstream_id) {
  std::string id(prefix);
  id.push_back('_');
  id.append(upstream_id.empty() ? std::string_view("0") : upstream_id);
  return id;
}

void WriteResponsesUsage(JsonWriter& w, const Usage& u) {
  if (!u.present) {
    w.Null();
    return;
  }
  w.BeginObject().Key("input_tokens").Int(u.input_tokens);
  w.Key("input_tokens_details").BeginObject().Key("cached_tokens").Int(u.cached_input_tokens);
  w.EndObject().Key("output_tokens").Int(u.output_tokens);
  w.Key("output_tokens_details").BeginObject().Key("reasoning_tokens").Int(u.reasoning_tokens);
  w.EndObject().Key("total_tokens").Int(u.total()).EndObject();
}

std::string EncodeResponsesObject(const Completion& c, std::string_view model, int64_t created,
                                  const Usage& usage) {
  std::string out;
  out.reserve(512 + c.text.size() + c.reasoning.size());
  JsonWriter w(&out);
  w.BeginObject().Key("id").String(ResponsesId("resp", c.id)).Key("object").String("response");
  w.Key("created_at").Int(created);
  const bool cut = c.finish == FinishReason::kLength || c.finish == FinishReason::kContentFilter;
  w.Key("status").String(cut ? "incomplete" : "completed").Key("error").Null();
  w.Key("incomplete_details");
  if (cut) {
    w.BeginObject().Key("reason").String(c.finish == FinishReason::kLength ? "max_output_tokens"
                                                                           : "content_filter");
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("model").String(model).Key("output").BeginArray();
  if (!c.reasoning.empty()) {
    w.BeginObject().Key("type").String("reasoning").Key("id").String(ResponsesId("rs", c.id));
    w.Key("summary").BeginArray().BeginObject().Key("type").String("summary_text");
    w.Key("text").String(c.reasoning).EndObject().EndArray().EndObject();
  }
  if (!c.text.empty() || c.tool_calls.empty()) {
    w.BeginObject().Key("type").String("message").Key("id").String(ResponsesId("msg", c.id));
    w.Key("status").String(cut ? "incomplete" : "completed").Key("role").String("assistant");
    w.Key("content").BeginArray().BeginObject().Key("type").String("output_text");
    w.Key("text").String(c.text).Key("annotations").BeginArray().EndArray();
    w.EndObject().EndArray().EndObject();
  }
  for (const CompletionToolCall& call : c.tool_calls) {
    w.BeginObject()
        .Key("type")
        .String("function_call")
        .Key("id")
        .String(ResponsesId("fc", call.id));
    w.Key("call_id").String(call.id).Key("name").String(call.name);
    w.Key("arguments").String(call.arguments.empty() ? "{}" : call.arguments);
    w.Key("status").String("completed").EndObject();
  }
  w.EndArray();
  WriteResponsesUsage(w.Key("usage"), usage);
  w.EndObject();
  return out;
}

}  // namespace inferencegw::internal
