"""End-to-end tests of inferencegw-mock-llm: the real binary on a loopback port chosen at run time.

Every server is started through the `start_mock` fixture (conftest.py), which stops it afterwards.
No test sleeps for time to pass or asserts on timing; failure draws use fixed seeds.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import socket
import subprocess

import pytest

CHAT = "/v1/chat/completions"
CHAT_BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES_BODY = {
    "model": "claude-x",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
}
COHERE_BODY = {"model": "command-a", "messages": [{"role": "user", "content": "hi"}]}

ALL_FLAGS = [
    "--listen", "--threads", "--help", "--latency-ms", "--chunk-interval-ms", "--chunks",
    "--failure-rate", "--seed", "--fail-status", "--status", "--retry-after", "--prompt-tokens",
    "--completion-tokens", "--cached-tokens", "--cache-write-tokens", "--model", "--name",
    "--health-status", "--stamp-chunks", "--drop-after-chunks", "--require-api-key",
    "--drop-with-reset", "--stall-after-chunks", "--malformed-chunk", "--malformed",
]  # fmt: skip


def parse_sse(text: str) -> list[tuple[str | None, str]]:
    """Splits an SSE body into (event name or None, data) pairs."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        events.append((name, "\n".join(data)))
    return events


def openai_chunks(text: str) -> tuple[list[dict], bool]:
    """Returns the JSON chunks of an OpenAI-style stream and whether it ended with [DONE]."""
    events = parse_sse(text)
    done = bool(events) and events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events if data != "[DONE]"]
    return chunks, done


def run_mock(binary, *flags) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(binary), *[str(f) for f in flags]], capture_output=True, text=True, timeout=10
    )


def stream_request(server, path, body, headers=None) -> str:
    resp = server.post(path, dict(body, stream=True), headers)
    assert resp.status == 200, resp.body
    assert resp.headers["content-type"] == "text/event-stream"
    return resp.text


# ---------------------------------------------------------------- OpenAI


# Verifies the non-streamed chat.completion shape, the echoed model and usage from the flags.
def test_openai_chat_non_stream_shape_and_usage(start_mock):
    m = start_mock("--name", "alpha", "--prompt-tokens", 100, "--completion-tokens", 7,
                   "--cached-tokens", 30, "--cache-write-tokens", 20)  # fmt: skip
    resp = m.post(CHAT, CHAT_BODY)
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-mock-backend"] == "alpha"
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o"
    assert isinstance(body["created"], int) and body["id"]
    choice = body["choices"][0]
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "Hello from alpha 1 2 3 4"
    usage = body["usage"]
    assert usage["prompt_tokens"] == 100
    assert usage["completion_tokens"] == 7
    assert usage["total_tokens"] == 107
    assert usage["prompt_tokens_details"]["cached_tokens"] == 30
    assert usage["prompt_tokens_details"]["cache_write_tokens"] == 20


# Verifies that responses echo whatever model each request names, quotes and non-ASCII included.
def test_model_is_echoed_per_request(mock):
    for model in ["gpt-4o", "other-model", 'we"ird\\né', "gpt-4o"]:
        assert mock.post(CHAT, dict(CHAT_BODY, model=model)).json()["model"] == model
    assert mock.post("/openai/v1/chat/completions", CHAT_BODY).json()["model"] == "gpt-4o"


# Verifies the chat stream without include_usage: role chunk, N content chunks, finish, [DONE].
def test_openai_chat_stream_without_usage(start_mock):
    m = start_mock("--name", "alpha", "--chunks", 3)
    chunks, done = openai_chunks(stream_request(m, CHAT, CHAT_BODY))
    assert done
    assert len(chunks) == 1 + 3 + 1
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-4o" for c in chunks)
    assert all("usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    texts = [c["choices"][0]["delta"]["content"] for c in chunks[1:4]]
    assert "".join(texts) == "Hello from alpha 1 2"
    assert chunks[-1]["choices"][0]["delta"] == {}
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    # The non-streamed content is the same text.
    assert m.post(CHAT, CHAT_BODY).json()["choices"][0]["message"]["content"] == "".join(texts)


# Verifies include_usage: usage:null on every chunk and a final choices:[] usage chunk.
def test_openai_chat_stream_with_include_usage(start_mock):
    m = start_mock("--prompt-tokens", 12, "--completion-tokens", 5)
    body = dict(CHAT_BODY, stream_options={"include_usage": True})
    chunks, done = openai_chunks(stream_request(m, CHAT, body))
    assert done
    assert all(c["usage"] is None for c in chunks[:-1])
    last = chunks[-1]
    assert last["choices"] == []
    assert last["usage"]["prompt_tokens"] == 12
    assert last["usage"]["completion_tokens"] == 5
    assert last["usage"]["total_tokens"] == 17
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    # include_usage false behaves like no stream_options.
    body = dict(CHAT_BODY, stream_options={"include_usage": False})
    chunks, _ = openai_chunks(stream_request(m, CHAT, body))
    assert all("usage" not in c for c in chunks)


# Verifies /v1/completions non-stream and stream shapes.
def test_openai_completions(start_mock):
    m = start_mock("--name", "beta", "--chunks", 2)
    body = {"model": "instruct", "prompt": "Say hi"}
    resp = m.post("/v1/completions", body).json()
    assert resp["object"] == "text_completion" and resp["model"] == "instruct"
    assert resp["choices"][0]["text"] == "Hello from beta 1"
    assert resp["usage"] == {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
    text = stream_request(m, "/v1/completions", dict(body, stream_options={"include_usage": True}))
    chunks, done = openai_chunks(text)
    assert done
    assert [c["choices"][0]["text"] for c in chunks[:2]] == ["Hello from beta", " 1"]
    assert chunks[2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[3]["choices"] == [] and chunks[3]["usage"]["total_tokens"] == 30


# Verifies /v1/embeddings: one fixed vector per input, prompt-only usage.
def test_openai_embeddings(start_mock):
    m = start_mock("--prompt-tokens", 8)
    one = m.post("/v1/embeddings", {"model": "emb", "input": "hello"}).json()
    assert one["object"] == "list" and one["model"] == "emb"
    assert len(one["data"]) == 1 and one["data"][0]["object"] == "embedding"
    vector = one["data"][0]["embedding"]
    assert len(vector) == 8 and all(isinstance(x, float) for x in vector)
    assert one["usage"] == {"prompt_tokens": 8, "total_tokens": 8}
    three = m.post("/openai/v1/embeddings", {"model": "emb", "input": ["a", "b", "c"]}).json()
    assert [d["index"] for d in three["data"]] == [0, 1, 2]
    tokens = m.post("/v1/embeddings", {"model": "emb", "input": [1, 2, 3]}).json()
    assert len(tokens["data"]) == 1


# Verifies GET /v1/models lists the --model name, GET / and 404 for unknown paths.
def test_models_root_and_unknown_path(start_mock):
    m = start_mock("--model", "served-model")
    models = m.get("/v1/models").json()
    assert models["object"] == "list"
    assert [d["id"] for d in models["data"]] == ["served-model"]
    assert m.get("/openai/v1/models").json() == models
    info = m.get("/openai/v1/models/any-model").json()
    assert info["id"] == "any-model" and info["object"] == "model"
    assert m.get("/v1/models/kserve-model").json()["ready"] is True
    assert m.get("/v2/models/kserve-model/ready").json() == {"name": "kserve-model", "ready": True}
    root = m.get("/")
    assert root.status == 200 and root.text == "mock-llm is running"
    missing = m.get("/nope")
    assert missing.status == 404 and "error" in missing.json()
    assert m.get(CHAT).status == 405


# Verifies malformed bodies and a missing model get 400 in the provider's shape.
def test_bad_request_bodies(mock):
    bad = mock.post(CHAT, b"{not json")
    assert bad.status == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    assert mock.post(CHAT, b"[1,2]").status == 400
    assert mock.post(CHAT, {"messages": []}).status == 400
    assert mock.post(CHAT, dict(CHAT_BODY, model=5)).status == 400
    cohere = mock.post("/v2/chat", b"nope")
    assert cohere.status == 400 and "message" in cohere.json()


# ---------------------------------------------------------------- Anthropic


# Verifies the Messages shape and the usage mapping (input_tokens excludes cache reads/writes).
def test_anthropic_non_stream_shape_and_usage(start_mock):
    m = start_mock("--name", "gamma", "--prompt-tokens", 100, "--completion-tokens", 7,
                   "--cached-tokens", 30, "--cache-write-tokens", 20)  # fmt: skip
    body = m.post("/v1/messages", MESSAGES_BODY).json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["model"] == "claude-x"
    assert body["content"] == [{"type": "text", "text": "Hello from gamma 1 2 3 4"}]
    assert body["stop_reason"] == "end_turn" and body["stop_sequence"] is None
    assert body["usage"] == {
        "input_tokens": 50,
        "output_tokens": 7,
        "cache_creation_input_tokens": 20,
        "cache_read_input_tokens": 30,
    }


# Verifies the Anthropic event sequence, event names matching data types, and cumulative usage.
def test_anthropic_stream(start_mock):
    m = start_mock("--name", "gamma", "--chunks", 3, "--prompt-tokens", 40,
                   "--cached-tokens", 10, "--completion-tokens", 9)  # fmt: skip
    events = parse_sse(stream_request(m, "/v1/messages", MESSAGES_BODY))
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(d) for _, d in events]
    assert all(d["type"] == name for name, d in zip(names, data))
    start = data[0]["message"]
    assert start["model"] == "claude-x" and start["content"] == []
    assert start["usage"]["input_tokens"] == 30
    assert start["usage"]["cache_read_input_tokens"] == 10
    deltas = [d["delta"] for d in data[2:5]]
    assert all(d["type"] == "text_delta" for d in deltas)
    assert "".join(d["text"] for d in deltas) == "Hello from gamma 1 2"
    assert data[6]["delta"]["stop_reason"] == "end_turn"
    assert data[6]["usage"] == {"output_tokens": 9}


# Verifies that /v1/messages without max_tokens is a 400 Anthropic invalid_request_error.
def test_anthropic_requires_max_tokens(mock):
    body = {k: v for k, v in MESSAGES_BODY.items() if k != "max_tokens"}
    resp = mock.post("/v1/messages", body)
    assert resp.status == 400
    err = resp.json()
    assert err["type"] == "error" and err["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in err["error"]["message"]


RESPONSES_BODY = {"model": "gpt-4.1", "input": "hi"}


# Verifies the Responses API object: one completed message item and usage in Responses' names.
def test_openai_responses_non_stream(start_mock):
    m = start_mock("--name", "delta", "--prompt-tokens", 50, "--cached-tokens", 20,
                   "--completion-tokens", 8)  # fmt: skip
    resp = m.post("/v1/responses", RESPONSES_BODY)
    assert resp.status == 200
    body = resp.json()
    assert body["object"] == "response" and body["status"] == "completed"
    assert body["id"].startswith("resp_") and body["model"] == "gpt-4.1"
    [item] = body["output"]
    assert item["type"] == "message" and item["role"] == "assistant"
    assert item["content"][0]["type"] == "output_text"
    assert item["content"][0]["text"] == "Hello from delta 1 2 3 4"
    assert body["usage"] == {
        "input_tokens": 50, "input_tokens_details": {"cached_tokens": 20},
        "output_tokens": 8, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 58,
    }  # fmt: skip


# Verifies the Responses event stream: named events whose `type` repeats the name, text deltas
# joining to the message, usage in response.completed, and no [DONE].
def test_openai_responses_stream(start_mock):
    m = start_mock("--name", "eps", "--chunks", 3, "--prompt-tokens", 12,
                   "--completion-tokens", 5)  # fmt: skip
    text = stream_request(m, "/v1/responses", RESPONSES_BODY)
    events = parse_sse(text)
    names = [name for name, _ in events]
    assert names == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    data = [json.loads(d) for _, d in events]
    assert all(d["type"] == name for name, d in zip(names, data))
    numbered = [d["sequence_number"] for d in data if "sequence_number" in d]
    assert numbered == sorted(numbered) and len(set(numbered)) == len(numbered)
    assert data[0]["response"]["status"] == "in_progress" and data[0]["response"]["usage"] is None
    joined = "".join(d["delta"] for d in data[4:7])
    assert joined == "Hello from eps 1 2" == data[7]["text"]
    done = data[-1]["response"]
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == joined
    assert done["usage"]["input_tokens"] == 12 and done["usage"]["total_tokens"] == 17
    assert "[DONE]" not in text


# Verifies that a Responses request without `input` is a 400 in OpenAI's error shape.
def test_openai_responses_requires_input(mock):
    resp = mock.post("/v1/responses", {"model": "gpt-4.1"})
    assert resp.status == 400
    assert "'input'" in resp.json()["error"]["message"]


# ---------------------------------------------------------------- Cohere, KServe, health


# Verifies the Cohere v2 response and stream shapes, usage in message-end.
def test_cohere_v2(start_mock):
    m = start_mock("--name", "delta", "--chunks", 2, "--prompt-tokens", 11,
                   "--completion-tokens", 4, "--cached-tokens", 3)  # fmt: skip
    body = m.post("/v2/chat", COHERE_BODY).json()
    assert body["finish_reason"] == "COMPLETE"
    assert body["message"]["role"] == "assistant"
    assert body["message"]["content"] == [{"type": "text", "text": "Hello from delta 1"}]
    assert body["usage"]["billed_units"] == {"input_tokens": 11, "output_tokens": 4}
    assert body["usage"]["tokens"] == {"input_tokens": 11, "output_tokens": 4}
    assert body["usage"]["cached_tokens"] == 3
    events = parse_sse(stream_request(m, "/v2/chat", COHERE_BODY))
    names = [name for name, _ in events]
    assert names == [
        "message-start",
        "content-start",
        "content-delta",
        "content-delta",
        "content-end",
        "message-end",
    ]
    data = [json.loads(d) for _, d in events]
    assert all(d["type"] == name for name, d in zip(names, data))
    texts = [d["delta"]["message"]["content"]["text"] for d in data[2:4]]
    assert "".join(texts) == "Hello from delta 1"
    end = data[-1]["delta"]
    assert end["finish_reason"] == "COMPLETE"
    assert end["usage"]["billed_units"] == {"input_tokens": 11, "output_tokens": 4}


# Verifies KServe v1 predict, v2 infer (model name from the path, id echoed) and v2 health.
def test_kserve(mock):
    v1 = mock.post("/v1/models/my-model:predict", {"instances": [[1, 2], [3, 4]]})
    assert v1.status == 200
    assert len(v1.json()["predictions"]) == 2
    v2 = mock.post("/v2/models/my-model/infer", {"id": "42", "inputs": []}).json()
    assert v2["model_name"] == "my-model" and v2["id"] == "42"
    assert v2["outputs"][0]["name"] == "output0" and v2["outputs"][0]["data"]
    versioned = mock.post("/v2/models/other/versions/3/infer", {"inputs": []}).json()
    assert versioned["model_name"] == "other" and "id" not in versioned
    assert mock.get("/v2/health/ready").json() == {"ready": True}
    assert mock.get("/v2/health/live").json() == {"live": True}


# Verifies the KServe v2 model metadata (plain and versioned) and versioned readiness paths.
def test_kserve_v2_metadata(mock):
    meta = mock.get("/v2/models/my-model").json()
    assert meta["name"] == "my-model" and meta["platform"] == "mock-llm"
    assert meta["inputs"][0]["datatype"] == "FP32" and meta["outputs"][0]["name"] == "output0"
    assert mock.get("/v2/models/my-model/versions/2").json()["name"] == "my-model"
    ready = mock.get("/v2/models/my-model/versions/2/ready").json()
    assert ready == {"name": "my-model", "ready": True}
    assert mock.get("/v2/models/my-model/versions/2/extra").status == 404


# Verifies count_tokens counts words of system and message text plus 3 per message, refuses
# max_tokens and stream as Anthropic does, and checks the key like /v1/messages.
def test_count_tokens(start_mock):
    m = start_mock("--require-api-key", "sk-ant")
    headers = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
    body = {"model": "claude-x", "system": [{"type": "text", "text": "one two"}],
            "messages": [{"role": "user", "content": "three  four\nfive"},
                         {"role": "assistant", "content": [{"type": "text", "text": "six"},
                                                           {"type": "image"}]}]}
    counted = m.post("/v1/messages/count_tokens", body, headers)
    assert counted.status == 200, counted.text
    assert counted.json() == {"input_tokens": 2 + 3 + 1 + 2 * 3}
    empty = m.post("/v1/messages/count_tokens", {"model": "c", "messages": []}, headers)
    assert empty.json() == {"input_tokens": 0}
    for extra in ({"max_tokens": 5}, {"stream": False}):
        refused = m.post("/v1/messages/count_tokens", {**body, **extra}, headers)
        assert refused.status == 400
        assert refused.json()["error"]["type"] == "invalid_request_error"
        assert "Extra inputs" in refused.json()["error"]["message"]
    missing = m.post("/v1/messages/count_tokens", {"model": "claude-x"}, headers)
    assert missing.status == 400 and "messages" in missing.json()["error"]["message"]
    unauthorized = m.post("/v1/messages/count_tokens", body, {"x-api-key": "sk-ant"})
    assert unauthorized.status == 401
    assert unauthorized.json()["error"]["type"] == "authentication_error"
    assert m.get("/v1/messages/count_tokens").status == 405


# Verifies GET /health and --health-status.
def test_health(start_mock):
    healthy = start_mock().get("/health")
    assert healthy.status == 200 and healthy.text == "ok"
    assert start_mock("--health-status", 503).get("/health").status == 503


# ---------------------------------------------------------------- auth


# Verifies --require-api-key on OpenAI and Cohere: Bearer KEY needed, OpenAI/Cohere 401 shapes.
def test_require_api_key_openai_and_cohere(start_mock):
    m = start_mock("--require-api-key", "sekrit")
    missing = m.post(CHAT, CHAT_BODY)
    assert missing.status == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    assert m.post(CHAT, CHAT_BODY, {"Authorization": "Bearer wrong"}).status == 401
    assert m.post(CHAT, CHAT_BODY, {"Authorization": "Bearer sekrit"}).status == 200
    assert m.post("/v1/embeddings", {"model": "e", "input": "x"}).status == 401
    cohere = m.post("/v2/chat", COHERE_BODY)
    assert cohere.status == 401 and "message" in cohere.json()
    assert m.post("/v2/chat", COHERE_BODY, {"Authorization": "Bearer sekrit"}).status == 200
    assert m.get("/health").status == 200  # health probes need no key


# Verifies --require-api-key on Anthropic: x-api-key and anthropic-version are both required.
def test_require_api_key_anthropic(start_mock):
    m = start_mock("--require-api-key", "sekrit")
    for headers in [
        {},
        {"x-api-key": "sekrit"},
        {"anthropic-version": "2023-06-01"},
        {"x-api-key": "wrong", "anthropic-version": "2023-06-01"},
        {"Authorization": "Bearer sekrit", "anthropic-version": "2023-06-01"},
    ]:
        resp = m.post("/v1/messages", MESSAGES_BODY, headers)
        assert resp.status == 401, headers
        assert resp.json()["error"]["type"] == "authentication_error"
    ok = m.post("/v1/messages", MESSAGES_BODY,
                {"x-api-key": "sekrit", "anthropic-version": "2023-06-01"})  # fmt: skip
    assert ok.status == 200


# ---------------------------------------------------------------- knobs


# Verifies --status forces provider-shaped errors on every API, with retry-after on 503.
def test_forced_status_error_shapes(start_mock):
    m = start_mock("--status", 503, "--retry-after", 3)
    openai = m.post(CHAT, CHAT_BODY)
    assert openai.status == 503 and openai.headers["retry-after"] == "3"
    err = openai.json()["error"]
    assert err["type"] == "server_error" and set(err) == {"message", "type", "param", "code"}
    anthropic = m.post("/v1/messages", MESSAGES_BODY)
    assert anthropic.status == 503
    assert anthropic.json()["error"]["type"] == "overloaded_error"
    assert "message" in m.post("/v2/chat", COHERE_BODY).json()
    assert "error" in m.post("/v2/models/x/infer", {"inputs": []}).json()
    # A stream request gets the error before any event.
    assert m.post(CHAT, dict(CHAT_BODY, stream=True)).status == 503
    assert m.get("/health").status == 200


# Verifies POST /mock/config changes knobs at runtime for all threads and rejects bad values.
def test_mock_config_runtime_changes(start_mock):
    m = start_mock("--threads", 2, "--name", "alpha")
    cfg = m.post("/mock/config", {"status": 429, "retry_after": 2, "latency-ms": 0})
    assert cfg.status == 200 and cfg.json()["status"] == 429
    for _ in range(4):  # new connections, so both threads answer
        resp = m.post(CHAT, CHAT_BODY)
        assert resp.status == 429 and resp.headers["retry-after"] == "2"
        assert resp.json()["error"]["code"] == "rate_limit_exceeded"
    m.post("/mock/config", {"status": 200, "name": "renamed", "chunks": 2})
    resp = m.post(CHAT, CHAT_BODY)
    assert resp.status == 200 and resp.headers["x-mock-backend"] == "renamed"
    assert resp.json()["choices"][0]["message"]["content"] == "Hello from renamed 1"
    assert m.get("/mock/config").json()["name"] == "renamed"
    for bad in [{"status": "x"}, {"nope": 1}, {"failure_rate": 2}, {"cached_tokens": 1000}, [1]]:
        rejected = m.post("/mock/config", bad)
        assert rejected.status == 400, bad
        assert "error" in rejected.json()
    assert m.get("/mock/config").json()["name"] == "renamed"


# Verifies the x-mock-* per-request header overrides.
def test_header_overrides(mock):
    limited = mock.post(CHAT, CHAT_BODY, {"x-mock-status": "429", "x-mock-retry-after": "7"})
    assert limited.status == 429 and limited.headers["retry-after"] == "7"
    assert limited.json()["error"]["type"] == "requests"
    overloaded = mock.post("/v1/messages", MESSAGES_BODY, {"x-mock-status": "529"})
    assert overloaded.status == 529
    assert overloaded.json()["error"]["type"] == "overloaded_error"
    tokens = {"x-mock-prompt-tokens": "100", "x-mock-completion-tokens": "3"}
    usage = mock.post(CHAT, CHAT_BODY, tokens).json()["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (100, 3)
    short = mock.post(CHAT, CHAT_BODY, {"x-mock-chunks": "2"}).json()
    assert short["choices"][0]["message"]["content"] == "Hello from alpha 1"
    chunks, _ = openai_chunks(stream_request(mock, CHAT, CHAT_BODY, {"x-mock-chunks": "1"}))
    assert len(chunks) == 3
    delayed = mock.post(CHAT, CHAT_BODY, {"x-mock-latency-ms": "20"})
    assert delayed.status == 200 and delayed.json()["model"] == "gpt-4o"
    assert mock.post(CHAT, CHAT_BODY, {"x-mock-status": "abc"}).status == 400
    # Overrides do not stick.
    assert mock.post(CHAT, CHAT_BODY).json()["usage"]["prompt_tokens"] == 10


# Verifies that a seeded failure rate fails the same requests in every run and after a reset.
def test_failure_rate_is_reproducible_with_a_seed(start_mock):
    def statuses(server, n=40):
        return [server.post(CHAT, CHAT_BODY).status for _ in range(n)]

    first = start_mock("--failure-rate", 0.5, "--seed", 42, "--fail-status", 500)
    run1 = statuses(first)
    run2 = statuses(start_mock("--failure-rate", 0.5, "--seed", 42, "--fail-status", 500))
    assert run1 == run2
    assert set(run1) == {200, 500}
    assert 8 <= run1.count(500) <= 32
    first.post("/mock/reset")
    assert statuses(first) == run1
    other = statuses(start_mock("--failure-rate", 0.5, "--seed", 7, "--fail-status", 500))
    assert other != run1
    assert set(statuses(start_mock("--failure-rate", 1))) == {503}


# Verifies --stamp-chunks puts increasing CLOCK_MONOTONIC stamps in front of each chunk text.
def test_stamp_chunks(start_mock):
    m = start_mock("--name", "alpha", "--chunks", 3, "--stamp-chunks", "--chunk-interval-ms", 1)
    chunks, done = openai_chunks(stream_request(m, CHAT, CHAT_BODY))
    assert done
    texts = [c["choices"][0]["delta"]["content"] for c in chunks[1:4]]
    stamps = []
    for text, piece in zip(texts, ["Hello from alpha", " 1", " 2"]):
        match = re.fullmatch(r"t=(\d+) (.*)", text, re.S)
        assert match, text
        assert match.group(2) == piece
        stamps.append(int(match.group(1)))
    assert stamps == sorted(stamps) and stamps[0] > 0
    events = parse_sse(stream_request(m, "/v1/messages", MESSAGES_BODY))
    assert json.loads(events[2][1])["delta"]["text"].startswith("t=")


# ---------------------------------------------------------------- broken and abandoned streams


# Verifies --drop-after-chunks closes the stream after N content chunks, with no finish or [DONE].
def test_drop_after_chunks_breaks_the_stream(start_mock):
    m = start_mock("--name", "alpha", "--drop-after-chunks", 2)
    conn = m.connection()
    try:
        conn.request("POST", CHAT, body=json.dumps(dict(CHAT_BODY, stream=True)),
                     headers={"Content-Type": "application/json"})  # fmt: skip
        resp = conn.getresponse()
        assert resp.status == 200
        with pytest.raises(http.client.IncompleteRead) as broken:
            resp.read()
    finally:
        conn.close()
    chunks, done = openai_chunks(broken.value.partial.decode())
    assert not done
    assert len(chunks) == 3  # role chunk + 2 content chunks
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)
    stats = m.wait_for_stats(lambda s: s["streams"]["dropped"] == 1)
    assert stats["streams"]["active"] == 0
    # The header override drops an Anthropic stream right after its preamble.
    conn = m.connection()
    try:
        conn.request("POST", "/v1/messages", body=json.dumps(dict(MESSAGES_BODY, stream=True)),
                     headers={"x-mock-drop-after-chunks": "0"})  # fmt: skip
        resp = conn.getresponse()
        with pytest.raises(http.client.IncompleteRead) as broken:
            resp.read()
    finally:
        conn.close()
    names = [name for name, _ in parse_sse(broken.value.partial.decode())]
    assert names == ["message_start", "content_block_start"]


# Verifies a client leaving mid-stream stops the stream and frees its state (stats go to 0).
def test_client_disconnect_mid_stream_frees_the_stream(start_mock):
    m = start_mock("--chunks", 100000, "--chunk-interval-ms", 1)
    body = json.dumps(dict(CHAT_BODY, stream=True)).encode()
    with socket.create_connection((m.host, m.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body
        )
        received = b""
        while b"Hello from" not in received:
            received += sock.recv(65536)
        assert m.stats()["streams"]["active"] == 1
    stats = m.wait_for_stats(lambda s: s["streams"]["active"] == 0)
    assert stats["streams"]["aborted"] == 1 and stats["streams"]["completed"] == 0
    assert m.post(CHAT, CHAT_BODY).status == 200  # the server is still fine


# Verifies --drop-with-reset ends a dropped stream with a TCP reset instead of a clean close.
def test_drop_with_reset(start_mock):
    m = start_mock("--drop-after-chunks", 1, "--drop-with-reset")
    body = json.dumps(dict(CHAT_BODY, stream=True)).encode()
    with socket.create_connection((m.host, m.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d"
                     b"\r\n\r\n" % len(body) + body)  # fmt: skip
        received = b""
        with pytest.raises(ConnectionResetError):
            while True:
                chunk = sock.recv(65536)
                assert chunk, "the connection was closed, not reset"
                received += chunk
    assert b"Hello from mock" in received
    m.wait_for_stats(lambda s: s["streams"]["dropped"] == 1 and s["in_flight"] == 0)


# Verifies --stall-after-chunks keeps the connection open and silent, and that the client's
# close ends the stream at once (in_flight falls without waiting for a failed write).
def test_stall_after_chunks_and_in_flight(start_mock):
    m = start_mock("--stall-after-chunks", 2, "--chunks", 5)
    body = json.dumps(dict(CHAT_BODY, stream=True)).encode()
    with socket.create_connection((m.host, m.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d"
                     b"\r\n\r\n" % len(body) + body)  # fmt: skip
        received = b""
        while b'" 1"' not in received:
            received += sock.recv(65536)
        stats = m.stats()
        assert stats["in_flight"] == 1 and stats["streams"]["active"] == 1
        sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sock.recv(65536)  # silent: no third chunk, no end
    stats = m.wait_for_stats(lambda s: s["in_flight"] == 0)
    assert stats["streams"]["aborted"] == 1 and stats["streams"]["active"] == 0
    # A delayed reply whose client leaves is no longer in flight either.
    slow = start_mock("--latency-ms", 60000)
    body = json.dumps(CHAT_BODY).encode()
    with socket.create_connection((slow.host, slow.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d"
                     b"\r\n\r\n" % len(body) + body)  # fmt: skip
        slow.wait_for_stats(lambda s: s["in_flight"] == 1)
    slow.wait_for_stats(lambda s: s["in_flight"] == 0)


# Verifies --malformed-chunk: truncated JSON or junk bytes in a stream, and a cut non-streamed
# body; the other chunks and the end of the stream are intact; bad kinds are refused.
def test_malformed_chunk(start_mock):
    m = start_mock("--malformed-chunk", 1, "--chunks", 3)
    resp = m.post(CHAT, dict(CHAT_BODY, stream=True))
    events = [data for _, data in parse_sse(resp.text)]
    assert events[-1] == "[DONE]"
    bad = [d for d in events if d != "[DONE]" and not _is_json(d)]
    assert len(bad) == 1 and bad[0].endswith('" 1')
    plain = m.post(CHAT, CHAT_BODY)
    assert plain.status == 200 and not _is_json(plain.text)
    assert m.post("/mock/config", {"malformed": "sse"}).status == 200
    raw = m.post(CHAT, dict(CHAT_BODY, stream=True)).body
    assert b"\xff\xfe\x00junk:" in raw and raw.endswith(b"data: [DONE]\n\n")
    refused = m.post("/mock/config", {"malformed": "xml"})
    assert refused.status == 400 and "malformed" in refused.text


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


# Verifies clients that leave during the latency delay, and delays pending at shutdown, are safe.
def test_abandoned_and_pending_delayed_responses(start_mock):
    m = start_mock("--latency-ms", 30)
    for stream in (False, True):
        body = json.dumps(dict(CHAT_BODY, stream=stream)).encode()
        with socket.create_connection((m.host, m.port), timeout=10) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d"
                         b"\r\n\r\n" % len(body) + body)  # fmt: skip
    # The abandoned stream is noticed (its socket is watched); the server keeps serving.
    m.wait_for_stats(lambda s: s["streams"]["active"] == 0)
    assert m.post(CHAT, CHAT_BODY).status == 200
    slow = start_mock("--latency-ms", 60000)
    sockets = []
    try:
        for stream in (False, True):
            body = json.dumps(dict(CHAT_BODY, stream=stream)).encode()
            sock = socket.create_connection((slow.host, slow.port), timeout=10)
            sockets.append(sock)
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d"
                         b"\r\n\r\n" % len(body) + body)  # fmt: skip
        slow.wait_for_stats(lambda s: s["requests"] == 2)
        assert slow.stop(signal.SIGTERM) == 0
    finally:
        for sock in sockets:
            sock.close()


# ---------------------------------------------------------------- admin, threads, process


# Verifies /mock/stats (counts, lowercase headers, body) and that /mock/reset clears it.
def test_stats_and_reset(mock):
    mock.post(CHAT, CHAT_BODY)
    mock.get("/health")
    mock.post("/v1/messages", MESSAGES_BODY, {"X-Custom-Thing": "Value 1"})
    stats = mock.stats()
    assert stats["requests"] == 3
    assert stats["by_path"] == {CHAT: 1, "/health": 1, "/v1/messages": 1}
    last = stats["last_request"]
    assert last["method"] == "POST" and last["path"] == "/v1/messages"
    assert last["headers"]["x-custom-thing"] == "Value 1"
    assert last["headers"]["content-type"] == "application/json"
    assert json.loads(last["body"]) == MESSAGES_BODY
    assert mock.post("/mock/reset").json() == {"ok": True}
    cleared = mock.stats()
    assert cleared["requests"] == 0 and cleared["by_path"] == {}
    assert cleared["last_request"] is None


# Verifies several threads share one port (port 0) and serve keep-alive connections.
def test_threads_share_the_port_and_keep_alive(start_mock):
    m = start_mock("--threads", 3)
    for _ in range(12):
        assert m.post(CHAT, CHAT_BODY).status == 200
    conn = m.connection()
    try:
        for _ in range(5):
            conn.request("POST", CHAT, body=json.dumps(CHAT_BODY))
            resp = conn.getresponse()
            assert resp.status == 200 and not resp.will_close
            assert json.loads(resp.read())["model"] == "gpt-4o"
    finally:
        conn.close()
    assert m.stats()["requests"] == 17


# Verifies SIGTERM and SIGINT exit with status 0, also with a stream in flight.
def test_signals_exit_cleanly(start_mock):
    assert start_mock().stop(signal.SIGTERM) == 0
    assert start_mock().stop(signal.SIGINT) == 0
    busy = start_mock("--chunks", 100000, "--chunk-interval-ms", 5, "--latency-ms", 0)
    with socket.create_connection((busy.host, busy.port), timeout=10) as sock:
        body = json.dumps(dict(CHAT_BODY, stream=True)).encode()
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                     % len(body) + body)  # fmt: skip
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert busy.stop(signal.SIGTERM) == 0


# Verifies a fixed port already served by another process is reported, not silently shared.
def test_fixed_port_in_use_is_an_error(mock, mock_binary):
    result = run_mock(mock_binary, "--listen", f"127.0.0.1:{mock.port}")
    assert result.returncode == 1
    assert "in use" in result.stderr
    assert mock.get("/health").status == 200


# Verifies --help documents every flag and exits 0.
def test_help_lists_every_flag(mock_binary):
    result = run_mock(mock_binary, "--help")
    assert result.returncode == 0
    for flag in ALL_FLAGS:
        assert flag in result.stdout, flag


# Verifies bad flags exit with status 2 and a message.
@pytest.mark.parametrize(
    "flags",
    [
        ["--bogus"],
        ["positional"],
        ["--threads", "0"],
        ["--failure-rate", "2"],
        ["--status", "302"],
        ["--listen", "nonsense"],
        ["--chunks"],
        ["--latency-ms", "-1"],
        ["--prompt-tokens", "5", "--cached-tokens", "6"],
    ],
)
def test_bad_flags_exit_2(mock_binary, flags):
    result = run_mock(mock_binary, *flags)
    assert result.returncode == 2
    assert result.stderr.strip()
