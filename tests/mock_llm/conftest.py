"""Fixtures for the mock LLM server tests: start the real binary on a free port, stop it after.

Run: cd /work/main && /usr/bin/python3 -m pytest -q -W error tests/mock_llm \
         --mock-llm build-<you>/tools/mock-llm/inferencegw-mock-llm
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import pathlib
import select
import signal
import subprocess
import time

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_BINARY = "build/tools/mock-llm/inferencegw-mock-llm"


def pytest_addoption(parser):
    parser.addoption(
        "--mock-llm",
        default=DEFAULT_BINARY,
        help="path of the inferencegw-mock-llm binary (relative paths: from the current "
        "directory, else from the repository root)",
    )


@dataclasses.dataclass
class Response:
    status: int
    headers: dict  # lowercase names
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class MockServer:
    """One running mock process. Use through the `start_mock` fixture."""

    def __init__(self, binary: pathlib.Path, args: list[str]):
        self.args = args
        self.stopped = False  # stopped by the test itself, which checks the exit status
        self.proc = subprocess.Popen(
            [str(binary), "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready, _, _ = select.select([self.proc.stdout], [], [], 10.0)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("listening on "):
            problem = self.close()
            raise RuntimeError(f"mock did not start: first line {line!r} ({problem})")
        self.host, port = line.split()[-1].rsplit(":", 1)
        self.port = int(port)

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method: str, path: str, body=None, headers=None) -> Response:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        conn = self.connection()
        try:
            conn.request(method, path, body=data, headers=all_headers)
            resp = conn.getresponse()
            payload = resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload)
        finally:
            conn.close()

    def post(self, path: str, body=None, headers=None) -> Response:
        return self.request("POST", path, body, headers)

    def get(self, path: str, headers=None) -> Response:
        return self.request("GET", path, None, headers)

    def stats(self) -> dict:
        return self.get("/mock/stats").json()

    def wait_for_stats(self, predicate, timeout: float = 10.0) -> dict:
        """Polls /mock/stats until predicate(stats) holds; fails the test after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats):
                return stats
            if time.monotonic() > deadline:
                pytest.fail(f"stats never matched: {stats}")
            time.sleep(0.01)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Sends `sig` and returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=10)
        finally:
            self.close()
            self.stopped = True

    def close(self) -> str | None:
        """Stops the process (SIGTERM, then SIGKILL after 10 s) and releases its pipes.

        Returns None after a clean exit (status 0), else a description with its stderr.
        """
        problem = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problem = "did not exit within 10 s of SIGTERM"
        if problem is None and self.proc.returncode != 0:
            problem = f"exited with status {self.proc.returncode}"
        if problem is not None and self.proc.stderr is not None and not self.proc.stderr.closed:
            problem += ": " + self.proc.stderr.read()[-4000:]
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()
        return problem


@pytest.fixture(scope="session")
def mock_binary(request) -> pathlib.Path:
    path = pathlib.Path(request.config.getoption("--mock-llm"))
    if not path.is_absolute():
        candidates = [pathlib.Path.cwd() / path, REPO_ROOT / path]
        path = next((c for c in candidates if c.exists()), candidates[0])
    if not path.exists():
        pytest.fail(f"mock binary not found at {path}; build it or pass --mock-llm PATH")
    return path


@pytest.fixture
def start_mock(request, mock_binary):
    """Returns start(*flags) -> MockServer; every server started is stopped afterwards.

    The finalizer also fails the test when a server does not exit cleanly (status 0) on
    SIGTERM, so every scenario doubles as a clean-shutdown check.
    """
    servers: list[MockServer] = []

    def stop_all():
        problems = []
        for server in servers:
            problem = server.close()
            if problem is not None and not server.stopped:
                problems.append(f"mock {server.args}: {problem}")
        if problems:
            pytest.fail("\n".join(problems))

    request.addfinalizer(stop_all)

    def start(*flags) -> MockServer:
        server = MockServer(mock_binary, [str(f) for f in flags])
        servers.append(server)
        return server

    return start


@pytest.fixture
def mock(start_mock) -> MockServer:
    """A mock with default knobs, named "alpha"."""
    return start_mock("--name", "alpha")
