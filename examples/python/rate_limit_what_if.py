#!/usr/bin/python3
"""How many users would a per-user limit of 60 requests a minute have throttled?

The demo's chatbot-route allows 100 requests a minute per user (x-user-id). The same day of
traffic, with a few batch jobs among the users, replays under the current limit and under 60 a
minute, with the library's own token buckets.

    PYTHONPATH=build/bindings/python \
        /usr/bin/python3 examples/python/rate_limit_what_if.py --out /tmp
"""

from __future__ import annotations

import argparse

import numpy as np

import inferencegw as ig
from traffic import DEMO_DIR, out_path, plot_cost_over_time, synthetic_trace

DEMO = "\n---\n".join(
    (DEMO_DIR / name).read_text() for name in ("backends.yaml", "routes.yaml", "secrets.yaml")
)


def throttled_users(result) -> dict[str, int]:
    cols = result.columns
    users, counts = np.unique(cols["user"][cols["throttled"]].astype(str), return_counts=True)
    return dict(zip(users.tolist(), counts.tolist()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="directory for rate_limit_what_if.png")
    parser.add_argument("--limit", type=int, default=60, help="requests per minute per user")
    args = parser.parse_args()

    # One day, 4 requests a second from 3000 people, plus four batch jobs at 0.8 to 2 a second.
    columns = synthetic_trace(1, 4.0, users=3000, seed=7, heavy_rps=(0.8, 1.1, 1.5, 2.0))
    trace = ig.Trace.from_columns(columns)
    current = ig.load_config(DEMO)
    # chatbot-route's limit (model-experiment also has 100/min, without a userHeader line).
    today = "requestsPerMinute: 100\n    perUser: true\n    userHeader"
    assert DEMO.count(today) == 1
    proposed = ig.load_config(DEMO.replace(today, today.replace("100", str(args.limit))))
    scenario = {"*": {"latency": {"dist": "lognormal", "median": 1.0, "sigma": 0.4}}}
    runs = {
        "100/min (today)": ig.Simulator(current, scenario, seed=3).run(trace),
        f"{args.limit}/min": ig.Simulator(proposed, scenario, seed=3).run(trace),
    }
    users = len(set(columns["user"]))
    print(f"{len(trace):,} requests from {users:,} users in one day")
    for label, result in runs.items():
        s = result.summary
        print(f"\nlimit {label}: {s['throttled']:,} requests throttled "
              f"({100 * s['throttled'] / s['requests']:.2f}%), "
              f"{s['throttled_users']} user(s) throttled; "
              f"cost ${s['cost']['total']['USD']['cost']:,.2f}")
        for user, count in sorted(throttled_users(result).items(), key=lambda kv: -kv[1]):
            sent = int(np.count_nonzero(result.columns["user"] == user))
            print(f"  {user:12s} {count:7,} of {sent:7,} requests refused")

    path = out_path(args.out, "rate_limit_what_if.png")
    plot_cost_over_time([(f"per-user limit {label}", r) for label, r in runs.items()], path,
                        "Cost over time per backend: a rate-limit what-if")
    print(f"\nplot: {path}")


if __name__ == "__main__":
    main()
