"""Backends that reset, stall, drop mid-stream or send malformed SSE or JSON, and fallback,
all under concurrent load: every response is complete or cleanly ended, and none mixes bytes
from two backends."""

from __future__ import annotations

import random
import socket

import clients
import harness
from stress_util import ledger_requests, requests_by_status, scaled
from harness import backend, route

# model -> (mock flags, what the client sees). "fallback": the fault is before the first byte,
# so the request moves to the healthy backend "good"; "broken": after the first byte, so the
# stream ends with the proxy's error event; "any": the proxy may pass the bytes on or fail the
# request, but must end the response cleanly.
FAULTS = {
    "reset": (["--drop-after-chunks", "2", "--drop-with-reset"], "broken"),
    "drop": (["--drop-after-chunks", "2"], "broken"),
    "drop0": (["--drop-after-chunks", "0"], "broken"),
    "stall": (["--stall-after-chunks", "2"], "broken"),
    "badjson": (["--malformed-chunk", "1"], "any"),
    "badsse": (["--malformed-chunk", "1", "--malformed", "sse"], "any"),
    "status500": (["--status", "500"], "fallback"),
    "flaky": (["--failure-rate", "0.5", "--seed", "7"], "fallback"),
    "slowstart": (["--latency-ms", "5000"], "fallback"),
}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fault_objects(mocks: dict, good_url: str) -> list[dict]:
    objects = [backend("good", f"{good_url}/v1", maxConcurrency=100000)]
    urls = {name: m.url for name, m in mocks.items()}
    urls["refused"] = f"http://127.0.0.1:{closed_port()}"
    for name, url in urls.items():
        objects.append(backend(name, f"{url}/v1", maxConcurrency=100000, timeoutSeconds=1))
        objects.append(route(name, models=[name], defaultBackend={"name": name},
                             fallback={"backends": [name, "good"]}))
    return objects


# Mixed faults under load, streamed and not: each response is judged by its fault kind.
def test_faulty_backends_under_load(stress, scale):
    good = stress.mock("good", "--chunks", "5", "--chunk-interval-ms", "20")
    mocks = {name: stress.mock(name, "--chunks", "5", "--chunk-interval-ms", "20", *flags)
             for name, (flags, _) in FAULTS.items()}
    proxy = stress.proxy(fault_objects(mocks, good.url), "--no-access-log")
    kinds = {name: kind for name, (_, kind) in FAULTS.items()}
    kinds["refused"] = "fallback"
    rng = random.Random(8_4)
    plans = []
    for i in range(scaled(scale, 900, 60)):
        model = rng.choice(sorted(kinds))
        plans.append(clients.Plan(body=clients.chat(model, stream=rng.random() < 0.7),
                                  tag=model))
    outcomes = clients.run(clients.many(proxy.port, plans, timeout=60))

    statuses: dict[str, int] = {}
    served: dict[str, int] = {}
    for o in outcomes:
        model, stream = o.plan.tag, b'"stream": true' in o.plan.body
        kind = kinds[model]
        assert o.complete and not o.error, (model, o)
        assert len(o.names()) <= 1, (model, o)  # never two backends' bytes
        statuses[str(o.status)] = statuses.get(str(o.status), 0) + 1
        if "x-inferencegw-backend" in o.headers and o.status == 200:
            name = o.headers["x-inferencegw-backend"]
            served[name] = served.get(name, 0) + 1
            assert o.names() <= {name.removeprefix("default/")}, (model, o)
        if kind == "fallback":
            assert o.status == 200, (model, o)
            assert o.names() <= {"good", model}, (model, o)
            if stream:
                assert o.done(), (model, o)
        elif kind == "broken" and o.headers.get("x-inferencegw-backend") == "default/good":
            # The fault struck before the proxy read a byte (a reset can discard what was
            # received): a fallback, complete.
            assert o.status == 200 and (o.done() or not stream), (model, o)
        elif kind == "broken" and o.status == 200 and stream:
            assert o.names() <= {model}, (model, o)
            error = o.stream_error()
            assert error is not None and not o.done(), (model, o)
            assert error["code"] == "upstream_stream_broken", (model, o)
        elif kind == "any":
            # Malformed bytes may be passed on, fail the stream, or (before the first byte of a
            # non-streamed answer) fall back to "good": never a mix (checked above).
            assert o.names() <= {model, "good"}, (model, o)
    for mock in [good, *mocks.values()]:
        harness.wait_until(lambda: mock.stats()["in_flight"] == 0,
                           what=f"{mock.name}'s transfers to end")
    assert requests_by_status(proxy) == statuses
    assert ledger_requests(proxy) == {k: v for k, v in served.items()}
