"""Operations: /metrics (promtool), /healthz, admin endpoints, request logs and ids, and a
client that goes away mid-request."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

import harness
from harness import backend, route


@pytest.fixture
def busy(env):
    """A proxy that has served successes, a fallback, a stream, a 404 and a rate-limit refusal."""
    alpha = env.mock("alpha")
    broken = env.mock("broken", "--status", "503")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1", cost={"inputTokenCost": "0.001",
                                              "outputTokenCost": "0.002"}),
        backend("down", f"{broken.url}/v1"),
        route("chat", models=["m"], defaultBackend={"name": "down"},
              fallback={"backends": ["down", "a"]},
              rateLimit={"requestsPerMinute": 5, "perUser": True},
              experiments=[{"name": "exp", "control": "down", "treatment": "a",
                            "trafficPercent": 50}]),
        route("other", models=["n"], defaultBackend={"name": "a"}),
    ])
    for i in range(4):
        assert proxy.chat("m", headers={"x-user-id": f"u{i}"}).status == 200
    assert proxy.chat("m", headers={"x-user-id": "u0"}, stream=True).status == 200
    assert proxy.chat("unknown").status == 404
    for _ in range(5):
        proxy.chat("m", headers={"x-user-id": "u1"})
    return proxy, alpha, broken


# /metrics is Prometheus text that `promtool check metrics` accepts, with the gateway's series.
def test_metrics_pass_promtool(busy):
    proxy, _, _ = busy
    resp = proxy.get("/metrics")
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = resp.text
    for name in ("inference_gateway_requests_total", "inference_gateway_request_duration_seconds",
                 "inference_gateway_upstream_attempts_total",
                 "inference_gateway_rate_limit_hits_total", "inference_gateway_fallbacks_total",
                 "inference_gateway_cost_total", "inference_gateway_tokens_total",
                 "inference_gateway_experiment_assignments_total",
                 "inference_gateway_backend_health", "inference_gateway_circuit_breaker_state"):
        assert f"# TYPE {name} " in text, name
    assert 'inference_gateway_requests_total{route="default/chat",backend="default/a",' \
           'status="200"}' in text
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: install Debian's prometheus package "
                    "(scripts/install-deps.sh)")
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # The admin port serves the same metrics.
    assert "inference_gateway_requests_total" in proxy.admin("/metrics").text


# /healthz, /readyz and the admin endpoints answer JSON; admin paths are admin-port only.
def test_admin_endpoints(busy):
    proxy, _, _ = busy
    assert proxy.get("/healthz").json() == {"status": "ok"}
    ready = proxy.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["backends"] == 2
    backends = {b["key"]: b for b in proxy.admin_json("/admin/backends")}
    assert set(backends) == {"default/a", "default/down"}
    assert backends["default/down"]["total_failures"] >= 1
    assert backends["default/a"]["in_flight"] == 0
    config = proxy.admin_json("/admin/config")
    assert {r["name"] for r in config["routes"]} == {"chat", "other"}
    arms = proxy.admin_json("/admin/experiments")["experiments"]
    assert {a["arm"] for a in arms} <= {"control", "treatment"}
    assert sum(a["requests"] for a in arms) >= 5
    costs = proxy.admin_json("/admin/costs")
    assert costs["totals"][0]["requests"] >= 5
    for path in ("/admin/backends", "/admin/config", "/admin/costs", "/admin/experiments"):
        assert proxy.get(path).status == 404
    assert proxy.admin("/admin/nothing").status == 404


# Every request gets one JSON log line with route, backend, attempts, status, tokens and cost;
# a client's x-request-id is kept and sent upstream once.
def test_request_log_and_request_id(env):
    alpha = env.mock("alpha")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1", cost={"inputTokenCost": "0.001",
                                              "outputTokenCost": "0.002"}),
        route("chat", default=True, defaultBackend={"name": "a"}),
    ])
    resp = proxy.chat("m", headers={"x-request-id": "client-id-42", "x-user-id": "carol"},
                      content="a secret prompt")
    assert resp.status == 200
    assert resp.headers["x-request-id"] == "client-id-42"
    assert alpha.last_request()["headers"]["x-request-id"] == "client-id-42"
    entry = proxy.request_log("client-id-42")
    assert entry["route"] == "default/chat"
    assert entry["backend"] == "default/a"
    assert entry["attempts"] == 1
    assert entry["status"] == 200
    assert entry["path"] == "/v1/chat/completions"
    assert (entry["input_tokens"], entry["output_tokens"]) == (10, 20)
    assert entry["cost"] == "0.000050000"
    assert entry["user_hash"] and "carol" not in json.dumps(entry)
    assert "a secret prompt" not in proxy.stdout_text()  # no bodies unless enableLogging

    generated = proxy.chat("m")
    rid = generated.headers["x-request-id"]
    assert rid and rid != "client-id-42"
    assert alpha.last_request()["headers"]["x-request-id"] == rid
    # An id unfit for logs is replaced, upstream too; trace context is forwarded.
    odd = proxy.chat("m", headers={"x-request-id": "has spaces {}",
                                   "traceparent": "00-0af7651916cd43dd8448eb211c80319c-"
                                                  "b7ad6b7169203331-01"})
    rid = odd.headers["x-request-id"]
    assert rid != "has spaces {}"
    headers = alpha.last_request()["headers"]
    assert headers["x-request-id"] == rid
    assert headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")


# enableLogging on a route puts the request and response bodies into its log lines.
def test_enable_logging_logs_bodies(env):
    alpha = env.mock("alpha")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"}, enableLogging=True),
    ])
    resp = proxy.chat("m", content="log me please")
    entry = proxy.request_log(resp.headers["x-request-id"])
    assert "log me please" in entry["request_body"]
    assert "Hello from alpha" in entry["response_body"]


# A client that disconnects mid-stream cancels the upstream request: the mock sees the stream
# aborted and the log line says 499.
def test_client_disconnect_cancels_stream(env):
    alpha = env.mock("alpha", "--chunks", "200", "--chunk-interval-ms", "50")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"}),
    ])
    sock = harness.raw_connect(proxy.port)
    body = json.dumps(harness.chat_body("m", stream=True)).encode()
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-request-id: gone-1\r\n"
                 b"Content-Type: application/json\r\nContent-Length: "
                 + str(len(body)).encode() + b"\r\n\r\n" + body)
    received = b""
    while b"Hello from alpha" not in received:
        chunk = sock.recv(65536)
        assert chunk, "the proxy closed the stream early"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200")
    harness.wait_until(lambda: alpha.stats()["streams"]["active"] == 1, what="an active stream")
    sock.close()

    entry = proxy.request_log("gone-1")
    assert entry["status"] == 499
    assert entry["error"] == "client_closed"
    streams = harness.wait_until(
        lambda: (s := alpha.stats()["streams"])["aborted"] == 1 and s["active"] == 0 and s,
        what="the mock to see the stream aborted")
    assert streams["completed"] == 0
    assert proxy.backend_state("default/a")["in_flight"] == 0


# A client that disconnects while a non-streamed upstream request is pending cancels it too.
def test_client_disconnect_cancels_pending_request(env):
    alpha = env.mock("alpha", "--latency-ms", "10000")
    proxy = env.proxy([
        backend("a", f"{alpha.url}/v1"),
        route("chat", default=True, defaultBackend={"name": "a"}),
    ])
    sock = harness.raw_connect(proxy.port)
    body = json.dumps(harness.chat_body("m")).encode()
    sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nx-request-id: gone-2\r\n"
                 b"Content-Type: application/json\r\nContent-Length: "
                 + str(len(body)).encode() + b"\r\n\r\n" + body)
    harness.wait_until(lambda: alpha.inference_requests() == 1, what="the upstream request")
    harness.wait_until(lambda: proxy.backend_state("default/a")["in_flight"] == 1,
                       what="the request in flight")
    sock.close()
    entry = proxy.request_log("gone-2")
    assert entry["status"] == 499
    harness.wait_until(lambda: proxy.backend_state("default/a")["in_flight"] == 0,
                       what="the slot released")
    # A cancellation is not the backend's failure.
    assert proxy.backend_state("default/a")["total_failures"] == 0


# The proxy takes its flags as "--flag=value" too, as deploy/gateway/deployment.yaml writes them:
# the Deployment's own args (with the demo config) pass --check; a value on a switch is refused.
def test_deployment_args_are_accepted(proxy_binary):
    import pathlib

    import yaml

    repo = pathlib.Path(__file__).resolve().parents[2]
    docs = list(yaml.safe_load_all((repo / "deploy/gateway/deployment.yaml").read_text()))
    (deployment,) = [d for d in docs if d and d.get("kind") == "Deployment"]
    (proxy,) = [c for c in deployment["spec"]["template"]["spec"]["containers"]
                if c["name"] == "proxy"]
    args = [f"--config={repo / 'examples/demo'}" if a.startswith("--config=") else a
            for a in proxy["args"]]
    assert any("=" in a for a in args), args
    done = subprocess.run([str(proxy_binary), *args, "--check"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([str(proxy_binary), f"--config={repo / 'examples/demo'}", "--check=yes"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--check takes no value" in done.stderr, done.stderr
