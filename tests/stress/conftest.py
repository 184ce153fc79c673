"""Fixtures for the fault and stress tests: the real inferencegw-proxy (built with sanitizers)
in front of real mock LLM servers, under load, faults and abuse.

Run (tests/stress/run.sh builds the sanitizer binaries and does this twice):
  cd /work/main && /usr/bin/python3 -m pytest -q -W error tests/stress \
      --proxy build-stress-asan/frontends/proxy/inferencegw-proxy \
      --mock-llm build-stress-asan/tools/mock-llm/inferencegw-mock-llm --threads 1

Every test gets a `stress` env (tests/e2e's Env plus sanitizer checks): the processes it starts
are stopped when it ends, the proxy must exit 0 on SIGTERM, and its stderr must hold no
sanitizer report. Counts scale with --stress-scale (1 = the CI size).
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import resource
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

import harness  # noqa: E402
from stress_util import sanitizer_report  # noqa: E402


def _e2e_env_class():
    """tests/e2e/conftest.py's Env, loaded under another module name (not as a conftest)."""
    spec = importlib.util.spec_from_file_location("e2e_conftest", HERE.parent / "e2e" /
                                                  "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Env


Env = _e2e_env_class()

REPO_ROOT = HERE.parents[1]

# Sanitizer settings for every process the tests start (the environment can override them).
os.environ.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1:quarantine_size_mb=32")
os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
os.environ.setdefault("TSAN_OPTIONS", "halt_on_error=1:second_deadlock_stack=1")


def pytest_addoption(parser):
    group = parser.getgroup("inferencegw stress")
    for flag, default, what in (
        ("--proxy", "build-stress-asan/frontends/proxy/inferencegw-proxy", "inferencegw-proxy"),
        ("--mock-llm", "build-stress-asan/tools/mock-llm/inferencegw-mock-llm",
         "inferencegw-mock-llm"),
    ):
        try:
            group.addoption(flag, default=default, help=f"path of the {what} binary")
        except ValueError:
            pass  # defined by another conftest in the same run
    group.addoption("--threads", type=int, default=1, help="proxy --threads (default 1)")
    group.addoption("--stress-scale", type=float, default=1.0,
                    help="multiplies connection and request counts (1 = CI size)")


def _binary(config, flag: str) -> pathlib.Path:
    path = pathlib.Path(config.getoption(flag))
    if not path.is_absolute():
        candidates = [pathlib.Path.cwd() / path, REPO_ROOT / path]
        path = next((c for c in candidates if c.exists()), candidates[0])
    if not path.exists():
        pytest.fail(f"binary not found at {path}; build it (tests/stress/run.sh) or pass {flag}")
    return path


@pytest.fixture(scope="session", autouse=True)
def open_files_limit():
    """Thousands of sockets: the soft open-files limit goes up to the hard one (the children,
    mocks and proxies, inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture(scope="session")
def scale(request) -> float:
    return request.config.getoption("--stress-scale")


@pytest.fixture(scope="session")
def threads(request) -> int:
    return request.config.getoption("--threads")


class StressEnv(Env):
    """tests/e2e's Env with the proxy's thread count from --threads and sanitizer checks."""

    def __init__(self, tmp_path, proxy_binary, mock_binary, threads: int):
        super().__init__(tmp_path, proxy_binary, mock_binary)
        self.threads = threads

    def proxy(self, config, *flags, threads: int | None = None) -> harness.Proxy:
        return super().proxy(config, *flags, threads=threads or self.threads)

    def sanitizer_reports(self) -> list[str]:
        reports = []
        for process in self.processes:
            if isinstance(process, harness.Proxy):
                report = sanitizer_report(process.stderr_path.read_text(errors="replace"))
                if report:
                    reports.append(f"{process.stderr_path}:\n{report}")
        return reports


@pytest.fixture
def stress(tmp_path, request, threads):
    e = StressEnv(tmp_path, _binary(request.config, "--proxy"),
                  _binary(request.config, "--mock-llm"), threads)
    yield e
    problems = e.close()
    problems += e.sanitizer_reports()
    for process in e.processes:
        if isinstance(process, harness.Mock) and process.proc.returncode not in (0, None):
            problems.append(f"{process.label} exited {process.proc.returncode}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
