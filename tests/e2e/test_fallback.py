"""Fallback on each failure kind, no switching after the first byte, retries, error bodies,
the circuit breaker and active health probes."""

from __future__ import annotations

import http.client
import json
import signal
import socket

import pytest

import harness
from harness import backend, k8s_backend, route


def closed_port() -> int:
    """A loopback port nobody listens on (bound once by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chain(primary_url: str, secondary_url: str, fallback: dict | None = None,
          primary_spec: dict | None = None, secondary_spec: dict | None = None,
          kind: str = "external") -> list[dict]:
    """Route "chain": primary first, then secondary. `kind` "kubernetes" makes vLLM-style
    backends, whose health probes go to the server root (external ones probe {url}{path})."""
    make = backend if kind == "external" else k8s_backend
    suffix = "/v1" if kind == "external" else ""
    return [
        make("primary", f"{primary_url}{suffix}", **(primary_spec or {})),
        make("secondary", f"{secondary_url}{suffix}", **(secondary_spec or {})),
        route("chain", default=True, defaultBackend={"name": "primary"},
              fallback={"backends": ["primary", "secondary"], **(fallback or {})}),
    ]


def attempt_log(proxy: harness.Proxy, resp: harness.Response) -> list[dict]:
    entry = proxy.request_log(resp.headers["x-request-id"])
    return entry.get("attempt_log", [])


# A backend whose port is closed fails with connect_error and the next backend answers.
def test_fallback_on_connect_error(env):
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(f"http://127.0.0.1:{closed_port()}", secondary.url))
    for stream in (False, True):
        resp = proxy.chat("m", stream=stream)
        assert resp.status == 200, resp.text
        assert resp.headers["x-inferencegw-backend"] == "default/secondary"
        assert resp.headers["x-inferencegw-attempts"] == "2"
        log = attempt_log(proxy, resp)
        assert [(a["backend"], a["outcome"]) for a in log] == [
            ("default/primary", "connect_error"), ("default/secondary", "none")]
    assert secondary.inference_requests() == 2


# An upstream slower than the attempt timeout fails with timeout (streamed or not), and nothing
# of it reaches the client.
def test_fallback_on_timeout(env):
    primary = env.mock("primary", "--latency-ms", "5000")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url, {"timeoutSeconds": 1}))
    plain = proxy.chat("m")
    assert plain.status == 200
    assert plain.headers["x-inferencegw-backend"] == "default/secondary"
    assert plain.json()["choices"][0]["message"]["content"].startswith("Hello from secondary")
    assert [a["outcome"] for a in attempt_log(proxy, plain)] == ["timeout", "none"]

    streamed = proxy.chat("m", stream=True)
    assert streamed.status == 200
    assert streamed.headers["x-inferencegw-backend"] == "default/secondary"
    assert harness.stream_text(streamed.events()) == "Hello from secondary 1 2 3 4"
    assert [a["outcome"] for a in attempt_log(proxy, streamed)] == ["timeout", "none"]
    assert primary.inference_requests() == 2


# 5xx answers move on; the failed attempt's body never reaches the client.
def test_fallback_on_5xx(env):
    primary = env.mock("primary", "--status", "500")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url))
    for stream in (False, True):
        resp = proxy.chat("m", stream=stream)
        assert resp.status == 200
        assert resp.headers["x-inferencegw-backend"] == "default/secondary"
        assert b"server_error" not in resp.body
        log = attempt_log(proxy, resp)
        assert [(a["outcome"], a.get("status")) for a in log] == [("5xx", 500), ("none", 200)]
    assert primary.inference_requests() == 2


# A 429 with retry-after moves on to the next backend; when every backend says 429, the client
# gets a 429 listing the attempts.
def test_fallback_on_429(env):
    primary = env.mock("primary", "--status", "429", "--retry-after", "1")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url))
    resp = proxy.chat("m")
    assert resp.status == 200
    assert resp.headers["x-inferencegw-backend"] == "default/secondary"
    assert [(a["outcome"], a.get("status")) for a in attempt_log(proxy, resp)] == [
        ("429", 429), ("none", 200)]

    secondary.configure(status=429, retry_after=1)
    limited = proxy.chat("m")
    assert limited.status == 429
    error = limited.json()["error"]
    assert error["code"] == "upstream_rate_limited"
    assert [a["status"] for a in error["attempts"]] == [429, 429]


# Once a stream's first chunk reached the client there is no fallback: the client gets the
# chunks, then an error event, and the second backend is never tried.
def test_no_fallback_after_first_byte(env):
    primary = env.mock("primary", "--drop-after-chunks", "2", "--chunk-interval-ms", "5")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url))
    resp = proxy.chat("m", stream=True)
    assert resp.status == 200
    assert resp.headers["x-inferencegw-backend"] == "default/primary"
    events = resp.events()
    assert events[-1].data != "[DONE]"
    error = events[-1].json()["error"]
    assert error["code"] == "upstream_stream_broken"
    assert "default/primary" in error["message"]
    assert harness.stream_text(events[:-1]) == "Hello from primary 1"
    assert all(e.data != "[DONE]" for e in events)

    entry = proxy.request_log(resp.headers["x-request-id"])
    assert entry["status"] == 200
    assert entry["error"] == "stream_broken"
    assert entry["attempts"] == 1
    assert primary.inference_requests() == 1
    assert primary.stats()["streams"]["dropped"] == 1
    assert secondary.inference_requests() == 0


# retriesPerBackend tries the same backend again (after a backoff) before moving on.
def test_retries_per_backend(env):
    primary = env.mock("primary", "--status", "503")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url, {
        "retriesPerBackend": 2, "backoffBaseMillis": 1, "backoffMaxMillis": 20}))
    resp = proxy.chat("m")
    assert resp.status == 200
    assert resp.headers["x-inferencegw-backend"] == "default/secondary"
    assert resp.headers["x-inferencegw-attempts"] == "4"
    log = attempt_log(proxy, resp)
    assert [(a["backend"], a["outcome"]) for a in log] == [
        ("default/primary", "5xx"), ("default/primary", "5xx"), ("default/primary", "5xx"),
        ("default/secondary", "none")]
    assert primary.inference_requests() == 3
    assert secondary.inference_requests() == 1


# retryOn narrows what moves on: a 5xx not listed goes to the client translated, untouched by
# fallback.
def test_retry_on_excludes_5xx(env):
    primary = env.mock("primary", "--status", "500")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url, {"retryOn": ["connect-error"]}))
    resp = proxy.chat("m")
    assert resp.status == 500
    assert resp.headers["x-inferencegw-backend"] == "default/primary"
    assert resp.json()["error"]["type"] == "server_error"
    assert secondary.inference_requests() == 0


# When every attempt fails: 502 for upstream errors with an OpenAI body listing each attempt
# (Anthropic's shape for /v1/messages clients), 504 for timeouts.
def test_exhausted_error_bodies(env):
    primary = env.mock("primary", "--status", "500")
    secondary = env.mock("secondary", "--status", "502")
    proxy = env.proxy(chain(primary.url, secondary.url, {"timeoutSeconds": 1}))
    resp = proxy.chat("m")
    assert resp.status == 502
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-inferencegw-attempts"] == "2"
    assert "x-inferencegw-backend" not in resp.headers
    error = resp.json()["error"]
    assert error["type"] == "server_error"
    assert error["code"] == "upstream_failed"
    assert error["message"] == ("all 2 attempts failed: default/primary: 500; "
                                "default/secondary: 502")
    assert [(a["backend"], a["outcome"], a["status"]) for a in error["attempts"]] == [
        ("default/primary", "5xx", 500), ("default/secondary", "5xx", 502)]
    assert all(isinstance(a["ms"], (int, float)) for a in error["attempts"])

    messages = proxy.post("/v1/messages", {"model": "m", "max_tokens": 16,
                                           "messages": [{"role": "user", "content": "Hi"}]})
    assert messages.status == 502
    body = messages.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "api_error"
    assert "default/primary: 500" in body["error"]["message"]

    entry = proxy.request_log(resp.headers["x-request-id"])
    assert entry["status"] == 502
    assert entry["error"] == "all_attempts_failed"

    primary.configure(status=200, latency_ms=5000)
    secondary.configure(status=200, latency_ms=5000)
    timed_out = proxy.chat("m")
    assert timed_out.status == 504
    error = timed_out.json()["error"]
    assert error["code"] == "upstream_timeout"
    assert [a["outcome"] for a in error["attempts"]] == ["timeout", "timeout"]


# With every breaker open no backend can be tried: 503 no_backend_available, and no request is
# sent upstream.
def test_503_when_no_backend_can_be_tried(env):
    primary = env.mock("primary", "--status", "500")
    secondary = env.mock("secondary", "--status", "500")
    breaker = {"circuitBreaker": {"consecutiveFailures": 1, "openSeconds": 300,
                                  "maxOpenSeconds": 300}}
    proxy = env.proxy(chain(primary.url, secondary.url, primary_spec=breaker,
                            secondary_spec=breaker))
    assert proxy.chat("m").status == 502
    resp = proxy.chat("m")
    assert resp.status == 503
    error = resp.json()["error"]
    assert error["code"] == "no_backend_available"
    assert [a["outcome"] for a in error["attempts"]] == ["breaker_open", "breaker_open"]
    assert resp.headers["x-inferencegw-attempts"] == "0"
    assert primary.inference_requests() == 1
    assert secondary.inference_requests() == 1


# The circuit breaker opens after consecutive failures (visible in /admin/backends), the
# backend is then skipped, and it closes again once the backend answers after the open time.
def test_circuit_breaker_opens_and_recovers(env):
    primary = env.mock("primary", "--status", "500")
    secondary = env.mock("secondary")
    breaker = {"circuitBreaker": {"consecutiveFailures": 2, "openSeconds": 3}}
    proxy = env.proxy(chain(primary.url, secondary.url, primary_spec=breaker))
    for _ in range(2):
        assert proxy.chat("m").headers["x-inferencegw-backend"] == "default/secondary"
    state = proxy.backend_state("default/primary")
    assert state["breaker"] == "open"
    assert state["available"] is False
    assert state["consecutive_failures"] == 2
    assert 0 < state["open_for_seconds"] <= 3
    assert primary.inference_requests() == 2

    primary.configure(status=200)
    # While open, the primary is not tried at all.
    skipped = proxy.chat("m")
    assert skipped.headers["x-inferencegw-backend"] == "default/secondary"
    assert skipped.headers["x-inferencegw-attempts"] == "1"
    assert primary.inference_requests() == 2

    harness.wait_until(
        lambda: proxy.chat("m").headers["x-inferencegw-backend"] == "default/primary",
        what="the primary to serve again after its open time")
    state = proxy.backend_state("default/primary")
    assert state["breaker"] == "closed"
    assert state["consecutive_failures"] == 0


def probed(path: str = "/health") -> dict:
    return {"healthCheck": {"path": path, "intervalSeconds": 1, "timeoutSeconds": 1,
                            "failureThreshold": 1, "successThreshold": 1}}


# A backend whose health probe answers 401 or 404 becomes Unhealthy and is skipped; a backend
# answering 200 is Healthy.
@pytest.mark.parametrize("probe_status", [401, 404])
def test_active_probes_mark_unhealthy(env, probe_status):
    primary = env.mock("primary", "--health-status", probe_status)
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url, primary_spec=probed(),
                            secondary_spec=probed(), kind="kubernetes"))
    harness.wait_until(lambda: proxy.backend_state("default/primary")["health"] == "Unhealthy",
                       what="the primary to be Unhealthy")
    harness.wait_until(lambda: proxy.backend_state("default/secondary")["health"] == "Healthy",
                       what="the secondary to be Healthy")
    state = proxy.backend_state("default/primary")
    assert state["available"] is False
    assert state["probed"] is True
    for _ in range(3):
        resp = proxy.chat("m")
        assert resp.headers["x-inferencegw-backend"] == "default/secondary"
        assert resp.headers["x-inferencegw-attempts"] == "1"
    assert primary.inference_requests() == 0
    assert primary.stats()["by_path"]["/health"] >= 1


# /healthz is always ok; /readyz turns 503 when probes find every backend down and back to 200
# when one recovers.
def test_readyz_follows_probes(env):
    primary = env.mock("primary")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url, primary_spec=probed(),
                            secondary_spec=probed(), kind="kubernetes"))
    assert proxy.get("/healthz").status == 200
    harness.wait_until(lambda: proxy.get("/readyz").status == 200, what="readyz 200")
    primary.configure(health_status=500)
    secondary.configure(health_status=404)
    harness.wait_until(lambda: proxy.get("/readyz").status == 503, what="readyz 503")
    body = proxy.get("/readyz").json()
    assert body["status"] == "unavailable"
    assert proxy.get("/healthz").status == 200
    secondary.configure(health_status=200)
    harness.wait_until(lambda: proxy.get("/readyz").status == 200, what="readyz 200 again")


# A 429 with retry-after is retried on the same backend when retriesPerBackend allows and the
# wait fits under backoffMaxMillis, then the chain moves on.
def test_429_retry_after_on_same_backend(env):
    primary = env.mock("primary", "--status", "429", "--retry-after", "1")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url, {
        "retriesPerBackend": 1, "backoffBaseMillis": 1, "backoffMaxMillis": 2000}))
    resp = proxy.chat("m")
    assert resp.status == 200
    assert resp.headers["x-inferencegw-backend"] == "default/secondary"
    assert [(a["backend"], a.get("status")) for a in attempt_log(proxy, resp)] == [
        ("default/primary", 429), ("default/primary", 429), ("default/secondary", 200)]
    assert primary.inference_requests() == 2


# A backend at maxConcurrency is left out of the plan while its slot is taken.
def test_max_concurrency_skips_backend(env):
    primary = env.mock("primary", "--chunks", "400", "--chunk-interval-ms", "25")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url, primary_spec={"maxConcurrency": 1}))
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port,
                                              timeout=harness.WAIT_SECONDS)
    try:
        conn.request("POST", "/v1/chat/completions",
                     body=json.dumps(harness.chat_body("m", stream=True)),
                     headers={"Content-Type": "application/json"})
        held = conn.getresponse()
        assert held.headers["x-inferencegw-backend"] == "default/primary"
        held.read1(65536)
        assert proxy.backend_state("default/primary")["in_flight"] == 1
        resp = proxy.chat("m")
        assert resp.headers["x-inferencegw-backend"] == "default/secondary"
        assert resp.headers["x-inferencegw-attempts"] == "1"
        assert proxy.request_log(resp.headers["x-request-id"])["attempts"] == 1
        assert primary.inference_requests() == 1
    finally:
        conn.close()
    harness.wait_until(lambda: proxy.backend_state("default/primary")["in_flight"] == 0,
                       what="the held slot to be released")
    assert proxy.chat("m").headers["x-inferencegw-backend"] == "default/primary"


# A broken stream to an Anthropic client ends with Anthropic's error event, and no fallback.
def test_broken_stream_anthropic_client(env):
    primary = env.mock("primary", "--drop-after-chunks", "1")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url))
    resp = proxy.post("/v1/messages", {"model": "m", "max_tokens": 32, "stream": True,
                                       "messages": [{"role": "user", "content": "Hi"}]})
    assert resp.status == 200
    events = resp.events()
    assert events[-1].event == "error"
    assert events[-1].json()["type"] == "error"
    assert "message_stop" not in [e.event for e in events]
    texts = [e.json()["delta"]["text"] for e in events if e.event == "content_block_delta"]
    assert texts == ["Hello from primary"]
    assert secondary.inference_requests() == 0


# Breaker and rate-limit state are kept across a reload (keyed by namespace/name).
def test_state_survives_reload(env):
    primary = env.mock("primary", "--status", "500")
    secondary = env.mock("secondary")
    objects = chain(primary.url, secondary.url,
                    primary_spec={"circuitBreaker": {"consecutiveFailures": 1,
                                                     "openSeconds": 300,
                                                     "maxOpenSeconds": 300}})
    objects[-1]["spec"]["rateLimit"] = {"requestsPerMinute": 3}
    proxy = env.proxy(objects)
    assert proxy.chat("m").headers["x-ratelimit-remaining-requests"] == "2"
    assert proxy.backend_state("default/primary")["breaker"] == "open"
    mark = proxy.mark()
    proxy.send_signal(signal.SIGHUP)
    proxy.wait_for_log(lambda e: e.get("msg") == "config reloaded", start=mark)
    assert proxy.backend_state("default/primary")["breaker"] == "open"
    resp = proxy.chat("m")
    assert resp.headers["x-ratelimit-remaining-requests"] == "1"
    assert resp.headers["x-inferencegw-attempts"] == "1"
    assert primary.inference_requests() == 1


# After the first byte, the backend's timeoutSeconds bounds silence between chunks: a stream
# that stalls longer is cut with an error event (and not retried elsewhere).
def test_stalled_stream_is_cut(env):
    primary = env.mock("primary", "--chunks", "3", "--chunk-interval-ms", "4000")
    secondary = env.mock("secondary")
    proxy = env.proxy(chain(primary.url, secondary.url, primary_spec={"timeoutSeconds": 1}))
    resp = proxy.chat("m", stream=True)
    assert resp.status == 200
    events = resp.events()
    assert events[-1].json()["error"]["code"] == "upstream_stream_broken"
    assert "timeout" in events[-1].json()["error"]["message"]
    assert harness.stream_text(events[:-1]) == "Hello from primary"
    assert secondary.inference_requests() == 0
    assert proxy.request_log(resp.headers["x-request-id"])["error"] == "stream_broken"
