"""Processes, HTTP helpers and manifest builders for the inferencegw-proxy end-to-end tests.

The fixtures in conftest.py hand out `Env` objects; tests start mocks and proxies through them
and every process is stopped when the test ends. Ports are chosen by the kernel (port 0) and read
from each process's first stdout line(s); nothing here sleeps for a fixed time: waits poll with
deadlines.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import pathlib
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from typing import Callable, Iterable

import pytest

# A generous bound on one wait for something the processes do on their own (a reload, a probe,
# a log line). Tests never depend on how fast it happens, only that it happens in this time.
WAIT_SECONDS = 20.0


class E2EError(AssertionError):
    """A process or wait failed; an AssertionError so pytest reports it as a failure."""


def wait_until(predicate: Callable[[], object], timeout: float = WAIT_SECONDS,
               what: str = "condition", interval: float = 0.02):
    """Polls `predicate` until it returns a truthy value, which is returned; fails on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise E2EError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# HTTP


@dataclasses.dataclass
class Response:
    status: int
    headers: dict  # lowercase names; repeated headers joined with ", "
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()

    def events(self) -> list["SseEvent"]:
        return parse_sse(self.body)


@dataclasses.dataclass
class SseEvent:
    event: str  # "" when the event had no `event:` line
    data: str

    def json(self):
        return json.loads(self.data)


def parse_sse(body: bytes) -> list[SseEvent]:
    """Splits an SSE body into events (comments dropped, multi-line data joined by \\n)."""
    events = []
    text = body.decode().replace("\r\n", "\n")
    for block in text.split("\n\n"):
        name, data, seen = "", [], False
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name, seen = value, True
            elif field == "data":
                data.append(value)
                seen = True
        if seen:
            events.append(SseEvent(name, "\n".join(data)))
    return events


def _headers_of(resp: http.client.HTTPResponse) -> dict:
    headers: dict = {}
    for name, value in resp.getheaders():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def request(port: int, method: str, path: str, body=None, headers=None,
            timeout: float = 30.0, host: str = "127.0.0.1") -> Response:
    """One request on a fresh connection. A dict or list body is sent as JSON."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=all_headers)
        resp = conn.getresponse()
        payload = resp.read()
        return Response(resp.status, _headers_of(resp), payload)
    finally:
        conn.close()


class Client:
    """A keep-alive HTTP client for many requests to one port (reconnects when closed)."""

    def __init__(self, port: int, timeout: float = 30.0):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def request(self, method: str, path: str, body=None, headers=None) -> Response:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        all_headers.update(headers or {})
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=all_headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                result = Response(resp.status, _headers_of(resp), payload)
                if resp.will_close:
                    self.close()
                return result
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle keep-alive connection: one retry on a new one.
                self.close()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def post(self, path: str, body=None, headers=None) -> Response:
        return self.request("POST", path, body, headers)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def chat_body(model: str = "test-model", stream: bool = False, include_usage: bool | None = None,
              content: str = "Hi", **extra) -> dict:
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    if include_usage is not None:
        body["stream_options"] = {"include_usage": include_usage}
    body.update(extra)
    return body


def stream_text(events: Iterable[SseEvent]) -> str:
    """The content of an OpenAI chat stream's chunks, joined."""
    out = []
    for e in events:
        if e.data == "[DONE]":
            continue
        chunk = e.json()
        for choice in chunk.get("choices", []):
            out.append(choice.get("delta", {}).get("content") or "")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Processes


class _Process:
    """Common lifetime handling: stop with a signal, kill after a timeout, close the pipes."""

    proc: subprocess.Popen
    label: str

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send_signal(self, sig: int):
        if self.alive():
            self.proc.send_signal(sig)

    def wait(self, timeout: float = WAIT_SECONDS) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise E2EError(f"{self.label} did not exit within {timeout:.0f} s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = WAIT_SECONDS) -> int:
        """Sends `sig` and returns the exit status (kills and fails after `timeout`)."""
        self.send_signal(sig)
        return self.wait(timeout)

    def close(self):
        """Ends the process no matter what (SIGTERM, then SIGKILL) and releases its pipes."""
        self._end()
        self._close_pipes()

    def _end(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def _close_pipes(self):
        for pipe in (self.proc.stdout, self.proc.stderr, self.proc.stdin):
            if pipe is not None and not pipe.closed:
                pipe.close()


class Mock(_Process):
    """One inferencegw-mock-llm process on a kernel-chosen loopback port."""

    def __init__(self, binary: pathlib.Path, name: str, flags: Iterable[str]):
        self.name = name
        self.label = f"mock {name}"
        self.proc = subprocess.Popen(
            [str(binary), "--listen", "127.0.0.1:0", "--threads", "1", "--name", name,
             *[str(f) for f in flags]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], WAIT_SECONDS)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("listening on "):
            self.close()
            raise E2EError(f"mock {name} did not start: first line {line!r}")
        self.port = int(line.split()[-1].rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> Response:
        return request(self.port, "GET", path)

    def stats(self) -> dict:
        return self.get("/mock/stats").json()

    def inference_requests(self) -> int:
        """Requests to inference paths (health probes left out)."""
        by_path = self.stats()["by_path"]
        return sum(n for path, n in by_path.items() if path != "/health")

    def last_request(self) -> dict:
        last = self.stats()["last_request"]
        if last is None:
            raise E2EError(f"mock {self.name} received no request")
        return last

    def configure(self, **knobs):
        resp = request(self.port, "POST", "/mock/config", knobs)
        if resp.status != 200:
            raise E2EError(f"mock {self.name} refused config {knobs}: {resp.text}")

    def reset(self):
        request(self.port, "POST", "/mock/reset", b"")


class Proxy(_Process):
    """One inferencegw-proxy process. A reader thread keeps every stdout line (JSON logs)."""

    def __init__(self, binary: pathlib.Path, config: pathlib.Path, flags: Iterable[str],
                 stderr_path: pathlib.Path):
        self.label = "proxy"
        self.config = config
        self.lines: list[str] = []
        self.cond = threading.Condition()
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "--config", str(config), "--listen", "127.0.0.1:0",
             "--admin-listen", "127.0.0.1:0", *[str(f) for f in flags]],
            stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self._reader = threading.Thread(target=self._read, name="proxy-stdout", daemon=True)
        self._reader.start()
        try:
            listening = self.wait_for_log(lambda e: e.get("msg") == "listening",
                                          what="the proxy's listening line")
        except E2EError:
            self.close()
            raise E2EError(f"proxy did not start: {self.stderr()}; stdout: {self.lines}")
        self.port = int(listening["listen"].rsplit(":", 1)[1])
        self.admin_port = int(listening["admin"].rsplit(":", 1)[1])

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def log_entries(self) -> list[dict]:
        """Every stdout line so far, parsed (a line that is not JSON fails the test)."""
        with self.cond:
            lines = list(self.lines)
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise E2EError(f"proxy wrote a stdout line that is not JSON: {line!r}")
        return out

    def stdout_text(self) -> str:
        with self.cond:
            return "\n".join(self.lines)

    def wait_for_log(self, predicate: Callable[[dict], bool], timeout: float = WAIT_SECONDS,
                     what: str = "a log line", start: int = 0) -> dict:
        """The first JSON line (from index `start`) that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            index = start
            while True:
                while index < len(self.lines):
                    try:
                        entry = json.loads(self.lines[index])
                    except json.JSONDecodeError:
                        entry = None
                    index += 1
                    if entry is not None and predicate(entry):
                        return entry
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise E2EError(f"timed out waiting for {what}; log: {self.lines[-20:]}")
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise E2EError(f"proxy exited ({self.proc.returncode}) while waiting for "
                                   f"{what}; log: {self.lines[-20:]}")
                self.cond.wait(min(remaining, 0.2))

    def mark(self) -> int:
        """The index of the next log line (for wait_for_log(start=...))."""
        with self.cond:
            return len(self.lines)

    def request_log(self, request_id: str) -> dict:
        """The request log line of one request (waits for it: logs are flushed in batches)."""
        return self.wait_for_log(
            lambda e: e.get("msg") == "request" and e.get("request_id") == request_id,
            what=f"the log line of request {request_id}")

    # Client API.
    def post(self, path: str, body=None, headers=None, timeout: float = 30.0) -> Response:
        return request(self.port, "POST", path, body, headers, timeout)

    def get(self, path: str, headers=None) -> Response:
        return request(self.port, "GET", path, None, headers)

    def chat(self, model: str = "test-model", headers=None, **kwargs) -> Response:
        return self.post("/v1/chat/completions", chat_body(model, **kwargs), headers)

    def admin(self, path: str) -> Response:
        return request(self.admin_port, "GET", path)

    def admin_json(self, path: str):
        resp = self.admin(path)
        if resp.status != 200:
            raise E2EError(f"GET {path} on the admin port: {resp.status} {resp.text}")
        return resp.json()

    def backend_state(self, key: str) -> dict:
        for backend in self.admin_json("/admin/backends"):
            if backend["key"] == key:
                return backend
        raise E2EError(f"no backend {key} in /admin/backends")

    def close(self):
        self._end()
        self._reader.join(timeout=10)  # it reads to EOF, then the pipe can be closed
        self._close_pipes()
        if not self._stderr.closed:
            self._stderr.close()


def raw_connect(port: int, timeout: float = WAIT_SECONDS) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def split_http_response(raw: bytes) -> tuple[int, dict, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


# ---------------------------------------------------------------------------------------------
# Official SDK clients (tests/e2e/node)

NODE_DIR = pathlib.Path(__file__).resolve().parent / "node"


def run_node_client(script: str, base_url: str, package: str) -> dict:
    """Runs tests/e2e/node/`script` against `base_url` and returns the JSON it prints last.

    Skips the test, saying why, when `package` is not in tests/e2e/node/node_modules
    (scripts/install-deps.sh installs it); fails it when the script fails."""
    if not (NODE_DIR / "node_modules" / package / "package.json").exists():
        pytest.skip(f"{package} is missing from tests/e2e/node/node_modules: run `npm ci` in "
                    "tests/e2e/node (scripts/install-deps.sh does)")
    node = shutil.which("node")
    assert node is not None, "node_modules is installed but `node` is not on PATH"
    run = subprocess.run([node, str(NODE_DIR / script), "--base-url", base_url],
                         cwd=NODE_DIR, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


# Manifests (JSON documents, which the loader reads as YAML)

API_VERSION = "gateway.inference-gateway.io/v1alpha1"


def backend(name: str, url: str, provider: str = "openai", model: str | None = None,
            key: tuple[str, str] | None = None, cost: dict | None = None, **spec) -> dict:
    """An external InferenceBackend; `spec` adds fields (timeoutSeconds, healthCheck, ...)."""
    external = {"url": url, "provider": provider}
    if model is not None:
        external["model"] = model
    if key is not None:
        external["apiKeySecret"] = {"name": key[0], "key": key[1]}
    body = {"type": "external", "external": external, **spec}
    if cost is not None:
        body["cost"] = cost
    return {"apiVersion": API_VERSION, "kind": "InferenceBackend", "metadata": {"name": name},
            "spec": body}


def kserve_backend(name: str, url: str, model: str | None = None, **spec) -> dict:
    kserve = {"serviceName": name, "url": url}
    if model is not None:
        kserve["model"] = model
    return {"apiVersion": API_VERSION, "kind": "InferenceBackend", "metadata": {"name": name},
            "spec": {"type": "kserve", "kserve": kserve, **spec}}


def k8s_backend(name: str, url: str, model: str | None = None, **spec) -> dict:
    """A `kubernetes` InferenceBackend (vLLM style): API at {url}/v1, probes at {url}{path}."""
    kubernetes = {"serviceName": name, "url": url}
    if model is not None:
        kubernetes["model"] = model
    return {"apiVersion": API_VERSION, "kind": "InferenceBackend", "metadata": {"name": name},
            "spec": {"type": "kubernetes", "kubernetes": kubernetes, **spec}}


def route(name: str, **spec) -> dict:
    """An InferenceRoute; spec keys as in the CRD (default, models, rules, defaultBackend...)."""
    return {"apiVersion": API_VERSION, "kind": "InferenceRoute", "metadata": {"name": name},
            "spec": spec}


def secret(name: str, string_data: dict, annotations: dict | None = None) -> dict:
    metadata = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata,
            "stringData": string_data}


def client_keys_secret(name: str, string_data: dict) -> dict:
    return secret(name, string_data, {"gateway.inference-gateway.io/client-keys": "true"})


def render(objects: Iterable[dict]) -> str:
    return "".join(f"---\n{json.dumps(o, indent=1)}\n" for o in objects)


def write_atomically(path: pathlib.Path, text: str):
    """Replaces a file by rename, as editors and `kubectl cp` do."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# Stable hashes (docs/routing.md), to know a user's experiment arm in advance

MASK64 = (1 << 64) - 1


def fmix64(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & MASK64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & MASK64
    k ^= k >> 33
    return k


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def stable_hash64(text: str) -> int:
    return fmix64(fnv1a64(text.encode()))


def experiment_bucket(experiment: str, user: str) -> int:
    return (fmix64(stable_hash64(experiment) ^ stable_hash64(user)) * 10000) >> 64


def is_treatment(experiment: str, user: str, traffic_percent: float) -> bool:
    return experiment_bucket(experiment, user) < round(traffic_percent * 100)


NODE_DIR = pathlib.Path(__file__).resolve().parent / "node"
