// BuildUpstreamBody: same-format requests are spliced (only the changed members are rewritten,
// everything else is copied as the client wrote it); cross-format requests go through the
// builders in translate_to_anthropic.cc, translate_from_anthropic.cc and translate_to_cohere.cc.
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "fmt/format.h"
#include "translate_internal.h"
#include "translate_responses_internal.h"

namespace inferencegw {
namespace {

using internal::JsonMember;
using internal::ScannedObject;

std::string_view ClientPath(ClientApi api) {
  switch (api) {
    case ClientApi::kChatCompletions:
      return "/v1/chat/completions";
    case ClientApi::kCompletions:
      return "/v1/completions";
    case ClientApi::kEmbeddings:
      return "/v1/embeddings";
    case ClientApi::kMessages:
      return "/v1/messages";
    case ClientApi::kResponses:
      return "/v1/responses";
    case ClientApi::kCountTokens:
      return "/v1/messages/count_tokens";
    default:
      return "this API";
  }
}

std::string_view UpstreamPath(ClientApi api, WireFormat upstream) {
  if (api == ClientApi::kCountTokens) return "/messages/count_tokens";
  if (upstream == WireFormat::kAnthropic) return "/messages";
  if (upstream == WireFormat::kCohere) return "/chat";
  switch (api) {
    case ClientApi::kCompletions:
      return "/completions";
    case ClientApi::kEmbeddings:
      return "/embeddings";
    case ClientApi::kResponses:
      return "/responses";
    default:
      return "/chat/completions";
  }
}

std::string JsonString(std::string_view s) {
  std::string out;
  internal::AppendJsonString(&out, s);
  return out;
}

// Replacements of byte ranges of the original text; ranges never overlap.
struct Edit {
  size_t begin;
  size_t end;
  std::string text;
};

class Splicer {
 public:
  Splicer(std::string_view body, const ScannedObject& object) : body_(body), object_(object) {}

  void Replace(size_t begin, size_t end, std::string text) {
    edits_.push_back({begin, end, std::move(text)});
  }
  // Adds a member before the closing brace.
  void Append(std::string_view key, std::string_view value_json) {
    if (!object_.members.empty() || appended_) insertion_.push_back(',');
    internal::AppendJsonString(&insertion_, key);
    insertion_.push_back(':');
    insertion_.append(value_json);
    appended_ = true;
  }
  // Removes the members flagged in `remove`, with their separators.
  void Remove(const std::vector<bool>& remove) {
    const auto& m = object_.members;
    for (size_t a = 0; a < m.size();) {
      if (!remove[a]) {
        ++a;
        continue;
      }
      size_t b = a;
      while (b + 1 < m.size() && remove[b + 1]) ++b;
      if (a > 0) {
        Replace(m[a - 1].value_end, m[b].value_end, "");
      } else if (b + 1 < m.size()) {
        Replace(m[0].begin, m[b + 1].begin, "");
      } else {
        Replace(m[0].begin, m[b].value_end, "");
        removed_all_ = true;
      }
      a = b + 1;
    }
  }

  std::string Result() {
    if (appended_) {
      if (removed_all_ && insertion_.front() == ',') insertion_.erase(0, 1);
      edits_.push_back({object_.close, object_.close, std::move(insertion_)});
    }
    std::stable_sort(edits_.begin(), edits_.end(),
                     [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
    size_t extra = 0;
    for (const Edit& e : edits_) extra += e.text.size();
    std::string out;
    out.reserve(body_.size() + extra);
    size_t pos = 0;
    for (const Edit& e : edits_) {
      out.append(body_.substr(pos, e.begin - pos));
      out.append(e.text);
      pos = e.end;
    }
    out.append(body_.substr(pos));
    return out;
  }

 private:
  std::string_view body_;
  const ScannedObject& object_;
  std::vector<Edit> edits_;
  std::string insertion_;
  bool appended_ = false;
  bool removed_all_ = false;
};

// `stream_options` rebuilt with include_usage=true, keeping its other members as written.
absl::StatusOr<std::string> WithIncludeUsage(std::string_view body, const JsonMember& member) {
  if (body[member.value_begin] != '{') return std::string(R"({"include_usage":true})");
  ScannedObject options;
  if (absl::Status s = internal::ScanObject(body, member.value_begin, false, &options); !s.ok()) {
    return s;
  }
  std::string out = "{";
  for (const JsonMember& m : options.members) {
    if (m.key == "include_usage") continue;
    out.append(body.substr(m.begin, m.value_end - m.begin));
    out.push_back(',');
  }
  out.append(R"("include_usage":true})");
  return out;
}

absl::StatusOr<UpstreamRequestBody> SpliceSameFormat(ClientApi api, std::string_view body,
                                                     const RequestFacts& facts, WireFormat upstream,
                                                     const TranslateOptions& options) {
  ScannedObject object;
  if (absl::Status s = internal::ScanObject(body, 0, true, &object); !s.ok()) return s;
  Splicer splice(body, object);
  UpstreamRequestBody out;
  out.path = std::string(UpstreamPath(api, upstream));
  out.stream = facts.stream;

  const bool rewrite_model =
      !options.model_override.empty() && options.model_override != facts.model;
  const JsonMember* stream_options = nullptr;
  const JsonMember* max_tokens = nullptr;
  std::vector<size_t> stream_option_members;
  bool has_model = false;
  for (size_t i = 0; i < object.members.size(); ++i) {
    const JsonMember& m = object.members[i];
    if (m.key == "model") {
      has_model = true;
      if (rewrite_model) {
        splice.Replace(m.value_begin, m.value_end, JsonString(options.model_override));
      }
    } else if (m.key == "stream_options" && upstream == WireFormat::kOpenAI) {
      stream_option_members.push_back(i);
    } else if (m.key == "max_tokens") {
      max_tokens = &m;
    }
  }
  // stream_options: none for requests that are not streamed; otherwise the last one, if any.
  std::vector<bool> remove(object.members.size(), false);
  bool any_removed = false;
  for (size_t i : stream_option_members) {
    if (facts.stream && i == stream_option_members.back()) {
      stream_options = &object.members[i];
    } else {
      remove[i] = true;
      any_removed = true;
    }
  }
  if (!has_model && rewrite_model) splice.Append("model", JsonString(options.model_override));

  if (upstream == WireFormat::kOpenAI && facts.stream && options.request_stream_usage &&
      !facts.include_usage) {
    if (stream_options != nullptr) {
      absl::StatusOr<std::string> value = WithIncludeUsage(body, *stream_options);
      if (!value.ok()) return value.status();
      splice.Replace(stream_options->value_begin, stream_options->value_end, *std::move(value));
    } else {
      splice.Append("stream_options", R"({"include_usage":true})");
    }
    out.injected_usage = true;
  }
  if (upstream == WireFormat::kAnthropic && facts.max_tokens < 0 &&
      api != ClientApi::kCountTokens) {
    const std::string value = fmt::format("{}", options.default_max_tokens);
    if (max_tokens != nullptr) {
      splice.Replace(max_tokens->value_begin, max_tokens->value_end, value);
    } else {
      splice.Append("max_tokens", value);
    }
  }
  if (any_removed) splice.Remove(remove);
  out.body = splice.Result();
  return out;
}

// A Responses request: passed through to a backend that serves the API, else translated to a
// chat request that then goes to the backend's format as a client's chat request would.
absl::StatusOr<UpstreamRequestBody> BuildResponsesBody(std::string_view body,
                                                       const RequestFacts& facts,
                                                       WireFormat upstream,
                                                       const TranslateOptions& options) {
  if (upstream == WireFormat::kOpenAI && options.upstream_serves_responses) {
    absl::StatusOr<UpstreamRequestBody> out =
        SpliceSameFormat(ClientApi::kResponses, body, facts, upstream, options);
    if (out.ok()) out->upstream_responses = true;
    return out;
  }
  std::string chat_body;
  std::vector<std::string> dropped;
  {
    absl::StatusOr<internal::dom::object> request =
        internal::ParseObject(internal::DocumentParser(), body, "request body");
    if (!request.ok()) return request.status();
    if (absl::Status s = internal::ResponsesToChatRequest(*request, &chat_body, &dropped);
        !s.ok()) {
      return s;
    }
  }
  RequestFacts chat_facts = facts;
  chat_facts.include_usage = false;  // the Responses encoder needs the usage chunk: ask for it
  chat_facts.n = 1;
  absl::StatusOr<UpstreamRequestBody> out =
      BuildUpstreamBody(ClientApi::kChatCompletions, chat_body, chat_facts, upstream, options);
  if (!out.ok()) return out.status();
  // What the chat hop drops was written from the client's Responses parameters: name those.
  for (std::string& key : out->dropped_params) {
    if (key == "reasoning_effort") key = "reasoning";
    if (key == "response_format") key = "text.format";
    if (key == "max_tokens") key = "max_output_tokens";
  }
  out->dropped_params.insert(out->dropped_params.begin(), dropped.begin(), dropped.end());
  return out;
}

}  // namespace

absl::StatusOr<UpstreamRequestBody> BuildUpstreamBody(ClientApi api, std::string_view body,
                                                      const RequestFacts& facts,
                                                      WireFormat upstream,
                                                      const TranslateOptions& options) {
  internal::TrimParsersOnExit trim;
  const WireFormat client = ClientWireFormat(api);
  if (client == WireFormat::kKServe) {
    UpstreamRequestBody out;
    out.body = std::string(body);
    return out;
  }
  if (api == ClientApi::kResponses && upstream != WireFormat::kKServe) {
    return BuildResponsesBody(body, facts, upstream, options);
  }
  if (api == ClientApi::kCountTokens) {
    if (upstream != WireFormat::kAnthropic) {
      return absl::InvalidArgumentError(
          fmt::format("backend speaks {}; /v1/messages/count_tokens needs an Anthropic backend",
                      WireFormatName(upstream)));
    }
    return SpliceSameFormat(api, body, facts, upstream, options);
  }
  const bool chat_like = api == ClientApi::kChatCompletions || api == ClientApi::kMessages;
  if (upstream == WireFormat::kKServe || (!chat_like && upstream != WireFormat::kOpenAI)) {
    return absl::InvalidArgumentError(
        fmt::format("backend speaks {}; {} needs an OpenAI-compatible backend",
                    WireFormatName(upstream), ClientPath(api)));
  }
  if (client == upstream) return SpliceSameFormat(api, body, facts, upstream, options);

  if (facts.n > 1) {
    return absl::InvalidArgumentError(
        fmt::format("n > 1 is not supported by {} backends",
                    upstream == WireFormat::kAnthropic ? "Anthropic" : "Cohere"));
  }
  absl::StatusOr<internal::dom::object> request =
      internal::ParseObject(internal::DocumentParser(), body, "request body");
  if (!request.ok()) return request.status();

  UpstreamRequestBody out;
  out.path = std::string(UpstreamPath(api, upstream));
  out.stream = facts.stream;
  if (api == ClientApi::kChatCompletions && upstream == WireFormat::kAnthropic) {
    if (absl::Status s = internal::OpenAIChatToAnthropic(*request, facts, options, &out); !s.ok()) {
      return s;
    }
    return out;
  }
  if (api == ClientApi::kChatCompletions && upstream == WireFormat::kCohere) {
    if (absl::Status s = internal::OpenAIChatToCohere(*request, facts, options, &out); !s.ok()) {
      return s;
    }
    return out;
  }
  // Anthropic client: to the OpenAI form, then on to Cohere if needed.
  if (absl::Status s = internal::AnthropicToOpenAIChat(*request, facts, options,
                                                       upstream == WireFormat::kCohere, &out);
      !s.ok()) {
    return s;
  }
  if (upstream == WireFormat::kOpenAI) return out;
  UpstreamRequestBody openai = std::move(out);
  absl::StatusOr<internal::dom::object> intermediate =
      internal::ParseObject(internal::DocumentParser(), openai.body, "translated request");
  if (!intermediate.ok()) return intermediate.status();
  UpstreamRequestBody cohere;
  cohere.path = std::string(UpstreamPath(api, upstream));
  cohere.stream = facts.stream;
  if (absl::Status s = internal::OpenAIChatToCohere(*intermediate, facts, options, &cohere);
      !s.ok()) {
    return s;
  }
  // What the second hop drops was written by the first: name it as the client did.
  for (std::string& key : cohere.dropped_params) {
    if (key == "user") key = "metadata";                    // metadata.user_id
    if (key == "parallel_tool_calls") key = "tool_choice";  // tool_choice.disable_parallel_...
  }
  cohere.dropped_params.insert(cohere.dropped_params.begin(), openai.dropped_params.begin(),
                               openai.dropped_params.end());
  return cohere;
}

}  // namespace inferencegw
