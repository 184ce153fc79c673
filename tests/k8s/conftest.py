"""Fixtures for the Kubernetes tests: the fake API server and the inferencegw-k8s-sync binary.

Run: /usr/bin/python3 -m pytest -q -W error tests/k8s [--k8s-sync PATH]
"""

import pathlib

import pytest

from fake_apiserver import FakeApiServer
from k8s_helpers import CRD_PATHS, REPO, SyncerProcess, write_kubeconfig


def pytest_addoption(parser):
    parser.addoption("--k8s-sync", default="build/frontends/k8s-sync/inferencegw-k8s-sync",
                     help="the inferencegw-k8s-sync binary (relative paths: to the repo root)")
    parser.addoption("--proxy", default="build/frontends/proxy/inferencegw-proxy",
                     help="inferencegw-proxy, for the end-to-end test (skipped when absent)")
    parser.addoption("--mock-llm", default="build/tools/mock-llm/inferencegw-mock-llm",
                     help="inferencegw-mock-llm, for the end-to-end test (skipped when absent)")


def _binary(request, option):
    path = pathlib.Path(request.config.getoption(option))
    return path if path.is_absolute() else REPO / path


@pytest.fixture(scope="session")
def k8s_sync_binary(request):
    path = _binary(request, "--k8s-sync")
    if not path.is_file():
        pytest.fail(f"{path} not found: build it (ninja -C build) or pass --k8s-sync PATH")
    return str(path)


@pytest.fixture(scope="session")
def e2e_binaries(request):
    """(proxy, mock-llm) paths; the end-to-end tests are skipped when either is not built."""
    proxy, mock = _binary(request, "--proxy"), _binary(request, "--mock-llm")
    for path in (proxy, mock):
        if not path.is_file():
            pytest.skip(f"{path} not built (pass --proxy / --mock-llm)")
    return str(proxy), str(mock)


@pytest.fixture
def apiserver():
    server = FakeApiServer(crd_paths=CRD_PATHS).start()
    yield server
    server.stop()


@pytest.fixture
def kubeconfig(apiserver, tmp_path):
    return write_kubeconfig(tmp_path / "kubeconfig", apiserver.url)


@pytest.fixture
def syncer(k8s_sync_binary, kubeconfig, tmp_path):
    """start(*args, output=..., kubeconfig=..., env=...) runs the syncer; all are stopped after
    the test, which also checks that each exited cleanly."""
    started = []

    def start(*args, output=None, config=None, env=None, leader_elect=False, name=None):
        index = len(started)
        output = output or str(tmp_path / f"rendered-{index}.yaml")
        argv = ["--kubeconfig", config or kubeconfig, "--output", output, "--log-level", "debug"]
        if not leader_elect:
            argv.append("--leader-elect=false")
        argv += list(args)
        proc = SyncerProcess(k8s_sync_binary, argv, tmp_path / f"syncer-{name or index}.log", env)
        proc.output = output
        started.append(proc)
        return proc

    yield start
    codes = [(p.args, p.stop(), getattr(p, "expected_exit", 0)) for p in started]
    for args, code, expected in codes:
        assert code == expected or "--once" in args, f"syncer {args} exited with {code}"
