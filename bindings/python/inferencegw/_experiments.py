"""Experiment verdicts: SimulationResult.compare_arms, on the C++ library's CompareArms (the
same code that reports verdicts in the proxy's /admin/experiments)."""

from __future__ import annotations

from typing import Any

METRICS = ("latency_p50", "latency_p95", "latency_p99", "error_rate", "cost")


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if not 0 < value < 1:
        raise ValueError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")
    return float(value)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def compare_arms(samples, metric: str | None = None, confidence: float = 0.95,
                 power: float = 0.8, seed: int | None = None, resamples: int = 2000,
                 min_samples: int = 10) -> list[dict]:
    """One dict per configured experiment comparing treatment with control (see
    SimulationResult.compare_arms). `samples` is the run's _core.ExperimentSamples."""
    if metric is not None and metric not in METRICS:
        raise ValueError(f"metric must be None or one of {', '.join(METRICS)}; got {metric!r}")
    confidence = _fraction("confidence", confidence)
    power = _fraction("power", power)
    resamples = _count("resamples", resamples)
    min_samples = _count("min_samples", min_samples)
    if not 10 <= resamples <= 1_000_000:
        raise ValueError(f"resamples must be in [10, 1000000], got {resamples}")
    if min_samples < 2:
        raise ValueError(f"min_samples must be at least 2, got {min_samples}")
    if seed is not None:
        seed = _count("seed", seed) % 2**64  # any int; reduced modulo 2**64
    return samples.compare(metric, confidence, power, resamples, min_samples, seed)
