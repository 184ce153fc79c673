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
from traffic import DEMO_DIR, START, out_path, synthetic_trace

DEMO = "\n---\n".join(
    (DEMO_DIR / name).read_text() for name in ("backends.yaml", "routes.yaml", "secrets.yaml")
)


def throttled_users(result) -> dict[str, int]:
    cols = result.columns
    users, counts = np.unique(cols["user"][cols["throttled"]].astype(str), return_counts=True)
    return dict(zip(users.tolist(), counts.tolist()))


def plot_throttling(runs: dict, path, limit: int) -> None:
    """Two panels: requests refused per hour under each limit, and the share of each throttled
    user's requests refused, against the share a token bucket predicts from the user's rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7.5))
    for label, result in runs.items():
        hourly = result.by_time("hour")
        hours = (np.asarray(hourly["start"]) - START) / 3600
        top.step(np.append(hours, hours[-1] + 1), np.append(hourly["throttled"],
                                                            hourly["throttled"][-1]),
                 where="post", label=f"per-user limit {label}", linewidth=1.4)
    top.set_title("Requests refused (429) per hour")
    top.set_xlabel("hour of the day (UTC)")
    top.set_ylabel("refused requests per hour")
    top.set_ylim(bottom=0)
    top.grid(alpha=0.3)
    top.legend(fontsize=9)

    users = sorted({u for r in runs.values() for u in throttled_users(r)})
    width = 0.8 / max(1, len(runs))
    seconds = float(np.ptp(next(iter(runs.values())).columns["timestamp"])) or 1.0
    for k, (label, result) in enumerate(runs.items()):
        refused = throttled_users(result)
        cols = result.columns
        shares = [100 * refused.get(u, 0) / max(1, int(np.count_nonzero(cols["user"] == u)))
                  for u in users]
        x = np.arange(len(users)) + (k - (len(runs) - 1) / 2) * width
        bars = bottom.bar(x, shares, width, label=f"per-user limit {label}")
        bottom.bar_label(bars, fmt="%.0f%%", fontsize=8)
    # What a token bucket of `limit` a minute refuses of a user sending r a minute: 1 - limit/r.
    cols = next(iter(runs.values())).columns
    rates = [60 * int(np.count_nonzero(cols["user"] == u)) / seconds for u in users]
    for i, rate in enumerate(rates):
        expected = max(0.0, 100 * (1 - limit / rate))
        bottom.hlines(expected, i - 0.45, i + 0.45, colors="black", linestyles="dashed",
                      label=f"1 - {limit}/rate (expected at {limit}/min)" if i == 0 else None)
    bottom.set_xticks(np.arange(len(users)),
                      [f"{u}\n({rate:.0f}/min)" for u, rate in zip(users, rates)])
    bottom.set_title("Share of each throttled user's requests refused")
    bottom.set_ylabel("% of the user's requests")
    bottom.set_xlabel("user (its average rate, requests per minute)")
    bottom.set_ylim(0, 100)
    bottom.grid(alpha=0.3, axis="y")
    bottom.legend(fontsize=9)
    fig.suptitle(f"A rate-limit what-if: 100 vs {limit} requests per minute per user")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
    plot_throttling(runs, path, args.limit)
    print(f"\nplot: {path}")


if __name__ == "__main__":
    main()
