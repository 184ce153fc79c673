#include "inferencegw/usage_parser.h"

#include <catch2/catch.hpp>
#include <string>
#include <tuple>

namespace inferencegw {

bool operator==(const Usage& a, const Usage& b) {
  return std::tie(a.input_tokens, a.output_tokens, a.cached_input_tokens,
                  a.cache_write_input_tokens, a.reasoning_tokens,
                  a.present) == std::tie(b.input_tokens, b.output_tokens, b.cached_input_tokens,
                                         b.cache_write_input_tokens, b.reasoning_tokens, b.present);
}

std::ostream& operator<<(std::ostream& os, const Usage& u) {
  return os << "{in=" << u.input_tokens << " out=" << u.output_tokens
            << " cached=" << u.cached_input_tokens << " cache_write=" << u.cache_write_input_tokens
            << " reasoning=" << u.reasoning_tokens << " present=" << u.present << "}";
}

namespace {

Usage MakeUsage(int64_t in, int64_t out, int64_t cached = 0, int64_t cache_write = 0,
                int64_t reasoning = 0) {
  Usage u;
  u.input_tokens = in;
  u.output_tokens = out;
  u.cached_input_tokens = cached;
  u.cache_write_input_tokens = cache_write;
  u.reasoning_tokens = reasoning;
  u.present = true;
  return u;
}

Usage Parse(WireFormat format, std::string_view body) {
  absl::StatusOr<Usage> u = ParseUsage(format, body);
  REQUIRE(u.ok());
  return *u;
}

// Usage of a stream fed as the pieces [0, cut) and [cut, end), then Finish().
Usage StreamUsage(WireFormat format, std::string_view stream, size_t cut) {
  StreamUsageParser parser(format);
  parser.Feed(stream.substr(0, cut));
  parser.Feed(stream.substr(cut));
  parser.Finish();
  return parser.usage();
}

// Checks that `stream` yields `want` however it is cut in two, and fed one byte at a time.
void CheckEverySplit(WireFormat format, std::string_view stream, const Usage& want) {
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    INFO("cut at " << cut);
    REQUIRE(StreamUsage(format, stream, cut) == want);
  }
  StreamUsageParser bytewise(format);
  for (char c : stream) bytewise.Feed(std::string_view(&c, 1));
  bytewise.Finish();
  CHECK(bytewise.usage() == want);
}

// An OpenAI chat completion: prompt tokens include the cached and cache-write parts, which are
// read from prompt_tokens_details, and reasoning from completion_tokens_details.
TEST_CASE("ParseUsage reads OpenAI chat completions") {
  const std::string body =
      R"({"id":"chatcmpl-123","object":"chat.completion","created":1700000000,"model":"gpt-4o",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello","refusal":null},)"
      R"("logprobs":null,"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":1200,"completion_tokens":300,"total_tokens":1500,)"
      R"("prompt_tokens_details":{"cached_tokens":1024,"cache_write_tokens":100,"audio_tokens":0},)"
      R"("completion_tokens_details":{"reasoning_tokens":128,"audio_tokens":0}}})";
  CHECK(Parse(WireFormat::kOpenAI, body) == MakeUsage(1200, 300, 1024, 100, 128));
  // Details may be absent or null.
  CHECK(Parse(WireFormat::kOpenAI,
              R"({"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,)"
              R"("prompt_tokens_details":null}})") == MakeUsage(9, 12));
}

// Embeddings report prompt tokens only; output is 0 and usage is present.
TEST_CASE("ParseUsage reads OpenAI embeddings") {
  const std::string body =
      R"({"object":"list","model":"text-embedding-3-small","data":[{"object":"embedding",)"
      R"("index":0,"embedding":[0.0023,-0.0093]}],"usage":{"prompt_tokens":8,"total_tokens":8}})";
  CHECK(Parse(WireFormat::kOpenAI, body) == MakeUsage(8, 0));
}

// Anthropic's input_tokens excludes cache reads and writes: the input total adds them, cached is
// the cache read and cache-write the cache creation.
TEST_CASE("ParseUsage reads Anthropic messages with cache fields") {
  const std::string body =
      R"({"id":"msg_01X","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
      R"("content":[{"type":"text","text":"Hi"}],"stop_reason":"end_turn","stop_sequence":null,)"
      R"("usage":{"input_tokens":25,"output_tokens":40,"cache_creation_input_tokens":100,)"
      R"("cache_read_input_tokens":2000,"output_tokens_details":{"thinking_tokens":12}}})";
  CHECK(Parse(WireFormat::kAnthropic, body) == MakeUsage(2125, 40, 2000, 100, 12));
  CHECK(Parse(WireFormat::kAnthropic, R"({"usage":{"input_tokens":25,"output_tokens":40}})") ==
        MakeUsage(25, 40));
}

// Cohere v2 bills usage.billed_units (numbers may be floats), falls back to usage.tokens, and
// v1 bodies carry meta.billed_units.
TEST_CASE("ParseUsage reads Cohere v2 and v1 bodies") {
  CHECK(Parse(WireFormat::kCohere,
              R"({"id":"5a50","finish_reason":"COMPLETE","message":{"role":"assistant"},)"
              R"("usage":{"billed_units":{"input_tokens":10.0,"output_tokens":20},)"
              R"("tokens":{"input_tokens":12,"output_tokens":25},"cached_tokens":0}})") ==
        MakeUsage(10, 20));
  CHECK(Parse(WireFormat::kCohere,
              R"({"usage":{"tokens":{"input_tokens":12,"output_tokens":25}}})") ==
        MakeUsage(12, 25));
  CHECK(Parse(WireFormat::kCohere,
              R"({"text":"hi","meta":{"billed_units":{"input_tokens":7,"output_tokens":3}}})") ==
        MakeUsage(7, 3));
}

// Bodies without usage (or with usage: null) are not an error: present is false. KServe never
// reports usage.
TEST_CASE("ParseUsage without usage reports present=false") {
  CHECK_FALSE(Parse(WireFormat::kOpenAI, R"({"id":"x","choices":[]})").present);
  CHECK_FALSE(Parse(WireFormat::kOpenAI, R"({"id":"x","usage":null})").present);
  CHECK_FALSE(Parse(WireFormat::kOpenAI, "[1,2,3]").present);
  CHECK_FALSE(Parse(WireFormat::kAnthropic, R"({"type":"error","error":{}})").present);
  CHECK_FALSE(Parse(WireFormat::kCohere, R"({"usage":{"cached_tokens":0}})").present);
  CHECK_FALSE(Parse(WireFormat::kKServe, R"({"predictions":[[1,2]]})").present);
  CHECK_FALSE(Parse(WireFormat::kKServe, "not json either").present);
}

// A count above kMaxUsageTokens (10^9) makes the whole report unknown: present=false, every
// count 0, out_of_range set, never a count near INT64_MAX. Exactly 10^9 is still believed.
TEST_CASE("ParseUsage treats out-of-range counts as no usage") {
  for (std::string_view body : {
           R"({"usage":{"prompt_tokens":1000000000000000,"completion_tokens":5}})",
           R"({"usage":{"prompt_tokens":9223372036854775807,"completion_tokens":5}})",
           R"({"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":5}})",
           R"({"usage":{"prompt_tokens":5,"completion_tokens":1e300}})",
           R"({"usage":{"prompt_tokens":5,"completion_tokens":1000000001}})",
           R"({"usage":{"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":2000000000}}})",
       }) {
    INFO(body);
    const Usage u = Parse(WireFormat::kOpenAI, body);
    CHECK(u == Usage{});
    CHECK(u.out_of_range);
  }
  // Anthropic sums three parts: each near INT64_MAX must not overflow the sum.
  const Usage a = Parse(WireFormat::kAnthropic,
                        R"({"usage":{"input_tokens":9223372036854775807,)"
                        R"("cache_read_input_tokens":9223372036854775807,)"
                        R"("cache_creation_input_tokens":9223372036854775807,"output_tokens":1}})");
  CHECK(a == Usage{});
  CHECK(a.out_of_range);
  const Usage c = Parse(WireFormat::kCohere,
                        R"({"usage":{"billed_units":{"input_tokens":1e15,"output_tokens":2}}})");
  CHECK(c.out_of_range);
  const Usage edge =
      Parse(WireFormat::kOpenAI, R"({"usage":{"prompt_tokens":1000000000,"completion_tokens":0}})");
  CHECK(edge == MakeUsage(kMaxUsageTokens, 0));
  CHECK_FALSE(edge.out_of_range);
  CHECK(UsageInRange(edge));
  CHECK_FALSE(UsageInRange(MakeUsage(-1, 0)));
  CHECK_FALSE(UsageInRange(MakeUsage(0, kMaxUsageTokens + 1)));
}

// Once a stream reported out-of-range usage it stays unknown: a later (cumulative) event cannot
// bring back a partial report.
TEST_CASE("StreamUsageParser keeps out-of-range usage unknown") {
  const std::string stream =
      "data: {\"usage\":{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":1}}\n\n"
      "data: {\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":2}}\n\n"
      "data: [DONE]\n\n";
  StreamUsageParser parser(WireFormat::kOpenAI);
  parser.Feed(stream);
  parser.Finish();
  CHECK(parser.usage() == Usage{});
  CHECK(parser.usage().out_of_range);
}

// A body that is not JSON is InvalidArgument, and the message names the wire format.
TEST_CASE("ParseUsage rejects invalid JSON") {
  for (WireFormat f : {WireFormat::kOpenAI, WireFormat::kAnthropic, WireFormat::kCohere}) {
    for (std::string_view body :
         {std::string_view(""), std::string_view("not json"),
          std::string_view(R"({"usage":{"prompt_tokens":5})"), std::string_view(R"({"usage":})")}) {
      absl::StatusOr<Usage> u = ParseUsage(f, body);
      REQUIRE_FALSE(u.ok());
      CHECK(u.status().code() == absl::StatusCode::kInvalidArgument);
      CHECK(std::string(u.status().message()).find(std::string(WireFormatName(f))) !=
            std::string::npos);
    }
  }
}

// An OpenAI include_usage stream: usage only on the last chunk before [DONE], any split.
TEST_CASE("StreamUsageParser reads the OpenAI include_usage chunk at every split") {
  const std::string stream =
      "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
      "\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],"
      "\"usage\":null}\n\n"
      "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"the usage\"},"
      "\"finish_reason\":null}],\"usage\": null}\n\n"
      "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
      "\"usage\":null}\n\n"
      "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
      "\"total_tokens\":11,\"prompt_tokens_details\":{\"cached_tokens\":4},"
      "\"completion_tokens_details\":{\"reasoning_tokens\":1}}}\n\n"
      "data: [DONE]\n\n";
  CheckEverySplit(WireFormat::kOpenAI, stream, MakeUsage(9, 2, 4, 0, 1));
}

// vLLM continuous_usage_stats puts cumulative usage on every chunk: the last one wins, nothing
// is summed. CRLF line ends are read the same way.
TEST_CASE("StreamUsageParser assigns vLLM continuous usage at every split") {
  std::string stream;
  for (int i = 1; i <= 4; ++i) {
    stream +=
        "data: {\"id\":\"v\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t\"}}],"
        "\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":" +
        std::to_string(i) + ",\"total_tokens\":" + std::to_string(50 + i) + "}}\r\n\r\n";
  }
  stream += "data: [DONE]\r\n\r\n";
  CheckEverySplit(WireFormat::kOpenAI, stream, MakeUsage(50, 4));
}

// Anthropic: message_start sets the input counts; message_delta counts are cumulative and
// assigned; a later message_delta without input fields keeps them (no reset to 0, no sum).
TEST_CASE("StreamUsageParser follows Anthropic message_start and message_deltas") {
  const std::string stream =
      "event: message_start\n"
      "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
      "\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"stop_reason\":null,"
      "\"usage\":{\"input_tokens\":25,\"output_tokens\":1,\"cache_creation_input_tokens\":10,"
      "\"cache_read_input_tokens\":100}}}\n\n"
      "event: content_block_start\n"
      "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
      "\"text\":\"\"}}\n\n"
      "event: ping\n"
      "data: {\"type\": \"ping\"}\n\n"
      "event: content_block_delta\n"
      "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
      "\"text\":\"usage: fine\"}}\n\n"
      "event: content_block_stop\n"
      "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
      "event: message_delta\n"
      "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":null},\"usage\":{"
      "\"input_tokens\":30,\"cache_read_input_tokens\":120,\"output_tokens\":20}}\n\n"
      "event: message_delta\n"
      "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
      "\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n\n"
      "event: message_stop\n"
      "data: {\"type\":\"message_stop\"}\n\n";
  // 30 uncached + 120 cache read + 10 cache creation (from message_start).
  CheckEverySplit(WireFormat::kAnthropic, stream, MakeUsage(160, 42, 120, 10));
}

// Cohere v2 streams report usage in message-end's delta.usage.billed_units; a final [DONE] is
// tolerated.
TEST_CASE("StreamUsageParser reads Cohere message-end at every split") {
  const std::string stream =
      "event: message-start\n"
      "data: {\"id\":\"run_1\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":"
      "\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[]}}}\n\n"
      "event: content-delta\n"
      "data: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{"
      "\"text\":\"Hello\"}}}}\n\n"
      "event: message-end\n"
      "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\",\"usage\":{"
      "\"billed_units\":{\"input_tokens\":10,\"output_tokens\":20},\"tokens\":{"
      "\"input_tokens\":12,\"output_tokens\":25}}}}\n\n"
      "data: [DONE]\n\n";
  CheckEverySplit(WireFormat::kCohere, stream, MakeUsage(10, 20));
}

// A stream cut before its usage chunk (or one without include_usage) reports present=false.
TEST_CASE("StreamUsageParser without a usage chunk reports present=false") {
  const std::string stream =
      "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}],"
      "\"usage\":null}\n\n"
      "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}"
      "\n\n";
  const size_t usage_chunk = stream.find("data: {\"id\":\"c1\",\"choices\":[],");
  for (size_t cut = 0; cut < usage_chunk; ++cut) {
    StreamUsageParser parser(WireFormat::kOpenAI);
    parser.Feed(std::string_view(stream).substr(0, cut));
    parser.Finish();
    REQUIRE_FALSE(parser.usage().present);
  }
  // Cut in the middle of the usage chunk: Finish sees truncated JSON and ignores it.
  StreamUsageParser parser(WireFormat::kOpenAI);
  parser.Feed(std::string_view(stream).substr(0, usage_chunk + 40));
  parser.Finish();
  CHECK_FALSE(parser.usage().present);
}

// ApplyStreamEventUsage: false for data that is not JSON, true (and unchanged) for [DONE] and
// events without usage.
TEST_CASE("ApplyStreamEventUsage reports non-JSON data") {
  Usage u = MakeUsage(1, 2);
  CHECK_FALSE(ApplyStreamEventUsage(WireFormat::kOpenAI, "", "{not json", &u));
  CHECK(ApplyStreamEventUsage(WireFormat::kOpenAI, "", "[DONE]", &u));
  CHECK(ApplyStreamEventUsage(WireFormat::kAnthropic, "ping", R"({"type":"ping"})", &u));
  CHECK(u == MakeUsage(1, 2));
  CHECK(ApplyStreamEventUsage(WireFormat::kOpenAI, "", R"({"usage":{"prompt_tokens":3}})", &u));
  CHECK(u == MakeUsage(3, 0));
  // Anthropic fields that are null count as absent: nothing is reset.
  Usage a = MakeUsage(130, 20, 100, 0);
  CHECK(ApplyStreamEventUsage(WireFormat::kAnthropic, "message_delta",
                              R"({"type":"message_delta","usage":{"output_tokens":42,)"
                              R"("input_tokens":null,"cache_read_input_tokens":null}})",
                              &a));
  CHECK(a == MakeUsage(130, 42, 100, 0));
}

// The names used in messages and logs.
TEST_CASE("WireFormatName names every format") {
  CHECK(WireFormatName(WireFormat::kOpenAI) == "openai");
  CHECK(WireFormatName(WireFormat::kAnthropic) == "anthropic");
  CHECK(WireFormatName(WireFormat::kCohere) == "cohere");
  CHECK(WireFormatName(WireFormat::kKServe) == "kserve");
}

}  // namespace
}  // namespace inferencegw
