"""Hot reload (file rewrite under traffic, ConfigMap symlink swap, SIGHUP), graceful shutdown
on SIGTERM, and a bad config at start."""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import signal
import subprocess
import threading

import harness
from harness import backend, route


def base_objects(alpha_url: str) -> list[dict]:
    """Two routes (so that an unclaimed model is a 404, not the only route's)."""
    return [
        backend("a", f"{alpha_url}/v1"),
        route("base", models=["base-model"], defaultBackend={"name": "a"}),
        route("other", models=["other-model"], defaultBackend={"name": "a"}),
    ]


def with_fresh_route(alpha_url: str, beta_url: str) -> list[dict]:
    return base_objects(alpha_url) + [
        backend("b", f"{beta_url}/v1"),
        route("fresh", models=["new-model"], defaultBackend={"name": "b"}),
    ]


class Traffic:
    """A thread that sends requests (streamed and not) until stopped; records every outcome."""

    def __init__(self, port: int, model: str = "base-model"):
        self.port = port
        self.model = model
        self.outcomes: list[tuple[int, str]] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="traffic", daemon=True)
        self.thread.start()

    def _run(self):
        client = harness.Client(self.port)
        n = 0
        try:
            while not self.stop_event.is_set():
                stream = n % 2 == 1
                n += 1
                try:
                    resp = client.post("/v1/chat/completions",
                                       harness.chat_body(self.model, stream=stream))
                    ok = resp.status == 200 and (not stream or resp.events()[-1].data == "[DONE]")
                    self.outcomes.append((resp.status, "" if ok else resp.text[:300]))
                except Exception as e:  # noqa: BLE001 - every failure is recorded and asserted
                    self.outcomes.append((0, repr(e)))
        finally:
            client.close()

    def wait_for(self, count: int):
        harness.wait_until(lambda: len(self.outcomes) >= count, what=f"{count} requests")

    def stop(self) -> list[tuple[int, str]]:
        self.stop_event.set()
        self.thread.join(timeout=harness.WAIT_SECONDS)
        assert not self.thread.is_alive(), "the traffic thread did not stop"
        return self.outcomes


# While a thread sends requests, rewriting the config adds a route, a bad config is rejected
# with a logged error and the old config keeps serving, and no request fails.
def test_hot_reload_under_traffic(env):
    alpha = env.mock("alpha")
    beta = env.mock("beta")
    config = env.write_config(base_objects(alpha.url))
    proxy = env.proxy(config)
    assert proxy.chat("new-model").status == 404

    traffic = Traffic(proxy.port)
    traffic.wait_for(20)
    mark = proxy.mark()
    config.write_text(harness.render(with_fresh_route(alpha.url, beta.url)))  # in place
    proxy.wait_for_log(lambda e: e.get("msg") == "config reloaded" and e["routes"] == "3",
                       start=mark, what="the reload")
    fresh = proxy.chat("new-model")
    assert fresh.status == 200
    assert fresh.headers["x-inferencegw-route"] == "default/fresh"
    assert fresh.json()["choices"][0]["message"]["content"].startswith("Hello from beta")

    done = len(traffic.outcomes)
    traffic.wait_for(done + 20)
    mark = proxy.mark()
    broken = with_fresh_route(alpha.url, beta.url)
    broken[-1]["spec"]["defaultBackend"]["name"] = "ghost"
    harness.write_atomically(config, harness.render(broken))
    rejected = proxy.wait_for_log(
        lambda e: e.get("level") == "error" and "rejected" in e.get("msg", ""), start=mark,
        what="the rejected reload")
    assert 'unknown backend "ghost"' in rejected["error"]
    assert "config.yaml" in rejected["error"]
    assert proxy.chat("new-model").status == 200  # the old config stays
    done = len(traffic.outcomes)
    traffic.wait_for(done + 20)

    outcomes = traffic.stop()
    failures = [o for o in outcomes if o[0] != 200 or o[1]]
    assert failures == [], failures[:5]
    assert len(outcomes) >= 60
    metrics = proxy.get("/metrics").text
    assert metric_value(metrics, 'inference_gateway_config_reloads_total{result="success"}') >= 1
    assert metric_value(metrics, 'inference_gateway_config_reloads_total{result="failure"}') >= 1


def metric_value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"no {series} in /metrics")


def configmap_version(directory, name: str, objects: list[dict]):
    version = directory / name
    version.mkdir()
    (version / "gateway.yaml").write_text(harness.render(objects))


# A Kubernetes ConfigMap update (a new ..data symlink swapped in by rename) reloads the config.
def test_configmap_symlink_swap(env):
    alpha = env.mock("alpha")
    beta = env.mock("beta")
    mount = env.tmp_path / "configmap"
    mount.mkdir()
    configmap_version(mount, "..2024_01_01_00_00_00.1", base_objects(alpha.url))
    os.symlink("..2024_01_01_00_00_00.1", mount / "..data")
    os.symlink("..data/gateway.yaml", mount / "gateway.yaml")
    proxy = env.proxy(mount)
    assert proxy.chat("base-model").status == 200
    assert proxy.chat("new-model").status == 404

    mark = proxy.mark()
    configmap_version(mount, "..2024_01_01_00_05_00.2", with_fresh_route(alpha.url, beta.url))
    os.symlink("..2024_01_01_00_05_00.2", mount / "..data_tmp")
    os.rename(mount / "..data_tmp", mount / "..data")
    proxy.wait_for_log(lambda e: e.get("msg") == "config reloaded", start=mark,
                       what="the reload after the swap")
    resp = proxy.chat("new-model")
    assert resp.status == 200
    assert resp.headers["x-inferencegw-route"] == "default/fresh"
    # /admin/config shows what is loaded now.
    assert "fresh" in {r["name"] for r in proxy.admin_json("/admin/config")["routes"]}


# SIGHUP reloads the config even when no file changed.
def test_sighup_reloads(env):
    alpha = env.mock("alpha")
    proxy = env.proxy(base_objects(alpha.url))
    mark = proxy.mark()
    proxy.send_signal(signal.SIGHUP)
    proxy.wait_for_log(lambda e: e.get("msg") == "SIGHUP: reloading config", start=mark)
    reloaded = proxy.wait_for_log(lambda e: e.get("msg") == "config reloaded", start=mark)
    assert reloaded["generation"] == "2"
    assert proxy.alive()
    assert proxy.chat("base-model").status == 200
    assert 'inference_gateway_config_reloads_total{result="success"} 1' in \
        proxy.get("/metrics").text


# SIGTERM stops accepting connections, lets an in-flight stream finish, then exits 0.
def test_sigterm_drains_in_flight_stream(env):
    alpha = env.mock("alpha", "--chunks", "8", "--chunk-interval-ms", "150")
    proxy = env.proxy(base_objects(alpha.url), "--drain-timeout", "30")
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=harness.WAIT_SECONDS)
    try:
        conn.request("POST", "/v1/chat/completions",
                     body=json.dumps(harness.chat_body("base-model", stream=True)),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        first = resp.read1(65536)
        assert b"Hello from alpha" in first or b"data:" in first

        mark = proxy.mark()
        proxy.send_signal(signal.SIGTERM)
        proxy.wait_for_log(lambda e: e.get("msg") == "draining", start=mark)

        def refused():
            try:
                harness.raw_connect(proxy.port, timeout=2).close()
                return False
            except (ConnectionRefusedError, ConnectionResetError):
                # Reset: the connect was in the backlog of the listener as it closed.
                return True
        harness.wait_until(refused, what="new connections to be refused")

        rest = resp.read()
    finally:
        conn.close()
    events = harness.parse_sse(first + rest)
    assert events[-1].data == "[DONE]"
    assert harness.stream_text(events) == "Hello from alpha 1 2 3 4 5 6 7"
    assert proxy.wait() == 0
    entry = proxy.wait_for_log(lambda e: e.get("msg") == "request")
    assert entry["status"] == 200 and entry["stream"] is True
    proxy.wait_for_log(lambda e: e.get("msg") == "stopped")


# A bad config at start: exit status 1 and the loader's message (file, line, field) on stderr.
def test_bad_config_at_start(env):
    alpha = env.mock("alpha")
    objects = base_objects(alpha.url)
    objects[1]["spec"]["defaultBackend"]["name"] = "ghost"
    config = env.write_config(objects, "broken.yaml")
    run = subprocess.run([str(env.proxy_binary), "--config", str(config), "--listen",
                          "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=harness.WAIT_SECONDS)
    assert run.returncode == 1
    assert "broken.yaml:" in run.stderr
    assert 'spec.defaultBackend.name: unknown backend "ghost"' in run.stderr
    assert "listening" not in run.stdout

    syntax = env.tmp_path / "syntax.yaml"
    syntax.write_text("apiVersion: v1\nkind: [unclosed\n")
    run = subprocess.run([str(env.proxy_binary), "--config", str(syntax)],
                         capture_output=True, text=True, timeout=harness.WAIT_SECONDS)
    assert run.returncode == 1
    assert "syntax.yaml:" in run.stderr and "invalid YAML" in run.stderr

    missing = subprocess.run([str(env.proxy_binary), "--config", str(env.tmp_path / "nope")],
                             capture_output=True, text=True, timeout=harness.WAIT_SECONDS)
    assert missing.returncode == 1
    assert "nope" in missing.stderr

    flags = subprocess.run([str(env.proxy_binary), "--config", str(config), "--threads", "x"],
                           capture_output=True, text=True, timeout=harness.WAIT_SECONDS)
    assert flags.returncode == 2

    check = subprocess.run([str(env.proxy_binary), "--check", "--config",
                            str(env.write_config(base_objects(alpha.url), "good.yaml"))],
                           capture_output=True, text=True, timeout=harness.WAIT_SECONDS)
    assert check.returncode == 0
    assert "1 backends, 2 routes: ok" in check.stdout


# A stream in flight when a reload removes its backend finishes on the old snapshot.
def test_in_flight_stream_survives_reload(env):
    alpha = env.mock("alpha", "--chunks", "6", "--chunk-interval-ms", "100")
    beta = env.mock("beta")
    config = env.write_config(base_objects(alpha.url))
    proxy = env.proxy(config)
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=harness.WAIT_SECONDS)
    try:
        conn.request("POST", "/v1/chat/completions",
                     body=json.dumps(harness.chat_body("base-model", stream=True)),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        first = resp.read1(65536)
        mark = proxy.mark()
        replaced = [backend("b", f"{beta.url}/v1"),
                    route("base", models=["base-model"], defaultBackend={"name": "b"}),
                    route("other", models=["other-model"], defaultBackend={"name": "b"})]
        harness.write_atomically(config, harness.render(replaced))
        proxy.wait_for_log(lambda e: e.get("msg") == "config reloaded", start=mark)
        rest = resp.read()
    finally:
        conn.close()
    events = harness.parse_sse(first + rest)
    assert events[-1].data == "[DONE]"
    assert harness.stream_text(events) == "Hello from alpha 1 2 3 4 5"
    after = proxy.chat("base-model")
    assert after.headers["x-inferencegw-backend"] == "default/b"
    assert [b["key"] for b in proxy.admin_json("/admin/backends")] == ["default/b"]


# SIGTERM closes idle keep-alive connections at once and stops without waiting for them.
def test_sigterm_closes_idle_connections(env):
    alpha = env.mock("alpha")
    proxy = env.proxy(base_objects(alpha.url), "--drain-timeout", "60")
    client = harness.Client(proxy.port)
    assert client.post("/v1/chat/completions", harness.chat_body("base-model")).status == 200
    mark = proxy.mark()
    proxy.send_signal(signal.SIGTERM)
    assert proxy.wait() == 0
    assert harness.read_until_closed(client.conn.sock) == b""
    client.close()
    stopped = [e["msg"] for e in proxy.log_entries()[mark:]]
    assert "stopped" in stopped
    assert not any("drain timeout" in m for m in stopped)


# POST /admin/reload reloads on demand and says whether the config changed generation.
def test_admin_reload(env):
    alpha = env.mock("alpha")
    proxy = env.proxy(base_objects(alpha.url))
    resp = harness.request(proxy.admin_port, "POST", "/admin/reload", b"")
    assert resp.status == 200
    assert resp.json() == {"reloaded": True, "generation": 2}


# The demo's config (examples/demo) passes --check.
def test_demo_config_checks(env):
    demo = pathlib.Path(__file__).resolve().parents[2] / "examples" / "demo"
    run = subprocess.run([str(env.proxy_binary), "--check", "--config", str(demo)],
                         capture_output=True, text=True, timeout=harness.WAIT_SECONDS)
    assert run.returncode == 0, run.stderr
    assert "4 backends, 2 routes: ok" in run.stdout


# SIGTERM while a non-streamed request waits on its upstream: the answer still arrives.
def test_sigterm_drains_pending_request(env):
    alpha = env.mock("alpha", "--latency-ms", "700")
    proxy = env.proxy(base_objects(alpha.url), "--drain-timeout", "30")
    results = []
    thread = threading.Thread(
        target=lambda: results.append(proxy.chat("base-model")), name="pending")
    thread.start()
    harness.wait_until(lambda: alpha.inference_requests() == 1, what="the upstream request")
    proxy.send_signal(signal.SIGTERM)
    thread.join(timeout=harness.WAIT_SECONDS)
    assert results and results[0].status == 200
    assert results[0].json()["choices"][0]["message"]["content"].startswith("Hello from alpha")
    assert proxy.wait() == 0


def check_config(env, path, *flags) -> subprocess.CompletedProcess:
    return subprocess.run([str(env.proxy_binary), "--check", "--config", str(path), *flags],
                          capture_output=True, text=True, timeout=harness.WAIT_SECONDS)


# Hostile config files fail --check with a clear error and exit 1 (the timeout bounds the run;
# with yaml-cpp 0.7 the first one ran for minutes and grew to gigabytes).
def test_hostile_config_fails_check(env):
    lol = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for c in "bcdefghij":
        lol += f"{c}: &{c} [" + ", ".join([f"*{chr(ord(c) - 1)}"] * 10) + "]\n"
    cases = {
        "comma.yaml": (b", x", "comma.yaml:1: invalid YAML: did not find expected node content"),
        "deep.yaml": (b"[" * 100000, "deep.yaml:1: invalid YAML: nested deeper than 256 levels"),
        "lol.yaml": (lol.encode(), "more than 1000000 nodes (aliases expanded)"),
        "nul.yaml": (b"a: b\0c\n", "nul.yaml:1: invalid YAML: NUL byte (column 5)"),
        "utf8.yaml": (b"a: \xff\n", "utf8.yaml:1: invalid YAML: invalid UTF-8 (column 4)"),
    }
    for name, (content, message) in cases.items():
        path = env.tmp_path / name
        path.write_bytes(content)
        run = check_config(env, path)
        assert run.returncode == 1, (name, run.stderr)
        assert message in run.stderr, (name, run.stderr)


# A reload to a hostile file is rejected like any bad config: the admin port keeps answering,
# the old config keeps serving, and the failure is counted.
def test_hostile_config_reload_rejected(env):
    alpha = env.mock("alpha")
    config = env.write_config(base_objects(alpha.url))
    proxy = env.proxy(config)
    mark = proxy.mark()
    harness.write_atomically(config, ", x")
    rejected = proxy.wait_for_log(
        lambda e: e.get("level") == "error" and "rejected" in e.get("msg", ""), start=mark,
        what="the rejected reload")
    assert "invalid YAML" in rejected["error"]
    assert proxy.chat("base-model").status == 200
    metrics = proxy.get("/metrics").text
    assert metric_value(metrics, 'inference_gateway_config_reloads_total{result="failure"}') == 1
    assert proxy.admin("/admin/backends").status == 200


# A config without routes (a 0-byte file, or backends only) fails --check and the start with
# exit status 1 and says why; --allow-empty-config accepts it, and every request is then a 404.
def test_empty_config_rejected_unless_allowed(env):
    alpha = env.mock("alpha")
    empty = env.tmp_path / "empty.yaml"
    empty.write_bytes(b"")
    backends_only = env.write_config([backend("a", f"{alpha.url}/v1")], "backends.yaml")
    for path, counts in ((empty, "0 backends"), (backends_only, "1 backends")):
        run = check_config(env, path)
        assert run.returncode == 1
        assert f"{path}: no InferenceRoute ({counts}, 0 routes)" in run.stderr
        assert "--allow-empty-config" in run.stderr
        start = subprocess.run([str(env.proxy_binary), "--config", str(path), "--listen",
                                "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                               capture_output=True, text=True, timeout=harness.WAIT_SECONDS)
        assert start.returncode == 1
        assert "no InferenceRoute" in start.stderr
        assert "listening" not in start.stdout
        allowed = check_config(env, path, "--allow-empty-config")
        assert allowed.returncode == 0, allowed.stderr
        assert "0 routes: ok" in allowed.stdout
    proxy = env.proxy(empty, "--allow-empty-config")
    assert proxy.chat("base-model").status == 404


# A reload to a config without routes is rejected (old config stays, failure counted, logged
# why); with --allow-empty-config the same reload is applied.
def test_reload_to_empty_config(env):
    alpha = env.mock("alpha")
    strict = env.proxy(env.write_config(base_objects(alpha.url), "strict/config.yaml"))
    mark = strict.mark()
    harness.write_atomically(strict.config, "")
    rejected = strict.wait_for_log(
        lambda e: e.get("level") == "error" and "rejected" in e.get("msg", ""), start=mark,
        what="the rejected reload")
    assert "no InferenceRoute (0 backends, 0 routes)" in rejected["error"]
    assert strict.chat("base-model").status == 200
    metrics = strict.get("/metrics").text
    assert metric_value(metrics, 'inference_gateway_config_reloads_total{result="failure"}') == 1

    allowed = env.proxy(env.write_config(base_objects(alpha.url), "allowed/config.yaml"),
                        "--allow-empty-config")
    mark = allowed.mark()
    harness.write_atomically(allowed.config, "")
    allowed.wait_for_log(lambda e: e.get("msg") == "config reloaded" and e["routes"] == "0",
                         start=mark, what="the reload to an empty config")
    assert allowed.chat("base-model").status == 404


# At startup the proxy raises its open-files soft limit to the hard limit and logs it once.
def test_open_files_limit_raised(env):
    alpha = env.mock("alpha")
    proxy = env.proxy(base_objects(alpha.url))
    lines = [e["msg"] for e in proxy.log_entries() if e.get("msg", "").startswith("open files")]
    assert len(lines) == 1, lines
    limits = pathlib.Path(f"/proc/{proxy.proc.pid}/limits").read_text()
    row = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    soft, hard = row.split()[3], row.split()[4]
    if hard != "unlimited":
        assert soft == hard
        assert lines[0].endswith(f" -> {hard}"), lines
