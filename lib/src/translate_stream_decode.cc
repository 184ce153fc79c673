// Stream decoders: OpenAI chunks, Anthropic events and Cohere v2 events -> encoder steps.
// Tool calls are numbered 0, 1, ... in order of appearance; the upstream's block index
// (Anthropic, Cohere) and OpenAI's tool index are mapped, never passed through.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fmt/format.h"
#include "translate_stream_internal.h"

namespace inferencegw::internal {
namespace {

bool ParseEvent(std::string_view data, dom::object* out) {
  dom::element root;
  return DocumentParser().parse(data.data(), data.size(), true).get(root) == simdjson::SUCCESS &&
         root.get_object().get(*out) == simdjson::SUCCESS;
}

bool GetObject(dom::object parent, std::string_view key, dom::object* out) {
  dom::element e;
  return Lookup(parent, key, &e) && e.get_object().get(*out) == simdjson::SUCCESS;
}

int64_t IntField(dom::object o, std::string_view key, int64_t fallback) {
  dom::element e;
  int64_t v = fallback;
  if (Lookup(o, key, &e) && e.get_int64().get(v) == simdjson::SUCCESS) return v;
  return fallback;
}

// The error's type and message from an `error` member that is an object or a string.
void ErrorOf(dom::element error, std::string_view* type, std::string_view* message) {
  dom::object o;
  if (error.get_object().get(o) == simdjson::SUCCESS) {
    *type = StringField(o, "type");
    *message = StringField(o, "message");
  } else {
    *message = AsString(error);
  }
}

// Maps an upstream key (OpenAI tool index, Anthropic or Cohere block index) to our tool number.
class ToolNumbers {
 public:
  // The number of `key`, or -1 when unseen.
  int Find(int64_t key) const {
    for (const auto& [k, tool] : keys_) {
      if (k == key) return tool;
    }
    return -1;
  }
  int Add(int64_t key) {
    keys_.push_back({key, next_});
    return next_++;
  }
  int last() const { return next_ - 1; }

 private:
  std::vector<std::pair<int64_t, int>> keys_;
  int next_ = 0;
};

class OpenAIChunkDecoder final : public StreamDecoder {
 public:
  DecodeResult Decode(std::string_view, std::string_view data, const Usage& usage,
                      StreamEncoder& enc, std::string* out) override {
    if (data == "[DONE]") {
      enc.End(usage, out);
      return DecodeResult::kEnd;
    }
    dom::object chunk;
    if (!ParseEvent(data, &chunk)) return DecodeResult::kContinue;
    dom::element error;
    if (Lookup(chunk, "error", &error) && !IsNull(error)) {
      std::string_view type, message;
      ErrorOf(error, &type, &message);
      enc.Error(AnthropicClientErrorType(type), message, out);
      return DecodeResult::kError;
    }
    enc.Start(StringField(chunk, "id"), out);
    dom::element choices_element, usage_element;
    dom::array choices;
    if (Lookup(chunk, "choices", &choices_element) &&
        choices_element.get_array().get(choices) == simdjson::SUCCESS) {
      for (dom::element c : choices) {
        dom::object choice;
        if (c.get_object().get(choice) != simdjson::SUCCESS || IntField(choice, "index", 0) != 0) {
          continue;
        }
        DecodeChoice(choice, enc, out);
      }
      // The usage chunk (choices: []) is the last word of an OpenAI stream.
      if (choices.size() == 0 && Lookup(chunk, "usage", &usage_element) &&
          usage_element.type() == dom::element_type::OBJECT) {
        enc.End(usage, out);
        return DecodeResult::kEnd;
      }
    }
    return DecodeResult::kContinue;
  }

 private:
  void DecodeChoice(dom::object choice, StreamEncoder& enc, std::string* out) {
    dom::object delta;
    if (GetObject(choice, "delta", &delta)) {
      std::string_view reasoning = StringField(delta, "reasoning_content");
      if (reasoning.empty()) reasoning = StringField(delta, "reasoning");
      enc.Reasoning(reasoning, out);
      enc.Text(StringField(delta, "content"), out);
      enc.Text(StringField(delta, "refusal"), out);
      dom::element calls_element;
      dom::array calls;
      if (Lookup(delta, "tool_calls", &calls_element) &&
          calls_element.get_array().get(calls) == simdjson::SUCCESS) {
        int64_t position = 0;
        for (dom::element c : calls) {
          dom::object call, function;
          if (c.get_object().get(call) != simdjson::SUCCESS) continue;
          const int64_t index = IntField(call, "index", position++);
          const bool has_function = GetObject(call, "function", &function);
          int tool = tools_.Find(index);
          if (tool < 0) {
            tool = tools_.Add(index);
            std::string_view id = StringField(call, "id");
            const std::string fallback = id.empty() ? fmt::format("call_{}", tool) : std::string();
            if (id.empty()) id = fallback;
            enc.ToolStart(tool, id, has_function ? StringField(function, "name") : "", out);
          }
          if (has_function) enc.ToolArguments(tool, StringField(function, "arguments"), out);
        }
      }
    }
    const std::string_view finish = StringField(choice, "finish_reason");
    if (!finish.empty()) enc.Finish(FinishFromOpenAI(finish));
  }

  ToolNumbers tools_;
};

class AnthropicEventDecoder final : public StreamDecoder {
 public:
  explicit AnthropicEventDecoder(std::string json_tool_name)
      : json_tool_name_(std::move(json_tool_name)) {}

  DecodeResult Decode(std::string_view event, std::string_view data, const Usage& usage,
                      StreamEncoder& enc, std::string* out) override {
    dom::object o;
    if (!ParseEvent(data, &o)) return DecodeResult::kContinue;
    std::string_view type = StringField(o, "type");
    if (type.empty()) type = event;
    const int64_t index = IntField(o, "index", -1);
    if (type == "message_start") {
      dom::object message;
      enc.Start(GetObject(o, "message", &message) ? StringField(message, "id") : "", out);
    } else if (type == "content_block_start") {
      dom::object block;
      dom::element input;
      if (!GetObject(o, "content_block", &block)) return DecodeResult::kContinue;
      const std::string_view block_type = StringField(block, "type");
      if (block_type == "tool_use" && !json_tool_name_.empty() &&
          StringField(block, "name") == json_tool_name_) {
        json_open_ = true;
        json_block_ = index;
        json_text_ = false;
        answered_ = true;
        if (Lookup(block, "input", &input) && input.type() == dom::element_type::OBJECT &&
            input.get_object().value_unsafe().size() > 0) {
          arguments_.clear();
          JsonWriter w(&arguments_);
          WriteElement(w, input);
          JsonText(arguments_, enc, out);
        }
      } else if (block_type == "tool_use" || block_type == "server_tool_use") {
        const int tool = tools_.Add(index);
        enc.ToolStart(tool, StringField(block, "id"), StringField(block, "name"), out);
        if (Lookup(block, "input", &input) && input.type() == dom::element_type::OBJECT &&
            input.get_object().value_unsafe().size() > 0) {
          arguments_.clear();
          JsonWriter w(&arguments_);
          WriteElement(w, input);
          enc.ToolArguments(tool, arguments_, out);
        }
      }
    } else if (type == "content_block_delta") {
      dom::object delta;
      if (!GetObject(o, "delta", &delta)) return DecodeResult::kContinue;
      const std::string_view delta_type = StringField(delta, "type");
      if (delta_type == "text_delta") {
        enc.Text(StringField(delta, "text"), out);
      } else if (delta_type == "thinking_delta") {
        enc.Reasoning(StringField(delta, "thinking"), out);
      } else if (delta_type == "input_json_delta" && json_open_ && index == json_block_) {
        JsonText(StringField(delta, "partial_json"), enc, out);
      } else if (delta_type == "input_json_delta" && tools_.Find(index) >= 0) {
        enc.ToolArguments(tools_.Find(index), StringField(delta, "partial_json"), out);
      }
    } else if (type == "content_block_stop") {
      if (json_open_ && index == json_block_) {
        if (!json_text_) JsonText("{}", enc, out);
        json_open_ = false;
      } else if (tools_.Find(index) >= 0) {
        enc.ToolEnd(tools_.Find(index), out);
      }
    } else if (type == "message_delta") {
      dom::object delta;
      std::string_view stop;
      if (GetObject(o, "delta", &delta) && !(stop = StringField(delta, "stop_reason")).empty()) {
        FinishReason reason = FinishFromAnthropic(stop);
        if (reason == FinishReason::kToolCalls && answered_ && tools_.last() < 0) {
          reason = FinishReason::kStop;
        }
        enc.Finish(reason);
      }
    } else if (type == "message_stop") {
      enc.End(usage, out);
      return DecodeResult::kEnd;
    } else if (type == "ping") {
      enc.KeepAlive(out);
    } else if (type == "error") {
      std::string_view error_type = "api_error", message;
      dom::element error;
      if (Lookup(o, "error", &error)) ErrorOf(error, &error_type, &message);
      enc.Error(error_type.empty() ? "api_error" : error_type, message, out);
      return DecodeResult::kError;
    }
    return DecodeResult::kContinue;
  }

 private:
  void JsonText(std::string_view text, StreamEncoder& enc, std::string* out) {
    if (text.empty()) return;
    json_text_ = true;
    enc.Text(text, out);
  }

  ToolNumbers tools_;  // keyed by content block index
  std::string arguments_;
  std::string json_tool_name_;  // "" when response_format is not emulated
  bool json_open_ = false;      // the answer tool's block is open
  int64_t json_block_ = -1;     // its content block index
  bool json_text_ = false;      // it produced text
  bool answered_ = false;       // the answer tool was called
};

class CohereEventDecoder final : public StreamDecoder {
 public:
  DecodeResult Decode(std::string_view event, std::string_view data, const Usage& usage,
                      StreamEncoder& enc, std::string* out) override {
    if (data == "[DONE]") {
      enc.End(usage, out);
      return DecodeResult::kEnd;
    }
    dom::object o;
    if (!ParseEvent(data, &o)) return DecodeResult::kContinue;
    std::string_view type = StringField(o, "type");
    if (type.empty()) type = event;
    const int64_t index = IntField(o, "index", -1);
    dom::object delta, message, content, call, function;
    const bool has_message = GetObject(o, "delta", &delta) && GetObject(delta, "message", &message);
    if (type == "message-start") {
      enc.Start(StringField(o, "id"), out);
    } else if (type == "content-delta" && has_message && GetObject(message, "content", &content)) {
      enc.Text(StringField(content, "text"), out);
      enc.Reasoning(StringField(content, "thinking"), out);
    } else if (type == "tool-plan-delta" && has_message) {
      enc.Reasoning(StringField(message, "tool_plan"), out);
    } else if (type == "tool-call-start" && has_message &&
               GetObject(message, "tool_calls", &call)) {
      const int tool = tools_.Add(index);
      const bool has_function = GetObject(call, "function", &function);
      enc.ToolStart(tool, StringField(call, "id"),
                    has_function ? StringField(function, "name") : "", out);
      if (has_function) enc.ToolArguments(tool, StringField(function, "arguments"), out);
    } else if (type == "tool-call-delta" && has_message &&
               GetObject(message, "tool_calls", &call) && GetObject(call, "function", &function)) {
      const int tool = tools_.Find(index) >= 0 ? tools_.Find(index) : tools_.last();
      if (tool >= 0) enc.ToolArguments(tool, StringField(function, "arguments"), out);
    } else if (type == "tool-call-end") {
      const int tool = tools_.Find(index) >= 0 ? tools_.Find(index) : tools_.last();
      if (tool >= 0) enc.ToolEnd(tool, out);
    } else if (type == "message-end") {
      dom::object end;
      std::string_view error;
      if (GetObject(o, "delta", &end)) {
        error = StringField(end, "error");
        enc.Finish(FinishFromCohere(StringField(end, "finish_reason")));
      }
      if (!error.empty()) {
        enc.Error("api_error", error, out);
        return DecodeResult::kError;
      }
      enc.End(usage, out);
      return DecodeResult::kEnd;
    }
    return DecodeResult::kContinue;
  }

 private:
  ToolNumbers tools_;  // keyed by content index
};

}  // namespace

std::unique_ptr<StreamDecoder> NewOpenAIChunkDecoder() {
  return std::make_unique<OpenAIChunkDecoder>();
}
std::unique_ptr<StreamDecoder> NewAnthropicEventDecoder(std::string json_tool_name) {
  return std::make_unique<AnthropicEventDecoder>(std::move(json_tool_name));
}
std::unique_ptr<StreamDecoder> NewCohereEventDecoder() {
  return std::make_unique<CohereEventDecoder>();
}

}  // namespace inferencegw::internal
