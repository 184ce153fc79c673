"""Models endpoints, Anthropic count_tokens, and KServe metadata passthrough (docs/proxy.md)."""

from __future__ import annotations

import json

import pytest

from harness import backend, k8s_backend, kserve_backend, route, secret

ANTHROPIC_KEY = "sk-ant-upstream-count"
ANTHROPIC = {"anthropic-version": "2023-06-01"}


@pytest.fixture
def models_proxy(env):
    """Routes to an OpenAI backend, an Anthropic backend (with a model rewrite) and a kserve one."""
    openai = env.mock("openai")
    claude = env.mock("claude", "--require-api-key", ANTHROPIC_KEY)
    kserve = env.mock("kserve")
    proxy = env.proxy([
        secret("keys", {"anthropic": ANTHROPIC_KEY}),
        backend("gpt", f"{openai.url}/v1", model="served-gpt"),
        backend("smart", f"{claude.url}/v1", provider="anthropic", model="claude-served",
                key=("keys", "anthropic"),
                cost={"inputTokenCost": "1", "outputTokenCost": "1", "requestCost": "1"}),
        kserve_backend("iris", kserve.url),
        route("gpt", models=["gpt-4"], defaultBackend={"name": "gpt"}),
        route("claude", models=["claude-smart", "claude-3-*"], defaultBackend={"name": "smart"},
              rateLimit={"requestsPerMinute": 1}),
        route("iris", models=["sklearn-iris"], defaultBackend={"name": "iris"}),
    ])
    return proxy, openai, claude, kserve


# /v1/models names, per entry, the route, backend and backend model a plain request goes to.
def test_models_list_says_where_each_model_goes(models_proxy):
    proxy, *_ = models_proxy
    body = proxy.get("/v1/models").json()
    entries = {m["id"]: m for m in body["data"]}
    assert body["object"] == "list"
    assert sorted(entries) == ["claude-served", "claude-smart", "gpt-4", "served-gpt",
                               "sklearn-iris"]
    assert entries["gpt-4"]["inferencegw"] == {
        "route": "default/gpt", "backend": "default/gpt", "backend_model": "served-gpt"}
    assert entries["claude-smart"]["inferencegw"] == {
        "route": "default/claude", "backend": "default/smart", "backend_model": "claude-served"}
    assert entries["sklearn-iris"]["inferencegw"]["backend_model"] == "sklearn-iris"
    # A backend's own model name that no route claims: listed, and said to be unrouted.
    assert entries["served-gpt"]["inferencegw"] == {
        "route": None, "backend": None, "backend_model": None}
    # With anthropic-version: Anthropic's list shape.
    anthropic = proxy.get("/v1/models", headers=ANTHROPIC).json()
    assert anthropic["has_more"] is False
    assert anthropic["first_id"] == "claude-served" and anthropic["last_id"] == "sklearn-iris"
    assert all(m["type"] == "model" and m["created_at"].endswith("Z") for m in anthropic["data"])


# GET /v1/models/{id} answers a known model in OpenAI's or Anthropic's shape, 404 otherwise.
def test_model_retrieve_in_both_shapes(models_proxy):
    proxy, openai, claude, _ = models_proxy
    gpt = proxy.get("/v1/models/gpt-4")
    assert gpt.status == 200, gpt.text
    assert gpt.json()["object"] == "model" and gpt.json()["id"] == "gpt-4"
    assert gpt.json()["inferencegw"]["backend_model"] == "served-gpt"
    # A name a route's glob claims is known too.
    claude3 = proxy.get("/v1/models/claude-3-opus", headers=ANTHROPIC)
    assert claude3.status == 200, claude3.text
    assert claude3.json()["type"] == "model"
    assert claude3.json()["display_name"] == "claude-3-opus"
    assert claude3.json()["inferencegw"]["route"] == "default/claude"

    missing = proxy.get("/v1/models/no-such-model")
    assert missing.status == 404
    assert missing.json()["error"]["code"] == "model_not_found"
    missing = proxy.get("/v1/models/no-such-model", headers=ANTHROPIC)
    assert missing.status == 404
    assert missing.json()["type"] == "error"
    assert missing.json()["error"]["type"] == "not_found_error"
    # Answered by the gateway: no backend was asked.
    assert openai.inference_requests() == 0 and claude.inference_requests() == 0


# count_tokens goes to the Anthropic backend with its key and model; the mock's count comes back.
def test_count_tokens_forwarded_to_anthropic(models_proxy):
    proxy, _, claude, _ = models_proxy
    body = {"model": "claude-smart", "system": "Be brief.",
            "messages": [{"role": "user", "content": "How many tokens is this?"},
                         {"role": "assistant", "content": [{"type": "text", "text": "Two."}]}]}
    resp = proxy.post("/v1/messages/count_tokens", body,
                      headers={**ANTHROPIC, "x-api-key": "sk-client-own"})
    assert resp.status == 200, resp.text
    # The mock's rule: 2 + 5 + 1 words, 3 per message.
    assert resp.json() == {"input_tokens": 14}
    assert resp.headers["x-inferencegw-backend"] == "default/smart"
    assert "x-inferencegw-cost" not in resp.headers
    last = claude.last_request()
    assert last["path"] == "/v1/messages/count_tokens"
    assert last["headers"]["x-api-key"] == ANTHROPIC_KEY
    assert last["headers"]["anthropic-version"] == "2023-06-01"
    sent = json.loads(last["body"])
    assert sent["model"] == "claude-served"
    assert "max_tokens" not in sent and "stream" not in sent

    # Counting is not generating: the route's limit of 1 request a minute is still unused, and
    # nothing was charged.
    for _ in range(2):
        assert proxy.post("/v1/messages/count_tokens", body, headers=ANTHROPIC).status == 200
    costs = proxy.admin_json("/admin/costs")
    assert "default/smart" not in json.dumps(costs)
    message = proxy.post("/v1/messages", {**body, "max_tokens": 10}, headers=ANTHROPIC)
    assert message.status == 200, message.text
    assert proxy.post("/v1/messages", {**body, "max_tokens": 10}, headers=ANTHROPIC).status == 429


# count_tokens for a model on a non-Anthropic backend is a 404, never a made-up count; bad
# bodies are a 400; both in Anthropic's error shape.
def test_count_tokens_refusals(models_proxy):
    proxy, openai, claude, _ = models_proxy
    messages = [{"role": "user", "content": "hi"}]
    other = proxy.post("/v1/messages/count_tokens", {"model": "gpt-4", "messages": messages},
                       headers=ANTHROPIC)
    assert other.status == 404, other.text
    assert other.json()["type"] == "error"
    assert other.json()["error"]["type"] == "not_found_error"
    assert "default/gpt" in other.json()["error"]["message"]
    assert openai.inference_requests() == 0
    bad = proxy.post("/v1/messages/count_tokens", {"model": "claude-smart"}, headers=ANTHROPIC)
    assert bad.status == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    unknown = proxy.post("/v1/messages/count_tokens", {"model": "nope", "messages": messages})
    assert unknown.status == 404
    assert unknown.json()["error"]["type"] == "not_found_error"
    wrong_method = proxy.get("/v1/messages/count_tokens")
    assert wrong_method.status == 405
    assert wrong_method.json()["type"] == "error"
    assert claude.inference_requests() == 0


# KServe v2 metadata and readiness, and the v1 model status, are passed through to the kserve
# (or kubernetes) backend the model routes to; other names are not sent to external providers.
def test_kserve_metadata_passthrough(env):
    kserve = env.mock("kserve")
    vllm = env.mock("vllm")
    other = env.mock("other")
    proxy = env.proxy([
        kserve_backend("iris", kserve.url),
        k8s_backend("pods", vllm.url),
        backend("chat", f"{other.url}/v1"),
        route("iris", models=["sklearn-iris"], defaultBackend={"name": "iris"}),
        route("pods", models=["pod-model"], defaultBackend={"name": "pods"}),
        route("chat", models=["gpt-4"], default=True, defaultBackend={"name": "chat"}),
    ])
    meta = proxy.get("/v2/models/sklearn-iris")
    assert meta.status == 200, meta.text
    assert meta.json()["name"] == "sklearn-iris"
    assert meta.json()["inputs"][0]["name"] == "input0"
    assert meta.headers["x-inferencegw-backend"] == "default/iris"
    assert kserve.last_request()["method"] == "GET"
    assert kserve.last_request()["path"] == "/v2/models/sklearn-iris"
    for path in ("/v2/models/sklearn-iris/ready", "/v2/models/sklearn-iris/versions/2",
                 "/v2/models/sklearn-iris/versions/2/ready"):
        resp = proxy.get(path)
        assert resp.status == 200, (path, resp.text)
        assert kserve.last_request()["path"] == path
    assert proxy.get("/v2/models/sklearn-iris/ready").json() == {
        "name": "sklearn-iris", "ready": True}
    # KServe v1 model status: /v1/models/{name} of a model on a kserve backend.
    status = proxy.get("/v1/models/sklearn-iris")
    assert status.status == 200, status.text
    assert status.json()["ready"] is True
    assert kserve.last_request()["path"] == "/v1/models/sklearn-iris"
    # ...but an Anthropic client asking about it gets the gateway's model object.
    anthropic = proxy.get("/v1/models/sklearn-iris", headers=ANTHROPIC)
    assert anthropic.json()["type"] == "model"
    # A kubernetes backend gets the v2 paths too.
    pods = proxy.get("/v2/models/pod-model/ready")
    assert pods.status == 200 and vllm.last_request()["path"] == "/v2/models/pod-model/ready"

    # A name routed to an external provider (here by the default route): refused in KServe's
    # error shape, nothing sent; for /v1/models/{id} the gateway answers as OpenAI.
    refused = proxy.get("/v2/models/unknown-model/ready")
    assert refused.status == 400
    assert "default/chat" in refused.json()["error"]
    assert proxy.get("/v1/models/gpt-4").json()["object"] == "model"
    assert other.stats()["requests"] == 0


# /v2/health/live and /v2/health/ready are the gateway's own: live while it runs, ready while a
# backend is available; /v2/models/{name}/infer stays POST only.
def test_kserve_health_is_the_gateways(env):
    kserve = env.mock("kserve")
    proxy = env.proxy([
        kserve_backend("iris", kserve.url),
        route("iris", models=["sklearn-iris"], defaultBackend={"name": "iris"}),
    ])
    assert proxy.get("/v2/health/live").json() == {"live": True}
    ready = proxy.get("/v2/health/ready")
    assert ready.status == 200 and ready.json() == {"ready": True}
    assert kserve.stats()["requests"] == 0
    assert proxy.get("/v2/models/sklearn-iris/infer").status == 405
