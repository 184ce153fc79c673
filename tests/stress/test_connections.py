"""Connection abuse: slowloris clients, idle keep-alive floods, a connection cap, pipelining,
malformed HTTP and request smuggling attempts, and seeded random mutations of requests."""

from __future__ import annotations

import asyncio
import random
import socket
import time

import pytest

import clients
import harness
from stress_util import scaled
from harness import backend, route


@pytest.fixture
def served(stress):
    alpha = stress.mock("alpha", "--chunks", "3")
    proxy = stress.proxy([backend("a", f"{alpha.url}/v1", maxConcurrency=100000),
                          route("chat", default=True, defaultBackend={"name": "a"})],
                         "--request-timeout", "2", "--idle-timeout", "2", "--no-access-log")
    return proxy, alpha


def healthy_request(proxy: harness.Proxy) -> clients.Outcome:
    return clients.run(clients.one(proxy.port, clients.Plan(body=clients.chat()), timeout=10))


def assert_answers(proxy: harness.Proxy):
    out = healthy_request(proxy)
    assert out.status == 200 and out.complete and out.done() and out.names() == {"alpha"}, out


# Slowloris: many connections trickle their headers one byte at a time and never finish; each
# is answered 408 (or closed) once the request timeout passes, and real clients are served
# meanwhile.
def test_slowloris(served, scale):
    proxy, _ = served
    n = scaled(scale, 300, 20)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200

    async def loris():
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        start = time.monotonic()
        got = b""
        try:
            for byte in head:
                writer.write(bytes([byte]))
                await writer.drain()
                try:
                    got = await asyncio.wait_for(reader.read(4096), 0.1)
                    break  # the proxy answered or closed
                except asyncio.TimeoutError:
                    pass
            if got:
                got += await asyncio.wait_for(reader.read(), 10)
        except ConnectionError:
            pass
        finally:
            writer.transport.abort()
        return time.monotonic() - start, got

    async def main():
        lorises = [asyncio.create_task(loris()) for _ in range(n)]
        await asyncio.sleep(0.5)
        real = await clients.many(proxy.port, [clients.Plan(body=clients.chat())
                                               for _ in range(20)], timeout=10)
        return real, await asyncio.gather(*lorises)

    real, results = clients.run(main())
    assert all(o.status == 200 and o.done() for o in real), real[:3]
    for took, got in results:
        assert took < 2 + 5, f"a slowloris connection lived {took:.1f} s"
        assert got == b"" or got.startswith(b"HTTP/1.1 408"), got[:200]
    assert_answers(proxy)


# An idle keep-alive flood: thousands of connections that send one request and then sit idle
# are all closed after the idle timeout, and the proxy serves real clients throughout.
def test_idle_keep_alive_flood(served, scale):
    proxy, _ = served
    n = scaled(scale, 3000, 100)
    request = clients.post(clients.chat(stream=False))

    async def idler():
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        try:
            writer.write(request)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await asyncio.wait_for(reader.readexactly(length), 30)
            start = time.monotonic()
            rest = await asyncio.wait_for(reader.read(65536), 30)  # EOF when the proxy closes
            return head.startswith(b"HTTP/1.1 200"), rest, time.monotonic() - start
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            return False, repr(e).encode(), 0.0
        finally:
            writer.transport.abort()

    async def main():
        idlers = []
        for i in range(n):
            idlers.append(asyncio.create_task(idler()))
            if i % 200 == 199:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        real = await clients.many(proxy.port, [clients.Plan(body=clients.chat())
                                               for _ in range(20)], timeout=20)
        return real, await asyncio.gather(*idlers)

    real, results = clients.run(main())
    assert all(o.status == 200 and o.done() for o in real), real[:3]
    for answered, rest, idle in results:
        assert answered
        assert rest == b"", rest[:200]
        assert idle < 2 + 8, f"an idle connection lived {idle:.1f} s"
    assert_answers(proxy)


# A connection cap (--max-connections, shared out over the worker threads): beyond it new
# connections get a 503 and a close; connections under it are served.
def test_connection_cap(stress):
    alpha = stress.mock("alpha")
    proxy = stress.proxy([backend("a", f"{alpha.url}/v1"),
                          route("chat", default=True, defaultBackend={"name": "a"})],
                         "--max-connections", "100")
    held = [harness.raw_connect(proxy.port) for _ in range(150)]
    try:
        # Served connections stay open (keep-alive) and so keep their slots, however the
        # connects and the proxy's accepts interleave.
        statuses = []
        for sock in held:
            sock.sendall(clients.post(clients.chat(stream=False)))
        for sock in held:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                head += chunk
            statuses.append(int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0)
        served = statuses.count(200)
        refused = statuses.count(503)
        assert served + refused == len(held), statuses
        assert 0 < served <= 100 and refused >= 50, (served, refused)
    finally:
        for sock in held:
            sock.close()
    # Slots freed by the closes serve again.
    harness.wait_until(lambda: proxy.chat("m").status == 200)


# Pipelined requests (streamed and not) written in one go are answered completely, in order.
def test_pipelined_requests(served, scale):
    proxy, _ = served
    depth = 16
    for round_ in range(scaled(scale, 20, 3)):
        bodies = [clients.chat(content=f"r{round_}-{i}", stream=i % 2 == 0)
                  for i in range(depth)]
        sock = harness.raw_connect(proxy.port)
        try:
            sock.sendall(b"".join(clients.post(b) for b in bodies[:-1]) +
                         clients.post(bodies[-1], extra="Connection: close\r\n"))
            raw = harness.read_until_closed(sock)
        finally:
            sock.close()
        responses = raw.split(b"HTTP/1.1 ")[1:]
        assert len(responses) == depth, raw[:500]
        for i, resp in enumerate(responses):
            assert resp.startswith(b"200"), resp[:300]
            if i % 2 == 0:
                assert b"data: [DONE]" in resp and resp.endswith(b"0\r\n\r\n"), resp[-300:]
            else:
                assert b"Hello from alpha" in resp


def raw_exchange(port: int, data: bytes) -> tuple[bytes, bool]:
    """Sends `data`, returns what came back and whether the proxy closed the connection."""
    sock = harness.raw_connect(port, timeout=10)
    try:
        sock.sendall(data)
        got = b""
        sock.settimeout(5)
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return got, True
            except socket.timeout:
                return got, False
            if not chunk:
                return got, True
            got += chunk
    finally:
        sock.close()


BODY = clients.chat(stream=False)
CHUNKED_BODY = f"{len(BODY):x}\r\n".encode() + BODY + b"\r\n0\r\n\r\n"
HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"

# (name, raw request, statuses allowed) that must get one error answer (or none: a bare close)
# and a closed connection.
BAD_REQUESTS = [
    ("te-gzip", HEAD + b"Transfer-Encoding: gzip\r\n\r\n" + CHUNKED_BODY, {400}),
    ("te-identity", HEAD + b"Transfer-Encoding: identity\r\nContent-Length: %d\r\n\r\n"
     % len(BODY) + BODY, {400}),
    ("te-chunked-gzip", HEAD + b"Transfer-Encoding: chunked, gzip\r\n\r\n" + CHUNKED_BODY,
     {400}),
    ("te-gzip-then-chunked", HEAD + b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n" + CHUNKED_BODY, {400}),
    ("te-and-cl", HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
     + CHUNKED_BODY, {400}),
    ("te-http10", HEAD.replace(b"HTTP/1.1", b"HTTP/1.0") + b"Transfer-Encoding: chunked\r\n\r\n"
     + CHUNKED_BODY, {400}),
    ("cl-twice-different", HEAD + b"Content-Length: %d\r\nContent-Length: 5\r\n\r\n"
     % len(BODY) + BODY, {400}),
    ("cl-negative", HEAD + b"Content-Length: -1\r\n\r\n" + BODY, {400}),
    ("cl-not-a-number", HEAD + b"Content-Length: 12abc\r\n\r\n" + BODY, {400}),
    ("bad-chunk-size", HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + BODY
     + b"\r\n0\r\n\r\n", {400}),
    ("huge-chunk-size", HEAD + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
     {400, 413}),
    ("bad-request-line", b"POST  /v1/chat/completions  HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    ("space-before-colon", HEAD + b"Content-Length : %d\r\n\r\n" % len(BODY) + BODY, {400}),
    ("nul-in-header", HEAD + b"X-A: a\x00b\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY,
     {400}),
    ("tls-client-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,
     {400, None}),
]


# Malformed requests and Transfer-Encoding smuggling attempts get 400 and a closed connection:
# nothing after them on the connection is treated as a request, nothing reaches the backend.
@pytest.mark.parametrize("name,data,allowed", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_malformed_and_smuggling_requests(served, name, data, allowed):
    proxy, alpha = served
    smuggled = clients.post(clients.chat(stream=False, content="smuggled"))
    before = alpha.inference_requests()
    got, closed = raw_exchange(proxy.port, data + smuggled)
    status = int(got.split(b" ", 2)[1]) if got.startswith(b"HTTP/1.1 ") else None
    assert status in allowed, (name, got[:300])
    assert got.count(b"HTTP/1.1 ") <= 1, (name, got[:600])
    assert closed, f"{name}: the connection stayed open after the {status}"
    assert alpha.inference_requests() == before, f"{name}: something reached the backend"
    assert_answers(proxy)


# Seeded random mutations of valid requests (bytes flipped, cut, duplicated, inserted): the
# proxy answers each with a complete response or closes, and stays up. (asyncio sometimes
# collects a client socket of a reset connection late: a client-side ResourceWarning.)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_mutated_requests(served, scale):
    proxy, _ = served
    rng = random.Random(8_9)
    valid = [clients.post(clients.chat(stream=True)), clients.post(clients.chat(stream=False)),
             HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + CHUNKED_BODY]

    def mutate(data: bytes) -> bytes:
        data = bytearray(data)
        for _ in range(rng.randrange(1, 6)):
            op = rng.randrange(4)
            at = rng.randrange(len(data))
            if op == 0:
                data[at] = rng.randrange(256)
            elif op == 1:
                del data[at:at + rng.randrange(1, 20)]
            elif op == 2:
                data[at:at] = data[at:at + rng.randrange(1, 40)]
            else:
                data[at:at] = rng.choice([b"\r\n", b"\n", b":", b" ", b"\x00", b"chunked",
                                          b"Content-Length: 99999999999999999999\r\n"])
        return bytes(data)

    async def main():
        plans = [clients.Plan(raw=mutate(rng.choice(valid)) + b"\r\n\r\n")
                 for _ in range(scaled(scale, 400, 40))]
        return await clients.many(proxy.port, plans, timeout=15)

    outcomes = clients.run(main())
    for o in outcomes:
        assert o.error in ("", "timeout") or o.closed, o
        if o.status:
            assert 200 <= o.status < 600, o
    assert proxy.alive()
    assert_answers(proxy)
    # Requests the proxy could not parse are 400s in /metrics or not counted at all; nothing
    # in /metrics says 5xx for them.
    text = proxy.get("/metrics").text
    assert 'status="500"' not in text, text
