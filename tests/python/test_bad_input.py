"""Bad input anywhere gives a clear TypeError / ValueError (or ConfigError), never a crash."""

from __future__ import annotations

import threading

import pytest

from conftest import SMALL_CONFIG


# Scenario mistakes name the backend and the knob.
@pytest.mark.parametrize(
    "scenario, error, text",
    [
        ({"nobody": {"latency": 1}}, ValueError, 'unknown backend "nobody"'),
        ({"cheap": {"latncy": 1}}, ValueError, "unknown knob.*'latncy'"),
        ({"cheap": {"latency": -1}}, ValueError, "latency"),
        ({"cheap": {"latency": "fast"}}, TypeError, "latency"),
        ({"cheap": {"latency": {"dist": "normal", "value": 1}}}, ValueError, "unknown dist"),
        ({"cheap": {"latency": {"dist": "uniform", "low": 2}}}, ValueError, "missing high"),
        ({"cheap": {"latency": {"dist": "uniform", "low": 2, "high": 1}}}, ValueError, "low"),
        ({"cheap": {"latency": {"dist": "lognormal", "median": 1, "sigma": -1}}}, ValueError,
         "sigma"),
        ({"cheap": {"failure_rate": 1.5}}, ValueError, "failure_rate"),
        ({"cheap": {"failure_rate": 0.7, "rate_429": 0.5}}, ValueError, "must not exceed 1"),
        ({"cheap": {"error_status": 404}}, ValueError, "500..599"),
        ({"cheap": {"outages": [(10, 5)]}}, ValueError, "start <= end"),
        ({"cheap": {"outages": [10, 20]}}, TypeError, "pair"),
        ({"cheap": {"outages": "10-20"}}, TypeError, "list"),
        ({"cheap": 5}, TypeError, "dict of knobs"),
        ({5: {}}, TypeError, "backend names"),
        ([("cheap", {})], TypeError, "scenario must be a dict"),
    ],
)
def test_bad_scenarios(ig, small_config, scenario, error, text):
    with pytest.raises(error, match=text):
        ig.Simulator(small_config, scenario)


# Simulator options are checked.
def test_bad_options(ig, small_config):
    with pytest.raises(TypeError, match="seed"):
        ig.Simulator(small_config, seed="1")
    with pytest.raises(TypeError, match="probes"):
        ig.Simulator(small_config, probes=1)
    with pytest.raises(ValueError, match="max_users"):
        ig.Simulator(small_config, max_users=-1)
    # Any int seed works (reduced modulo 2**64).
    ig.Simulator(small_config, seed=-1)
    ig.Simulator(small_config, seed=2**80)


# A bad config passed to the Simulator is a ConfigError with the loader's message.
def test_bad_config_in_simulator(ig):
    with pytest.raises(ig.ConfigError, match="nowhere"):
        ig.Simulator(SMALL_CONFIG.replace("defaultBackend: {name: cheap}",
                                          "defaultBackend: {name: nowhere}", 1))


# An override naming an unknown backend fails the run with a ValueError.
def test_override_unknown_backend(ig, small_config):
    with pytest.raises(ValueError, match='unknown backend "ghost"'):
        ig.Simulator(small_config).run(
            [{"timestamp": 0, "input_tokens": 1, "outcome": {"ghost": "ok"}}])


# Calling the private extension with wrong types raises instead of crashing.
def test_core_misuse(ig, small_config):
    core = ig._core
    with pytest.raises(TypeError):
        core.Trace.from_columns(1, [0.0], None, None, None, None, None, None, None, None, None,
                                None)
    with pytest.raises(TypeError):
        core.Trace.from_columns(1, None, None, None, None, None, None, None, None, None, None,
                                None)
    import array
    with pytest.raises(ValueError, match="rows"):
        core.Trace.from_columns(2, array.array("d", [0.0]), None, None, None, None, None, None,
                                None, None, None, None)
    with pytest.raises(TypeError, match="overrides"):
        core.Trace.from_columns(1, array.array("d", [0.0]), None, None, None, None, None, None,
                                None, None, None, ["x"])
    with pytest.raises(TypeError):
        core.Simulator(small_config, [("cheap", 5)], 0, True, 10)
    with pytest.raises(TypeError):
        core.Router(None)
    with pytest.raises(TypeError):
        ig.stable_hash64(5)
    with pytest.raises(ValueError):
        ig.split_mix64(-1)


# Runs on several threads at once (the GIL is released) give identical results.
def test_concurrent_runs(ig, small_config):
    sim = ig.Simulator(small_config, {"cheap": {"failure_rate": 0.2}}, seed=3)
    trace = ig.Trace.from_records(
        [{"timestamp": i * 0.05, "user": f"u{i % 50}", "input_tokens": 100} for i in range(20000)])
    results = [None] * 4

    def work(i):
        results[i] = sim.run(trace, numpy=False).columns

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == results[0] for r in results)
