#!/usr/bin/python3
"""What does the fallback chain do during a two-hour outage of the primary?

The demo's chatbot-route sends non-premium users to local-mistral, with the fallback chain
local-mistral -> anthropic-claude -> openai-gpt4. This replays one day of traffic with
local-mistral refusing connections from 10:00 to 12:00 UTC, with the active health probes and the
circuit breaker of the real gateway, and compares it with the same day without the outage.

    PYTHONPATH=build/bindings/python /usr/bin/python3 examples/python/outage_replay.py --out /tmp
"""

from __future__ import annotations

import argparse

import numpy as np

import inferencegw as ig
from traffic import DEMO_DIR, START, out_path, plot_cost_over_time, synthetic_trace

OUTAGE = (START + 10 * 3600, START + 12 * 3600)


def describe(label: str, result) -> None:
    s = result.summary
    cols = result.columns
    t = cols["timestamp"]
    during = (t >= OUTAGE[0]) & (t < OUTAGE[1])
    print(f"\n{label}: {s['requests']:,} requests, {s['succeeded']:,} succeeded, "
          f"{s['failed']:,} failed; cost ${s['cost']['total']['USD']['cost']:,.2f}")
    served, counts = np.unique(cols["backend"][during].astype(str), return_counts=True)
    print("  10:00-12:00 served by: " + ", ".join(
        f"{b.split('/')[-1]} {c:,}" for b, c in zip(served, counts)))
    print(f"  10:00-12:00 cost ${cols['cost'][during].sum():,.2f}, "
          f"p95 latency {np.percentile(cols['latency'][during], 95):.2f} s, "
          f"requests with 2+ attempts {int((cols['attempts'][during] > 1).sum()):,}")
    mistral = s["backends"]["default/local-mistral"]
    print(f"  local-mistral: {mistral['connect_errors']:,} connect errors; left out of "
          f"{mistral['unhealthy_skips']:,} requests as unhealthy, "
          f"{mistral['breaker_open_skips']:,} with its breaker open")
    for f in s["fallbacks"]:
        to = f["to"].split("/")[-1] if f["to"] else "nobody (failed)"
        print(f"  fallback {f['route'].split('/')[-1]}: {f['from'].split('/')[-1]} -> {to}: "
              f"{f['requests']:,} requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="directory for outage_replay.png")
    parser.add_argument("--probes", action=argparse.BooleanOptionalAction, default=True,
                        help="simulate the active health probes (healthCheck)")
    parser.add_argument("--rps", type=float, default=3.0, help="mean requests per second")
    args = parser.parse_args()

    config = ig.load_config(str(DEMO_DIR))
    trace = ig.Trace.from_columns(synthetic_trace(1, args.rps, users=4000, seed=11))
    latency = {"latency": {"dist": "lognormal", "median": 1.0, "sigma": 0.4}}
    normal = ig.Simulator(config, {"*": latency}, seed=5, probes=args.probes).run(trace)
    outage = ig.Simulator(
        config, {"*": latency, "local-mistral": {**latency, "outages": [OUTAGE]}},
        seed=5, probes=args.probes,
    ).run(trace)
    describe("no outage", normal)
    describe("local-mistral down 10:00-12:00", outage)

    path = out_path(args.out, "outage_replay.png")
    plot_cost_over_time([("no outage", normal), ("local-mistral down 10:00-12:00", outage)], path,
                        "What does a two-hour outage of local-mistral cost? "
                        "Cost per hour per backend",
                        marks=[(10, 12, "local-mistral outage window, 10:00-12:00")])
    print(f"\nplot: {path}")


if __name__ == "__main__":
    main()
