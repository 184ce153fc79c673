"""generate_traffic: seeded synthetic traces with Poisson or diurnal arrivals, heavy-tailed users
and lognormal token counts."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")


def columns(ig, trace):
    return ig.Simulator(ig.load_config("examples/demo")).run(trace).columns


# The same seed gives the same trace; the count is near rate * duration.
def test_seeded_and_sized(ig):
    a = ig.generate_traffic(users=50, duration=600, rate=20, model="gpt-4", seed=3)
    b = ig.generate_traffic(users=50, duration=600, rate=20, model="gpt-4", seed=3)
    c = ig.generate_traffic(users=50, duration=600, rate=20, model="gpt-4", seed=4)
    ca, cb, cc = columns(ig, a), columns(ig, b), columns(ig, c)
    assert np.array_equal(ca["timestamp"], cb["timestamp"])
    assert list(ca["user"]) == list(cb["user"])
    assert not np.array_equal(ca["timestamp"][:100], cc["timestamp"][:100])
    assert 12000 * 0.95 < len(a) < 12000 * 1.05
    assert ca["timestamp"].min() >= 0 and ca["timestamp"].max() < 600
    assert set(ca["user"]) <= {f"user-{k:05d}" for k in range(50)}


# Diurnal arrivals peak at peak_hour and are quietest twelve hours later.
def test_diurnal_profile(ig):
    start = 1717372800.0  # Monday 2024-06-03 00:00 UTC
    t = ig.generate_traffic(users=100, duration=86400, rate=2, arrivals="diurnal", swing=0.8,
                            peak_hour=14, start=start, seed=1)
    hours = ((columns(ig, t)["timestamp"] - start) // 3600).astype(int)
    per_hour = np.bincount(hours, minlength=24)
    assert per_hour[14] > 3 * per_hour[2]
    assert abs(per_hour.sum() - 2 * 86400) < 0.03 * 2 * 86400


# user_skew 1 concentrates traffic on few users; 0 spreads it evenly. Tokens follow the medians.
def test_user_skew_and_tokens(ig):
    def top_share(skew):
        users = columns(ig, ig.generate_traffic(users=1000, duration=3600, rate=10,
                                                user_skew=skew, seed=5))["user"]
        _, counts = np.unique(users.astype(str), return_counts=True)
        return np.sort(counts)[-10:].sum() / counts.sum()

    assert top_share(1.0) > 0.25 > 0.02 > top_share(0.0)
    cols = columns(ig, ig.generate_traffic(users=10, duration=3600, rate=10,
                                           input_tokens=(800, 0.5), output_tokens=(100, 0.5),
                                           models={"gpt-4": 3, "claude-3-haiku": 1}, seed=6))
    assert 700 < np.median(cols["input_tokens"]) < 900
    assert 85 < np.median(cols["output_tokens"]) < 115
    routes = cols["route"].astype(str)
    assert 0.65 < np.mean(routes == "default/chatbot-route") < 0.85


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"users": 0}, ValueError, "users"),
        ({"rate": -1}, ValueError, "rate"),
        ({"duration": "long"}, TypeError, "duration"),
        ({"arrivals": "bursty"}, ValueError, "arrivals"),
        ({"swing": 2}, ValueError, "swing"),
        ({"input_tokens": 600}, TypeError, "input_tokens"),
        ({"model": "a", "models": {"b": 1}}, ValueError, "model or models"),
        ({"seed": 1.5}, TypeError, "seed"),
    ],
)
def test_bad_arguments(ig, kwargs, error, text):
    with pytest.raises(error, match=text):
        ig.generate_traffic(**kwargs)
