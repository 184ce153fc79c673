"""End to end: the real proxy, in front of the real mock LLM, assigns every user the arm (and the
backend and route) that inferencegw.Router decides for the same config and request.

Needs the inferencegw-proxy and inferencegw-mock-llm binaries (--proxy / --mock-llm); skipped
when they are not built. Both are started on port 0 and always stopped.
"""

from __future__ import annotations

import http.client
import json
import pathlib
import select
import subprocess
import time

import pytest

from conftest import REPO_ROOT, expected_arm, manifests


def _binary(request, option: str) -> pathlib.Path:
    path = pathlib.Path(request.config.getoption(option))
    if not path.is_absolute():
        candidates = [pathlib.Path.cwd() / path, REPO_ROOT / path]
        path = next((c for c in candidates if c.exists()), candidates[0])
    if not path.exists():
        pytest.skip(f"{path} is not built (pass {option} PATH)")
    return path


def _read_line(proc: subprocess.Popen, deadline: float) -> str:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return ""
    ready, _, _ = select.select([proc.stdout], [], [], remaining)
    return proc.stdout.readline() if ready else ""


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None and not pipe.closed:
            pipe.close()


@pytest.fixture
def processes():
    """Collects started processes and always stops them, last started first."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in reversed(started):
        _stop(proc)


def _start_mock(binary: pathlib.Path, started: list) -> str:
    proc = subprocess.Popen([str(binary), "--listen", "127.0.0.1:0", "--name", "parity"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(proc)
    line = _read_line(proc, time.monotonic() + 10)
    if not line.startswith("listening on "):
        pytest.fail(f"mock did not start: first line {line!r}")
    return line.split()[-1]


def _start_proxy(binary: pathlib.Path, config: pathlib.Path, started: list, *flags) -> str:
    proc = subprocess.Popen(
        [str(binary), "--config", str(config), "--listen", "127.0.0.1:0",
         "--admin-listen", "127.0.0.1:0", "--threads", "2", "--no-access-log", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(proc)
    deadline = time.monotonic() + 20
    seen = []
    while True:
        line = _read_line(proc, deadline)
        if not line:
            pytest.fail(f"proxy did not log 'listening' (stdout so far: {seen!r}; "
                        f"exit status {proc.poll()})")
        seen.append(line)
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("msg") == "listening":
            return event["listen"]


def _post(address: str, body: dict, headers: dict) -> tuple[int, dict]:
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body),
                     headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def _config(mock: str) -> str:
    return manifests(
        f"""
        apiVersion: gateway.inference-gateway.io/v1alpha1
        kind: InferenceBackend
        metadata: {{name: control-model}}
        spec:
          type: external
          external: {{url: "http://{mock}/v1", provider: openai, model: control-m}}
        ---
        apiVersion: gateway.inference-gateway.io/v1alpha1
        kind: InferenceBackend
        metadata: {{name: treatment-model}}
        spec:
          type: external
          external: {{url: "http://{mock}/v1", provider: openai, model: treatment-m}}
        ---
        apiVersion: gateway.inference-gateway.io/v1alpha1
        kind: InferenceBackend
        metadata: {{name: premium-model}}
        spec:
          type: external
          external: {{url: "http://{mock}/v1", provider: openai, model: premium-m}}
        ---
        apiVersion: gateway.inference-gateway.io/v1alpha1
        kind: InferenceRoute
        metadata: {{name: parity}}
        spec:
          default: true
          defaultBackend: {{name: control-model}}
          rules:
            - match: {{headers: {{x-user-tier: premium}}}}
              backends: [{{name: premium-model}}]
          experiments:
            - name: parity-test
              control: control-model
              treatment: treatment-model
              trafficPercent: 37
        """
    )


# 200 users: the proxy's x-inferencegw-variant, -backend and -route headers equal the module's
# decision, and the arm equals the documented hash computed here in Python.
def test_proxy_assigns_the_modules_arms(request, processes, tmp_path, ig):
    proxy_binary = _binary(request, "--proxy")
    mock_binary = _binary(request, "--mock-llm")
    mock = _start_mock(mock_binary, processes)
    config_path = tmp_path / "parity.yaml"
    config_path.write_text(_config(mock))
    proxy = _start_proxy(proxy_binary, config_path, processes)
    router = ig.Router(ig.load_config(config_path))

    body = {"model": "anything", "messages": [{"role": "user", "content": "hello"}]}
    arms = {"control": 0, "treatment": 0}
    for i in range(200):
        user = f"parity-user-{i}"
        tier = {"x-user-tier": "premium"} if i % 10 == 0 else {}
        status, headers = _post(proxy, body, {"x-user-id": user, **tier})
        assert status == 200, (user, status, headers)
        decision = router.decide({"user": user, "model": "anything", "headers": tier})
        assert headers["x-inferencegw-route"] == decision.route
        assert headers["x-inferencegw-backend"] == decision.backend, user
        if decision.experiment is None:
            assert tier and "x-inferencegw-variant" not in headers
            continue
        assert headers["x-inferencegw-experiment"] == "parity-test"
        assert headers["x-inferencegw-variant"] == decision.arm, user
        assert decision.arm == expected_arm("parity-test", user, 37)
        arms[decision.arm] += 1
    assert arms["control"] > 0 and arms["treatment"] > 0


def _limits_config(mock: str) -> str:
    # Every mock answer reports 10 prompt and 20 completion tokens: $0.02 at these prices.
    return manifests(
        f"""
        apiVersion: gateway.inference-gateway.io/v1alpha1
        kind: InferenceBackend
        metadata: {{name: priced}}
        spec:
          type: external
          external: {{url: "http://{mock}/v1", provider: openai}}
          cost: {{inputTokenCost: "0", outputTokenCost: "1.00"}}
        ---
        apiVersion: gateway.inference-gateway.io/v1alpha1
        kind: InferenceRoute
        metadata: {{name: limited}}
        spec:
          default: true
          defaultBackend: {{name: priced}}
          rateLimit: {{requestsPerMinute: 3, perUser: true}}
          budget: {{limit: "0.14", period: day}}
        """
    )


# The simulator on its in-memory store decides what the proxy decides on Redis: alice, bob and
# carol send five requests each, one after another; a per-user limit of 3 a minute refuses
# alice's and bob's last two, and the $0.14 route budget ($0.02 a request) refuses carol's
# after her first.
def test_simulator_limits_and_budget_match_the_proxy_on_redis(request, processes, tmp_path, ig):
    import sys

    sys.path.insert(0, str(REPO_ROOT / "tests" / "e2e"))
    from redis_server import RedisServer

    proxy_binary = _binary(request, "--proxy")
    mock_binary = _binary(request, "--mock-llm")
    redis = RedisServer(tmp_path).start()
    try:
        mock = _start_mock(mock_binary, processes)
        config_path = tmp_path / "limits.yaml"
        config_path.write_text(_limits_config(mock))
        proxy = _start_proxy(proxy_binary, config_path, processes, "--redis", redis.url)
        users = [u for u in ("alice", "bob", "carol") for _ in range(5)]
        body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
        via_proxy = [_post(proxy, body, {"x-user-id": u})[0] for u in users]

        trace = [{"timestamp": 0.05 * i, "user": u, "model": "m", "input_tokens": 10,
                  "output_tokens": 20, "latency": 0.01} for i, u in enumerate(users)]
        simulated = ig.Simulator(ig.load_config(config_path)).run(trace, numpy=False)
        assert [int(s) for s in simulated["status"]] == via_proxy
        assert via_proxy == [200] * 3 + [429] * 2 + [200] * 3 + [429] * 2 + [200] + [429] * 4
    finally:
        redis.stop()
