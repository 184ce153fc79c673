#!/usr/bin/python3
"""How long must the demo's Claude 3.5 experiment run to see a 10% latency difference?

A simulation-based power analysis. The demo's model-experiment route sends 10% of users
(sticky, by x-user-id) to anthropic-claude-35. We assume both arms' latencies are lognormal with
the same spread and replay traffic for several durations, many times each (each repetition
with its own users and seed):

  A/A: both arms have the same median latency;
  A/B: the treatment's median (so every quantile) is 10% higher.

For each duration we measure the p95 ratio treatment/control from the experiment statistics
(the gateway's own per-arm latency sketches, as /admin/experiments reports them). A decision
rule "treatment is slower when the ratio exceeds c" with c = the 95th percentile of the A/A
ratios has a 5% false-positive rate; its power is the share of A/B runs above c. The answer is
the shortest duration with power >= 80%. It is only as good as the assumed latency distribution
and traffic: fit both to your own logs before trusting the number.

    PYTHONPATH=build/bindings/python \
        /usr/bin/python3 examples/python/experiment_sizing.py --out /tmp
"""

from __future__ import annotations

import argparse

import numpy as np

import inferencegw as ig
from traffic import DEMO_DIR, out_path

MEDIAN, SIGMA, EFFECT = 1.5, 0.5, 1.10


def experiment_trace(hours: float, rps: float, seed: int) -> ig.Trace:
    rng = np.random.default_rng(seed)
    n = rng.poisson(hours * 3600 * rps)
    users = np.array([f"s{seed}-user-{k}" for k in range(5000)], dtype=object)
    return ig.Trace.from_columns({
        "timestamp": np.sort(rng.uniform(0, hours * 3600, n)),
        "user": users[rng.integers(0, users.size, n)],
        "model": "claude-3-sonnet",
        "input_tokens": np.full(n, 800, dtype=np.int64),
        "output_tokens": np.full(n, 300, dtype=np.int64),
    })


def p95_ratio(config, trace, treatment_median: float, seed: int) -> tuple[float, int]:
    """(treatment p95 / control p95, treatment requests) of one run."""
    scenario = {
        "anthropic-claude": {"latency": {"dist": "lognormal", "median": MEDIAN, "sigma": SIGMA}},
        "anthropic-claude-35": {"latency": {"dist": "lognormal", "median": treatment_median,
                                            "sigma": SIGMA}},
    }
    result = ig.Simulator(config, scenario, seed=seed).run(trace)
    arms = {row["arm"]: row for row in result.summary["experiments"]}
    ratio = arms["treatment"]["latency_p95"] / arms["control"]["latency_p95"]
    return ratio, arms["treatment"]["requests"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="directory for experiment_sizing.png")
    parser.add_argument("--rps", type=float, default=1.0, help="requests per second to the route")
    parser.add_argument("--repeats", type=int, default=40, help="runs per duration and arm")
    parser.add_argument("--durations", default="1,2,4,8,16,32",
                        help="experiment durations to try, in hours (comma-separated)")
    args = parser.parse_args()

    config = ig.load_config(str(DEMO_DIR))
    durations = [int(h) for h in args.durations.split(",")]
    rows = []
    print(f"{args.rps:g} requests/s to model-experiment, 10% of users in the treatment, "
          f"lognormal latency (median {MEDIAN} s, sigma {SIGMA}), {args.repeats} runs each")
    print(f"{'hours':>5s} {'treated requests':>16s} {'A/A p95 ratio 95th pct':>23s} "
          f"{'A/B median ratio':>16s} {'power':>6s}")
    answer = None
    for hours in durations:
        aa, ab, treated = [], [], []
        for r in range(args.repeats):
            trace = experiment_trace(hours, args.rps, seed=1000 * hours + r)
            aa.append(p95_ratio(config, trace, MEDIAN, seed=r)[0])
            ratio, n = p95_ratio(config, trace, MEDIAN * EFFECT, seed=r)
            ab.append(ratio)
            treated.append(n)
        threshold = float(np.percentile(aa, 95))
        power = float(np.mean(np.array(ab) > threshold))
        rows.append((hours, aa, ab, threshold, power))
        print(f"{hours:5d} {int(np.median(treated)):16,d} {threshold:23.3f} {np.median(ab):16.3f} "
              f"{power:6.0%}")
        if answer is None and power >= 0.8:
            answer = hours
    print(f"\nshortest duration with 80% power at a 5% false-positive rate: "
          f"{answer if answer else '> ' + str(durations[-1])} hours")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for i, (hours, aa, ab, threshold, power) in enumerate(rows):
        ax.scatter(np.full(len(aa), i - 0.12), aa, s=8, color="tab:gray",
                   label="A/A (no difference)" if i == 0 else None)
        ax.scatter(np.full(len(ab), i + 0.12), ab, s=8, color="tab:red",
                   label="A/B (treatment 10% slower)" if i == 0 else None)
        ax.hlines(threshold, i - 0.3, i + 0.3, color="black", linewidth=1,
                  label="decision cut: 95th percentile of A/A (5% false positives)"
                  if i == 0 else None)
        ax.text(i, max(max(aa), max(ab)) + 0.01, f"power {power:.0%}", ha="center", fontsize=8)
    ax.axhline(EFFECT, color="tab:red", linestyle=":", linewidth=1,
               label=f"true A/B ratio ({EFFECT:.2f})")
    ax.set_xticks(range(len(rows)), [f"{h} h" for h, *_ in rows])
    ax.set_xlabel("experiment duration (hours); power = share of A/B runs above the cut")
    ax.set_ylabel("measured p95 latency ratio, treatment / control")
    ax.set_title("How long must the experiment run to detect a 10% slower p95?")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = out_path(args.out, "experiment_sizing.png")
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
