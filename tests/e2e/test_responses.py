"""POST /v1/responses through the proxy with plain HTTP: the translated body a chat backend
receives, 400s for bad and stateful requests, fallback across backend kinds, and usage and cost
read from passthrough answers and streams. (The SDK's view: test_responses_node.py.)"""

from __future__ import annotations

import json

from harness import backend, route

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


# Fallback from a backend serving the Responses API to an Anthropic one: the body is rebuilt for
# the second backend, and the client gets a Responses object or stream either way.
def test_responses_fallback_across_backend_kinds(env):
    failing = env.mock("openai", "--status", "503")
    anthropic = env.mock("anthropic")
    proxy = env.proxy([
        backend("gpt", f"{failing.url}/v1"),
        backend("claude", f"{anthropic.url}/v1", provider="anthropic"),
        route("chain", models=["gpt-4.1"], defaultBackend={"name": "gpt"},
              fallback={"backends": ["gpt", "claude"]}),
    ])
    whole = proxy.post("/v1/responses", {"model": "gpt-4.1", "input": "hi"})
    assert whole.status == 200, whole.text
    assert whole.headers["x-inferencegw-backend"] == "default/claude"
    body = whole.json()
    assert body["object"] == "response" and body["model"] == "gpt-4.1"
    assert body["output"][0]["content"][0]["text"] == "Hello from anthropic 1 2 3 4"
    streamed = proxy.post("/v1/responses", {"model": "gpt-4.1", "input": "hi", "stream": True})
    assert streamed.status == 200
    assert streamed.headers["x-inferencegw-backend"] == "default/claude"
    assert streamed.text.rstrip().splitlines()[-2] == "event: response.completed"
    assert failing.stats()["by_path"].get("/v1/responses") == 2
    assert anthropic.stats()["by_path"].get("/v1/messages") == 2


# Passthrough answers are priced from their Responses usage, whole and streamed: the request log
# has the tokens (cached ones too) and a cost.
def test_responses_passthrough_usage_and_cost(env):
    openai = env.mock("openai", "--prompt-tokens", "40", "--cached-tokens", "15",
                      "--completion-tokens", "6")  # fmt: skip
    proxy = env.proxy([
        backend("gpt", f"{openai.url}/v1",
                cost={"inputTokenCost": "0.001", "outputTokenCost": "0.002"}),
        route("gpt", models=["gpt-4.1"], defaultBackend={"name": "gpt"}),
    ])
    for stream in (False, True):
        resp = proxy.post("/v1/responses", {"model": "gpt-4.1", "input": "hi", "stream": stream})
        assert resp.status == 200, resp.text
        entry = proxy.request_log(resp.headers["x-request-id"])
        assert entry["api"] == "responses"
        assert (entry["input_tokens"], entry["output_tokens"]) == (40, 6)
        assert entry["cached_input_tokens"] == 15
        assert float(entry["cost"]) > 0
