"""The official `@anthropic-ai/sdk` npm client against the proxy (tests/e2e/node/anthropic_client.mjs)."""

from __future__ import annotations

import json

from harness import backend, route, run_node_client, secret

OPENAI_KEY = "sk-openai-upstream-for-node"
ANTHROPIC_KEY = "sk-ant-upstream-for-node"


# The Anthropic SDK counts tokens through the gateway (forwarded to the Anthropic backend with
# the backend's key and model), gets a typed 404 for a model it cannot count, and retrieves and
# lists models in Anthropic's shape; its own key never reaches a backend.
def test_official_anthropic_client(env):
    openai = env.mock("openai", "--require-api-key", OPENAI_KEY)
    anthropic = env.mock("anthropic", "--require-api-key", ANTHROPIC_KEY)
    proxy = env.proxy([
        secret("keys", {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}),
        backend("gpt", f"{openai.url}/v1", key=("keys", "openai")),
        backend("claude", f"{anthropic.url}/v1", provider="anthropic", model="claude-served",
                key=("keys", "anthropic")),
        route("gpt", models=["gpt-4o"], defaultBackend={"name": "gpt"}),
        route("claude", models=["claude-smart"], defaultBackend={"name": "claude"}),
    ])
    seen = run_node_client("anthropic_client.mjs", f"http://127.0.0.1:{proxy.port}",
                           "@anthropic-ai/sdk")
    assert seen["count"] == 11
    assert seen["model"]["inferencegw"] == {
        "route": "default/claude", "backend": "default/claude", "backend_model": "claude-served"}

    # One count reached the Anthropic backend, with its key and model; none reached OpenAI.
    last = anthropic.last_request()
    assert last["path"] == "/v1/messages/count_tokens"
    assert last["headers"]["x-api-key"] == ANTHROPIC_KEY
    assert json.loads(last["body"])["model"] == "claude-served"
    assert anthropic.inference_requests() == 1
    assert openai.inference_requests() == 0
    assert "sk-ant-node-client-key" not in json.dumps(last)
