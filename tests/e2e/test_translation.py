"""Translation between client and backend formats (OpenAI, Anthropic, Cohere), streamed or not,
upstream credentials, the injected usage chunk, and usage and cost accounting."""

from __future__ import annotations

import json

import pytest

import harness
from harness import backend, route, secret

ANTHROPIC_KEY = "sk-ant-provider-0123456789"
OPENAI_KEY = "sk-openai-provider-0123456789"
COHERE_KEY = "co-provider-0123456789"
CLIENT_TOKEN = "sk-client-own-token-must-not-travel"

# Per 1000 tokens; the mocks report 10 prompt and 20 completion tokens by default.
CLAUDE_COST = {"inputTokenCost": "0.003", "outputTokenCost": "0.015"}
GPT_COST = {"inputTokenCost": "0.01", "outputTokenCost": "0.03"}
CLAUDE_REQUEST_COST = "0.000330000"  # 10 * 0.003 / 1000 + 20 * 0.015 / 1000
GPT_REQUEST_COST = "0.000700000"     # 10 * 0.01 / 1000 + 20 * 0.03 / 1000


@pytest.fixture
def providers(env):
    """Anthropic, OpenAI and Cohere mocks that require their provider keys, behind one proxy."""
    anthropic = env.mock("anthropic", "--require-api-key", ANTHROPIC_KEY)
    openai = env.mock("openai", "--require-api-key", OPENAI_KEY)
    cohere = env.mock("cohere", "--require-api-key", COHERE_KEY)
    proxy = env.proxy([
        secret("provider-keys", {"anthropic": ANTHROPIC_KEY, "openai": OPENAI_KEY,
                                 "cohere": COHERE_KEY}),
        backend("claude", f"{anthropic.url}/v1", provider="anthropic", model="claude-3-5-sonnet",
                key=("provider-keys", "anthropic"), cost=CLAUDE_COST),
        backend("gpt", f"{openai.url}/v1", provider="openai", key=("provider-keys", "openai"),
                cost=GPT_COST),
        backend("command", f"{cohere.url}/v2", provider="cohere", model="command-r-plus",
                key=("provider-keys", "cohere")),
        route("to-claude", models=["claude-*"], defaultBackend={"name": "claude"}),
        route("to-gpt", models=["gpt-*"], defaultBackend={"name": "gpt"}),
        route("to-cohere", models=["command-*"], defaultBackend={"name": "command"}),
    ])
    return proxy, anthropic, openai, cohere


def openai_request(model: str, stream: bool = False, include_usage: bool | None = None) -> dict:
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello"},
        ],
        "temperature": 0.5,
        "stop": "END",
    }
    if stream:
        body["stream"] = True
    if include_usage is not None:
        body["stream_options"] = {"include_usage": include_usage}
    return body


def anthropic_request(model: str, stream: bool = False) -> dict:
    body = {"model": model, "max_tokens": 64, "system": "You are terse.",
            "messages": [{"role": "user", "content": "Say hello"}]}
    if stream:
        body["stream"] = True
    return body


CLIENT_OPENAI_HEADERS = {"Authorization": f"Bearer {CLIENT_TOKEN}"}
CLIENT_ANTHROPIC_HEADERS = {"x-api-key": CLIENT_TOKEN, "anthropic-version": "2023-06-01",
                            "Authorization": f"Bearer {CLIENT_TOKEN}"}


def assert_no_client_credentials(last: dict):
    """The upstream request carries none of the client's credentials."""
    assert CLIENT_TOKEN not in json.dumps(last)


def assert_anthropic_auth(last: dict):
    headers = last["headers"]
    assert headers["x-api-key"] == ANTHROPIC_KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in headers
    assert_no_client_credentials(last)


def assert_bearer_auth(last: dict, key: str):
    headers = last["headers"]
    assert headers["authorization"] == f"Bearer {key}"
    assert "x-api-key" not in headers
    assert "anthropic-version" not in headers
    assert_no_client_credentials(last)


# An OpenAI chat request to an Anthropic backend is sent as a Messages request with Anthropic
# auth, and the answer comes back as an OpenAI chat completion.
def test_openai_client_to_anthropic(providers):
    proxy, anthropic, _, _ = providers
    resp = proxy.post("/v1/chat/completions", openai_request("claude-3-haiku"),
                      CLIENT_OPENAI_HEADERS)
    assert resp.status == 200, resp.text
    assert resp.headers["x-inferencegw-backend"] == "default/claude"
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "claude-3-haiku"  # the model the client asked for
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == "Hello from anthropic 1 2 3 4"
    assert choice["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] == 10
    assert body["usage"]["completion_tokens"] == 20
    assert body["usage"]["total_tokens"] == 30
    assert resp.headers["x-inferencegw-cost"] == CLAUDE_REQUEST_COST
    assert resp.headers["x-inferencegw-cost-currency"] == "USD"

    last = anthropic.last_request()
    assert last["path"] == "/v1/messages"
    assert_anthropic_auth(last)
    sent = json.loads(last["body"])
    assert sent["model"] == "claude-3-5-sonnet"
    assert sent["max_tokens"] == 4096  # Anthropic requires it; the client gave none
    assert sent["stop_sequences"] == ["END"]
    assert sent["temperature"] == 0.5
    system = sent["system"]
    system_text = system if isinstance(system, str) else "".join(b["text"] for b in system)
    assert system_text == "You are terse."
    assert [m["role"] for m in sent["messages"]] == ["user"]
    assert "stream" not in sent or sent["stream"] is False


# A streamed OpenAI request to an Anthropic backend gets OpenAI chunks and [DONE]; the usage
# chunk appears only when the client asked for it.
@pytest.mark.parametrize("include_usage", [False, True])
def test_openai_client_to_anthropic_streamed(providers, include_usage):
    proxy, anthropic, _, _ = providers
    resp = proxy.post("/v1/chat/completions",
                      openai_request("claude-3-haiku", True, include_usage or None),
                      CLIENT_OPENAI_HEADERS)
    assert resp.status == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = resp.events()
    assert events[-1].data == "[DONE]"
    chunks = [e.json() for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["model"] == "claude-3-haiku" for c in chunks)
    assert harness.stream_text(events) == "Hello from anthropic 1 2 3 4"
    finishes = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch["finish_reason"]]
    assert finishes == ["stop"]
    usage_chunks = [c for c in chunks if c.get("usage")]
    if include_usage:
        assert len(usage_chunks) == 1
        assert usage_chunks[0]["choices"] == []
        assert usage_chunks[0]["usage"]["prompt_tokens"] == 10
        assert usage_chunks[0]["usage"]["completion_tokens"] == 20
        assert chunks[-1] is usage_chunks[0]
    else:
        assert usage_chunks == []

    last = anthropic.last_request()
    assert last["path"] == "/v1/messages"
    assert_anthropic_auth(last)
    assert last["headers"]["accept"] == "text/event-stream"
    assert json.loads(last["body"])["stream"] is True

    # Usage and cost are counted from the stream whether or not the client saw them.
    entry = proxy.request_log(resp.headers["x-request-id"])
    assert entry["stream"] is True
    assert entry["input_tokens"] == 10
    assert entry["output_tokens"] == 20
    assert entry["cost"] == CLAUDE_REQUEST_COST
    assert entry["currency"] == "USD"


# An Anthropic /v1/messages request to an OpenAI backend is sent as a chat completion with
# Bearer auth, and the answer comes back as an Anthropic message.
def test_anthropic_client_to_openai(providers):
    proxy, _, openai, _ = providers
    resp = proxy.post("/v1/messages", anthropic_request("gpt-4o"), CLIENT_ANTHROPIC_HEADERS)
    assert resp.status == 200, resp.text
    body = resp.json()
    assert body["type"] == "message"
    assert body["role"] == "assistant"
    assert body["model"] == "gpt-4o"
    assert body["content"] == [{"type": "text", "text": "Hello from openai 1 2 3 4"}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] == 10
    assert body["usage"]["output_tokens"] == 20
    assert resp.headers["x-inferencegw-cost"] == GPT_REQUEST_COST

    last = openai.last_request()
    assert last["path"] == "/v1/chat/completions"
    assert_bearer_auth(last, OPENAI_KEY)
    sent = json.loads(last["body"])
    assert sent["model"] == "gpt-4o"
    assert sent["max_tokens"] == 64
    assert sent["messages"] == [{"role": "system", "content": "You are terse."},
                                {"role": "user", "content": "Say hello"}]


# A streamed Anthropic request to an OpenAI backend gets Anthropic's event sequence, with usage
# (the proxy asked the upstream for it).
def test_anthropic_client_to_openai_streamed(providers):
    proxy, _, openai, _ = providers
    resp = proxy.post("/v1/messages", anthropic_request("gpt-4o", stream=True),
                      CLIENT_ANTHROPIC_HEADERS)
    assert resp.status == 200, resp.text
    events = resp.events()
    names = [e.event for e in events]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert "content_block_start" in names and "content_block_stop" in names
    for e in events:
        assert e.json()["type"] == e.event
    text = "".join(e.json()["delta"]["text"] for e in events if e.event == "content_block_delta")
    assert text == "Hello from openai 1 2 3 4"
    delta = events[-2].json()
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == 20
    assert events[0].json()["message"]["model"] == "gpt-4o"

    last = openai.last_request()
    assert_bearer_auth(last, OPENAI_KEY)
    sent = json.loads(last["body"])
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    entry = proxy.request_log(resp.headers["x-request-id"])
    assert (entry["input_tokens"], entry["output_tokens"]) == (10, 20)
    assert entry["cost"] == GPT_REQUEST_COST


# An Anthropic request to an Anthropic backend keeps its body, but the upstream gets the
# backend's key and model, never the client's key.
def test_anthropic_passthrough_replaces_credentials(providers):
    proxy, anthropic, _, _ = providers
    resp = proxy.post("/v1/messages", anthropic_request("claude-3-haiku"),
                      CLIENT_ANTHROPIC_HEADERS)
    assert resp.status == 200, resp.text
    assert resp.json()["content"][0]["text"] == "Hello from anthropic 1 2 3 4"
    last = anthropic.last_request()
    assert_anthropic_auth(last)
    sent = json.loads(last["body"])
    assert sent["model"] == "claude-3-5-sonnet"
    assert sent["max_tokens"] == 64
    assert sent["system"] == "You are terse."


# OpenAI chat to a Cohere backend goes to Cohere's v2 chat API with Bearer auth; the answer
# (whole or streamed) comes back in OpenAI's format.
def test_openai_client_to_cohere(providers):
    proxy, _, _, cohere = providers
    resp = proxy.post("/v1/chat/completions", openai_request("command-r"), CLIENT_OPENAI_HEADERS)
    assert resp.status == 200, resp.text
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "command-r"
    assert body["choices"][0]["message"]["content"] == "Hello from cohere 1 2 3 4"
    assert body["usage"]["prompt_tokens"] == 10
    assert body["usage"]["completion_tokens"] == 20
    last = cohere.last_request()
    assert last["path"] == "/v2/chat"
    assert_bearer_auth(last, COHERE_KEY)
    sent = json.loads(last["body"])
    assert sent["model"] == "command-r-plus"
    assert sent["stop_sequences"] == ["END"]
    assert sent["messages"][0]["role"] == "system"

    streamed = proxy.post("/v1/chat/completions",
                          openai_request("command-r", stream=True, include_usage=True),
                          CLIENT_OPENAI_HEADERS)
    assert streamed.status == 200, streamed.text
    events = streamed.events()
    assert events[-1].data == "[DONE]"
    assert harness.stream_text(events) == "Hello from cohere 1 2 3 4"
    usage = [e.json() for e in events[:-1] if e.json().get("usage")]
    assert len(usage) == 1 and usage[0]["usage"]["completion_tokens"] == 20
    assert json.loads(cohere.last_request()["body"])["stream"] is True
    assert_bearer_auth(cohere.last_request(), COHERE_KEY)


# OpenAI to OpenAI: the proxy always asks the upstream for stream usage, but the client sees the
# usage chunk only when it asked; usage is counted either way.
@pytest.mark.parametrize("include_usage", [False, True])
def test_injected_usage_chunk(providers, include_usage):
    proxy, _, openai, _ = providers
    body = harness.chat_body("gpt-4o", stream=True,
                             include_usage=True if include_usage else None)
    resp = proxy.post("/v1/chat/completions", body, CLIENT_OPENAI_HEADERS)
    assert resp.status == 200
    events = resp.events()
    assert events[-1].data == "[DONE]"
    chunks = [e.json() for e in events[:-1]]
    with_usage = [c for c in chunks if c.get("usage")]
    assert len(with_usage) == (1 if include_usage else 0)
    if not include_usage:
        assert all("usage" not in c or c["usage"] is None for c in chunks)
    sent = json.loads(openai.last_request()["body"])
    assert sent["stream_options"]["include_usage"] is True
    assert_bearer_auth(openai.last_request(), OPENAI_KEY)
    entry = proxy.request_log(resp.headers["x-request-id"])
    assert (entry["input_tokens"], entry["output_tokens"]) == (10, 20)
    assert entry["cost"] == GPT_REQUEST_COST


# /admin/costs sums what streamed and non-streamed requests cost, by route and backend.
def test_costs_ledger(providers):
    proxy, _, _, _ = providers
    assert proxy.post("/v1/chat/completions", openai_request("claude-x")).status == 200
    assert proxy.post("/v1/chat/completions", openai_request("claude-x", stream=True)).status \
        == 200
    assert proxy.post("/v1/chat/completions", openai_request("gpt-4o", stream=True)).status \
        == 200
    costs = proxy.admin_json("/admin/costs")
    by_backend = {row["name"]: row for row in costs["by_backend"]}
    claude = by_backend["default/claude"]
    assert claude["requests"] == 2
    assert claude["input_tokens"] == 20
    assert claude["output_tokens"] == 40
    assert claude["cost"] == "0.000660000"
    gpt = by_backend["default/gpt"]
    assert (gpt["requests"], gpt["cost"]) == (1, GPT_REQUEST_COST)
    by_route = {row["name"]: row for row in costs["by_route"]}
    assert by_route["default/to-claude"]["cost"] == "0.000660000"
    total = costs["totals"][0]
    assert total["currency"] == "USD"
    assert total["cost"] == "0.001360000"
    assert total["requests"] == 3


# Streamed cost appears in the request log, not as a header (headers leave before usage is known).
def test_streamed_response_has_no_cost_header(providers):
    proxy, _, _, _ = providers
    resp = proxy.post("/v1/chat/completions", openai_request("gpt-4o", stream=True))
    assert resp.status == 200
    assert "x-inferencegw-cost" not in resp.headers
    assert proxy.request_log(resp.headers["x-request-id"])["cost"] == GPT_REQUEST_COST


# Fallback across formats: the request is rebuilt for each backend's format, so an Anthropic
# backend that fails hands over to an OpenAI one, streamed or not, for OpenAI and Anthropic
# clients alike.
def test_fallback_between_formats(env):
    anthropic = env.mock("anthropic", "--status", "529")
    openai = env.mock("openai", "--require-api-key", OPENAI_KEY)
    proxy = env.proxy([
        secret("provider-keys", {"anthropic": ANTHROPIC_KEY, "openai": OPENAI_KEY}),
        backend("claude", f"{anthropic.url}/v1", provider="anthropic", model="claude-3-5-sonnet",
                key=("provider-keys", "anthropic")),
        backend("gpt", f"{openai.url}/v1", model="gpt-4o-mini", key=("provider-keys", "openai")),
        route("chain", default=True, defaultBackend={"name": "claude"},
              fallback={"backends": ["claude", "gpt"]}),
    ])
    plain = proxy.post("/v1/chat/completions", openai_request("claude-x"))
    assert plain.status == 200, plain.text
    assert plain.headers["x-inferencegw-backend"] == "default/gpt"
    assert plain.json()["choices"][0]["message"]["content"] == "Hello from openai 1 2 3 4"
    assert anthropic.last_request()["path"] == "/v1/messages"
    sent = json.loads(openai.last_request()["body"])
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}

    streamed = proxy.post("/v1/chat/completions", openai_request("claude-x", stream=True))
    assert streamed.status == 200
    assert harness.stream_text(streamed.events()) == "Hello from openai 1 2 3 4"

    messages = proxy.post("/v1/messages", anthropic_request("claude-x", stream=True))
    assert messages.status == 200
    events = messages.events()
    assert events[-1].event == "message_stop"
    text = "".join(e.json()["delta"]["text"] for e in events if e.event == "content_block_delta")
    assert text == "Hello from openai 1 2 3 4"
    assert anthropic.inference_requests() == 3
    assert openai.inference_requests() == 3


# A request that cannot be expressed for the chosen backend (n > 1 to Anthropic) is a 400 that
# names the backend; nothing is sent.
def test_untranslatable_request_is_400(providers):
    proxy, anthropic, _, _ = providers
    resp = proxy.post("/v1/chat/completions", dict(openai_request("claude-x"), n=2))
    assert resp.status == 400
    error = resp.json()["error"]
    assert error["code"] == "unsupported_for_backend"
    assert "default/claude" in error["message"]
    assert anthropic.inference_requests() == 0


# An upstream 4xx (not retried) reaches the client translated into its format, streamed
# request or not.
def test_upstream_4xx_is_translated(providers):
    proxy, anthropic, openai, _ = providers
    anthropic.configure(status=400)
    for stream in (False, True):
        resp = proxy.post("/v1/chat/completions", openai_request("claude-x", stream=stream))
        assert resp.status == 400
        assert resp.headers["content-type"] == "application/json"
        error = resp.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert set(error) == {"message", "type", "param", "code"}
    openai.configure(status=404)
    resp = proxy.post("/v1/messages", anthropic_request("gpt-4o"))
    assert resp.status == 404
    assert resp.json()["type"] == "error"
    assert resp.json()["error"]["type"] == "not_found_error"


# /v1/completions goes to OpenAI-format backends, streamed too (usage chunk hidden unless asked).
def test_completions_api(providers):
    proxy, _, openai, _ = providers
    resp = proxy.post("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "Hi"})
    assert resp.status == 200, resp.text
    assert resp.json()["object"] == "text_completion"
    assert openai.last_request()["path"] == "/v1/completions"
    streamed = proxy.post("/v1/completions", {"model": "gpt-3.5-turbo-instruct",
                                              "prompt": "Hi", "stream": True})
    events = streamed.events()
    assert events[-1].data == "[DONE]"
    assert all(not e.json().get("usage") for e in events[:-1])
    assert json.loads(openai.last_request()["body"])["stream_options"]["include_usage"] is True
    assert proxy.request_log(streamed.headers["x-request-id"])["output_tokens"] == 20
    # Completions cannot go to an Anthropic backend.
    refused = proxy.post("/v1/completions", {"model": "claude-x", "prompt": "Hi"})
    assert refused.status == 400


# An Anthropic client to a Cohere backend (through the OpenAI form), streamed and not.
def test_anthropic_client_to_cohere(providers):
    proxy, _, _, cohere = providers
    resp = proxy.post("/v1/messages", anthropic_request("command-r"), CLIENT_ANTHROPIC_HEADERS)
    assert resp.status == 200, resp.text
    assert resp.json()["content"] == [{"type": "text", "text": "Hello from cohere 1 2 3 4"}]
    assert resp.json()["usage"]["output_tokens"] == 20
    last = cohere.last_request()
    assert last["path"] == "/v2/chat"
    assert_bearer_auth(last, COHERE_KEY)
    streamed = proxy.post("/v1/messages", anthropic_request("command-r", stream=True))
    events = streamed.events()
    assert events[-1].event == "message_stop"
    text = "".join(e.json()["delta"]["text"] for e in events if e.event == "content_block_delta")
    assert text == "Hello from cohere 1 2 3 4"
