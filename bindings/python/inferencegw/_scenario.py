"""Scenarios: how simulated backends behave.

A scenario is a dict keyed by backend name ("namespace/name", or a bare name used by one
namespace), or "*" for every backend not named, each mapping knobs to values:

  latency                   seconds to a complete successful answer: a number (fixed), or
                            {"dist": "fixed", "value": s} | {"dist": "uniform", "low": s,
                            "high": s} | {"dist": "lognormal", "median": s, "sigma": x}
                            (default: fixed 0.5 s)
  latency_per_output_token  seconds added per output token (default 0)
  outages                   [(start, end), ...] on the trace's clock, [start, end): attempts
                            sent and probes made inside fail to connect
  failure_rate              share of attempts answered with error_status (default 0)
  error_status              500..599 (default 500)
  rate_429                  share of attempts answered 429 (default 0)
  retry_after               seconds of Retry-After sent with 5xx and 429 answers (default 0)
  error_latency             seconds to a 5xx or 429 answer (default 0.05)
  connect_latency           seconds to a refused connection (default 0)

Every draw is seeded by the Simulator's seed and the request, so runs repeat exactly.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ._trace import to_seconds

KNOBS = (
    "latency",
    "latency_per_output_token",
    "outages",
    "failure_rate",
    "error_status",
    "rate_429",
    "retry_after",
    "error_latency",
    "connect_latency",
)
_DURATIONS = ("latency_per_output_token", "retry_after", "error_latency", "connect_latency")


def _ns(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be finite and >= 0 seconds, got {value}")
    return int(round(value * 1e9))


def _rate(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number in [0, 1], got {type(value).__name__}")
    if not (0 <= value <= 1):
        raise ValueError(f"{what} must be in [0, 1], got {value}")
    return float(value)


def _latency(value: Any, where: str) -> tuple:
    if isinstance(value, Mapping):
        spec = dict(value)
        dist = spec.pop("dist", "fixed")
        expected = {
            "fixed": ("value",),
            "uniform": ("low", "high"),
            "lognormal": ("median", "sigma"),
        }
        if dist not in expected:
            raise ValueError(
                f"{where}.latency: unknown dist {dist!r} (fixed, uniform, lognormal)"
            )
        missing = [k for k in expected[dist] if k not in spec]
        extra = [k for k in spec if k not in expected[dist]]
        if missing or extra:
            raise ValueError(
                f"{where}.latency: {dist} takes {', '.join(expected[dist])}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else "")
            )
        if dist == "fixed":
            return ("fixed", _ns(spec["value"], f"{where}.latency.value"))
        if dist == "uniform":
            low = _ns(spec["low"], f"{where}.latency.low")
            high = _ns(spec["high"], f"{where}.latency.high")
            if low > high:
                raise ValueError(f"{where}.latency: low must not exceed high")
            return ("uniform", low, high)
        sigma = spec["sigma"]
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
            raise TypeError(f"{where}.latency.sigma must be a number")
        if not math.isfinite(sigma) or not 0 <= sigma <= 10:
            raise ValueError(f"{where}.latency.sigma must be in [0, 10], got {sigma}")
        return ("lognormal", _ns(spec["median"], f"{where}.latency.median"), float(sigma))
    return ("fixed", _ns(value, f"{where}.latency"))


def _backend(knobs: Any, where: str) -> dict:
    if not isinstance(knobs, Mapping):
        raise TypeError(f"{where} must be a dict of knobs ({', '.join(KNOBS)})")
    unknown = [k for k in knobs if k not in KNOBS]
    if unknown:
        raise ValueError(
            f"{where}: unknown knob(s) {', '.join(map(repr, unknown))} (known: {', '.join(KNOBS)})"
        )
    out: dict[str, Any] = {}
    if "latency" in knobs:
        out["latency"] = _latency(knobs["latency"], where)
    for name in _DURATIONS:
        if name in knobs:
            out[name] = _ns(knobs[name], f"{where}.{name}")
    for name in ("failure_rate", "rate_429"):
        if name in knobs:
            out[name] = _rate(knobs[name], f"{where}.{name}")
    if out.get("failure_rate", 0) + out.get("rate_429", 0) > 1:
        raise ValueError(f"{where}: failure_rate + rate_429 must not exceed 1")
    if "error_status" in knobs:
        status = knobs["error_status"]
        if isinstance(status, bool) or not isinstance(status, int):
            raise TypeError(f"{where}.error_status must be an int")
        if not 500 <= status <= 599:
            raise ValueError(f"{where}.error_status must be in 500..599, got {status}")
        out["error_status"] = status
    if "outages" in knobs:
        windows = knobs["outages"]
        if isinstance(windows, (str, bytes, Mapping)) or not hasattr(windows, "__iter__"):
            raise TypeError(f"{where}.outages must be a list of (start, end) pairs")
        normalized = []
        for i, window in enumerate(windows):
            if (isinstance(window, (str, bytes)) or not hasattr(window, "__len__")
                    or len(window) != 2):
                raise TypeError(f"{where}.outages[{i}] must be a (start, end) pair")
            start = to_seconds(window[0], f"{where}.outages[{i}] start")
            end = to_seconds(window[1], f"{where}.outages[{i}] end")
            if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or end < start:
                raise ValueError(
                    f"{where}.outages[{i}]: needs 0 <= start <= end, got ({start}, {end})"
                )
            normalized.append((int(round(start * 1e9)), int(round(end * 1e9))))
        out["outages"] = normalized
    return out


def normalize(scenario: Mapping[str, Any] | None) -> list:
    """[(backend name or "" for the defaults, knobs with times in ns)] for the extension."""
    if scenario is None:
        return []
    if not isinstance(scenario, Mapping):
        raise TypeError("scenario must be a dict {backend name or '*': {knob: value}}")
    for name in scenario:
        if not isinstance(name, str) or not name:
            raise TypeError("scenario keys must be backend names (str) or '*'")
    # Named backends start from the "*" knobs and override them knob by knob.
    defaults = _backend(scenario["*"], "scenario['*']") if "*" in scenario else {}
    out = [("", defaults)]
    for name, knobs in scenario.items():
        if name != "*":
            out.append((name, {**defaults, **_backend(knobs, f"scenario[{name!r}]")}))
    return out
