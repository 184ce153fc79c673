#!/usr/bin/python3
"""Throughput of inferencegw.Simulator: simulated requests per second of wall time.

    PYTHONPATH=build/bindings/python /usr/bin/python3 bench/python_simulator_bench.py

Cases (one backend, no experiment, the route the issue calls simple), each replaying the same
trace of --requests requests (default 1,000,000: 1000 users, 1000 requests a simulated second,
200 ms latency, so about 200 requests are in flight at any time):

  simple            no rate limit
  simple+limit      a per-user limit (600 requests a minute: nothing is refused)
  simple+throttle   a per-user limit of 30 a minute: about half the requests are refused

The timed part is Simulator.run (the C++ event loop, GIL released) on a prebuilt Trace; the
median of --repeats runs is reported. Building the trace from numpy columns and turning the
result into numpy columns are timed separately. --json prints one JSON object instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import inferencegw as ig

BACKEND = """
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

CASES = {
    "simple": "",
    "simple+limit": "  rateLimit: {requestsPerMinute: 600, perUser: true}\n",
    "simple+throttle": "  rateLimit: {requestsPerMinute: 30, perUser: true}\n",
}


def build_columns(n: int):
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--require", type=float, default=0,
                        help="exit 1 when a case's median rate (requests/s) is below this")
    args = parser.parse_args()

    t0 = time.perf_counter()
    columns = build_columns(args.requests)
    t1 = time.perf_counter()
    trace = ig.Trace.from_columns(columns)
    t2 = time.perf_counter()
    report = {
        "requests": args.requests,
        "columns_seconds": t1 - t0,
        "trace_build_seconds": t2 - t1,
        "cases": {},
    }
    failed = False
    for name, extra in CASES.items():
        sim = ig.Simulator(BACKEND + extra, {"only": {"latency": 0.2}}, seed=1)
        sim.run(trace)  # warm-up: page in the code and the allocator
        times = []
        result = None
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = sim.run(trace)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        _ = result.columns
        columns_seconds = time.perf_counter() - start
        median = statistics.median(times)
        rate = args.requests / median
        report["cases"][name] = {
            "run_seconds_median": median,
            "run_seconds_min": min(times),
            "requests_per_second": rate,
            "throttled": result.summary["throttled"],
            "succeeded": result.summary["succeeded"],
            "max_in_flight": result.summary["max_in_flight"],
            "result_columns_seconds": columns_seconds,
        }
        failed |= rate < args.require
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.requests:,} requests; numpy columns {report['columns_seconds']:.3f} s, "
              f"Trace.from_columns {report['trace_build_seconds']:.3f} s")
        for name, c in report["cases"].items():
            print(f"  {name:16s} {c['requests_per_second'] / 1e6:6.2f} M requests/s "
                  f"(median {c['run_seconds_median']:.3f} s, min {c['run_seconds_min']:.3f} s "
                  f"of {args.repeats}; throttled {c['throttled']:,}; max in flight "
                  f"{c['max_in_flight']}; result.columns {c['result_columns_seconds']:.3f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
