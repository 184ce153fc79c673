"""Fixtures for the inferencegw Python module tests.

Run: cd /work/main && PYTHONPATH=build-<you>/bindings/python \
         /usr/bin/python3 -m pytest -q -W error tests/python \
         [--proxy build-<you>/frontends/proxy/inferencegw-proxy] \
         [--mock-llm build-<you>/tools/mock-llm/inferencegw-mock-llm]
"""

from __future__ import annotations

import pathlib
import textwrap

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO_DIR = REPO_ROOT / "examples" / "demo"


def pytest_addoption(parser):
    parser.addoption(
        "--proxy",
        default="build/frontends/proxy/inferencegw-proxy",
        help="the inferencegw-proxy binary for test_proxy_parity.py (relative: from the current "
        "directory, else the repository root)",
    )
    parser.addoption(
        "--mock-llm",
        default="build/tools/mock-llm/inferencegw-mock-llm",
        help="the inferencegw-mock-llm binary for test_proxy_parity.py",
    )


def manifests(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


# Three backends with simple prices (per 1000 tokens), one default route with a fallback chain
# and a per-user limit of 60 requests a minute, and an experiment route for "exp-*" models.
SMALL_CONFIG = manifests(
    """
    apiVersion: gateway.inference-gateway.io/v1alpha1
    kind: InferenceBackend
    metadata: {name: cheap}
    spec:
      type: external
      external: {url: "http://127.0.0.1:1/v1", provider: openai, model: small}
      cost: {inputTokenCost: "0.001", outputTokenCost: "0.002"}
    ---
    apiVersion: gateway.inference-gateway.io/v1alpha1
    kind: InferenceBackend
    metadata: {name: backup}
    spec:
      type: external
      external: {url: "http://127.0.0.1:2/v1", provider: openai, model: medium}
      cost: {inputTokenCost: "0.003", outputTokenCost: "0.015", requestCost: "0.0001"}
    ---
    apiVersion: gateway.inference-gateway.io/v1alpha1
    kind: InferenceBackend
    metadata: {name: pricey}
    spec:
      type: external
      external: {url: "http://127.0.0.1:3/v1", provider: openai, model: large}
      cost: {inputTokenCost: "0.03", outputTokenCost: "0.06"}
    ---
    apiVersion: gateway.inference-gateway.io/v1alpha1
    kind: InferenceRoute
    metadata: {name: chat}
    spec:
      default: true
      defaultBackend: {name: cheap}
      rules:
        - match:
            headers: {x-user-tier: premium}
          backends:
            - {name: pricey}
      fallback:
        backends: [cheap, backup]
        timeoutSeconds: 10
      rateLimit: {requestsPerMinute: 60, perUser: true}
    ---
    apiVersion: gateway.inference-gateway.io/v1alpha1
    kind: InferenceRoute
    metadata: {name: lab}
    spec:
      models: ["exp-*"]
      defaultBackend: {name: cheap}
      experiments:
        - {name: price-test, control: cheap, treatment: pricey, trafficPercent: 30}
    """
)


@pytest.fixture(scope="session")
def ig():
    import inferencegw

    return inferencegw


@pytest.fixture(scope="session")
def small_config(ig):
    return ig.load_config(SMALL_CONFIG)


@pytest.fixture(scope="session")
def demo_config(ig):
    return ig.load_config(str(DEMO_DIR))


# --- the documented hash (docs/routing.md), written out independently of the C++ code -------

MASK = (1 << 64) - 1


def fmix64(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & MASK
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & MASK
    k ^= k >> 33
    return k


def stable_hash64(text: str) -> int:
    h = 0xCBF29CE484222325
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & MASK
    return fmix64(h)


def expected_arm(experiment: str, user: str, traffic_percent: float) -> str:
    bucket = (fmix64(stable_hash64(experiment) ^ stable_hash64(user)) * 10000) >> 64
    return "treatment" if bucket < round(traffic_percent * 100) else "control"
