"""Many streams abandoned at once: load generators that stop mid-stream, and clients that leave
at random points of a request (seeded), must neither crash the proxy nor leave upstream
transfers running."""

from __future__ import annotations

import pathlib
import random
import subprocess
import time

import clients
import harness
from stress_util import ledger_requests, requests_by_status, scaled
from harness import backend, route

HERE = pathlib.Path(__file__).resolve().parent


def one_backend(url: str, **spec) -> list[dict]:
    return [
        backend("a", f"{url}/v1", maxConcurrency=100000, **spec),
        route("chat", default=True, defaultBackend={"name": "a"}),
    ]


def assert_serving(proxy: harness.Proxy, name: str):
    """The proxy is alive and still answers a streamed request completely."""
    assert proxy.alive(), f"proxy died: {proxy.stderr()[-3000:]}"
    out = clients.run(clients.one(proxy.port, clients.Plan(body=clients.chat())))
    assert out.status == 200 and out.complete and out.done(), out
    assert out.names() == {name}


# The known crash: wrk holds 500 streams (20 chunks 50 ms apart) on a proxy, then stops, and
# 500 clients leave mid-stream at once. The proxy must survive and cancel every upstream stream.
def test_wrk_leaves_500_streams_at_once(stress, scale):
    alpha = stress.mock("alpha", "--chunks", "20", "--chunk-interval-ms", "50")
    proxy = stress.proxy(one_backend(alpha.url), "--no-access-log")
    connections = scaled(scale, 500, 50)
    run = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", "-d5s", "-s", str(HERE / "wrk-stream.lua"),
         f"http://127.0.0.1:{proxy.port}/v1/chat/completions"],
        capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    harness.wait_until(lambda: not proxy.alive() or alpha.stats()["in_flight"] == 0,
                       what="every upstream stream to end")
    assert_serving(proxy, "alpha")
    harness.wait_until(lambda: proxy.backend_state("default/a")["in_flight"] == 0,
                       what="the proxy's in-flight count to fall to 0")


# Clients leave at seeded random points: before the request body ends, while the upstream has
# not answered yet, in the middle of an SSE event, and right after a complete event. Clients
# that stay get complete streams; every upstream transfer ends; the request log, /metrics and
# the ledger agree with what each client saw.
def test_random_disconnects(stress, scale):
    alpha = stress.mock("alpha", "--latency-ms", "150", "--chunks", "10",
                        "--chunk-interval-ms", "20")
    proxy = stress.proxy(one_backend(alpha.url), "--request-timeout", "2")
    rng = random.Random(8_2)
    plans = []
    for i in range(scaled(scale, 1200, 40)):
        leave = rng.choice([clients.STAY, clients.BEFORE_BODY_END, clients.WAITING_UPSTREAM,
                            clients.MID_STREAM, clients.BETWEEN_CHUNKS])
        body = clients.chat(stream=rng.random() < 0.8)
        # Each client names its request, so the proxy's log line can be matched to it.
        plan = clients.Plan(body=body, leave=leave, tag=f"rd-{i}",
                            raw=clients.post(body, extra=f"x-request-id: rd-{i}\r\n"))
        if leave == clients.BEFORE_BODY_END:
            plan.leave_after = rng.randrange(1, 40)
        elif leave == clients.WAITING_UPSTREAM:
            plan.leave_delay = rng.uniform(0.0, 0.1)
        elif leave == clients.MID_STREAM:
            plan.leave_after = rng.randrange(1, 600)
        elif leave == clients.BETWEEN_CHUNKS:
            plan.leave_after = rng.randrange(1, 10)
        plans.append(plan)
    outcomes = clients.run(clients.many(proxy.port, plans))

    broken = [o for o in outcomes if not o.clean]
    assert broken == [], broken[:3]
    stayed = [o for o in outcomes if not o.left]
    assert len(stayed) > len(outcomes) // 10
    for o in stayed:
        assert o.status == 200, o
        assert o.names() == {"alpha"}, o
        if b'"stream": true' in o.plan.body:
            assert o.done() and o.stream_text() == "Hello from alpha " + " ".join(
                str(i) for i in range(1, 10)), o
    harness.wait_until(lambda: alpha.stats()["in_flight"] == 0, what="upstream transfers to end")
    harness.wait_until(lambda: proxy.backend_state("default/a")["in_flight"] == 0,
                       what="the proxy's in-flight count to fall to 0")
    assert_serving(proxy, "alpha")

    # Every request the proxy saw whole has exactly one log line, and /metrics counts the same.
    # Whether a client that left got 200 or 499 depends on whether the proxy had written the
    # whole response before the client's close reached it, so each client is checked against
    # what it saw, never against a total.
    def logged() -> dict[str, list[int]]:
        seen: dict[str, list[int]] = {}
        for e in proxy.log_entries():
            if e.get("msg") == "request":
                seen.setdefault(e.get("request_id", ""), []).append(e.get("status"))
        return seen

    def metrics_total() -> int:
        return sum(requests_by_status(proxy).values())

    harness.wait_until(lambda: sum(map(len, logged().values())) == metrics_total(),
                       what="a log line for every request counted in /metrics")
    seen = logged()
    ours = {o.plan.tag for o in outcomes}
    # The only other ids: assert_serving's request, and request timeouts of partial requests.
    strangers = sorted(s for k, v in seen.items() if k not in ours for s in v)
    assert strangers.count(200) == 1 and set(strangers) <= {200, 408}, strangers
    for o in outcomes:
        statuses = seen.get(o.plan.tag, [])
        assert len(statuses) <= 1, (o, statuses)
        if not o.left:
            assert statuses == [200], (o, statuses)
        elif o.plan.leave == clients.BEFORE_BODY_END:
            assert statuses in ([], [408]), (o, statuses)  # never a whole request
        elif o.status:  # left after the status line: the proxy saw the request and answered it
            assert statuses in ([200], [499]), (o, statuses)
        else:  # left before the status line: the proxy may not have read the request at all
            assert statuses in ([], [200], [499], [408]), (o, statuses)
    by_status = requests_by_status(proxy)
    for status in ("200", "499", "408"):
        assert by_status.get(status, 0) == sum(v.count(int(status)) for v in seen.values()), (
            status, by_status)
    assert set(by_status) <= {"200", "499", "408"}, by_status
    assert ledger_requests(proxy).get("default/a", 0) >= len(stayed) + 1


# A client that leaves aborts its upstream transfer within 100 ms: the mock's in-flight count
# falls from N to 0 that fast after N clients close, mid-stream and while waiting for headers.
def test_disconnect_aborts_upstream_within_100ms(stress, scale):
    streaming = stress.mock("streaming", "--chunks", "1000", "--chunk-interval-ms", "50")
    waiting = stress.mock("waiting", "--latency-ms", "60000")
    proxy = stress.proxy([
        backend("s", f"{streaming.url}/v1", maxConcurrency=100000),
        backend("w", f"{waiting.url}/v1", maxConcurrency=100000, timeoutSeconds=120),
        route("s", models=["s"], defaultBackend={"name": "s"}),
        route("w", models=["w"], defaultBackend={"name": "w"}),
    ])
    n = scaled(scale, 20, 5)
    for mock, model in ((streaming, "s"), (waiting, "w")):
        socks = []
        for _ in range(n):
            sock = harness.raw_connect(proxy.port)
            sock.sendall(clients.post(clients.chat(model)))
            socks.append(sock)
        harness.wait_until(lambda: mock.stats()["in_flight"] == n, what=f"{n} upstream requests")
        if model == "s":
            for sock in socks:
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        start = time.monotonic()
        for sock in socks:
            sock.close()
        harness.wait_until(lambda: mock.stats()["in_flight"] == 0, interval=0.005,
                           what="the upstream transfers to be aborted")
        took = time.monotonic() - start
        assert took < 0.1, f"{mock.name}: upstream aborted {took * 1000:.0f} ms after the clients"
