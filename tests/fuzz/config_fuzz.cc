// Fuzzes the config loader with YAML and JSON manifest text: ParseManifests, ValidateConfig,
// LoadConfigFromString, the route table compiled from a loaded set, both renderings, and
// ParsePrice. Checks: a loaded set renders to manifests that parse back and render the same
// (RenderManifests' contract), and RenderConfigJson is JSON.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fuzz_common.h"
#include "fuzz_input.h"
#include "inferencegw/config_loader.h"
#include "inferencegw/health_tracker.h"
#include "inferencegw/route_table.h"

namespace inferencegw::fuzz {
namespace {

void CheckRoundTrip(const ConfigSet& config) {
  const std::string manifests = RenderManifests(config);
  absl::StatusOr<ConfigSet> again = ParseManifests(manifests, "rendered.yaml");
  if (!again.ok()) {
    std::fprintf(stderr, "rendered manifests do not parse: %s\n--- rendered:\n%s\n",
                 std::string(again.status().message()).c_str(), manifests.c_str());
  }
  IGW_FUZZ_CHECK(again.ok());
  IGW_FUZZ_CHECK(RenderManifests(*again) == manifests);
  IGW_FUZZ_CHECK(IsJson(RenderConfigJson(config)));
}

}  // namespace
}  // namespace inferencegw::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inferencegw;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<ConfigSet> parsed = ParseManifests(text, "fuzz.yaml");
  if (parsed.ok()) {
    for (const ConfigIssue& issue : ValidateConfig(*parsed)) (void)issue.ToString();
    (void)RenderConfigJson(*parsed);
    (void)RenderManifests(*parsed);
  }
  absl::StatusOr<ConfigSet> loaded = LoadConfigFromString(text, "fuzz.yaml");
  if (loaded.ok()) {
    (void)ConfigWarnings(*loaded);
    fuzz::CheckRoundTrip(*loaded);
    HealthTracker health;
    (void)RouteTable::Create(*loaded, health);
  }

  // Prices: a short input is also read as a price, which must print back to the same value.
  if (size <= 32) {
    absl::StatusOr<PriceNanos> price = ParsePrice(text);
    if (price.ok()) {
      absl::StatusOr<PriceNanos> again = ParsePrice(FormatPrice(*price));
      IGW_FUZZ_CHECK(again.ok() && *again == *price);
    }
  }
  return 0;
}
