// Stream encoders: format-neutral steps -> OpenAI chunks (provider-apis.md 3.3) or Anthropic
// events (3.6).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inferencegw/sse.h"
#include "translate_stream_internal.h"

namespace inferencegw::internal {
namespace {

class OpenAIChunkEncoder final : public StreamEncoder {
 public:
  OpenAIChunkEncoder(std::string model, int64_t created, bool send_usage)
      : model_(std::move(model)), created_(created), send_usage_(send_usage) {}

  void Start(std::string_view id, std::string* out) override {
    if (started_ || closed_) return;
    started_ = true;
    JsonWriter w(&prefix_);
    // Left open after "choices": each chunk appends its choices and closes the object.
    w.BeginObject().Key("id").String(id).Key("object").String("chat.completion.chunk");
    w.Key("created").Int(created_).Key("model").String(model_).Key("choices");
    Chunk(R"({"role":"assistant","content":""})", FinishReason::kNone, out);
  }

  void Text(std::string_view text, std::string* out) override { Delta("content", text, out); }
  void Reasoning(std::string_view text, std::string* out) override {
    Delta("reasoning_content", text, out);
  }

  void ToolStart(int tool, std::string_view id, std::string_view name, std::string* out) override {
    if (closed_) return;
    Start({}, out);
    tools_.push_back({tool, false});
    delta_.clear();
    JsonWriter w(&delta_);
    w.BeginObject().Key("tool_calls").BeginArray().BeginObject().Key("index").Int(tool);
    w.Key("id").String(id).Key("type").String("function");
    w.Key("function").BeginObject().Key("name").String(name).Key("arguments").String("");
    w.EndObject().EndObject().EndArray().EndObject();
    Chunk(delta_, FinishReason::kNone, out);
  }

  void ToolArguments(int tool, std::string_view fragment, std::string* out) override {
    if (closed_ || fragment.empty()) return;
    Start({}, out);
    for (auto& [index, has_arguments] : tools_) {
      if (index == tool) has_arguments = true;
    }
    delta_.clear();
    JsonWriter w(&delta_);
    w.BeginObject().Key("tool_calls").BeginArray().BeginObject().Key("index").Int(tool);
    w.Key("function").BeginObject().Key("arguments").String(fragment);
    w.EndObject().EndObject().EndArray().EndObject();
    Chunk(delta_, FinishReason::kNone, out);
  }

  // OpenAI clients parse the arguments when the call ends: empty arguments become "{}".
  void ToolEnd(int tool, std::string* out) override {
    for (const auto& [index, has_arguments] : tools_) {
      if (index == tool && !has_arguments) {
        ToolArguments(tool, "{}", out);
        return;
      }
    }
  }

  void Finish(FinishReason reason) override { finish_ = reason; }

  void KeepAlive(std::string* out) override {
    if (!closed_) out->append(": ping\n\n");
  }

  void End(const Usage& usage, std::string* out) override {
    if (closed_) return;
    Start({}, out);
    for (size_t i = 0; i < tools_.size(); ++i) ToolEnd(tools_[i].first, out);
    Chunk("{}", finish_ == FinishReason::kNone ? FinishReason::kStop : finish_, out);
    if (send_usage_) {
      chunk_.assign(prefix_);
      chunk_.append("[],\"usage\":");
      JsonWriter w(&chunk_);
      WriteOpenAIUsage(w, usage);
      chunk_.push_back('}');
      AppendSseEvent(out, {}, chunk_);
    }
    AppendSseEvent(out, {}, "[DONE]");
    closed_ = true;
  }

  void Error(std::string_view type, std::string_view message, std::string* out) override {
    if (closed_) return;
    chunk_.clear();
    JsonWriter w(&chunk_);
    w.BeginObject().Key("error").BeginObject().Key("message").String(message);
    w.Key("type").String(type).Key("param").Null().Key("code").Null().EndObject().EndObject();
    AppendSseEvent(out, {}, chunk_);
    closed_ = true;
  }

 private:
  void Delta(std::string_view key, std::string_view text, std::string* out) {
    if (closed_ || text.empty()) return;
    Start({}, out);
    delta_.clear();
    JsonWriter w(&delta_);
    w.BeginObject().Key(key).String(text).EndObject();
    Chunk(delta_, FinishReason::kNone, out);
  }

  void Chunk(std::string_view delta, FinishReason finish, std::string* out) {
    chunk_.assign(prefix_);
    chunk_.append(R"([{"index":0,"delta":)");
    chunk_.append(delta);
    chunk_.append(R"(,"finish_reason":)");
    if (finish == FinishReason::kNone) {
      chunk_.append("null");
    } else {
      AppendJsonString(&chunk_, OpenAIFinishName(finish));
    }
    chunk_.append("}]}");
    AppendSseEvent(out, {}, chunk_);
  }

  std::string model_;
  int64_t created_;
  bool send_usage_;
  bool started_ = false;
  FinishReason finish_ = FinishReason::kNone;
  std::vector<std::pair<int, bool>> tools_;  // tool index, got arguments
  std::string prefix_;
  std::string delta_;
  std::string chunk_;
};

class AnthropicEventEncoder final : public StreamEncoder {
 public:
  explicit AnthropicEventEncoder(std::string model) : model_(std::move(model)) {}

  void Start(std::string_view id, std::string* out) override {
    if (started_ || closed_) return;
    started_ = true;
    data_.clear();
    JsonWriter w(&data_);
    w.BeginObject().Key("type").String("message_start").Key("message").BeginObject();
    w.Key("id").String(id).Key("type").String("message").Key("role").String("assistant");
    w.Key("content").BeginArray().EndArray().Key("model").String(model_);
    w.Key("stop_reason").Null().Key("stop_sequence").Null();
    w.Key("usage").BeginObject().Key("input_tokens").Int(0).Key("output_tokens").Int(0);
    w.EndObject().EndObject().EndObject();
    AppendSseEvent(out, "message_start", data_);
  }

  void Text(std::string_view text, std::string* out) override {
    BlockDelta(Kind::kText, "text_delta", "text", text, out);
  }
  void Reasoning(std::string_view text, std::string* out) override {
    BlockDelta(Kind::kThinking, "thinking_delta", "thinking", text, out);
  }

  void ToolStart(int tool, std::string_view id, std::string_view name, std::string* out) override {
    if (closed_) return;
    Start({}, out);
    CloseBlock(out);
    tool_blocks_.push_back({tool, next_block_});
    data_.clear();
    JsonWriter w(&data_);
    w.BeginObject().Key("type").String("content_block_start").Key("index").Int(next_block_);
    w.Key("content_block").BeginObject().Key("type").String("tool_use").Key("id").String(id);
    w.Key("name").String(name).Key("input").BeginObject().EndObject().EndObject().EndObject();
    AppendSseEvent(out, "content_block_start", data_);
    open_block_ = next_block_++;
    open_kind_ = Kind::kTool;
  }

  // Fragments of a call whose block was closed (interleaved parallel calls) still go to that
  // call's block index.
  void ToolArguments(int tool, std::string_view fragment, std::string* out) override {
    if (closed_ || fragment.empty()) return;
    int block = BlockOf(tool);
    if (block < 0) {
      ToolStart(tool, {}, {}, out);
      block = BlockOf(tool);
    }
    WriteDelta(block, "input_json_delta", "partial_json", fragment, out);
  }

  void ToolEnd(int tool, std::string* out) override {
    if (open_kind_ == Kind::kTool && open_block_ == BlockOf(tool)) CloseBlock(out);
  }

  void Finish(FinishReason reason) override { finish_ = reason; }

  void KeepAlive(std::string* out) override {
    if (!closed_) AppendSseEvent(out, "ping", R"({"type":"ping"})");
  }

  void End(const Usage& usage, std::string* out) override {
    if (closed_) return;
    Start({}, out);
    CloseBlock(out);
    data_.clear();
    JsonWriter w(&data_);
    w.BeginObject().Key("type").String("message_delta").Key("delta").BeginObject();
    w.Key("stop_reason").String(AnthropicStopName(finish_)).Key("stop_sequence").Null();
    w.EndObject().Key("usage");
    WriteAnthropicUsage(w, usage);
    w.EndObject();
    AppendSseEvent(out, "message_delta", data_);
    AppendSseEvent(out, "message_stop", R"({"type":"message_stop"})");
    closed_ = true;
  }

  void Error(std::string_view type, std::string_view message, std::string* out) override {
    if (closed_) return;
    data_.clear();
    JsonWriter w(&data_);
    w.BeginObject().Key("type").String("error").Key("error").BeginObject();
    w.Key("type").String(type).Key("message").String(message).EndObject().EndObject();
    AppendSseEvent(out, "error", data_);
    closed_ = true;
  }

 private:
  enum class Kind : uint8_t { kNone, kText, kThinking, kTool };

  int BlockOf(int tool) const {
    for (const auto& [t, block] : tool_blocks_) {
      if (t == tool) return block;
    }
    return -1;
  }

  void CloseBlock(std::string* out) {
    if (open_kind_ == Kind::kNone) return;
    data_.clear();
    JsonWriter w(&data_);
    w.BeginObject().Key("type").String("content_block_stop").Key("index").Int(open_block_);
    w.EndObject();
    AppendSseEvent(out, "content_block_stop", data_);
    open_kind_ = Kind::kNone;
    open_block_ = -1;
  }

  void BlockDelta(Kind kind, std::string_view delta_type, std::string_view field,
                  std::string_view text, std::string* out) {
    if (closed_ || text.empty()) return;
    Start({}, out);
    if (open_kind_ != kind) {
      CloseBlock(out);
      data_.clear();
      JsonWriter w(&data_);
      w.BeginObject().Key("type").String("content_block_start").Key("index").Int(next_block_);
      w.Key("content_block")
          .BeginObject()
          .Key("type")
          .String(kind == Kind::kText ? "text" : "thinking");
      w.Key(field).String("").EndObject().EndObject();
      AppendSseEvent(out, "content_block_start", data_);
      open_block_ = next_block_++;
      open_kind_ = kind;
    }
    WriteDelta(open_block_, delta_type, field, text, out);
  }

  void WriteDelta(int block, std::string_view delta_type, std::string_view field,
                  std::string_view text, std::string* out) {
    data_.clear();
    JsonWriter w(&data_);
    w.BeginObject().Key("type").String("content_block_delta").Key("index").Int(block);
    w.Key("delta").BeginObject().Key("type").String(delta_type).Key(field).String(text);
    w.EndObject().EndObject();
    AppendSseEvent(out, "content_block_delta", data_);
  }

  std::string model_;
  bool started_ = false;
  int next_block_ = 0;
  int open_block_ = -1;
  Kind open_kind_ = Kind::kNone;
  FinishReason finish_ = FinishReason::kNone;
  std::vector<std::pair<int, int>> tool_blocks_;  // tool index, block index
  std::string data_;
};

}  // namespace

std::unique_ptr<StreamEncoder> NewOpenAIChunkEncoder(std::string model, int64_t created,
                                                     bool send_usage) {
  return std::make_unique<OpenAIChunkEncoder>(std::move(model), created, send_usage);
}

std::unique_ptr<StreamEncoder> NewAnthropicEventEncoder(std::string model) {
  return std::make_unique<AnthropicEventEncoder>(std::move(model));
}

}  // namespace inferencegw::internal
