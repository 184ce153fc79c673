"""SimulationResult.compare_arms: verdicts on experiment arms from the library's statistics,
checked against the run's own columns and hand formulas."""

from __future__ import annotations

import math

import pytest

from conftest import SMALL_CONFIG

# SMALL_CONFIG's lab route: experiment price-test, control cheap, treatment pricey (30% of
# users), metric latency_p95 (the default); no fallback, so a failed attempt fails the request.
LAB_SCENARIO = {"*": {"latency": 0.5}, "pricey": {"latency": {"dist": "uniform", "low": 0.9,
                                                               "high": 1.1},
                                                   "failure_rate": 0.25}}


def lab_trace(n=900, users=300):
    return [{"timestamp": float(i), "user": f"u{i % users}", "model": "exp-1",
             "input_tokens": 100 + i % 7 * 50, "output_tokens": 50} for i in range(n)]


@pytest.fixture(scope="module")
def lab(ig):
    return ig.Simulator(ig.load_config(SMALL_CONFIG), LAB_SCENARIO, seed=3).run(
        lab_trace(), numpy=False)


# Arms 3% apart at the median with a wide lognormal spread: 400 requests cannot tell them apart.
@pytest.fixture(scope="module")
def close(ig):
    scenario = {"*": {"latency": {"dist": "lognormal", "median": 1.0, "sigma": 0.5}},
                "pricey": {"latency": {"dist": "lognormal", "median": 1.03, "sigma": 0.5}}}
    return ig.Simulator(ig.load_config(SMALL_CONFIG), scenario, seed=1).run(lab_trace(400))


def arm_columns(result, arm):
    rows = [i for i, a in enumerate(result["arm"]) if a == arm]
    return ([result["status"][i] for i in rows], [result["cost"][i] for i in rows])


# With no metric, each experiment is compared on its configured metric (latency_p95), and the
# slower treatment loses; the estimates are the summary's sketch quantiles.
def test_configured_metric_and_verdict(lab):
    [c] = lab.compare_arms()
    assert (c["route"], c["experiment"]) == ("default/lab", "price-test")
    assert (c["metric"], c["test"], c["unit"]) == ("latency_p95", "bootstrap", "s")
    assert set(c) == {"route", "experiment", "metric", "unit", "test", "confidence", "power",
                       "control", "treatment", "difference", "p_value", "verdict",
                       "required_per_arm", "additional_requests"}
    rows = {r["arm"]: r for r in lab.summary["experiments"]}
    for arm in ("control", "treatment"):
        assert c[arm]["requests"] == rows[arm]["requests"]
        assert c[arm]["n"] == rows[arm]["requests"] - rows[arm]["errors"]
        assert c[arm]["estimate"] == rows[arm]["latency_p95"]
        assert c[arm]["ci_low"] <= c[arm]["estimate"] <= c[arm]["ci_high"]
    assert c["control"]["estimate"] == pytest.approx(0.5, rel=0.01)
    assert 1.0 < c["treatment"]["estimate"] <= 1.1 * 1.01
    assert c["difference"]["estimate"] == pytest.approx(
        c["treatment"]["estimate"] - c["control"]["estimate"])
    assert c["verdict"] == "control_better"
    assert c["p_value"] < 0.05
    assert c["additional_requests"] == {"control": 0, "treatment": 0}


# error_rate: the two-proportion z test's p-value matches the formula on the run's statuses.
def test_error_rate_matches_the_columns(lab):
    [c] = lab.compare_arms(metric="error_rate")
    assert c["test"] == "two_proportion_z"
    counts = {}
    for arm in ("control", "treatment"):
        statuses, _ = arm_columns(lab, arm)
        counts[arm] = (sum(s >= 500 for s in statuses), len(statuses))
        assert c[arm]["estimate"] == pytest.approx(counts[arm][0] / counts[arm][1])
    (ec, nc), (et, nt) = counts["control"], counts["treatment"]
    assert ec == 0 and et > 0
    pooled = (ec + et) / (nc + nt)
    z = (et / nt - ec / nc) / math.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
    assert c["p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), rel=1e-9)
    assert c["verdict"] == "control_better"


# cost: Welch's t on cost per request; the estimates are the columns' means, and the costlier
# treatment (30 times the price) loses.
def test_cost_matches_the_columns(lab):
    [c] = lab.compare_arms(metric="cost", confidence=0.99)
    assert (c["test"], c["unit"], c["confidence"]) == ("welch_t", "currency", 0.99)
    for arm in ("control", "treatment"):
        _, costs = arm_columns(lab, arm)
        assert c[arm]["estimate"] == pytest.approx(sum(costs) / len(costs), rel=1e-9)
    assert c["difference"]["estimate"] > 0
    assert c["verdict"] == "control_better"


# The same seed repeats the bootstrap exactly (the default seed too); another seed moves it.
def test_seeded_and_repeatable(lab, close):
    assert lab.compare_arms() == lab.compare_arms()
    a = close.compare_arms(metric="latency_p50", seed=5)
    assert a == close.compare_arms(metric="latency_p50", seed=5 + 2**64)
    b = close.compare_arms(metric="latency_p50", seed=6)
    assert b[0]["treatment"]["estimate"] == a[0]["treatment"]["estimate"]
    assert b[0]["p_value"] != a[0]["p_value"]

# An experiment with little or no traffic reports insufficient_data with None for the test.
def test_insufficient_data(ig, demo_config):
    result = ig.Simulator(demo_config).run(
        [{"timestamp": float(i), "user": f"u{i}", "model": "claude-3", "input_tokens": 10}
         for i in range(5)])
    [c] = result.compare_arms()
    assert (c["route"], c["experiment"], c["metric"]) == (
        "default/model-experiment", "claude-3-5-test", "latency_p95")
    assert c["verdict"] == "insufficient_data"
    assert c["p_value"] is None
    assert c["difference"]["estimate"] is None
    assert c["required_per_arm"] is None and c["additional_requests"] is None
    assert c["control"]["requests"] + c["treatment"]["requests"] == 5


# Without a visible difference, the comparison says how many more requests each arm needs.
def test_requests_still_needed(close):
    [c] = close.compare_arms(metric="latency_p50", power=0.9)
    assert c["verdict"] == "no_significant_difference"
    need = c["required_per_arm"]
    assert need > 400
    assert c["additional_requests"] == {"control": need - c["control"]["n"],
                                        "treatment": need - c["treatment"]["n"]}
    assert c["power"] == 0.9

# Bad arguments raise before anything runs.
def test_bad_arguments(lab):
    with pytest.raises(ValueError, match="metric"):
        lab.compare_arms(metric="latency_p90")
    with pytest.raises(ValueError, match="confidence"):
        lab.compare_arms(confidence=1.0)
    with pytest.raises(ValueError, match="power"):
        lab.compare_arms(power=0)
    with pytest.raises(ValueError, match="resamples"):
        lab.compare_arms(resamples=5)
    with pytest.raises(TypeError, match="seed"):
        lab.compare_arms(seed="1")
    with pytest.raises(TypeError, match="confidence"):
        lab.compare_arms(confidence=True)
