"""The offline simulator: replays a trace through the gateway's own request lifecycle."""

from __future__ import annotations

import math
from typing import Any, Mapping

from . import _core, _experiments, _scenario
from ._config import ConfigSource, as_config
from ._trace import Trace, as_trace, numpy_module

_ARMS = ("none", "control", "treatment")
_CODED_COLUMNS = ("route", "backend", "experiment", "reason")
_BOOL_COLUMNS = ("throttled", "fallback")
# Columns computed from the library's integers: name -> (raw column, divisor).
_DERIVED = {"cost": ("cost_pico", 1e12), "latency": ("latency_ns", 1e9)}
# Column order of SimulationResult.columns.
COLUMNS = (
    "timestamp",
    "user",
    "route",
    "backend",
    "experiment",
    "arm",
    "status",
    "throttled",
    "fallback",
    "reason",
    "attempts",
    "latency",
    "cost",
    "cost_pico",
    "input_tokens",
    "output_tokens",
    "replica",
)


class SimulationResult:
    """Per-request columns (in trace order) and a summary of one run.

    `columns` maps each name of COLUMNS to a numpy array when numpy is importable (strings as
    object arrays, None where absent), else to a list. `summary` is a dict: request counts,
    status_counts, throttles, throttled_users, fallbacks, backends, cost (the ledger by route,
    backend, arm and user, and totals per currency), experiments (per-arm latency percentiles
    and error rates), start/end/duration, events, max_in_flight.
    """

    def __init__(self, raw: dict, trace: Trace, use_numpy: bool | None = None):
        self._raw = raw
        self._trace = trace
        self._use_numpy = use_numpy
        self._columns: dict | None = None
        self._cache: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self._trace)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<inferencegw.SimulationResult: {s['requests']} requests, {s['succeeded']} succeeded, "
            f"{s['throttled']} throttled, {s['failed']} failed>"
        )

    @property
    def summary(self) -> dict:
        return self._raw["summary"]

    @property
    def names(self) -> dict:
        """The route, backend, experiment and reason texts that the integer codes index."""
        return self._raw["names"]

    def codes(self, name: str):
        """(codes, names) of a string column: route, backend, experiment or reason (-1: none),
        or user (an index into the trace's distinct users)."""
        if name == "user":
            codes, names = self._trace._core.users()
            return self._array(codes), names
        if name not in _CODED_COLUMNS:
            raise KeyError(
                f"{name!r} is not a coded column (route, backend, experiment, reason, user)")
        return self._array(self._raw["columns"][name]), self.names[name]

    @property
    def columns(self) -> dict:
        if self._columns is None:
            np = self._numpy()
            self._columns = {name: self[name] if name in self._cache else self._column(name, np)
                             for name in COLUMNS}
        return self._columns

    def __getitem__(self, name: str):
        """One column, built alone (cheaper than `columns` for millions of rows)."""
        if self._columns is not None:
            return self._columns[name]
        if name not in COLUMNS:
            raise KeyError(f"{name!r} is not a column (columns: {', '.join(COLUMNS)})")
        cached = self._cache.get(name)
        if cached is None:
            cached = self._cache[name] = self._column(name, self._numpy())
        return cached

    def to_records(self) -> list[dict]:
        """One dict per request (handy for small traces)."""
        cols = self._build_columns(force_lists=True)
        return [{name: cols[name][i] for name in COLUMNS} for i in range(len(self))]

    def to_pandas(self):
        """The columns as a pandas DataFrame, one row per request, in trace order (needs pandas:
        Debian's python3-pandas)."""
        try:
            import pandas
        except ImportError as e:
            raise ImportError("to_pandas needs pandas (apt-get install python3-pandas)") from e
        return pandas.DataFrame(self._build_columns(), columns=list(COLUMNS))

    def compare_arms(self, metric: str | None = None, confidence: float = 0.95,
                     power: float = 0.8, seed: int | None = None, resamples: int = 2000,
                     min_samples: int = 10) -> list[dict]:
        """A verdict per configured experiment: treatment against control on `metric` (None:
        each experiment's configured metric), with the proxy's statistics (docs/python.md,
        "Comparing experiment arms"). Each dict has route, experiment, metric, unit ("s",
        "fraction", "currency"), test, confidence, power, control and treatment ({requests, n,
        estimate, ci_low, ci_high}), difference ({estimate, ci_low, ci_high, relative};
        treatment - control), p_value, verdict ("treatment_better", "control_better",
        "no_significant_difference", "insufficient_data"), required_per_arm and
        additional_requests ({control, treatment}); None where undefined. `seed` (default: from
        the route and experiment names) drives the bootstrap of latency percentiles."""
        return _experiments.compare_arms(self._raw["experiment_samples"], metric, confidence,
                                         power, seed, resamples, min_samples)

    def by_time(self, every: str | float = "hour") -> dict:
        """Totals per time bucket: `every` is "minute", "hour", "day" or a number of seconds.
        Buckets start at multiples of their size in trace time (for Unix timestamps: UTC
        calendar minutes, hours and days). Returns equally long columns (numpy arrays when
        numpy is used, else lists): start (the bucket's first second), requests, succeeded,
        throttled, failed (5xx, and upstream 429s not retried), fallbacks, cost (the sum of the
        requests' costs, whatever their currency), input_tokens, output_tokens. Empty buckets
        are left out. `pandas.DataFrame(result.by_time("hour"))` makes it a table."""
        sizes = {"minute": 60.0, "hour": 3600.0, "day": 86400.0}
        if isinstance(every, str):
            if every not in sizes:
                raise ValueError(f"every must be one of {', '.join(sizes)} or seconds; got {every!r}")
            size = sizes[every]
        elif isinstance(every, (int, float)) and not isinstance(every, bool) and every > 0:
            size = float(every)
        else:
            raise ValueError("every must be 'minute', 'hour', 'day' or a positive number of seconds")
        np_or_none = self._numpy()
        cols = {name: self._column(name, np_or_none)
                for name in ("timestamp", "status", "throttled", "fallback", "cost",
                             "input_tokens", "output_tokens")}
        status = cols["status"]
        throttled = cols["throttled"]
        np = self._numpy()
        if np is not None:
            status = np.asarray(status)
            throttled = np.asarray(throttled, dtype=bool)
            starts = np.floor(np.asarray(cols["timestamp"]) / size) * size
            keys, index = np.unique(starts, return_inverse=True)
            failed = (status >= 500) | ((status == 429) & ~throttled)

            def total(values):
                return np.bincount(index, weights=np.asarray(values, dtype=np.float64),
                                   minlength=len(keys))

            out = {
                "start": keys,
                "requests": np.bincount(index, minlength=len(keys)),
                "succeeded": total((status >= 200) & (status < 300)).astype(np.int64),
                "throttled": total(throttled).astype(np.int64),
                "failed": total(failed).astype(np.int64),
                "fallbacks": total(cols["fallback"]).astype(np.int64),
                "cost": total(cols["cost"]),
                "input_tokens": total(cols["input_tokens"]).astype(np.int64),
                "output_tokens": total(cols["output_tokens"]).astype(np.int64),
            }
            return out
        buckets: dict[float, dict] = {}
        for i, t in enumerate(cols["timestamp"]):
            b = buckets.setdefault(math.floor(t / size) * size, {
                "requests": 0, "succeeded": 0, "throttled": 0, "failed": 0, "fallbacks": 0,
                "cost": 0.0, "input_tokens": 0, "output_tokens": 0})
            st = status[i]
            b["requests"] += 1
            b["succeeded"] += 200 <= st < 300
            b["throttled"] += bool(throttled[i])
            b["failed"] += st >= 500 or (st == 429 and not throttled[i])
            b["fallbacks"] += bool(cols["fallback"][i])
            b["cost"] += cols["cost"][i]
            b["input_tokens"] += cols["input_tokens"][i]
            b["output_tokens"] += cols["output_tokens"][i]
        keys = sorted(buckets)
        out = {"start": keys}
        for name in ("requests", "succeeded", "throttled", "failed", "fallbacks", "cost",
                     "input_tokens", "output_tokens"):
            out[name] = [buckets[k][name] for k in keys]
        return out

    # -- internals ----------------------------------------------------------------------------

    def _numpy(self):
        if self._use_numpy is False:
            return None
        np = numpy_module()
        if np is None and self._use_numpy:
            raise ImportError("numpy was requested but is not importable")
        return np

    def _array(self, column):
        np = self._numpy()
        if np is None:
            return column.tolist()
        return np.frombuffer(column, dtype=np.dtype(memoryview(column).format))

    def _build_columns(self, force_lists: bool = False) -> dict:
        np = None if force_lists else self._numpy()
        return {name: self._column(name, np) for name in COLUMNS}

    def _column(self, name: str, np):
        """One column: a numpy array when `np` is numpy, else a list."""
        raw = self._raw["columns"]
        if name == "timestamp":
            timestamps = self._trace._core.timestamps()
            return np.frombuffer(timestamps, dtype=np.float64) if np else timestamps.tolist()
        if name == "user":
            codes, names = self._trace._core.users()
            if np is not None:
                return _decode_np(np, np.frombuffer(codes, dtype=np.int32), names)
            return [names[c] or None for c in codes.tolist()]
        if name in _CODED_COLUMNS:
            table = self.names[name]
            if np is not None:
                return _decode_np(np, np.frombuffer(raw[name], dtype=np.int32), table)
            return [table[c] if c >= 0 else None for c in raw[name].tolist()]
        if name == "arm":
            if np is not None:
                return np.array(_ARMS, dtype=object)[np.frombuffer(raw["arm"], dtype=np.uint8)]
            return [_ARMS[a] for a in raw["arm"].tolist()]
        if name in _DERIVED:  # float views of the library's integers
            source, scale = _DERIVED[name]
            if np is not None:
                return np.frombuffer(raw[source], dtype=np.int64) / scale
            return [v / scale for v in raw[source].tolist()]
        column = raw[name]
        if np is not None:
            array = np.frombuffer(column, dtype=np.dtype(memoryview(column).format))
            return array.view(np.bool_) if name in _BOOL_COLUMNS else array
        values = column.tolist()
        return [bool(v) for v in values] if name in _BOOL_COLUMNS else values


def _decode_np(np, codes, table: list):
    """Object array of names; None where the code is -1 (or the name is "")."""
    lookup = np.array([t if t else None for t in table] + [None], dtype=object)
    return lookup[np.where(codes < 0, len(table), codes)]


class Simulator:
    """Replays traces in virtual time through the gateway's own code: routing, experiments,
    rate limits, health tracking and circuit breakers, fallback and retries, and the cost
    ledger, driven request by request as the proxy drives them (see docs/python.md).

    `scenario` says how the simulated backends behave (see inferencegw._scenario for knobs);
    `seed` fixes every random draw (per-request entropy, failures, latencies); `probes` runs
    the active health probes of backends with a healthCheck; `max_users` bounds the users the
    cost ledger tracks by name (others are summed as "other"). `replicas` runs that many
    gateway replicas behind a round-robin balancer, each with its own health tracking, breakers
    and maxConcurrency; `shared_store` keeps their rate limits and budgets in one shared store
    (the proxy's --redis), else each replica counts on its own. Thread-safe: runs are
    independent and start from fresh state.
    """

    def __init__(
        self,
        config: ConfigSource,
        scenario: Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
        probes: bool = True,
        max_users: int = 1000,
        replicas: int = 1,
        shared_store: bool = False,
    ):
        if not isinstance(probes, bool):
            raise TypeError("probes must be a bool")
        if not isinstance(shared_store, bool):
            raise TypeError("shared_store must be a bool")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 1024:
            raise ValueError(f"replicas must be an int from 1 to 1024, got {replicas!r}")
        if isinstance(max_users, bool) or not isinstance(max_users, int) or max_users < 0:
            raise ValueError("max_users must be an int >= 0")
        self._config = as_config(config)
        self._scenario = _scenario.normalize(scenario)
        self._core = _core.Simulator(self._config, self._scenario, seed, probes, max_users,
                                     replicas, shared_store)

    @property
    def config(self) -> _core.Config:
        return self._config

    @property
    def backends(self) -> list[str]:
        return self._core.backends

    def run(
        self, trace: Any, *, numpy: bool | None = None, **trace_options: Any
    ) -> SimulationResult:
        """Replays `trace` (a Trace, a list of dicts, a dict of columns, or a .jsonl/.csv path;
        `trace_options` go to the reader). The GIL is released while the simulation runs.
        `numpy`: True/False forces the column type; None uses numpy when importable."""
        t = as_trace(trace, **trace_options)
        return SimulationResult(self._core.run(t._core), t, numpy)

    def __repr__(self) -> str:
        return f"<inferencegw.Simulator: {len(self.backends)} backends>"
