"""Fixtures for the end-to-end tests: the real inferencegw-proxy in front of real mock LLM servers.

Run (meson does this as the 'e2e' suite):
  cd /work/main && /usr/bin/python3 -m pytest -q -W error tests/e2e \
      --proxy build/frontends/proxy/inferencegw-proxy \
      --mock-llm build/tools/mock-llm/inferencegw-mock-llm

Each test gets an `env` with its own tmp_path; the mocks and proxies it starts are stopped when
the test ends, whatever happened.
"""

from __future__ import annotations

import pathlib
import signal
import subprocess
from typing import Iterable

import pytest

import harness

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def pytest_addoption(parser):
    group = parser.getgroup("inferencegw e2e")
    for flag, default, what in (
        ("--proxy", "build/frontends/proxy/inferencegw-proxy", "inferencegw-proxy"),
        ("--mock-llm", "build/tools/mock-llm/inferencegw-mock-llm", "inferencegw-mock-llm"),
    ):
        try:
            group.addoption(flag, default=default,
                            help=f"path of the {what} binary (relative: from the current "
                            "directory, else from the repository root)")
        except ValueError:
            pass  # defined by another conftest in the same run (tests/mock_llm)


def _binary(config, flag: str) -> pathlib.Path:
    path = pathlib.Path(config.getoption(flag))
    if not path.is_absolute():
        candidates = [pathlib.Path.cwd() / path, REPO_ROOT / path]
        path = next((c for c in candidates if c.exists()), candidates[0])
    if not path.exists():
        pytest.fail(f"binary not found at {path}; build it or pass {flag} PATH")
    return path


@pytest.fixture(scope="session")
def proxy_binary(request) -> pathlib.Path:
    return _binary(request.config, "--proxy")


@pytest.fixture(scope="session")
def mock_binary(request) -> pathlib.Path:
    return _binary(request.config, "--mock-llm")


class Env:
    """What one test runs: mocks, proxies, and their config files under tmp_path."""

    def __init__(self, tmp_path: pathlib.Path, proxy_binary: pathlib.Path,
                 mock_binary: pathlib.Path):
        self.tmp_path = tmp_path
        self.proxy_binary = proxy_binary
        self.mock_binary = mock_binary
        self.processes: list[harness._Process] = []
        self._proxies = 0

    def mock(self, name: str, *flags) -> harness.Mock:
        mock = harness.Mock(self.mock_binary, name, flags)
        self.processes.append(mock)
        return mock

    def write_config(self, objects: Iterable[dict], name: str = "config.yaml") -> pathlib.Path:
        path = self.tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        harness.write_atomically(path, harness.render(objects))
        return path

    def proxy(self, config, *flags, threads: int = 2) -> harness.Proxy:
        """Starts a proxy on `config`: a path, or manifests written to tmp_path/config.yaml."""
        path = config if isinstance(config, pathlib.Path) else self.write_config(config)
        self._proxies += 1
        # A short drain by default so that teardown never waits long; flags given later win.
        flags = ["--threads", str(threads), "--drain-timeout", "5", *flags]
        proxy = harness.Proxy(self.proxy_binary, path, flags,
                              self.tmp_path / f"proxy{self._proxies}.stderr")
        self.processes.append(proxy)
        return proxy

    def close(self) -> list[str]:
        """Stops everything; returns the proxies that did not exit 0 on SIGTERM."""
        problems = []
        for process in reversed(self.processes):
            if isinstance(process, harness.Proxy) and process.alive():
                process.send_signal(signal.SIGTERM)
                try:
                    status = process.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    status = None
                if status != 0:
                    problems.append(f"proxy exit status on SIGTERM: {status}; stderr: "
                                    f"{process.stderr()[-2000:]}")
            process.close()
        return problems


@pytest.fixture
def env(tmp_path, proxy_binary, mock_binary):
    e = Env(tmp_path, proxy_binary, mock_binary)
    yield e
    problems = e.close()
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def otlp():
    """A stdlib OTLP/HTTP trace receiver on a loopback port; stopped after the test."""
    import otlp_receiver
    receiver = otlp_receiver.OtlpReceiver()
    yield receiver
    receiver.close()
