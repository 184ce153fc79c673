"""Rate limits and the proxy's request limits, each with a JSON error in the client's shape."""

from __future__ import annotations

import json

import pytest

import harness
from harness import backend, route

MESSAGES_BODY = {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}


def assert_openai_error(resp: harness.Response, status: int, code: str | None = None) -> dict:
    assert resp.status == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if code is not None:
        assert error["code"] == code
    return error


def assert_anthropic_error(resp: harness.Response, status: int, error_type: str) -> dict:
    assert resp.status == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    body = resp.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.fixture
def limited(env):
    mock = env.mock("alpha")
    proxy = env.proxy([
        backend("a", f"{mock.url}/v1"),
        route("per-user", default=True, defaultBackend={"name": "a"},
              rateLimit={"requestsPerMinute": 3, "perUser": True, "userHeader": "x-user-id"}),
        route("shared", models=["shared-*"], defaultBackend={"name": "a"},
              rateLimit={"requestsPerMinute": 2}),
        route("tokens", models=["tokens-*"], defaultBackend={"name": "a"},
              rateLimit={"tokensPerMinute": 1000}),
    ])
    return proxy, mock


# Every answer carries x-ratelimit-* headers; past the limit the client gets 429 with
# retry-after and an OpenAI-style body; another user has a bucket of their own.
def test_request_rate_limit_per_user(limited):
    proxy, mock = limited
    alice = {"x-user-id": "alice"}
    for remaining in (2, 1, 0):
        resp = proxy.chat("m", headers=alice)
        assert resp.status == 200
        assert resp.headers["x-ratelimit-limit-requests"] == "3"
        assert resp.headers["x-ratelimit-remaining-requests"] == str(remaining)
        assert resp.headers["x-ratelimit-reset-requests"]
    refused = proxy.chat("m", headers=alice)
    error = assert_openai_error(refused, 429, "rate_limit_exceeded")
    assert "requests" in error["message"]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-limit-requests"] == "3"
    entry = proxy.request_log(refused.headers["x-request-id"])
    assert entry["status"] == 429 and entry["error"] == "rate_limited"
    assert "alice" not in json.dumps(entry)  # the user is logged as a hash only
    assert entry["user_hash"]

    # A streamed answer carries the headers too.
    carol = proxy.chat("m", headers={"x-user-id": "carol"}, stream=True)
    assert carol.status == 200 and carol.events()[-1].data == "[DONE]"
    assert carol.headers["x-ratelimit-remaining-requests"] == "2"
    # A streamed request is refused the same way, before any event.
    streamed = proxy.chat("m", headers=alice, stream=True)
    assert_openai_error(streamed, 429, "rate_limit_exceeded")
    # Anthropic clients get Anthropic's shape.
    messages = proxy.post("/v1/messages", MESSAGES_BODY, alice)
    assert_anthropic_error(messages, 429, "rate_limit_error")
    assert messages.headers["retry-after"]

    bob = proxy.chat("m", headers={"x-user-id": "bob"})
    assert bob.status == 200
    assert bob.headers["x-ratelimit-remaining-requests"] == "2"
    assert mock.inference_requests() == 5


# Without perUser, one bucket serves everyone.
def test_shared_rate_limit(limited):
    proxy, _ = limited
    assert proxy.chat("shared-1", headers={"x-user-id": "a"}).status == 200
    assert proxy.chat("shared-1", headers={"x-user-id": "b"}).status == 200
    refused = proxy.chat("shared-1", headers={"x-user-id": "c"})
    assert_openai_error(refused, 429, "rate_limit_exceeded")


# A token limit reports x-ratelimit-*-tokens and refuses a request whose estimate (prompt plus
# max_tokens) exceeds what is left.
def test_token_rate_limit(limited):
    proxy, mock = limited
    resp = proxy.chat("tokens-1", max_tokens=100)
    assert resp.status == 200
    assert resp.headers["x-ratelimit-limit-tokens"] == "1000"
    remaining = int(resp.headers["x-ratelimit-remaining-tokens"])
    assert 0 <= remaining < 1000
    assert "x-ratelimit-limit-requests" not in resp.headers
    before = mock.inference_requests()
    refused = proxy.chat("tokens-1", max_tokens=5000)
    error = assert_openai_error(refused, 429, "rate_limit_exceeded")
    assert "tokens" in error["message"]
    assert mock.inference_requests() == before


@pytest.fixture
def strict(env):
    mock = env.mock("alpha")
    proxy = env.proxy([
        backend("a", f"{mock.url}/v1"),
        route("only", models=["m"], defaultBackend={"name": "a"}),
        route("other", models=["n"], defaultBackend={"name": "a"}),
    ], "--max-body-bytes", "2048", "--max-header-bytes", "4096", "--request-timeout", "1")
    return proxy, mock


# A body over --max-body-bytes gets 413 in the client's error shape.
def test_413_body_too_large(strict):
    proxy, mock = strict
    big = "x" * 4000
    resp = proxy.post("/v1/chat/completions", harness.chat_body("m", content=big))
    assert_openai_error(resp, 413, "body_too_large")
    messages = proxy.post("/v1/messages", dict(MESSAGES_BODY, system=big))
    assert_anthropic_error(messages, 413, "request_too_large")
    assert mock.inference_requests() == 0
    assert proxy.chat("m").status == 200  # the server is fine afterwards


# A header block over --max-header-bytes gets 431.
def test_431_headers_too_large(strict):
    proxy, _ = strict
    resp = proxy.chat("m", headers={"x-padding": "p" * 8000})
    assert_openai_error(resp, 431, "header_too_large")
    messages = proxy.post("/v1/messages", MESSAGES_BODY, {"x-padding": "p" * 8000})
    assert_anthropic_error(messages, 431, "invalid_request_error")


# Malformed JSON and missing fields get 400 in the client's shape, and reach no backend.
def test_400_malformed_json(strict):
    proxy, mock = strict
    resp = proxy.post("/v1/chat/completions", b'{"model": "m", "messages": [')
    assert_openai_error(resp, 400)
    assert resp.json()["error"]["type"] == "invalid_request_error"
    missing = proxy.post("/v1/chat/completions", {"model": "m"})
    assert "messages" in assert_openai_error(missing, 400)["message"]
    not_object = proxy.post("/v1/chat/completions", b"[1, 2]")
    assert_openai_error(not_object, 400)
    messages = proxy.post("/v1/messages", b"{nope")
    assert_anthropic_error(messages, 400, "invalid_request_error")
    assert mock.inference_requests() == 0


# GET on an API path is 405 with Allow: POST; an unknown path is 404; both JSON.
def test_405_and_404_paths(strict):
    proxy, _ = strict
    resp = proxy.get("/v1/chat/completions")
    assert_openai_error(resp, 405, "method_not_allowed")
    assert resp.headers["allow"] == "POST"
    messages = proxy.get("/v1/messages")
    assert_anthropic_error(messages, 405, "invalid_request_error")
    assert messages.headers["allow"] == "POST"
    unknown = proxy.get("/v1/nothing-here")
    assert_openai_error(unknown, 404, "unknown_url")
    # Admin paths are not served on the client port.
    assert proxy.get("/admin/config").status == 404


def send_partial(port: int, path: str) -> tuple[int, dict, bytes]:
    """Sends a request whose body stops short, and reads until the proxy closes."""
    sock = harness.raw_connect(port)
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode() +
                     b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                     b'{"model":')
        raw = harness.read_until_closed(sock)
    finally:
        sock.close()
    return harness.split_http_response(raw)


# A client that stops sending mid-body gets 408 after --request-timeout (in its API's error
# shape), and the connection is closed.
def test_408_client_stops_mid_body(strict):
    proxy, mock = strict
    status, headers, body = send_partial(proxy.port, "/v1/chat/completions")
    assert status == 408
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == "request_timeout"
    status, _, body = send_partial(proxy.port, "/v1/messages")
    assert status == 408
    assert json.loads(body)["type"] == "error"
    assert mock.inference_requests() == 0


# A client that stops mid-headers is answered 408 too.
def test_408_client_stops_mid_headers(strict):
    proxy, _ = strict
    sock = harness.raw_connect(proxy.port)
    try:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Ty")
        raw = harness.read_until_closed(sock)
    finally:
        sock.close()
    status, _, body = harness.split_http_response(raw)
    assert status == 408
    assert json.loads(body)["error"]["code"] == "request_timeout"
