"""The official `openai` npm client's responses.create against the proxy
(tests/e2e/node/responses_client.mjs): passthrough to a backend serving the Responses API,
translation to an OpenAI-compatible chat backend and to Anthropic, streamed and not."""

from __future__ import annotations

import json

from harness import backend, route, run_node_script, secret

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
    seen = run_node_script("responses_client.mjs", proxy.port)
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


# A streamed chat backend's rich request: the translated chat body carries the instructions,
# parts, call history and tools, and asks for the usage chunk.
def test_responses_translated_request_body(env):
    vllm = env.mock("vllm")
    proxy = env.proxy([
        backend("vllm", f"{vllm.url}/v1", provider="custom"),
        route("vllm", models=["llama-3"], defaultBackend={"name": "vllm"}),
    ])
    body = {
        "model": "llama-3", "instructions": "Be brief.", "stream": True,
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        "text": {"format": {"type": "json_object"}},
    }  # fmt: skip
    resp = proxy.post("/v1/responses", body)
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert "event: response.completed" in resp.text
    sent = json.loads(vllm.last_request()["body"])
    assert vllm.last_request()["path"] == "/v1/chat/completions"
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "hi"}]
    assert sent["messages"][2]["tool_calls"][0]["id"] == "c1"
    assert sent["messages"][3] == {"role": "tool", "tool_call_id": "c1", "content": "ok"}
    assert sent["tools"][0]["function"]["name"] == "f"
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["stream_options"] == {"include_usage": True}


# Bad bodies get a 400 in OpenAI's error shape, stateful parameters name themselves in `message`.
def test_responses_bad_requests(env):
    openai = env.mock("openai")
    proxy = env.proxy([
        backend("gpt", f"{openai.url}/v1"),
        route("gpt", models=["gpt-4.1"], defaultBackend={"name": "gpt"}),
    ])
    cases = [
        (b"not json", "Invalid JSON"),
        (b'{"model":"gpt-4.1"}', "'input'"),
        (b'{"model":"gpt-4.1","input":"x","previous_response_id":"resp_1"}',
         "'previous_response_id'"),
        (b'{"model":"gpt-4.1","input":"x","conversation":"conv_1"}', "'conversation'"),
        (b'{"model":"gpt-4.1","input":"x","background":true}', "'background'"),
        (b'{"model":"gpt-4.1","input":{"a":1}}', "'input'"),
    ]
    for raw, needle in cases:
        resp = proxy.post("/v1/responses", raw)
        assert resp.status == 400, (raw, resp.text)
        error = resp.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == "invalid_request_error"
        assert needle in error["message"], (raw, error)
    assert openai.inference_requests() == 0
