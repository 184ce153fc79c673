// Overriding fields of a loaded config, and loading several sources as one set.
#include "inferencegw/config_overrides.h"

#include <catch2/catch.hpp>
#include <string>

#include "inferencegw/config_loader.h"

namespace inferencegw {
namespace {

const std::string kDemo = std::string(IGW_EXAMPLES_DIR) + "/demo";

constexpr char kTwoBackends[] = R"(
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: a}
spec:
  type: external
  external: {url: "http://127.0.0.1:1/v1", provider: openai, model: small}
  cost: {inputTokenCost: "0.001", outputTokenCost: "0.002"}
  maxConcurrency: 4
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: b}
spec:
  type: external
  external: {url: "http://127.0.0.1:2/v1", provider: openai}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: r}
spec:
  default: true
  defaultBackend: {name: a}
  fallback: {backends: [a, b]}
  rateLimit: {requestsPerMinute: 60, perUser: true}
)";

ConfigSet Base() {
  absl::StatusOr<ConfigSet> config = LoadConfigFromString(kTwoBackends, "t.yaml");
  REQUIRE(config.ok());
  return *std::move(config);
}

ConfigOverride Backend(std::string name, std::optional<std::string> patch) {
  return {ConfigOverride::Kind::kBackend, name, std::move(patch),
          "<override backends." + name + ">"};
}

ConfigOverride RouteOverride(std::string name, std::optional<std::string> patch) {
  return {ConfigOverride::Kind::kRoute, name, std::move(patch), "<override routes." + name + ">"};
}

// The error text of applying `overrides` to Base() ("" when they apply).
std::string Error(const std::vector<ConfigOverride>& overrides) {
  absl::StatusOr<ConfigSet> changed = ApplyConfigOverrides(Base(), overrides);
  if (changed.ok()) return "";
  CHECK(changed.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(changed.status().message());
}

// Mappings merge key by key; other fields and objects keep their values and sources.
TEST_CASE("overrides merge into spec") {
  absl::StatusOr<ConfigSet> changed = ApplyConfigOverrides(
      Base(), {Backend("a", R"({"maxConcurrency": 20, "cost": {"inputTokenCost": "0.005"}})"),
               RouteOverride("default/r", R"({"rateLimit": {"requestsPerMinute": 6}})")});
  REQUIRE(changed.ok());
  const inferencegw::Backend& a = changed->backends[0];
  CHECK(a.spec.max_concurrency == 20);
  CHECK(a.spec.cost->input_token_cost == 5'000'000);
  CHECK(a.spec.cost->output_token_cost == 2'000'000);
  CHECK(a.spec.external->model == "small");
  CHECK(a.meta.source.file == "<override backends.a>");
  CHECK(changed->backends[1].meta.source.file == "t.yaml");
  CHECK(changed->routes[0].spec.rate_limit->requests_per_minute == 6);
  CHECK(changed->routes[0].spec.rate_limit->per_user);
}

// Null deletes a field (its default returns); lists are replaced whole; nullopt removes.
TEST_CASE("overrides delete, replace and remove") {
  absl::StatusOr<ConfigSet> changed = ApplyConfigOverrides(
      Base(), {Backend("a", R"({"maxConcurrency": null})"),
               RouteOverride("r", R"({"rateLimit": null, "fallback": {"backends": ["b"]}})")});
  REQUIRE(changed.ok());
  CHECK(changed->backends[0].spec.max_concurrency == 100);
  CHECK_FALSE(changed->routes[0].spec.rate_limit.has_value());
  CHECK(changed->routes[0].spec.fallback->backends == std::vector<std::string>{"b"});
  absl::StatusOr<ConfigSet> fewer = ApplyConfigOverrides(Base(), {Backend("b", std::nullopt)});
  CHECK_FALSE(fewer.ok());  // the route still names b
  CHECK(std::string(fewer.status().message()).find("t.yaml:") == 0);
}

// Bad values get the loader's messages with the override as the file; unknown names are named.
TEST_CASE("override errors") {
  CHECK(Error({Backend("a", R"({"maxConcurrency": 0})")}) ==
        "<override backends.a>: InferenceBackend default/a: spec.maxConcurrency: must be at "
        "least 1, got 0");
  CHECK(Error({Backend("nope", "{}")}) ==
        "<override backends.nope>: no InferenceBackend \"nope\" (there are: default/a, default/b)");
  CHECK(Error({Backend("aa", "{}")}) ==
        "<override backends.aa>: no InferenceBackend \"aa\"; did you mean \"a\"? (there are: "
        "default/a, default/b)");
  CHECK(Error({RouteOverride("r", R"({"fallback": {"backends": ["c"]}})")}) ==
        "<override routes.r>: InferenceRoute default/r: spec.fallback.backends[0]: unknown "
        "backend \"c\"");
  CHECK(Error({Backend("a", "[1, 2]")}) ==
        "<override backends.a>: the patch must be one mapping of spec fields");
  CHECK(Error({Backend("a", R"({"priority": "1"})")}).find("spec.priority: ") != std::string::npos);
}

// Several sources load as the files of one directory; a loaded set contributes its objects.
TEST_CASE("load several sources") {
  absl::StatusOr<ConfigSet> dir = LoadConfigFromPath(kDemo);
  REQUIRE(dir.ok());
  absl::StatusOr<ConfigSet> files = LoadConfigFromSources(
      {ConfigSource::Path(kDemo + "/backends.yaml"), ConfigSource::Path(kDemo + "/routes.yaml"),
       ConfigSource::Path(kDemo + "/secrets.yaml")});
  REQUIRE(files.ok());
  CHECK(RenderConfigJson(*files) == RenderConfigJson(*dir));
  const ConfigSet base = Base();
  absl::StatusOr<ConfigSet> twice =
      LoadConfigFromSources({ConfigSource::Loaded(base), ConfigSource::Text(kTwoBackends, "u")});
  REQUIRE_FALSE(twice.ok());
  INFO(twice.status().message());
  CHECK(std::string(twice.status().message())
            .find("u:4: InferenceBackend default/a: metadata.name: duplicate InferenceBackend "
                  "\"default/a\": first defined at t.yaml:4") == 0);
  CHECK(LoadConfigFromSources({ConfigSource::Path("/nonexistent")}).status().code() ==
        absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace inferencegw
