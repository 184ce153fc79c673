#!/usr/bin/python3
"""Speed of the Python simulator: Simulator.run, Trace.from_columns, and 10 M rows end to end.

    PYTHONPATH=build/bindings/python /usr/bin/python3 bench/python_simulator_bench.py

Simulator.run replays the same prebuilt trace of --requests rows (default 1,000,000) several
times and reports the median rate in simulated requests per second of wall time. Cases:

  demo              the demo config (examples/demo): chatbot-route with its per-user limit of
                    100 requests a minute, and model-experiment with its claude-3-5-test
                    experiment (10% of users) and per-user limit. 50,000 users (integer ids),
                    70% of requests for mistral-7b and 30% for claude-3-sonnet, 1000 requests a
                    simulated second, every backend answering in 200 ms (about 200 in flight).
  simple            one backend, no limit, no experiment, 1000 users (the first benchmark's case)
  simple+limit      the same with a per-user limit of 600 a minute (refuses nothing)
  simple+throttle   the same with a per-user limit of 30 a minute (refuses about half)

Trace.from_columns is timed on the demo case's numpy columns, with the users as an int64 array
and as an object array of "user-N" strings. --end-to-end N (default 10,000,000; 0 skips it)
times, in a fresh process, the whole path for N rows of the demo case: numpy columns,
Trace.from_columns, Simulator.run, the summary and result["cost"].sum(), and reports the wall
time and the process's peak resident memory. --json prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import inferencegw as ig

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_CONFIG = os.path.join(REPO, "examples", "demo")
DEMO_BACKENDS = ("local-mistral", "anthropic-claude", "anthropic-claude-35", "openai-gpt4")
DEMO_USERS = 50_000

SIMPLE = """
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: only}
spec:
  type: external
  external: {url: "http://127.0.0.1:1/v1", provider: openai, model: m}
  cost: {inputTokenCost: "0.001", outputTokenCost: "0.002"}
  maxConcurrency: 1000
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: simple}
spec:
  default: true
  defaultBackend: {name: only}
"""

SIMPLE_CASES = {
    "simple": "",
    "simple+limit": "  rateLimit: {requestsPerMinute: 600, perUser: true}\n",
    "simple+throttle": "  rateLimit: {requestsPerMinute: 30, perUser: true}\n",
}


def demo_columns(n: int, string_users: bool = False) -> dict:
    """The demo case's columns: numpy arrays (the model column indexes a 2-entry table)."""
    import numpy as np

    rng = np.random.default_rng(1)
    users = rng.integers(0, DEMO_USERS, n)
    if string_users:
        names = np.array([f"user-{u}" for u in range(DEMO_USERS)], dtype=object)
        users = names[users]
    models = np.array(["mistral-7b", "claude-3-sonnet"], dtype=object)
    return {
        "timestamp": np.arange(n) * 0.001,
        "user": users,
        "model": models[(rng.random(n) < 0.3).astype(np.intp)],
        "input_tokens": rng.integers(100, 1000, n),
        "output_tokens": rng.integers(20, 400, n),
    }


def simple_columns(n: int) -> dict:
    import numpy as np

    i = np.arange(n)
    users = np.array([f"user-{u}" for u in range(1000)], dtype=object)
    return {
        "timestamp": i * 0.001,
        "user": users[i % 1000],
        "model": "m",
        "input_tokens": np.full(n, 500, dtype=np.int64),
        "output_tokens": np.full(n, 200, dtype=np.int64),
    }


def demo_simulator() -> ig.Simulator:
    scenario = {name: {"latency": 0.2} for name in DEMO_BACKENDS}
    return ig.Simulator(ig.load_config(DEMO_CONFIG), scenario, seed=1)


def time_runs(sim: ig.Simulator, trace: ig.Trace, repeats: int) -> dict:
    sim.run(trace)  # warm-up: page in the code and the allocator
    times = []
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = sim.run(trace)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    _ = result.columns
    columns_seconds = time.perf_counter() - start
    median = statistics.median(times)
    return {
        "run_seconds_median": median,
        "run_seconds_min": min(times),
        "requests_per_second": len(trace) / median,
        "throttled": result.summary["throttled"],
        "succeeded": result.summary["succeeded"],
        "max_in_flight": result.summary["max_in_flight"],
        "result_columns_seconds": columns_seconds,
    }


def time_from_columns(columns: dict, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        ig.Trace.from_columns(columns)
        best = min(best, time.perf_counter() - start)
    return best


def end_to_end_child(n: int) -> None:
    """Runs in its own process: the whole path for n rows; prints one JSON line."""
    start = time.perf_counter()
    trace = ig.Trace.from_columns(demo_columns(n))  # the columns are freed once read
    built = time.perf_counter()
    result = demo_simulator().run(trace)
    ran = time.perf_counter()
    summary = result.summary
    total_cost = float(result["cost"].sum())
    end = time.perf_counter()
    print(json.dumps({
        "rows": n,
        "seconds": end - start,
        "columns_and_trace_seconds": built - start,
        "run_seconds": ran - built,
        "read_seconds": end - ran,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "succeeded": summary["succeeded"],
        "cost": total_cost,
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--end-to-end", type=int, default=10_000_000, metavar="N")
    parser.add_argument("--end-to-end-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--require", type=float, default=0,
                        help="exit 1 when the demo case's median rate (requests/s) is below this")
    args = parser.parse_args()
    if args.end_to_end_child:
        end_to_end_child(args.end_to_end_child)
        return 0

    n = args.requests
    start = time.perf_counter()
    demo = demo_columns(n)
    columns_seconds = time.perf_counter() - start
    report = {"requests": n, "numpy_columns_seconds": columns_seconds, "from_columns": {},
              "cases": {}}
    report["from_columns"]["int_users"] = n / time_from_columns(demo)
    report["from_columns"]["string_users"] = n / time_from_columns(demo_columns(n, True))

    report["cases"]["demo"] = time_runs(demo_simulator(), ig.Trace.from_columns(demo),
                                        args.repeats)
    simple_trace = ig.Trace.from_columns(simple_columns(n))
    for name, extra in SIMPLE_CASES.items():
        sim = ig.Simulator(SIMPLE + extra, {"only": {"latency": 0.2}}, seed=1)
        report["cases"][name] = time_runs(sim, simple_trace, args.repeats)

    if args.end_to_end:
        child = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--end-to-end-child", str(args.end_to_end)],
            check=True, capture_output=True, text=True)
        report["end_to_end"] = json.loads(child.stdout)

    if args.json:
        print(json.dumps(report, indent=2))
    else:
        fc = report["from_columns"]
        print(f"{n:,} rows; Trace.from_columns from numpy: {fc['int_users'] / 1e6:.2f} M rows/s "
              f"(int64 user ids), {fc['string_users'] / 1e6:.2f} M rows/s (str user names)")
        for name, c in report["cases"].items():
            print(f"  Simulator.run {name:16s} {c['requests_per_second'] / 1e6:5.2f} M requests/s "
                  f"(median {c['run_seconds_median']:.3f} s, min {c['run_seconds_min']:.3f} s "
                  f"of {args.repeats}; throttled {c['throttled']:,}; max in flight "
                  f"{c['max_in_flight']}; result.columns {c['result_columns_seconds']:.3f} s)")
        if "end_to_end" in report:
            e = report["end_to_end"]
            print(f"  end to end, {e['rows']:,} rows: {e['seconds']:.2f} s (columns and trace "
                  f"{e['columns_and_trace_seconds']:.2f} s, run {e['run_seconds']:.2f} s, "
                  f"read {e['read_seconds']:.2f} s), peak memory "
                  f"{e['peak_rss_bytes'] / 2**30:.2f} GiB")
    return 1 if report["cases"]["demo"]["requests_per_second"] < args.require else 0


if __name__ == "__main__":
    sys.exit(main())
