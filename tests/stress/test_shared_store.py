"""The Redis-backed counter store under load: Redis killed, restarted and stalled while hundreds
of streams with limits and a budget run, and clients leaving mid-stream. The proxy (built with
sanitizers) must not crash, must keep answering, and must end every upstream transfer."""

from __future__ import annotations

import pathlib
import subprocess

import harness
from harness import backend, route
from redis_server import RedisServer
from stress_util import scaled
from test_abandon import assert_serving

HERE = pathlib.Path(__file__).resolve().parent


def metric(proxy: harness.Proxy, name: str) -> float:
    """The sum of every sample of `name` in /metrics."""
    total = 0.0
    for line in proxy.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# wrk holds streams on a route with a per-user limit, a token limit and a budget (all far above
# the load) while Redis is killed, restarted empty, and put to sleep; then wrk leaves every
# stream at once. Under failOpen every request is still admitted; the proxy reconnects by
# itself and ends with nothing in flight.
def test_redis_fails_under_streaming_load(stress, scale, tmp_path):
    redis = RedisServer(tmp_path).start()
    try:
        alpha = stress.mock("alpha", "--chunks", "20", "--chunk-interval-ms", "50")
        proxy = stress.proxy([
            backend("a", f"{alpha.url}/v1", maxConcurrency=100000,
                    cost={"inputTokenCost": "0.001", "outputTokenCost": "0.002"}),
            route("chat", default=True, defaultBackend={"name": "a"},
                  rateLimit={"requestsPerMinute": 100000000, "perUser": True,
                             "tokensPerMinute": 100000000},
                  budget={"limit": "1000000", "period": "day"}),
        ], "--no-access-log", "--redis", redis.url)
        connections = scaled(scale, 200, 20)
        wrk = subprocess.Popen(
            ["wrk", "-t1", f"-c{connections}", "-d8s", "-s", str(HERE / "wrk-stream.lua"),
             f"http://127.0.0.1:{proxy.port}/v1/chat/completions"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            harness.wait_until(lambda: alpha.stats()["in_flight"] >= connections // 2,
                               what="the streams to be under way")
            redis.stop()
            harness.wait_until(lambda: metric(proxy, "inference_gateway_shared_store_up") == 0,
                               what="the proxy to see Redis down")
            redis.start()
            harness.wait_until(lambda: metric(proxy, "inference_gateway_shared_store_up") == 1,
                               what="the proxy to reconnect")
            errors = metric(proxy, "inference_gateway_shared_store_errors_total")
            sleeper = redis.pause(1)
            harness.wait_until(
                lambda: metric(proxy, "inference_gateway_shared_store_errors_total") > errors,
                what="the stalled Redis to be noticed")
            sleeper.close()
            out, err = wrk.communicate(timeout=60)
        finally:
            if wrk.poll() is None:
                wrk.kill()
                wrk.communicate()
        assert wrk.returncode == 0, err
        harness.wait_until(lambda: not proxy.alive() or alpha.stats()["in_flight"] == 0,
                           what="every upstream stream to end")
        assert_serving(proxy, "alpha")
        harness.wait_until(lambda: proxy.backend_state("default/a")["in_flight"] == 0,
                           what="the proxy's in-flight count to fall to 0")
        harness.wait_until(lambda: metric(proxy, "inference_gateway_shared_store_up") == 1,
                           what="the proxy to be connected again after the stall")
    finally:
        redis.stop()
