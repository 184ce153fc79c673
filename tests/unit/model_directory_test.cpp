// Tests for the models endpoints and KServe metadata decisions (model_directory.h): where each
// listed model goes, both answer shapes, 404s, and which GET paths are forwarded.
#include "inferencegw/model_directory.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "inferencegw/config_loader.h"
#include "inferencegw/health_tracker.h"
#include "translate_test_util.h"

namespace inferencegw {
namespace {

using igw_test::Json;

// An OpenAI backend with a model rewrite, an Anthropic one, a kserve and a kubernetes backend;
// routes claim models exactly and by glob. No default route.
constexpr std::string_view kConfig = R"(
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: gpt}
spec:
  type: external
  external: {url: "http://127.0.0.1:1/v1", provider: openai, model: served-vllm}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: claude}
spec:
  type: external
  external: {url: "http://127.0.0.1:2/v1", provider: anthropic}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: iris}
spec:
  type: kserve
  kserve: {serviceName: iris, url: "http://127.0.0.1:3"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: pods}
spec:
  type: kubernetes
  kubernetes: {serviceName: pods, url: "http://127.0.0.1:4"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: gpt}
spec:
  models: [gpt-4]
  defaultBackend: {name: gpt}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: claude}
spec:
  models: [claude-smart, "claude-3-*"]
  defaultBackend: {name: claude}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: kserve}
spec:
  models: [sklearn-iris]
  defaultBackend: {name: iris}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: pods}
spec:
  models: [pod-model]
  defaultBackend: {name: pods}
)";

struct Fixture {
  Fixture() {
    absl::StatusOr<ConfigSet> config = LoadConfigFromString(kConfig);
    INFO(config.status().ToString());
    REQUIRE(config.ok());
    absl::StatusOr<std::shared_ptr<const RouteTable>> created = RouteTable::Create(*config, health);
    INFO(created.status().ToString());
    REQUIRE(created.ok());
    table = *created;
  }
  HealthTracker health;
  std::shared_ptr<const RouteTable> table;
};

ModelGet Get(const Fixture& f, std::string_view path, ModelsShape shape = ModelsShape::kOpenAI) {
  return ResolveModelGet(*f.table, path, shape, /*created_unix_seconds=*/1700000000, /*now=*/0);
}

// RouteOfModel names the route, the backend and the model the backend is asked for.
TEST_CASE("RouteOfModel follows the route to its backend model", "[model_directory]") {
  Fixture f;
  std::optional<ModelRouting> gpt = RouteOfModel(*f.table, "gpt-4");
  REQUIRE(gpt.has_value());
  CHECK(gpt->route->key == "default/gpt");
  CHECK(gpt->backend->key == "default/gpt");
  CHECK(gpt->backend_model == "served-vllm");
  std::optional<ModelRouting> claude = RouteOfModel(*f.table, "claude-3-opus");
  REQUIRE(claude.has_value());
  CHECK(claude->backend->key == "default/claude");
  CHECK(claude->backend_model == "claude-3-opus");  // the backend keeps the client's model
  CHECK_FALSE(RouteOfModel(*f.table, "served-vllm").has_value());  // no route claims it
}

// Known models are the listed ones and names a route's glob claims; nothing else.
TEST_CASE("IsKnownModel", "[model_directory]") {
  Fixture f;
  CHECK(IsKnownModel(*f.table, "gpt-4"));
  CHECK(IsKnownModel(*f.table, "served-vllm"));
  CHECK(IsKnownModel(*f.table, "claude-3-haiku"));
  CHECK_FALSE(IsKnownModel(*f.table, "gpt-5"));
}

// The OpenAI list: every served model with the extension field (nulls when unrouted).
TEST_CASE("RenderModelsList in OpenAI's shape", "[model_directory]") {
  Fixture f;
  Json j(RenderModelsList(*f.table, ModelsShape::kOpenAI, 1700000000));
  CHECK(j.str("/object") == "list");
  CHECK(j.str("/data/0/id") == "claude-smart");
  CHECK(j.str("/data/1/id") == "gpt-4");
  CHECK(j.str("/data/1/object") == "model");
  CHECK(j.str("/data/1/owned_by") == "inferencegw");
  CHECK(j.str("/data/1/inferencegw/route") == "default/gpt");
  CHECK(j.str("/data/1/inferencegw/backend") == "default/gpt");
  CHECK(j.str("/data/1/inferencegw/backend_model") == "served-vllm");
  CHECK(j.str("/data/3/id") == "served-vllm");
  CHECK(j.at("/data/3/inferencegw/route").is_null());
  CHECK_FALSE(j.has("/has_more"));
}

// The Anthropic list: type/display_name/created_at entries, has_more, first_id and last_id.
TEST_CASE("RenderModelsList in Anthropic's shape", "[model_directory]") {
  Fixture f;
  Json j(RenderModelsList(*f.table, ModelsShape::kAnthropic, 1700000000));
  CHECK_FALSE(j.has("/object"));
  CHECK(j.str("/data/0/type") == "model");
  CHECK(j.str("/data/0/display_name") == "claude-smart");
  CHECK(j.str("/data/0/created_at") == "2023-11-14T22:13:20Z");
  CHECK(j.at("/has_more").get_bool().value() == false);
  CHECK(j.str("/first_id") == "claude-smart");
  CHECK(j.str("/last_id") == "sklearn-iris");
}

// /v1/models/{id}: the gateway's answer for known models, a 404 in the asked shape otherwise.
TEST_CASE("ResolveModelGet answers /v1/models/{id}", "[model_directory]") {
  Fixture f;
  ModelGet gpt = Get(f, "/v1/models/gpt-4");
  REQUIRE(gpt.kind == ModelGet::Kind::kAnswer);
  CHECK(gpt.status == 200);
  CHECK(Json(gpt.body).str("/id") == "gpt-4");
  CHECK(Json(gpt.body).at("/created").get_int64().value() == 1700000000);
  ModelGet missing = Get(f, "/v1/models/gpt-5");
  CHECK(missing.status == 404);
  CHECK(Json(missing.body).str("/error/code") == "model_not_found");
  ModelGet missing_anthropic = Get(f, "/v1/models/gpt-5", ModelsShape::kAnthropic);
  CHECK(missing_anthropic.status == 404);
  CHECK(Json(missing_anthropic.body).str("/error/type") == "not_found_error");
  CHECK(Get(f, "/v1/models").body == RenderModelsList(*f.table, ModelsShape::kOpenAI, 1700000000));
  CHECK(Get(f, "/v1/models/").kind == ModelGet::Kind::kAnswer);
}

// The /v1/models/{name} collision: a name routed to a kserve or kubernetes backend is KServe's
// v1 model status (forwarded), except for Anthropic clients, who get the gateway's model.
TEST_CASE("ResolveModelGet forwards the KServe v1 status path", "[model_directory]") {
  Fixture f;
  ModelGet iris = Get(f, "/v1/models/sklearn-iris");
  CHECK(iris.kind == ModelGet::Kind::kForward);
  CHECK(iris.model == "sklearn-iris");
  CHECK(Get(f, "/v1/models/pod-model").kind == ModelGet::Kind::kForward);
  ModelGet anthropic = Get(f, "/v1/models/sklearn-iris", ModelsShape::kAnthropic);
  CHECK(anthropic.kind == ModelGet::Kind::kAnswer);
  CHECK(Json(anthropic.body).str("/type") == "model");
}

// v2 metadata and readiness paths are forwarded for their model; malformed ones are not ours.
TEST_CASE("ResolveModelGet forwards KServe v2 metadata paths", "[model_directory]") {
  Fixture f;
  for (std::string_view path : {"/v2/models/m", "/v2/models/m/ready", "/v2/models/m/versions/3",
                                "/v2/models/m/versions/3/ready"}) {
    INFO(path);
    ModelGet get = Get(f, path);
    CHECK(get.kind == ModelGet::Kind::kForward);
    CHECK(get.model == "m");
  }
  for (std::string_view path :
       {"/v2/models/m/infer", "/v2/models/", "/v2/models/../ready", "/v2/models/m/versions/",
        "/v2/models/m/other/3", "/v1/models/a/b", "/v1/models/..", "/v2", "/v1/chat"}) {
    INFO(path);
    CHECK(Get(f, path).kind == ModelGet::Kind::kNotModelPath);
  }
}

// /v2/health/*: live always; ready while a backend is available, else 503.
TEST_CASE("ResolveModelGet answers the v2 health paths itself", "[model_directory]") {
  Fixture f;
  ModelGet live = Get(f, "/v2/health/live");
  CHECK(live.kind == ModelGet::Kind::kAnswer);
  CHECK(live.body == R"({"live":true})");
  ModelGet ready = Get(f, "/v2/health/ready");
  CHECK(ready.status == 200);
  CHECK(ready.body == R"({"ready":true})");
  for (const CompiledBackend& b : f.table->backends()) {
    for (int i = 0; i < 3; ++i) b.health->RecordProbe(false, 0);  // failureThreshold 3
  }
  ModelGet not_ready = Get(f, "/v2/health/ready");
  CHECK(not_ready.status == 503);
  CHECK(not_ready.body == R"({"ready":false})");
}

}  // namespace
}  // namespace inferencegw
