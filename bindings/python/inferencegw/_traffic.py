"""Synthetic traffic for what-if runs: Poisson or diurnal arrivals, heavy-tailed per-user rates,
lognormal token counts, all from one seed."""

from __future__ import annotations

import math
from typing import Mapping

from ._trace import Trace, numpy_module

ARRIVALS = ("poisson", "diurnal")


def _positive(name: str, value, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"{name} must be a number")
    if value < 0 or (value == 0 and not allow_zero) or math.isinf(value):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} and finite")
    return float(value)


def _lognormal(name: str, spec) -> tuple[float, float]:
    if (not isinstance(spec, (tuple, list)) or len(spec) != 2):
        raise TypeError(f"{name} must be (median, sigma) of a lognormal distribution")
    return _positive(f"{name} median", spec[0]), _positive(f"{name} sigma", spec[1], True)


def generate_traffic(
    *,
    users: int = 1000,
    duration: float = 3600.0,
    rate: float = 10.0,
    start: float = 0.0,
    arrivals: str = "poisson",
    peak_hour: float = 14.0,
    swing: float = 0.6,
    user_skew: float = 1.0,
    input_tokens: tuple[float, float] = (600, 0.8),
    output_tokens: tuple[float, float] = (250, 0.7),
    model: str | None = None,
    models: Mapping[str, float] | None = None,
    seed: int = 0,
) -> Trace:
    """A synthetic trace (needs numpy).

    `rate` requests a second on average over `duration` seconds from `start` (trace seconds;
    Unix time, such as `datetime(...).timestamp()`, for calendar budgets and time of day).
    `arrivals`: "poisson" (a constant rate) or "diurnal" (the rate follows the UTC time of day,
    1 + swing * cos(2 pi (hour - peak_hour) / 24) times the mean). Each of `users` users
    ("user-00000", ...) gets a share of the traffic proportional to 1 / (k + 1) ** user_skew:
    0 is uniform, 1 (the default) heavy-tailed like Zipf's law, so a few users send much of it.
    Token counts are lognormal with the given (median, sigma), at least 1. `model` names one
    model for every request, or `models` maps models to their shares. `seed` fixes everything.
    """
    np = numpy_module()
    if np is None:
        raise ImportError("generate_traffic needs numpy (apt-get install python3-numpy)")
    if isinstance(users, bool) or not isinstance(users, int) or users < 1:
        raise ValueError("users must be an int >= 1")
    duration = _positive("duration", duration)
    rate = _positive("rate", rate)
    if isinstance(start, bool) or not isinstance(start, (int, float)) or not math.isfinite(start):
        raise TypeError("start must be a finite number of seconds")
    if arrivals not in ARRIVALS:
        raise ValueError(f"arrivals must be one of {', '.join(ARRIVALS)}; got {arrivals!r}")
    swing = _positive("swing", swing, allow_zero=True)
    if swing > 1:
        raise ValueError("swing must be in [0, 1]")
    peak_hour = _positive("peak_hour", peak_hour, allow_zero=True) % 24
    user_skew = _positive("user_skew", user_skew, allow_zero=True)
    in_median, in_sigma = _lognormal("input_tokens", input_tokens)
    out_median, out_sigma = _lognormal("output_tokens", output_tokens)
    if model is not None and models is not None:
        raise ValueError("give model or models, not both")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError("seed must be an int")

    rng = np.random.default_rng(seed)
    peak = rate * (1 + swing) if arrivals == "diurnal" else rate
    # A homogeneous Poisson process at the peak rate, thinned to the time-of-day profile.
    expected = peak * duration
    gaps = rng.exponential(1 / peak, size=int(expected + 6 * math.sqrt(expected) + 16))
    t = np.cumsum(gaps)
    while t.size and t[-1] < duration:  # rare: draw more
        more = np.cumsum(rng.exponential(1 / peak, size=max(16, t.size // 4))) + t[-1]
        t = np.concatenate([t, more])
    t = t[t < duration]
    if arrivals == "diurnal":
        hour = ((start + t) % 86400) / 3600
        profile = 1 + swing * np.cos((hour - peak_hour) / 24 * 2 * np.pi)
        t = t[rng.random(t.size) < profile / (1 + swing)]
    n = t.size
    weights = 1 / np.power(np.arange(users) + 1.0, user_skew)
    user_index = rng.choice(users, size=n, p=weights / weights.sum())
    width = max(5, len(str(users - 1)))
    names = np.array([f"user-{k:0{width}d}" for k in range(users)], dtype=object)
    columns = {
        "timestamp": start + t,
        "user": names[user_index],
        "input_tokens": np.maximum(1, rng.lognormal(math.log(in_median), in_sigma, n)).astype(
            np.int64),
        "output_tokens": np.maximum(1, rng.lognormal(math.log(out_median), out_sigma, n)).astype(
            np.int64),
    }
    if model is not None:
        if not isinstance(model, str):
            raise TypeError("model must be a str")
        columns["model"] = model
    elif models is not None:
        if not isinstance(models, Mapping) or not models:
            raise TypeError("models must be a non-empty dict of model -> share")
        names_m = list(models)
        shares = np.array([_positive(f"models[{m!r}]", models[m]) for m in names_m])
        pick = rng.choice(len(names_m), size=n, p=shares / shares.sum())
        columns["model"] = np.array(names_m, dtype=object)[pick]
    return Trace.from_columns(columns)
