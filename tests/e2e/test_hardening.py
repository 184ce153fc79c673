"""Regression tests for what issue 8 found with the proxy in front of misbehaving clients and
backends: request smuggling, numbers that overflowed, backend garbage, oversized events, lost
Retry-After, mislabelled broken streams and silently dropped parameters."""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import threading

import pytest

import harness
from harness import backend, route
from test_http import Reader


def metric_lines(proxy, name: str) -> list[str]:
    text = proxy.get("/metrics").text
    return [line for line in text.splitlines() if line.startswith(name)]


def numbers(value):
    """Every number in a parsed JSON value."""
    if isinstance(value, dict):
        for v in value.values():
            yield from numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from numbers(v)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def smuggling_request(transfer_encoding: bytes) -> bytes:
    inner = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: " + transfer_encoding + b"\r\n\r\n" + inner)


@pytest.fixture
def simple(env):
    alpha = env.mock("alpha")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"},
              rateLimit={"tokensPerMinute": 100000}),
    ])
    return proxy, alpha


# A Transfer-Encoding other than a lone "chunked" is a 400 and a close (RFC 9112 6.1): the body
# is never answered as a second request on the same connection.
@pytest.mark.parametrize("coding", [b"gzip", b"identity", b"chunked, gzip", b"gzip, chunked",
                                    b"chunked\r\nTransfer-Encoding: chunked"])
def test_transfer_encoding_smuggling_is_refused(simple, coding):
    proxy, alpha = simple
    sock = harness.raw_connect(proxy.port)
    reader = Reader(sock)
    try:
        sock.sendall(smuggling_request(coding))
        first = reader.response()
        assert first.status == 400
        assert first.json()["error"]["code"] == "bad_request"
        assert reader.closed()
        assert b"inference_gateway_requests_total" not in reader.buffer
    finally:
        sock.close()
    assert alpha.inference_requests() == 0


# Both Transfer-Encoding and Content-Length: refused rather than guessed.
def test_transfer_encoding_with_content_length_is_refused(simple):
    proxy, _ = simple
    sock = harness.raw_connect(proxy.port)
    reader = Reader(sock)
    try:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        assert reader.response().status == 400
        assert reader.closed()
    finally:
        sock.close()


# max_tokens of 2^63-1 is refused with 400 and does not lock the route's token bucket.
def test_huge_max_tokens_does_not_lock_the_route(simple):
    proxy, _ = simple
    body = harness.chat_body("m")
    body["max_tokens"] = 9223372036854775807
    refused = proxy.post("/v1/chat/completions", body)
    assert refused.status == 400
    assert "max_tokens" in refused.json()["error"]["message"]
    for _ in range(3):
        ok = proxy.chat("m")
        assert ok.status == 200, ok.text
        assert "retry-after" not in ok.headers


# A 200 whose body is not JSON is a protocol error: the next backend answers, and the broken
# attempt is counted as protocol_error and priced at nothing.
def test_backend_garbage_falls_back(env):
    broken = env.mock("broken", "--malformed-chunk", "0", "--malformed", "json")
    good = env.mock("good")
    proxy = env.proxy([
        backend("broken", f"{broken.url}/v1", cost={"inputTokenCost": "1", "outputTokenCost": "1"}),
        backend("good", f"{good.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "broken"},
              fallback={"backends": ["broken", "good"]}),
    ])
    resp = proxy.chat("m")
    assert resp.status == 200, resp.text
    assert resp.headers["x-inferencegw-backend"] == "default/good"
    assert resp.headers["x-inferencegw-attempts"] == "2"
    attempts = metric_lines(proxy, "inference_gateway_upstream_attempts_total")
    assert any('backend="default/broken"' in line and 'outcome="protocol_error"' in line
               for line in attempts), attempts
    costs = proxy.admin_json("/admin/costs")
    assert all(row.get("cost", 0) in (0, "0", "0.000000000") for row in costs.get("by_backend", [])
               if row.get("name") == "default/broken")


# Every backend answers 429 with its own Retry-After: the client's 429 carries the shortest.
def test_all_backends_429_passes_the_shortest_retry_after(env):
    a = env.mock("a", "--status", "429", "--retry-after", "7")
    b = env.mock("b", "--status", "429", "--retry-after", "3")
    proxy = env.proxy([
        backend("a", f"{a.url}/v1"),
        backend("b", f"{b.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"},
              fallback={"backends": ["a", "b"], "backoffMaxMillis": 10,
                        "backoffBaseMillis": 1}),
    ])
    resp = proxy.chat("m")
    assert resp.status == 429, resp.text
    assert resp.headers.get("retry-after") == "3"


# A stream cut after its first chunks ends with an error event, and the attempt is counted as a
# broken response, not a connect error.
def test_stream_broken_mid_body_is_labelled_broken_response(env):
    alpha = env.mock("alpha", "--chunks", "5", "--drop-after-chunks", "2")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"}),
    ])
    resp = proxy.chat("m", stream=True)
    assert resp.status == 200
    error = resp.events()[-1]
    assert "upstream_stream_broken" in error.data
    assert "broken_response" in error.data and "connect_error" not in error.data
    harness.wait_until(lambda: any(e.get("error") == "stream_broken"
                                   for e in proxy.log_entries()))
    errors = metric_lines(proxy, "inference_gateway_request_errors_total")
    assert any('error_type="stream_broken"' in line for line in errors), errors


# A backend that reports absurd usage (10^15 prompt tokens) cannot corrupt the ledger: later
# requests are still counted and priced, nothing is negative, and /metrics shows no wrapped value.
@pytest.mark.parametrize("prompt_tokens", [10**15, 2**63 - 1])
def test_absurd_usage_does_not_corrupt_the_ledger(env, fake_upstream, prompt_tokens):
    absurd_url = fake_upstream(json.dumps({
        "id": "x", "object": "chat.completion", "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 5,
                  "total_tokens": prompt_tokens}}).encode())
    fine = env.mock("fine")
    cost = {"inputTokenCost": "0.001", "outputTokenCost": "0.002"}
    proxy = env.proxy([
        backend("absurd", f"{absurd_url}/v1", cost=cost),
        backend("fine", f"{fine.url}/v1", cost=cost),
        route("chat", default=True, defaultBackend={"name": "fine"},
              rules=[{"match": {"headers": {"x-pick": "absurd"}},
                      "backends": [{"name": "absurd"}]}]),
    ])
    assert proxy.chat("m", headers={"x-pick": "absurd", "x-user-id": "u1"}).status == 200
    for i in range(3):
        assert proxy.chat("m", headers={"x-user-id": f"u{i + 2}"}).status == 200
    costs = proxy.admin_json("/admin/costs")
    assert not [n for n in numbers(costs) if n < 0], costs
    total = costs["totals"][0]
    assert total["requests"] == 4
    metrics = proxy.get("/metrics").text
    assert "18446744" not in metrics and "9223372" not in metrics


class _FixedBodyHandler(http.server.BaseHTTPRequestHandler):
    """An upstream that answers every POST with the server's fixed JSON body."""
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        body = self.server.body
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_upstream():
    servers = []

    def start(body: bytes) -> str:
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _FixedBodyHandler)
        server.daemon_threads = True
        server.body = body
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class _HugeEventHandler(http.server.BaseHTTPRequestHandler):
    """An upstream whose stream is one endless SSE event (no line end)."""
    protocol_version = "HTTP/1.1"
    event_bytes = 24 << 20

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        piece = b"x" * 65536
        try:
            self._chunk(b"data: {\"choices\":[{\"delta\":{\"content\":\"")
            for _ in range(self.event_bytes // len(piece)):
                self._chunk(piece)
            self._chunk(b"\"}}]}\n\n")
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _chunk(self, data: bytes):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def log_message(self, *args):
        pass


@pytest.fixture
def huge_event_upstream():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _HugeEventHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def proxy_rss_kb(proxy) -> int:
    with open(f"/proc/{proxy.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# One SSE event larger than the cap (4 MiB) fails the attempt before the first byte reached the
# client (so the next backend answers), and the proxy's peak memory stays far below the event.
def test_oversized_sse_event_falls_back_with_flat_memory(env, huge_event_upstream):
    good = env.mock("good")
    proxy = env.proxy([
        backend("huge", f"{huge_event_upstream}/v1"),
        backend("good", f"{good.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "huge"},
              fallback={"backends": ["huge", "good"]}),
    ], threads=1)
    resp = proxy.chat("m", stream=True)
    assert resp.status == 200
    assert resp.headers["x-inferencegw-backend"] == "default/good"
    assert resp.events()[-1].data == "[DONE]"
    attempts = metric_lines(proxy, "inference_gateway_upstream_attempts_total")
    assert any('backend="default/huge"' in line and 'outcome="protocol_error"' in line
               for line in attempts), attempts
    assert proxy_rss_kb(proxy) < 64 * 1024  # the event was 24 MiB


# Parameters a translation cannot carry are on the request's log line and counted with bounded
# labels; response_format reaches Anthropic as a forced tool instead of vanishing.
def test_dropped_parameters_are_logged_and_counted(env):
    claude = env.mock("claude")
    proxy = env.proxy([
        backend("claude", f"{claude.url}/v1", provider="anthropic", model="claude-x"),
        route("chat", default=True, defaultBackend={"name": "claude"}),
    ])
    body = harness.chat_body("m")
    body["logprobs"] = True
    body["some_unknown_field_xyz"] = 1
    body["response_format"] = {"type": "json_schema",
                               "json_schema": {"name": "answer",
                                               "schema": {"type": "object"}}}
    resp = proxy.post("/v1/chat/completions", body)
    assert resp.status == 200, resp.text
    upstream = json.loads(claude.last_request()["body"])
    assert upstream["tool_choice"] == {"type": "tool", "name": "answer"}
    harness.wait_until(lambda: any(e.get("dropped_params") for e in proxy.log_entries()))
    entry = next(e for e in proxy.log_entries() if e.get("dropped_params"))
    assert "logprobs" in entry["dropped_params"]
    counted = metric_lines(proxy, "inference_gateway_translation_dropped_params_total")
    assert any('provider="anthropic"' in line and 'parameter="logprobs"' in line
               for line in counted), counted
    assert not any("some_unknown_field_xyz" in line for line in counted), counted


# Past --max-connections a new connection gets a JSON 503 and is closed; the connections
# already open keep working, and a slot freed by a close is usable again.
def test_connection_cap(env):
    alpha = env.mock("alpha")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"}),
    ], "--max-connections", "3", threads=1)
    held = [harness.raw_connect(proxy.port) for _ in range(3)]
    try:
        # The proxy has registered the three when one of them has been answered.
        reader = Reader(held[0])
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reader.response().status == 200
        extra = harness.raw_connect(proxy.port)
        try:
            refused = Reader(extra).response()
            assert refused.status == 503
            assert refused.json()["error"]["code"] == "too_many_connections"
            assert refused.headers.get("retry-after") == "1"
        finally:
            extra.close()
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reader.response().status == 200
        held.pop().close()
        harness.wait_until(lambda: proxy.chat("m").status == 200)
    finally:
        for sock in held:
            sock.close()


# A header that trickles in (slowloris) gets 408 after --header-timeout, even though the
# request timeout is much longer.
def test_header_timeout_answers_408(env):
    alpha = env.mock("alpha")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"}),
    ], "--header-timeout", "1", "--request-timeout", "60")
    sock = harness.raw_connect(proxy.port)
    try:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        answer = Reader(sock).response()
        assert answer.status == 408
        assert answer.json()["error"]["code"] == "request_timeout"
    finally:
        sock.close()
