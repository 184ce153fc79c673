#!/usr/bin/python3
"""What would last week's traffic have cost if 20% of it had gone to another model?

The demo's chatbot-route sends everyone but premium users to local-mistral. The what-if route
sends 20% of that traffic to anthropic-claude instead (a weighted rule, set with
Config.with_overrides). Both configs replay the same week of traffic through the simulator; the
answer is the ledger's difference.

    PYTHONPATH=build/bindings/python /usr/bin/python3 examples/python/cost_what_if.py --out /tmp
"""

from __future__ import annotations

import argparse

import inferencegw as ig
from traffic import DEMO_DIR, out_path, plot_cost_over_time, synthetic_trace

# chatbot-route's rules with a catch-all rule after the premium one: 80% stay on local-mistral,
# 20% go to Claude. A list replaces the route's whole `rules`, so the premium rule is repeated.
SHIFT = {
    "routes": {
        "chatbot-route": {
            "rules": [
                {"match": {"headers": {"x-user-tier": "premium"}},
                 "backends": [{"name": "openai-gpt4"}]},
                {"match": {},
                 "backends": [{"name": "local-mistral", "weight": 80},
                              {"name": "anthropic-claude", "weight": 20}]},
            ]
        }
    }
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="directory for cost_what_if.png")
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--rps", type=float, default=2.0, help="mean requests per second")
    args = parser.parse_args()

    trace = ig.Trace.from_columns(synthetic_trace(args.days, args.rps, users=5000, seed=42))
    scenario = {"*": {"latency": {"dist": "lognormal", "median": 1.2, "sigma": 0.4}}}
    baseline_config = ig.load_config(DEMO_DIR)
    what_if_config = baseline_config.with_overrides(SHIFT)
    baseline = ig.Simulator(baseline_config, scenario, seed=1).run(trace)
    what_if = ig.Simulator(what_if_config, scenario, seed=1).run(trace)

    print(f"{len(trace):,} requests over {args.days:g} days")
    print(f"{'backend':28s} {'baseline':>12s} {'20% to Claude':>14s}")
    backends = sorted(
        set(baseline.summary["cost"]["backend"]) | set(what_if.summary["cost"]["backend"]))
    for name in backends:
        a = baseline.summary["cost"]["backend"].get(name, {}).get("cost", 0.0)
        b = what_if.summary["cost"]["backend"].get(name, {}).get("cost", 0.0)
        print(f"{name:28s} {a:12,.2f} {b:14,.2f}")
    a = baseline.summary["cost"]["total"]["USD"]["cost"]
    b = what_if.summary["cost"]["total"]["USD"]["cost"]
    print(f"{'total (USD)':28s} {a:12,.2f} {b:14,.2f}   ({b - a:+,.2f}, {100 * (b / a - 1):+.0f}%)")

    path = out_path(args.out, "cost_what_if.png")
    plot_cost_over_time(
        [("today's route", baseline), ("20% of non-premium traffic to Claude", what_if)],
        path, "What would sending 20% of non-premium traffic to Claude cost? "
        "Cost per hour per backend")
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
