"""Route selection, rule matching, weighted splits, sticky experiments, models and KServe paths."""

from __future__ import annotations

import json

import pytest

import harness
from harness import backend, kserve_backend, route


@pytest.fixture
def routed(env):
    """Two mocks; six backends on them; a default route with rules and two model routes."""
    alpha = env.mock("alpha")
    beta = env.mock("beta")
    objects = [
        backend("plain", f"{alpha.url}/v1"),
        backend("premium", f"{beta.url}/v1"),
        backend("embedder", f"{beta.url}/v1"),
        backend("big", f"{beta.url}/v1"),
        backend("claude-any", f"{alpha.url}/v1"),
        backend("claude-exact", f"{beta.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "plain"}, rules=[
            {"match": {"headers": {"x-user-tier": "premium"}}, "backends": [{"name": "premium"}]},
            {"match": {"pathPrefix": "/v1/embeddings"}, "backends": [{"name": "embedder"}]},
            {"match": {"modelPattern": "big-*"}, "backends": [{"name": "big"}]},
        ]),
        route("claude-glob", models=["claude-*"], defaultBackend={"name": "claude-any"}),
        route("claude-special", models=["claude-special"],
              defaultBackend={"name": "claude-exact"}),
    ]
    return env.proxy(objects), alpha, beta


def served_by(resp: harness.Response) -> str:
    assert resp.status == 200, resp.text
    return resp.headers["x-inferencegw-backend"]


# Header, path-prefix and model-glob rules pick their backends; no match uses the default backend.
def test_rule_matching(routed):
    proxy, alpha, beta = routed
    plain = proxy.chat("small-model")
    assert served_by(plain) == "default/plain"
    assert plain.headers["x-inferencegw-route"] == "default/chat"
    assert plain.json()["choices"][0]["message"]["content"] == "Hello from alpha 1 2 3 4"

    premium = proxy.chat("small-model", headers={"x-user-tier": "premium"})
    assert served_by(premium) == "default/premium"
    assert premium.json()["choices"][0]["message"]["content"].startswith("Hello from beta")
    # Header values match exactly and case-sensitively.
    assert served_by(proxy.chat("small-model", headers={"x-user-tier": "Premium"})) == \
        "default/plain"

    embeddings = proxy.post("/v1/embeddings", {"model": "small-model", "input": "hello"})
    assert served_by(embeddings) == "default/embedder"
    assert beta.last_request()["path"] == "/v1/embeddings"

    assert served_by(proxy.chat("big-model")) == "default/big"
    assert served_by(proxy.chat("bigmodel")) == "default/plain"  # the glob needs the "-"
    # The first matching rule wins: the header rule comes before the model rule.
    assert served_by(proxy.chat("big-model", headers={"x-user-tier": "premium"})) == \
        "default/premium"


# Routes are chosen by model (exact name before the longest glob), by the route header, or default.
def test_route_selection(routed):
    proxy, _, _ = routed
    glob = proxy.chat("claude-3-opus")
    assert glob.headers["x-inferencegw-route"] == "default/claude-glob"
    assert served_by(glob) == "default/claude-any"

    exact = proxy.chat("claude-special")
    assert exact.headers["x-inferencegw-route"] == "default/claude-special"
    assert served_by(exact) == "default/claude-exact"

    # Unclaimed models go to the default route.
    assert proxy.chat("llama").headers["x-inferencegw-route"] == "default/chat"

    # The route header overrides model selection, by bare name or namespace/name.
    named = proxy.chat("llama", headers={"x-inferencegw-route": "claude-special"})
    assert named.headers["x-inferencegw-route"] == "default/claude-special"
    assert served_by(named) == "default/claude-exact"
    qualified = proxy.chat("claude-special", headers={"X-InferenceGW-Route": "default/chat"})
    assert qualified.headers["x-inferencegw-route"] == "default/chat"

    unknown = proxy.chat("llama", headers={"x-inferencegw-route": "nope"})
    assert unknown.status == 404
    error = unknown.json()["error"]
    assert error["code"] == "route_not_found"
    assert "nope" in error["message"]


# Without a default route, a model no route claims is a 404 with an OpenAI error (Anthropic's
# shape on /v1/messages); a route with no matching rule and no default backend is a 404 too.
def test_unknown_model_and_no_backend(env):
    alpha = env.mock("alpha")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("one", models=["m1"], defaultBackend={"name": "a"}),
        route("two", models=["m2"],
              rules=[{"match": {"headers": {"x-team": "red"}}, "backends": [{"name": "a"}]}]),
    ])
    assert proxy.chat("m1").status == 200
    resp = proxy.chat("nobody-serves-this")
    assert resp.status == 404
    assert resp.headers["content-type"] == "application/json"
    error = resp.json()["error"]
    assert error["code"] == "model_not_found"
    assert isinstance(error["type"], str) and error["param"] is None
    assert "nobody-serves-this" in error["message"]
    assert set(error) == {"message", "type", "param", "code"}

    messages = proxy.post("/v1/messages", {"model": "nobody", "max_tokens": 10,
                                           "messages": [{"role": "user", "content": "Hi"}]})
    assert messages.status == 404
    body = messages.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "not_found_error"

    assert proxy.chat("m2", headers={"x-team": "red"}).status == 200
    no_rule = proxy.chat("m2", headers={"x-team": "blue"})
    assert no_rule.status == 404
    assert no_rule.json()["error"]["code"] == "no_backend"
    assert alpha.inference_requests() == 2


# 1000 requests without a user key split over a 75/25 rule close to its weights.
def test_weighted_split(env):
    alpha = env.mock("alpha")
    beta = env.mock("beta")
    proxy = env.proxy([
        backend("heavy", f"{alpha.url}/v1"),
        backend("light", f"{beta.url}/v1"),
        route("split", default=True, rules=[
            {"match": {}, "backends": [{"name": "heavy", "weight": 75},
                                       {"name": "light", "weight": 25}]}]),
    ])
    client = harness.Client(proxy.port)
    counts = {"default/heavy": 0, "default/light": 0}
    for _ in range(1000):
        resp = client.post("/v1/chat/completions", harness.chat_body("m"))
        counts[served_by(resp)] += 1
    client.close()
    # Binomial(1000, 0.25) has a standard deviation near 14: 100 is about 7 of them.
    assert 650 <= counts["default/heavy"] <= 850, counts
    assert counts["default/heavy"] + counts["default/light"] == 1000
    assert alpha.inference_requests() == counts["default/heavy"]
    assert beta.inference_requests() == counts["default/light"]


EXPERIMENT = {"name": "new-model-test", "control": "control", "treatment": "treatment",
              "trafficPercent": 30}


def experiment_config(alpha, beta):
    return [
        backend("control", f"{alpha.url}/v1"),
        backend("treatment", f"{beta.url}/v1"),
        route("ab", default=True, defaultBackend={"name": "control"},
              experiments=[EXPERIMENT], rateLimit={"userHeader": "x-customer"}),
    ]


def users_by_arm(count: int = 40) -> dict[str, list[str]]:
    arms = {"treatment": [], "control": []}
    for i in range(count):
        user = f"user-{i}"
        arm = "treatment" if harness.is_treatment(EXPERIMENT["name"], user, 30) else "control"
        arms[arm].append(user)
    assert arms["treatment"] and arms["control"]
    return arms


# The documented hash reproduces the pinned values of docs/routing.md.
def test_stable_hash_matches_docs():
    assert harness.stable_hash64("alice") == 0x3507D047A67C08F4
    assert harness.experiment_bucket("claude-3-5-test", "alice") == 5694


# Users land in the arm the documented hash gives them (the route's userHeader), on every request
# and after a restart; responses name the experiment and arm; /admin/experiments counts them.
def test_sticky_experiment_across_restart(env):
    alpha = env.mock("alpha")
    beta = env.mock("beta")
    config = env.write_config(experiment_config(alpha, beta))
    arms = users_by_arm()
    expected_backend = {"treatment": "default/treatment", "control": "default/control"}

    def check(proxy):
        client = harness.Client(proxy.port)
        for arm, users in arms.items():
            for user in users:
                for _ in range(2):
                    resp = client.post("/v1/chat/completions", harness.chat_body("m"),
                                       {"x-customer": user})
                    assert served_by(resp) == expected_backend[arm], user
                    assert resp.headers["x-inferencegw-experiment"] == "new-model-test"
                    assert resp.headers["x-inferencegw-variant"] == arm
        client.close()

    first = env.proxy(config)
    check(first)
    rows = {row["arm"]: row for row in first.admin_json("/admin/experiments")["experiments"]}
    for arm, users in arms.items():
        assert rows[arm]["experiment"] == "new-model-test"
        assert rows[arm]["route"] == "default/ab"
        assert rows[arm]["requests"] == 2 * len(users)
        assert rows[arm]["errors"] == 0
    # One comparison on the experiment's configured metric, over the same counts.
    [comparison] = first.admin_json("/admin/experiments")["comparisons"]
    assert comparison["route"] == "default/ab"
    assert comparison["experiment"] == "new-model-test"
    assert (comparison["metric"], comparison["test"]) == ("latency_p95", "bootstrap")
    for arm, users in arms.items():
        assert comparison[arm]["requests"] == 2 * len(users)
    assert comparison["verdict"] in ("treatment_better", "control_better",
                                     "no_significant_difference", "insufficient_data")
    assert first.stop() == 0

    second = env.proxy(config)
    check(second)
    assert alpha.inference_requests() == 2 * 2 * len(arms["control"])
    assert beta.inference_requests() == 2 * 2 * len(arms["treatment"])


# GET /v1/models lists the models the routes claim and the backends' own models.
def test_models_list(env):
    alpha = env.mock("alpha")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1", model="served-a"),
        route("r1", models=["gpt-4o", "claude-*"], defaultBackend={"name": "a"}),
        route("r2", models=["llama-3"], defaultBackend={"name": "a"}),
    ])
    resp = proxy.get("/v1/models")
    assert resp.status == 200
    body = resp.json()
    assert body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids == sorted(["gpt-4o", "llama-3", "served-a"])
    assert all(m["object"] == "model" for m in body["data"])


# KServe v1 and v2 inference paths are routed by the model in the path and passed through to a
# kserve backend untouched; the backend's request price is charged.
def test_kserve_passthrough(env):
    kserve = env.mock("kserve")
    other = env.mock("other")
    proxy = env.proxy([
        kserve_backend("iris", kserve.url, cost={"requestCost": "0.0001"}),
        backend("chat", f"{other.url}/v1"),
        route("sklearn", models=["sklearn-iris"], defaultBackend={"name": "iris"}),
        route("chat", default=True, defaultBackend={"name": "chat"}),
    ])
    v1_body = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}
    v1 = proxy.post("/v1/models/sklearn-iris:predict", v1_body)
    assert v1.status == 200, v1.text
    assert v1.headers["x-inferencegw-route"] == "default/sklearn"
    assert v1.headers["x-inferencegw-backend"] == "default/iris"
    assert v1.headers["x-inferencegw-cost"] == "0.000100000"
    assert len(v1.json()["predictions"]) == 2
    last = kserve.last_request()
    assert last["path"] == "/v1/models/sklearn-iris:predict"
    assert json.loads(last["body"]) == v1_body

    v2_body = {"id": "req-7", "inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32",
                                          "data": [6.8, 2.8, 4.8, 1.4]}]}
    v2 = proxy.post("/v2/models/sklearn-iris/infer", v2_body)
    assert v2.status == 200, v2.text
    assert v2.json()["model_name"] == "sklearn-iris"
    assert v2.json()["id"] == "req-7"
    assert kserve.last_request()["path"] == "/v2/models/sklearn-iris/infer"
    assert json.loads(kserve.last_request()["body"]) == v2_body
    versioned = proxy.post("/v2/models/sklearn-iris/versions/3/infer", v2_body)
    assert versioned.status == 200, versioned.text
    assert kserve.last_request()["path"] == "/v2/models/sklearn-iris/versions/3/infer"
    # A model only the default route (an external provider) would serve: refused in KServe's
    # error shape, and nothing is sent to the provider.
    before = other.stats()["requests"]
    refused = proxy.post("/v2/models/unknown-model/infer", v2_body)
    assert refused.status == 400
    assert "default/chat" in refused.json()["error"]
    assert other.stats()["requests"] == before
    assert other.inference_requests() == 0

    # KServe's OpenAI routes: a chat request to a kserve backend goes to {url}/openai/v1/...
    chat = proxy.chat("sklearn-iris")
    assert chat.status == 200
    assert kserve.last_request()["path"] == "/openai/v1/chat/completions"
