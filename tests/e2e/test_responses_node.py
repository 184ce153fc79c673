"""The official `openai` npm client's responses.create against the proxy
(tests/e2e/node/responses_client.mjs): passthrough to a backend serving the Responses API,
translation to an OpenAI-compatible chat backend and to Anthropic, streamed and not."""

from __future__ import annotations

import json

from harness import backend, route, run_node_client, secret

OPENAI_KEY = "sk-openai-upstream-for-responses"
ANTHROPIC_KEY = "sk-ant-upstream-for-responses"


# The SDK gets Responses objects and event streams from all three kinds of backend, typed 400s
# for stateful parameters and untranslatable input; each backend got the request in its own API.
def test_official_openai_client_responses(env):
    openai = env.mock("openai", "--require-api-key", OPENAI_KEY)
    vllm = env.mock("vllm")
    anthropic = env.mock("anthropic", "--require-api-key", ANTHROPIC_KEY)
    proxy = env.proxy([
        secret("keys", {"openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY}),
        backend("gpt", f"{openai.url}/v1", key=("keys", "openai")),
        backend("vllm", f"{vllm.url}/v1", provider="custom"),
        backend("claude", f"{anthropic.url}/v1", provider="anthropic", key=("keys", "anthropic")),
        route("gpt", models=["gpt-4.1"], defaultBackend={"name": "gpt"}),
        route("vllm", models=["llama-3"], defaultBackend={"name": "vllm"}),
        route("claude", models=["claude-*"], defaultBackend={"name": "claude"}),
    ])
    seen = run_node_client("responses_client.mjs", f"http://127.0.0.1:{proxy.port}/v1", "openai")
    assert seen["whole_gpt-4.1"]["backend"] == "default/gpt"
    assert seen["whole_llama-3"]["backend"] == "default/vllm"
    assert seen["whole_claude-3-haiku"]["model"] == "claude-3-haiku"
    assert seen["stream_claude-3-haiku"]["usage"]["input_tokens"] == 10
    assert seen["refused_previous_response_id"] and seen["refused_background"]

    # Each backend was asked in its own API: OpenAI on /v1/responses, the others translated.
    # Per backend: the rich request, a stream, the stream helper's stream.
    assert openai.stats()["by_path"].get("/v1/responses") == 3
    assert vllm.stats()["by_path"].get("/v1/chat/completions") == 3
    assert anthropic.stats()["by_path"].get("/v1/messages") == 3
    last = anthropic.last_request()
    assert last["path"] == "/v1/messages"
    assert last["headers"]["x-api-key"] == ANTHROPIC_KEY
    for mock in (openai, vllm, anthropic):
        assert "sk-node-client-key" not in json.dumps(mock.last_request())
