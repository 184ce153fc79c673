"""Shared helpers of the worked examples: a synthetic but realistic trace, and the cost-over-time
plot. Run the examples themselves (see README.md here), not this module."""

from __future__ import annotations

import os
import pathlib

import numpy as np

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEMO_DIR = REPO_ROOT / "examples" / "demo"
# Monday 2024-06-03 00:00 UTC: the traces start here, so hours read as times of day.
START = 1717372800.0


def synthetic_trace(days: float, mean_rps: float, users: int, seed: int,
                    premium_share: float = 0.1, heavy_rps: tuple[float, ...] = ()) -> dict:
    """Columns of a trace: arrivals with a daily cycle (busiest at 14:00 UTC, quietest at 02:00,
    weekends at 60%), users with Zipf-like activity, a premium tier for some users, lognormal
    prompt and completion sizes. Each entry of `heavy_rps` adds a user ("batch-NN") sending
    Poisson traffic at that rate all day (scripts and batch jobs: what rate limits are for)."""
    rng = np.random.default_rng(seed)
    seconds = days * 86400
    # Inhomogeneous Poisson arrivals by thinning a homogeneous process at the peak rate.
    peak = mean_rps * 1.6
    candidates = np.cumsum(rng.exponential(1 / peak, size=int(seconds * peak * 1.05) + 10))
    candidates = candidates[candidates < seconds]
    hour = (candidates % 86400) / 3600
    weekday = (candidates // 86400) % 7  # 0 = Monday
    daily = 1 + 0.6 * np.cos((hour - 14) / 24 * 2 * np.pi)
    weekly = np.where(weekday >= 5, 0.6, 1.0)
    keep = rng.random(candidates.size) < daily * weekly / 1.6
    t = candidates[keep]
    n = t.size
    # Zipf-like user activity: user k is picked with weight 1 / (k + 10).
    weights = 1 / (np.arange(users) + 10.0)
    user_index = rng.choice(users, size=n, p=weights / weights.sum())
    user_names = np.array([f"user-{k:05d}" for k in range(users)], dtype=object)
    user = user_names[user_index]
    if heavy_rps:
        heavy_t = []
        heavy_u = []
        for k, rate in enumerate(heavy_rps):
            times = np.cumsum(rng.exponential(1 / rate, size=int(seconds * rate * 1.1) + 10))
            times = times[times < seconds]
            heavy_t.append(times)
            heavy_u.append(np.full(times.size, f"batch-{k:02d}", dtype=object))
        t = np.concatenate([t] + heavy_t)
        user = np.concatenate([user] + heavy_u)
        order = np.argsort(t, kind="stable")
        t, user = t[order], user[order]
        n = t.size
    premium_users = set(user_names[rng.random(users) < premium_share])
    premium = {"x-user-tier": "premium"}
    headers = [premium if u in premium_users else None for u in user]
    input_tokens = np.clip(rng.lognormal(np.log(600), 0.8, n), 20, 16000).astype(np.int64)
    output_tokens = np.clip(rng.lognormal(np.log(250), 0.7, n), 5, 4000).astype(np.int64)
    return {
        "timestamp": START + t,
        "user": user,
        "headers": headers,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
    }


def hourly_cost_by_backend(result) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(hours since START, {backend: cost per hour}) from a SimulationResult."""
    cols = result.columns
    hours = ((cols["timestamp"] - START) // 3600).astype(np.int64)
    n_hours = int(hours.max()) + 1 if hours.size else 0
    codes, names = result.codes("backend")
    series = {}
    for code, name in enumerate(names):
        mask = codes == code
        if mask.any():
            series[name] = np.bincount(hours[mask], weights=cols["cost"][mask], minlength=n_hours)
    return np.arange(n_hours), series


def plot_cost_over_time(panels: list[tuple[str, object]], path: os.PathLike, title: str,
                        marks: list[tuple[float, float, str]] = ()) -> None:
    """Saves a PNG with one panel per (label, SimulationResult): cost per hour per backend.
    `marks` shades (start_hour, end_hour, label) spans, e.g. an outage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.2 * len(panels)), sharex=True,
                             squeeze=False)
    # One colour per backend in every panel.
    names = sorted({n for _, r in panels for n in r.names["backend"]})
    colours = {n: plt.get_cmap("tab10")(i % 10) for i, n in enumerate(names)}
    for ax, (label, result) in zip(axes[:, 0], panels):
        hours, series = hourly_cost_by_backend(result)
        for name, cost in sorted(series.items()):
            # Each hour's cost drawn across the hour it was spent in.
            ax.step(np.append(hours, hours[-1] + 1), np.append(cost, cost[-1]), where="post",
                    label=name.split("/")[-1], linewidth=1.2, color=colours[name])
        for start, end, text in marks:
            ax.axvspan(start, end, color="red", alpha=0.12, label=text)
        total = result.summary["cost"]["total"].get("USD", {}).get("cost", 0.0)
        ax.set_title(f"{label}: total ${total:,.2f}", fontsize=10)
        ax.set_ylabel("cost (USD per hour)")
        ax.set_xlabel("hours since Monday 00:00 UTC")
        ax.tick_params(labelbottom=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def out_path(directory: str, name: str) -> pathlib.Path:
    out = pathlib.Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    return out / name
