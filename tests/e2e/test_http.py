"""HTTP/1.1 behaviour of the client port: keep-alive, pipelining, Expect: 100-continue, chunked
request bodies, Connection: close, idle timeouts, and a slow reader of a large stream."""

from __future__ import annotations

import json
import socket
import threading

import pytest

import harness
from harness import backend, route


@pytest.fixture
def simple(env):
    alpha = env.mock("alpha")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"}),
    ], "--idle-timeout", "1", "--request-timeout", "5")
    return proxy, alpha


def post_bytes(body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + extra + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class Reader:
    """Reads HTTP/1.1 responses (Content-Length or chunked) from one socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buffer += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def response(self) -> harness.Response:
        status = int(self._line().split()[1])
        headers = {}
        while line := self._line():
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while size := int(self._line().split(b";")[0], 16):
                body += self._exactly(size)
                self._line()
            self._line()
        else:
            body = self._exactly(int(headers.get("content-length", "0")))
        return harness.Response(status, headers, body)

    def closed(self) -> bool:
        try:
            self._fill()
            return False
        except (EOFError, ConnectionResetError):
            return True


# Several requests, streamed and not, on one keep-alive connection, including pipelined ones.
def test_keep_alive_and_pipelining(simple):
    proxy, alpha = simple
    sock = harness.raw_connect(proxy.port)
    reader = Reader(sock)
    try:
        stream_body = json.dumps(harness.chat_body("m", stream=True)).encode()
        plain_body = json.dumps(harness.chat_body("m")).encode()
        sock.sendall(post_bytes(plain_body))
        assert reader.response().json()["choices"][0]["message"]["content"].startswith("Hello")
        sock.sendall(post_bytes(stream_body))
        streamed = reader.response()
        assert streamed.events()[-1].data == "[DONE]"
        # Three requests in one write: answered in order.
        sock.sendall(post_bytes(plain_body) + post_bytes(stream_body) +
                     b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first, second, third = reader.response(), reader.response(), reader.response()
        assert first.status == 200 and first.json()["object"] == "chat.completion"
        assert second.status == 200 and second.events()[-1].data == "[DONE]"
        assert third.status == 200 and third.json() == {"status": "ok"}
    finally:
        sock.close()
    assert alpha.inference_requests() == 4


# A client that sends Expect: 100-continue gets "100 Continue" before it sends the body.
def test_expect_100_continue(simple):
    proxy, _ = simple
    body = json.dumps(harness.chat_body("m")).encode()
    sock = harness.raw_connect(proxy.port)
    reader = Reader(sock)
    try:
        head = post_bytes(body, b"Expect: 100-continue\r\n")
        sock.sendall(head[:len(head) - len(body)])
        interim = reader.response()
        assert interim.status == 100
        sock.sendall(body)
        final = reader.response()
        assert final.status == 200
        assert final.json()["object"] == "chat.completion"
    finally:
        sock.close()


# A chunked request body is read whole and sent upstream as one body.
def test_chunked_request_body(simple):
    proxy, alpha = simple
    body = json.dumps(harness.chat_body("m", content="chunked hello")).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:]))
    sock = harness.raw_connect(proxy.port)
    reader = Reader(sock)
    try:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                     b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
                     + chunked + b"0\r\n\r\n")
        assert reader.response().status == 200
    finally:
        sock.close()
    assert json.loads(alpha.last_request()["body"])["messages"][0]["content"] == "chunked hello"


# Connection: close (and HTTP/1.0) is honoured: one answer, then the server closes.
def test_connection_close(simple):
    proxy, _ = simple
    body = json.dumps(harness.chat_body("m")).encode()
    for request in (post_bytes(body, b"Connection: close\r\n"),
                    post_bytes(body).replace(b"HTTP/1.1", b"HTTP/1.0", 1)):
        sock = harness.raw_connect(proxy.port)
        reader = Reader(sock)
        try:
            sock.sendall(request)
            resp = reader.response()
            assert resp.status == 200
            assert reader.closed()
        finally:
            sock.close()


# An idle keep-alive connection is closed after --idle-timeout without an answer.
def test_idle_connection_closed(simple):
    proxy, _ = simple
    sock = harness.raw_connect(proxy.port)
    try:
        assert harness.read_until_closed(sock) == b""
    finally:
        sock.close()


# A large stream to a client that reads slowly arrives whole and in order (the proxy pauses the
# upstream instead of buffering without bound).
def test_large_stream_slow_reader(env):
    chunks = 20000
    alpha = env.mock("alpha", "--chunks", str(chunks))
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"}),
    ])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(harness.WAIT_SECONDS)
    sock.connect(("127.0.0.1", proxy.port))
    try:
        sock.sendall(post_bytes(json.dumps(harness.chat_body("m", stream=True)).encode()))
        # Read nothing until the mock has finished writing (the proxy holds or pauses the rest).
        harness.wait_until(lambda: alpha.stats()["streams"]["completed"] == 1,
                           what="the mock to finish its stream")
        resp = Reader(sock).response()
    finally:
        sock.close()
    assert resp.status == 200
    events = resp.events()
    assert events[-1].data == "[DONE]"
    text = harness.stream_text(events)
    assert text == "Hello from alpha" + "".join(f" {i}" for i in range(1, chunks))


# Many clients at once over both worker threads: every request answered, none lost or mixed up.
def test_concurrent_clients(env):
    alpha = env.mock("alpha", "--threads", "2")
    beta = env.mock("beta", "--threads", "2")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        backend("b", f"{beta.url}/v1"),
        route("chat", default=True, rules=[{"match": {}, "backends": [
            {"name": "a", "weight": 50}, {"name": "b", "weight": 50}]}]),
    ])
    results: list[tuple[int, str, str]] = []
    lock = threading.Lock()

    def worker(index: int):
        client = harness.Client(proxy.port)
        try:
            for i in range(25):
                stream = (index + i) % 3 == 0
                resp = client.post("/v1/chat/completions",
                                   harness.chat_body("m", stream=stream, content=f"{index}-{i}"))
                text = (harness.stream_text(resp.events()) if stream
                        else resp.json()["choices"][0]["message"]["content"])
                with lock:
                    results.append((resp.status, resp.headers["x-inferencegw-backend"], text))
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 16 * 25
    for status, served, text in results:
        assert status == 200
        name = "alpha" if served == "default/a" else "beta"
        assert text == f"Hello from {name} 1 2 3 4"
    assert alpha.inference_requests() + beta.inference_requests() == 16 * 25
    assert sum(1 for r in results if r[1] == "default/a") == alpha.inference_requests()
    assert all(b["in_flight"] == 0 for b in proxy.admin_json("/admin/backends"))


# Large and non-ASCII bodies reach the backend byte for byte, translated or not.
def test_large_and_utf8_bodies(env):
    alpha = env.mock("alpha")
    claude = env.mock("claude")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        backend("c", f"{claude.url}/v1", provider="anthropic"),
        route("chat", default=True, defaultBackend={"name": "a"}),
        route("claude", models=["claude-*"], defaultBackend={"name": "c"}),
    ])
    content = "héllo wörld ✓ 你好 🚀 " * 20000  # about 600 KB of UTF-8, sent unescaped

    def utf8(model: str) -> bytes:
        return json.dumps(harness.chat_body(model, content=content), ensure_ascii=False).encode()

    resp = proxy.post("/v1/chat/completions", utf8("m"))
    assert resp.status == 200
    last = alpha.last_request()
    assert not last["body_truncated"]
    assert json.loads(last["body"])["messages"][0]["content"] == content
    resp = proxy.post("/v1/chat/completions", utf8("claude-x"))
    assert resp.status == 200
    sent = json.loads(claude.last_request()["body"])["messages"][0]["content"]
    sent_text = sent if isinstance(sent, str) else "".join(part["text"] for part in sent)
    assert sent_text == content


# A query string or a trailing slash does not change the API a path names.
def test_query_string_and_trailing_slash(simple):
    proxy, alpha = simple
    assert proxy.post("/v1/chat/completions?api-version=2024-01-01",
                      harness.chat_body("m")).status == 200
    assert proxy.post("/v1/chat/completions/", harness.chat_body("m")).status == 200
    assert alpha.inference_requests() == 2


# A client that stops reading a stream is dropped after --write-timeout, and the upstream
# request is cancelled (log status 499).
def test_stalled_reader_dropped_after_write_timeout(env):
    alpha = env.mock("alpha", "--chunks", "40000")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"}),
    ], "--write-timeout", "1")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(harness.WAIT_SECONDS)
    sock.connect(("127.0.0.1", proxy.port))
    try:
        sock.sendall(post_bytes(json.dumps(harness.chat_body("m", stream=True)).encode(),
                                b"x-request-id: stalled-1\r\n"))
        entry = proxy.request_log("stalled-1")  # while the client reads nothing
    finally:
        sock.close()
    assert entry["status"] == 499
    assert proxy.backend_state("default/a")["in_flight"] == 0
