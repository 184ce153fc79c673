// What several fuzz targets share: every client API and upstream wire format (a mode byte picks
// among them), and a check that a text is one JSON document.
#ifndef INFERENCEGW_TESTS_FUZZ_FUZZ_COMMON_H_
#define INFERENCEGW_TESTS_FUZZ_FUZZ_COMMON_H_

#include <simdjson.h>

#include <string_view>

#include "inferencegw/translate.h"

namespace inferencegw::fuzz {

inline constexpr ClientApi kApis[] = {ClientApi::kChatCompletions, ClientApi::kCompletions,
                                      ClientApi::kEmbeddings,      ClientApi::kMessages,
                                      ClientApi::kKServeV1,        ClientApi::kKServeV2,
                                      ClientApi::kResponses};
inline constexpr WireFormat kFormats[] = {WireFormat::kOpenAI, WireFormat::kAnthropic,
                                          WireFormat::kCohere, WireFormat::kKServe};

inline bool IsJson(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  return parser.parse(simdjson::padded_string(text)).get(root) == simdjson::SUCCESS;
}

}  // namespace inferencegw::fuzz

#endif  // INFERENCEGW_TESTS_FUZZ_FUZZ_COMMON_H_
