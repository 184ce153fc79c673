// Stream steps -> Responses API events (responses-api-and-otlp.md, "Streaming"): every event
// names its type in the `event:` line and in `type`, with an increasing sequence_number; the
// stream ends with response.completed (or response.incomplete), never with [DONE].
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "inferencegw/sse.h"
#include "translate_responses_internal.h"
#include "translate_stream_internal.h"

namespace inferencegw::internal {
namespace {

class ResponsesEventEncoder final : public StreamEncoder {
 public:
  ResponsesEventEncoder(std::string model, int64_t created)
      : model_(std::move(model)), created_(created) {}

  void Start(std::string_view id, std::string* out) override {
    if (started_ || closed_) return;
    started_ = true;
    upstream_id_ = std::string(id);
    for (std::string_view type : {"response.created", "response.in_progress"}) {
      Emit(type, out, [&](JsonWriter& w) { WriteResponse(w.Key("response"), {}); });
    }
  }

  void Text(std::string_view text, std::string* out) override {
    if (closed_ || text.empty()) return;
    Start({}, out);
    if (message_index_ < 0) OpenMessage(out);
    text_.append(text);
    Emit("response.output_text.delta", out, [&](JsonWriter& w) {
      w.Key("item_id").String(message_id_).Key("output_index").Int(message_index_);
      w.Key("content_index").Int(0).Key("delta").String(text);
    });
  }

  // Reasoning text has no counterpart in the events a Responses client expects from a chat
  // model; it is not sent.
  void Reasoning(std::string_view, std::string*) override {}

  void ToolStart(int tool, std::string_view id, std::string_view name, std::string* out) override {
    if (closed_) return;
    Start({}, out);
    CloseMessage(out);
    Tool t;
    t.tool = tool;
    t.output_index = static_cast<int64_t>(items_.size());
    t.item_id = ResponsesId("fc", id);
    t.call_id = std::string(id);
    t.name = std::string(name);
    items_.emplace_back();
    Emit("response.output_item.added", out, [&](JsonWriter& w) {
      w.Key("output_index").Int(t.output_index);
      WriteCall(w.Key("item"), t, "in_progress");
    });
    tools_.push_back(std::move(t));
  }

  void ToolArguments(int tool, std::string_view fragment, std::string* out) override {
    Tool* t = Find(tool);
    if (closed_ || t == nullptr || t->done || fragment.empty()) return;
    t->arguments.append(fragment);
    Emit("response.function_call_arguments.delta", out, [&](JsonWriter& w) {
      w.Key("item_id").String(t->item_id).Key("output_index").Int(t->output_index);
      w.Key("delta").String(fragment);
    });
  }

  void ToolEnd(int tool, std::string* out) override {
    Tool* t = Find(tool);
    if (closed_ || t == nullptr || t->done) return;
    t->done = true;
    if (t->arguments.empty()) t->arguments = "{}";
    Emit("response.function_call_arguments.done", out, [&](JsonWriter& w) {
      w.Key("item_id").String(t->item_id).Key("output_index").Int(t->output_index);
      w.Key("arguments").String(t->arguments);
    });
    std::string& item = items_[static_cast<size_t>(t->output_index)];
    JsonWriter iw(&item);
    WriteCall(iw, *t, "completed");
    ItemDone(t->output_index, item, out);
  }

  void Finish(FinishReason reason) override { finish_ = reason; }

  void KeepAlive(std::string* out) override {
    if (!closed_) out->append(": ping\n\n");
  }

  void End(const Usage& usage, std::string* out) override {
    if (closed_) return;
    Start({}, out);
    if (items_.empty()) OpenMessage(out);  // an empty answer is still one (empty) message
    CloseMessage(out);
    for (size_t i = 0; i < tools_.size(); ++i) ToolEnd(tools_[i].tool, out);
    const bool cut = Cut();
    Emit(cut ? "response.incomplete" : "response.completed", out,
         [&](JsonWriter& w) { WriteResponse(w.Key("response"), &usage); });
    closed_ = true;
  }

  void Error(std::string_view type, std::string_view message, std::string* out) override {
    if (closed_) return;
    Emit("error", out, [&](JsonWriter& w) {
      w.Key("code").String(type).Key("message").String(message).Key("param").Null();
    });
    closed_ = true;
  }

 private:
  struct Tool {
    int tool = 0;
    int64_t output_index = 0;
    std::string item_id;
    std::string call_id;
    std::string name;
    std::string arguments;
    bool done = false;
  };

  bool Cut() const {
    return finish_ == FinishReason::kLength || finish_ == FinishReason::kContentFilter;
  }

  Tool* Find(int tool) {
    for (Tool& t : tools_) {
      if (t.tool == tool) return &t;
    }
    return nullptr;
  }

  void Emit(std::string_view type, std::string* out, absl::FunctionRef<void(JsonWriter&)> body) {
    event_.clear();
    JsonWriter w(&event_);
    w.BeginObject().Key("type").String(type).Key("sequence_number").Int(sequence_++);
    body(w);
    w.EndObject();
    AppendSseEvent(out, type, event_);
  }

  // The response object: in progress with no output (`usage` null), or final.
  void WriteResponse(JsonWriter& w, const Usage* usage) {
    w.BeginObject().Key("id").String(ResponsesId("resp", upstream_id_));
    w.Key("object").String("response").Key("created_at").Int(created_);
    const bool cut = usage != nullptr && Cut();
    w.Key("status").String(usage == nullptr ? "in_progress" : cut ? "incomplete" : "completed");
    w.Key("error").Null().Key("incomplete_details");
    if (cut) {
      w.BeginObject().Key("reason").String(finish_ == FinishReason::kLength ? "max_output_tokens"
                                                                            : "content_filter");
      w.EndObject();
    } else {
      w.Null();
    }
    w.Key("model").String(model_).Key("output").BeginArray();
    if (usage != nullptr) {
      for (const std::string& item : items_) w.Raw(item);
    }
    w.EndArray().Key("usage");
    if (usage == nullptr) {
      w.Null();
    } else {
      WriteResponsesUsage(w, *usage);
    }
    w.EndObject();
  }

  void WriteCall(JsonWriter& w, const Tool& t, std::string_view status) {
    w.BeginObject().Key("type").String("function_call").Key("id").String(t.item_id);
    w.Key("call_id").String(t.call_id).Key("name").String(t.name);
    w.Key("arguments").String(status == "completed" ? std::string_view(t.arguments) : "");
    w.Key("status").String(status).EndObject();
  }

  void WritePart(JsonWriter& w) {
    w.BeginObject().Key("type").String("output_text").Key("text").String(text_);
    w.Key("annotations").BeginArray().EndArray().EndObject();
  }

  void OpenMessage(std::string* out) {
    message_index_ = static_cast<int64_t>(items_.size());
    items_.emplace_back();
    message_id_ = ResponsesId("msg", upstream_id_);
    if (message_index_ > 0) absl::StrAppend(&message_id_, "_", message_index_);
    text_.clear();
    Emit("response.output_item.added", out, [&](JsonWriter& w) {
      w.Key("output_index").Int(message_index_).Key("item").BeginObject();
      w.Key("type").String("message").Key("id").String(message_id_);
      w.Key("status").String("in_progress").Key("role").String("assistant");
      w.Key("content").BeginArray().EndArray().EndObject();
    });
    Emit("response.content_part.added", out, [&](JsonWriter& w) {
      w.Key("item_id").String(message_id_).Key("output_index").Int(message_index_);
      w.Key("content_index").Int(0);
      WritePart(w.Key("part"));
    });
  }

  void CloseMessage(std::string* out) {
    if (message_index_ < 0) return;
    Emit("response.output_text.done", out, [&](JsonWriter& w) {
      w.Key("item_id").String(message_id_).Key("output_index").Int(message_index_);
      w.Key("content_index").Int(0).Key("text").String(text_);
    });
    Emit("response.content_part.done", out, [&](JsonWriter& w) {
      w.Key("item_id").String(message_id_).Key("output_index").Int(message_index_);
      w.Key("content_index").Int(0);
      WritePart(w.Key("part"));
    });
    std::string& item = items_[static_cast<size_t>(message_index_)];
    JsonWriter w(&item);
    w.BeginObject().Key("type").String("message").Key("id").String(message_id_);
    w.Key("status").String(Cut() ? "incomplete" : "completed").Key("role").String("assistant");
    w.Key("content").BeginArray();
    WritePart(w);
    w.EndArray().EndObject();
    ItemDone(message_index_, item, out);
    message_index_ = -1;
  }

  void ItemDone(int64_t output_index, std::string_view item, std::string* out) {
    Emit("response.output_item.done", out,
         [&](JsonWriter& w) { w.Key("output_index").Int(output_index).Key("item").Raw(item); });
  }

  std::string model_;
  int64_t created_;
  bool started_ = false;
  std::string upstream_id_;
  int64_t sequence_ = 0;
  FinishReason finish_ = FinishReason::kNone;
  std::vector<std::string> items_;  // output items by output_index, serialized when done
  int64_t message_index_ = -1;      // the open message item, -1 when none
  std::string message_id_;
  std::string text_;
  std::vector<Tool> tools_;
  std::string event_;
};

}  // namespace

std::unique_ptr<StreamEncoder> NewResponsesEventEncoder(std::string model, int64_t created) {
  return std::make_unique<ResponsesEventEncoder>(std::move(model), created);
}

}  // namespace inferencegw::internal
