"""The official `openai` npm client against the proxy (tests/e2e/node/openai_client.mjs)."""

from __future__ import annotations

import json

from harness import backend, route, run_node_client, secret

OPENAI_KEY = "sk-openai-upstream-for-node"
ANTHROPIC_KEY = "sk-ant-upstream-for-node"


# The openai SDK gets answers, streams (with the usage chunk only when asked), a broken stream's
# error, typed HTTP errors and models.retrieve from the proxy; its own API key never reaches a
# backend.
def test_official_openai_client(env):
    openai = env.mock("openai", "--require-api-key", OPENAI_KEY)
    anthropic = env.mock("anthropic", "--require-api-key", ANTHROPIC_KEY)
    broken = env.mock("broken", "--drop-after-chunks", "2")
    proxy = env.proxy([
        secret("keys", {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}),
        backend("gpt", f"{openai.url}/v1", key=("keys", "openai")),
        backend("claude", f"{anthropic.url}/v1", provider="anthropic", key=("keys", "anthropic")),
        backend("breaks", f"{broken.url}/v1"),
        backend("spare", f"{openai.url}/v1", key=("keys", "openai")),
        route("gpt", models=["gpt-4o"], defaultBackend={"name": "gpt"}),
        route("claude", models=["claude-*"], defaultBackend={"name": "claude"}),
        route("broken", models=["broken-model"], defaultBackend={"name": "breaks"},
              fallback={"backends": ["breaks", "spare"]}),
    ])
    seen = run_node_client("openai_client.mjs", f"http://127.0.0.1:{proxy.port}/v1", "openai")
    assert seen["plain"] == "Hello from openai 1 2 3 4"
    assert seen["claude"] == "Hello from anthropic 1 2 3 4"
    assert seen["broken"] == "Hello from broken 1"
    assert seen["usage_gpt-4o"]["total_tokens"] == 30
    assert seen["model"]["id"] == "gpt-4o"

    # The client's key stayed at the proxy; the broken stream was not retried elsewhere.
    for mock in (openai, anthropic, broken):
        assert "sk-node-client-key" not in json.dumps(mock.last_request())
    assert openai.last_request()["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert anthropic.last_request()["headers"]["x-api-key"] == ANTHROPIC_KEY
    assert broken.inference_requests() == 1
    # plain, streamed, streamed with usage; the 400 is answered by the proxy itself.
    assert openai.inference_requests() == 3
