#!/usr/bin/python3
"""How many users would a per-user limit of 60 requests a minute have throttled?

The demo's chatbot-route allows 100 requests a minute per user (x-user-id). The same day of
traffic, with a few batch jobs among the users, replays under the current limit and under 60 a
minute (Config.with_overrides, no YAML editing), with the library's own token buckets, and then
under a sweep of candidate limits to show how the refused share grows as the limit falls.

    PYTHONPATH=build/bindings/python \
        /usr/bin/python3 examples/python/rate_limit_what_if.py --out /tmp
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import inferencegw as ig
from traffic import DEMO_DIR, START, out_path, synthetic_trace

ROUTE = "chatbot-route"


def throttled_users(result) -> dict[str, int]:
    cols = result.columns
    users, counts = np.unique(cols["user"][cols["throttled"]].astype(str), return_counts=True)
    return dict(zip(users.tolist(), counts.tolist()))


def with_limit(config, requests_per_minute: int):
    """`config` with chatbot-route's per-user limit changed (its other rateLimit fields kept)."""
    return config.with_overrides(
        routes={ROUTE: {"rateLimit": {"requestsPerMinute": requests_per_minute}}})


def plot_throttling(runs: dict, sweep: dict, path, today: int, limit: int) -> None:
    """Three panels: requests refused per hour under today's and the proposed limit; the share of
    each throttled user's requests refused, against the share a token bucket predicts from the
    user's rate; and the share of all requests refused, and users throttled, for each candidate
    limit of the sweep."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom, curve) = plt.subplots(3, 1, figsize=(11, 11))
    for label, result in runs.items():
        hourly = result.by_time("hour")
        hours = (np.asarray(hourly["start"]) - START) / 3600
        top.step(np.append(hours, hours[-1] + 1), np.append(hourly["throttled"],
                                                            hourly["throttled"][-1]),
                 where="post", label=f"per-user limit {label}", linewidth=1.4)
    top.set_title("When are requests refused? Requests refused (429) per hour")
    top.set_xlabel("hours since Monday 00:00 UTC")
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
    bottom.set_title("Whom does it hit? Share of each throttled user's requests refused")
    bottom.set_ylabel("% of the user's requests")
    bottom.set_xlabel("user (its average rate, requests per minute)")
    bottom.set_ylim(0, 100)
    bottom.grid(alpha=0.3, axis="y")
    bottom.legend(fontsize=9)

    limits = sorted(sweep)
    refused = [100 * sweep[n].summary["throttled"] / max(1, sweep[n].summary["requests"])
               for n in limits]
    users_hit = [sweep[n].summary["throttled_users"] for n in limits]
    curve.plot(limits, refused, marker="o", color="tab:purple", label="requests refused (left)")
    curve.set_xlabel("per-user limit (requests per minute)")
    curve.set_ylabel("% of all requests refused")
    curve.set_ylim(bottom=0)
    curve.grid(alpha=0.3)
    right = curve.twinx()
    right.step(limits, users_hit, where="mid", color="tab:green", linestyle="--",
               label="users throttled (right)")
    right.set_ylabel("users throttled (count)")
    right.set_ylim(0, max(users_hit + [1]) + 1)
    marks = [curve.axvline(today, color="tab:blue", linestyle=":", label=f"today: {today}/min"),
             curve.axvline(limit, color="tab:orange", linestyle=":", label=f"proposed: {limit}/min")]
    handles = curve.get_lines()[:1] + right.get_lines() + marks
    curve.legend(handles, [h.get_label() for h in handles], fontsize=9, loc="upper right")
    curve.set_title("Which limit? Share of requests refused and users throttled per candidate limit")
    fig.suptitle(f"What would a per-user limit of {limit} requests/minute refuse, "
                 f"compared with today's {today}?")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="directory for rate_limit_what_if.png")
    parser.add_argument("--limit", type=int, default=60, help="requests per minute per user")
    parser.add_argument("--sweep", default="40,50,60,70,80,90,100,110,120,130",
                        help="candidate limits for the third panel (comma-separated)")
    parser.add_argument("--days", type=float, default=1, help="length of the trace in days")
    parser.add_argument("--rps", type=float, default=4.0,
                        help="mean requests per second from people (the batch jobs come on top)")
    args = parser.parse_args()

    # One day, 4 requests a second from 3000 people, plus four batch jobs at 0.8 to 2 a second.
    columns = synthetic_trace(args.days, args.rps, users=3000, seed=7,
                              heavy_rps=(0.8, 1.1, 1.5, 2.0))
    trace = ig.Trace.from_columns(columns)
    current = ig.load_config(DEMO_DIR)
    route = next(r for r in json.loads(current.to_json())["routes"] if r["name"] == ROUTE)
    today = route["spec"]["rateLimit"]["requestsPerMinute"]
    scenario = {"*": {"latency": {"dist": "lognormal", "median": 1.0, "sigma": 0.4}}}

    done = {}

    def run(limit: int):  # each limit replayed once
        if limit not in done:
            done[limit] = ig.Simulator(with_limit(current, limit), scenario, seed=3).run(trace)
        return done[limit]

    runs = {f"{today}/min (today)": run(today), f"{args.limit}/min": run(args.limit)}
    sweep = {int(n): run(int(n)) for n in args.sweep.split(",")}
    users = len(set(columns["user"]))
    print(f"{len(trace):,} requests from {users:,} users in {args.days:g} day(s)")
    for label, result in runs.items():
        s = result.summary
        print(f"\nlimit {label}: {s['throttled']:,} requests throttled "
              f"({100 * s['throttled'] / s['requests']:.2f}%), "
              f"{s['throttled_users']} user(s) throttled; "
              f"cost ${s['cost']['total']['USD']['cost']:,.2f}")
        for user, count in sorted(throttled_users(result).items(), key=lambda kv: -kv[1]):
            sent = int(np.count_nonzero(result.columns["user"] == user))
            print(f"  {user:12s} {count:7,} of {sent:7,} requests refused")

    print("\nlimit/min  refused  users throttled")
    for limit, result in sorted(sweep.items()):
        s = result.summary
        print(f"{limit:9d} {100 * s['throttled'] / s['requests']:7.2f}% {s['throttled_users']:16d}")

    path = out_path(args.out, "rate_limit_what_if.png")
    plot_throttling(runs, sweep, path, today, args.limit)
    print(f"\nplot: {path}")


if __name__ == "__main__":
    main()
