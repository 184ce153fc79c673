"""The simulator on small traces whose answers are worked out by hand: costs, throttling,
outage fallback and breakers, retries, timeouts, probes, experiments, determinism."""

from __future__ import annotations

import pytest

from conftest import SMALL_CONFIG, expected_arm

# Prices of SMALL_CONFIG per 1000 tokens: cheap 0.001 in / 0.002 out; backup 0.003 / 0.015 plus
# 0.0001 a request; pricey 0.03 / 0.06.
CHEAP = (0.001, 0.002, 0.0)
BACKUP = (0.003, 0.015, 0.0001)
PRICEY = (0.03, 0.06, 0.0)


def price(p, tokens_in, tokens_out):
    return tokens_in / 1000 * p[0] + tokens_out / 1000 * p[1] + p[2]


def records(times, user=lambda i: f"u{i}", **fields):
    """One request per time; 100 input and 50 output tokens unless given."""
    fields = {"input_tokens": 100, "output_tokens": 50, **fields}
    return [{"timestamp": t, "user": user(i), **fields} for i, t in enumerate(times)]


# Costs add up by hand: per request, per backend, per user and in total.
def test_cost_totals_by_hand(ig, small_config):
    trace = [
        {"timestamp": 0, "user": "alice", "input_tokens": 1000, "output_tokens": 500},
        {"timestamp": 1, "user": "alice", "input_tokens": 2000, "output_tokens": 0},
        {"timestamp": 2, "user": "bob", "input_tokens": 400, "output_tokens": 100,
         "headers": {"x-user-tier": "premium"}},
    ]
    result = ig.Simulator(small_config).run(trace, numpy=False)
    expected = [price(CHEAP, 1000, 500), price(CHEAP, 2000, 0), price(PRICEY, 400, 100)]
    assert result["backend"] == ["default/cheap", "default/cheap", "default/pricey"]
    assert result["cost"] == pytest.approx(expected)
    assert result["cost_pico"] == [2_000_000_000, 2_000_000_000, 18_000_000_000]
    cost = result.summary["cost"]
    assert cost["total"]["USD"]["cost"] == pytest.approx(sum(expected))
    assert cost["total"]["USD"]["cost_pico"] == 22_000_000_000
    assert cost["total"]["USD"]["input_tokens"] == 3400
    assert cost["total"]["USD"]["output_tokens"] == 600
    assert cost["backend"]["default/cheap"]["cost"] == pytest.approx(0.004)
    assert cost["backend"]["default/cheap"]["requests"] == 2
    assert cost["backend"]["default/pricey"]["cost"] == pytest.approx(0.018)
    assert cost["user"]["alice"]["cost"] == pytest.approx(0.004)
    assert cost["user"]["bob"]["cost"] == pytest.approx(0.018)
    assert cost["route"]["default/chat"]["requests"] == 3
    assert result["latency"] == pytest.approx([0.5, 0.5, 0.5])  # the default latency model
    assert result.summary["succeeded"] == 3 and result.summary["status_counts"] == {200: 3}


# A per-user limit of 60 a minute (bucket 60, refilling 1/s) throttles exactly the excess.
def test_throttling_by_hand(ig, small_config):
    trace = records([i * 0.01 for i in range(70)], user=lambda i: "alice")  # 70 in 0.7 s
    trace += records([0.0, 0.1, 0.2], user=lambda i: "bob")
    # At t=2 the bucket holds 0.59 + 1.41 s of refill = 2 requests.
    trace.append({"timestamp": 2.0, "user": "alice", "input_tokens": 10})
    result = ig.Simulator(small_config).run(trace, numpy=False, default_output_tokens=10)
    throttled = result["throttled"]
    assert throttled[:60] == [False] * 60
    assert throttled[60:70] == [True] * 10
    assert throttled[70:] == [False] * 4
    assert result["reason"][60:70] == ["throttled"] * 10 and result["reason"][70:] == [None] * 4
    assert [result["status"][i] for i in range(60, 70)] == [429] * 10
    assert result["backend"][65] is None and result["cost"][65] == 0
    s = result.summary
    assert s["throttled"] == 10
    assert s["throttles"] == {"default/chat": {"requests": 10, "tokens": 0, "budget": 0}}
    assert s["throttled_users"] == 1
    assert s["status_counts"] == {200: 64, 429: 10}
    assert s["failed"] == 0


# A token limit refuses by tokens (reserving input + max_tokens, as the proxy does).
def test_token_limit(ig):
    config = SMALL_CONFIG.replace(
        "rateLimit: {requestsPerMinute: 60, perUser: true}",
        "rateLimit: {tokensPerMinute: 1000}",
    )
    trace = [
        {"timestamp": 0, "input_tokens": 300, "output_tokens": 100, "max_tokens": 300},  # 600
        {"timestamp": 1, "input_tokens": 300, "output_tokens": 100, "max_tokens": 300},  # no
        {"timestamp": 2, "input_tokens": 100, "output_tokens": 10, "max_tokens": 0},  # 100 ok
    ]
    result = ig.Simulator(config).run(trace, numpy=False)
    # After the first answer (t=0.5) 600 - 400 = 200 tokens are refunded: at t=1 the bucket
    # holds 1000 - 400 + 1000/60 ~ 616 >= 600, so the second request passes too.
    assert result["throttled"] == [False, False, False]
    trace[1]["timestamp"] = 0.1  # before the first answer refunds: 400 + 1.7 < 600
    result = ig.Simulator(config).run(trace, numpy=False)
    assert result["throttled"] == [False, True, False]
    assert result.summary["throttles"] == {"default/chat": {"requests": 0, "tokens": 1, "budget": 0}}


# A daily route budget of $0.001 (cheap: 100 in / 50 out = $0.0002 a request): five requests
# spend it, later ones get 429 as throttled (by "budget"), never as fallbacks, until the next
# UTC day (the simulated clock starts at 2023-11-14T22:13:20Z).
def test_route_budget(ig):
    config = SMALL_CONFIG.replace(
        "rateLimit: {requestsPerMinute: 60, perUser: true}",
        'budget: {limit: "0.001", period: day}',
    )
    day_ends = 6400 + 1  # seconds from the trace's start to the next UTC midnight, and one more
    trace = records([i * 1.0 for i in range(8)] + [day_ends], user=lambda i: "alice")
    result = ig.Simulator(ig.load_config(config)).run(trace, numpy=False)
    assert result["status"] == [200] * 5 + [429] * 3 + [200]
    assert result["throttled"] == [False] * 5 + [True] * 3 + [False]
    assert result["fallback"] == [False] * 9
    assert result.summary["throttles"] == {
        "default/chat": {"requests": 0, "tokens": 0, "budget": 3}}
    assert result.summary["failed"] == 0


# An outage of the primary: the first five requests fail over (2 attempts), then the breaker
# keeps the primary out of plans (1 attempt to the backup), and it comes back after the outage.
def test_outage_fallback_and_breaker(ig, small_config):
    times = list(range(0, 400))
    scenario = {"cheap": {"outages": [(100, 200)], "latency": 0.2}, "backup": {"latency": 0.3}}
    result = ig.Simulator(small_config, scenario, probes=False).run(
        records(times, input_tokens=100, output_tokens=100), numpy=False
    )
    backend, attempts, fallback = result["backend"], result["attempts"], result["fallback"]
    assert result.summary["status_counts"] == {200: 400}
    for t in range(0, 100):
        assert (backend[t], attempts[t], fallback[t]) == ("default/cheap", 1, False)
    for t in range(100, 105):  # connect error, then the backup
        assert (backend[t], attempts[t], fallback[t]) == ("default/backup", 2, True)
        assert result["latency"][t] == pytest.approx(0.3)  # refused at once, backup 0.3 s
    for t in range(105, 134):  # breaker open for 30 s from t=104: planned to the backup
        assert (backend[t], attempts[t], fallback[t]) == ("default/backup", 1, True)
    # Half-open probes at 134 (reopens for 60 s) and 194 (reopens for 120 s) fail; the one at
    # 314 succeeds and closes the breaker.
    assert attempts[134] == 2 and attempts[194] == 2
    assert all(b == "default/backup" for b in backend[100:314])
    assert all(b == "default/cheap" for b in backend[314:])
    stats = result.summary["backends"]["default/cheap"]
    assert stats["connect_errors"] == 7
    assert stats["final_health"]["breaker"] == "closed"
    assert result.summary["fallbacks"] == [
        {"route": "default/chat", "from": "default/cheap", "to": "default/backup",
         "requests": 214}
    ]
    assert result.summary["fallback_requests"] == sum(fallback) == 214
    # Every request that left the cheap backend says why: refused connections, then the open
    # breaker (when the plan was made, or at the half-open probe's turn).
    reason = result["reason"]
    assert reason[:100] == [None] * 100
    assert set(reason[100:105]) == {"default/cheap: attempt_failed:connect_error"}
    assert set(reason[105:134]) == {"default/cheap: breaker_open"}
    assert reason[134] == "default/cheap: attempt_failed:connect_error"
    assert reason[314:] == [None] * 86
    assert sum(r is not None for r in reason) == 214


# Active probes mark a backend unhealthy, so requests skip it without a failed attempt.
def test_probes_keep_requests_off_a_down_backend(ig):
    config = SMALL_CONFIG.replace(
        "model: small}\n",
        "model: small}\n  healthCheck: {path: /health, intervalSeconds: 10, failureThreshold: 1}\n"
        "  circuitBreaker: {consecutiveFailures: 1000, minimumRequests: 1000}\n",
    )
    scenario = {"cheap": {"outages": [(50, 100)]}}
    trace = records([t + 0.5 for t in range(0, 150)])
    with_probes = ig.Simulator(config, scenario, probes=True).run(trace, numpy=False)
    without = ig.Simulator(config, scenario, probes=False).run(trace, numpy=False)
    for t in range(50, 100):  # the probe at t=50 failed
        assert with_probes["attempts"][t] == 1 and with_probes["backend"][t] == "default/backup"
        assert without["attempts"][t] == 2 and without["backend"][t] == "default/backup"
    for t in list(range(0, 50)) + list(range(100, 150)):  # the probe at 100 succeeded
        assert with_probes["backend"][t] == "default/cheap"
    assert with_probes.summary["backends"]["default/cheap"]["connect_errors"] == 0
    assert without.summary["backends"]["default/cheap"]["connect_errors"] == 50
    # The 50 requests planned without the unhealthy backend are counted as its skips, and are
    # fallbacks (they left their intended backend).
    assert with_probes.summary["backends"]["default/cheap"]["unhealthy_skips"] == 50
    assert without.summary["backends"]["default/cheap"]["unhealthy_skips"] == 0
    assert sum(with_probes["fallback"]) == 50
    assert set(with_probes["reason"][50:100]) == {"default/cheap: unhealthy"}
    assert set(without["reason"][50:100]) == {"default/cheap: attempt_failed:connect_error"}


# A per-request override fails one backend; the route moves on to the next.
def test_override_outcome_moves_on(ig, small_config):
    trace = [
        {"timestamp": 0, "user": "a", "outcome": {"cheap": "5xx"}, "input_tokens": 10},
        # Every backend refuses.
        {"timestamp": 1, "user": "b", "outcome": "connect_error", "input_tokens": 10},
        # Past the route's 10 s timeout.
        {"timestamp": 2, "user": "c", "latency": {"cheap": 20}, "input_tokens": 10},
        {"timestamp": 3, "user": "d", "latency": 1.25, "input_tokens": 10},
    ]
    result = ig.Simulator(small_config, {"backup": {"latency": 0.5}}).run(trace, numpy=False)
    assert result["backend"] == ["default/backup", None, "default/backup", "default/cheap"]
    assert result["status"] == [200, 502, 200, 200]
    assert result["attempts"] == [2, 2, 2, 1]
    assert result["latency"] == pytest.approx([0.05 + 0.5, 0.0, 10.0 + 0.5, 1.25])
    cheap = result.summary["backends"]["default/cheap"]
    assert (cheap["status_5xx"], cheap["connect_errors"], cheap["timeouts"]) == (1, 1, 1)
    assert result.summary["failed"] == 1


# An answer the route does not retry (retryOn without 429) goes to the client as it is.
def test_not_retried_answer_passes_through(ig):
    config = SMALL_CONFIG.replace("timeoutSeconds: 10", "timeoutSeconds: 10\n    retryOn: [5xx]")
    trace = [
        {"timestamp": 0, "user": "a", "outcome": "429", "input_tokens": 10},
        {"timestamp": 1, "user": "b", "input_tokens": 10},
    ]
    result = ig.Simulator(config).run(trace, numpy=False)
    assert result["status"] == [429, 200]
    assert result["throttled"] == [False, False]
    assert result["backend"][0] == "default/cheap"  # it answered, with a 429
    assert result.summary["failed"] == 1 and result.summary["throttled"] == 0


# Retries on the same backend wait a backoff and are counted as attempts.
def test_retries_per_backend(ig):
    config = SMALL_CONFIG.replace(
        "timeoutSeconds: 10", "timeoutSeconds: 10\n    retriesPerBackend: 2"
    )
    scenario = {"cheap": {"failure_rate": 1.0, "error_latency": 0.1, "retry_after": 1.0}}
    trace = [{"timestamp": 0, "user": "a", "input_tokens": 10}]
    result = ig.Simulator(config, scenario).run(trace, numpy=False)
    # cheap: 3 tries (each 0.1 s, with Retry-After 1 s between), then backup (0.5 s).
    assert result["attempts"] == [4]
    assert result["backend"] == ["default/backup"]
    assert result["latency"][0] == pytest.approx(3 * 0.1 + 2 * 1.0 + 0.5)


# maxConcurrency makes extra concurrent requests skip the backend (overloaded).
def test_max_concurrency(ig):
    config = SMALL_CONFIG.replace(
        "model: small}\n", "model: small}\n  maxConcurrency: 2\n"
    )
    trace = records([0.0, 0.1, 0.2, 0.3, 1.0])
    result = ig.Simulator(config, {"cheap": {"latency": 0.5}}).run(trace, numpy=False)
    assert result["backend"] == ["default/cheap", "default/cheap", "default/backup",
                                 "default/backup", "default/cheap"]
    assert result.summary["max_in_flight"] == 4
    # The backup is planned first (cheap was full when the plan was made): no skipped attempt.
    assert result["attempts"] == [1, 1, 1, 1, 1]
    assert result["reason"] == [None, None, "default/cheap: overloaded",
                                "default/cheap: overloaded", None]


# The experiment arm of each user is the documented one, and per-arm statistics add up.
def test_experiment_stats(ig, small_config):
    users = [f"user-{i}" for i in range(300)]
    trace = [{"timestamp": i * 0.1, "user": u, "model": "exp-1", "input_tokens": 100,
              "output_tokens": 50} for i, u in enumerate(users)]
    scenario = {"cheap": {"latency": 0.2}, "pricey": {"latency": 0.4}}
    result = ig.Simulator(small_config, scenario).run(trace, numpy=False)
    arms = result["arm"]
    assert arms == [expected_arm("price-test", u, 30) for u in users]
    assert set(result["experiment"]) == {"price-test"}
    rows = {r["arm"]: r for r in result.summary["experiments"]}
    assert rows["treatment"]["requests"] == arms.count("treatment")
    assert rows["control"]["requests"] == arms.count("control")
    assert rows["control"]["latency_p50"] == pytest.approx(0.2, rel=0.01)
    assert rows["treatment"]["latency_p95"] == pytest.approx(0.4, rel=0.01)
    assert rows["treatment"]["cost"] == pytest.approx(
        arms.count("treatment") * price(PRICEY, 100, 50))
    ledger_arms = result.summary["cost"]["arm"]
    assert ledger_arms["price-test/treatment"]["requests"] == arms.count("treatment")


# The same seed gives the same run; failure draws follow the configured rate.
def test_seeded_determinism(ig):
    chain = "  fallback:\n    backends: [cheap, backup]\n    timeoutSeconds: 10\n"
    config = SMALL_CONFIG.replace(chain, "")
    assert "fallback" not in config
    scenario = {"cheap": {"failure_rate": 0.1, "latency": {"dist": "lognormal", "median": 0.3,
                                                            "sigma": 0.5}}}
    trace = ig.Trace.from_records(records([i * 0.5 for i in range(4000)]))
    a = ig.Simulator(config, scenario, seed=11).run(trace, numpy=False)
    b = ig.Simulator(config, scenario, seed=11).run(trace, numpy=False)
    c = ig.Simulator(config, scenario, seed=12).run(trace, numpy=False)
    assert a.columns == b.columns
    assert a["latency"] != c["latency"]
    failures = a["status"].count(502)
    assert 4000 * 0.1 - 3 * 19 < failures < 4000 * 0.1 + 3 * 19  # 3 sigma
    ok_latencies = sorted(l for l, s in zip(a["latency"], a["status"]) if s == 200)
    median = ok_latencies[len(ok_latencies) // 2]
    assert median == pytest.approx(0.3, rel=0.05)


# Unsorted traces are replayed by time; results stay in trace order.
def test_unsorted_trace(ig, small_config):
    trace = [
        {"timestamp": 5, "user": "late", "input_tokens": 10},
        {"timestamp": 1, "user": "early", "input_tokens": 10},
    ]
    result = ig.Simulator(small_config).run(trace, numpy=False)
    assert result["user"] == ["late", "early"]
    assert result["timestamp"] == [5.0, 1.0]
    assert result.summary["start"] == 1.0 and result.summary["end"] == 5.5


# Requests no route serves are answered 404, without a backend or cost.
def test_not_routed(ig):
    config = ig.load_config(SMALL_CONFIG.replace("  default: true\n", ""))
    trace = [{"timestamp": 0, "model": "unknown", "input_tokens": 10}]
    result = ig.Simulator(config).run(trace, numpy=False)
    assert result["status"] == [404] and result["route"] == [None]
    assert result["reason"] == ["no_route"]
    assert result.summary["not_routed"] == 1


# An empty trace is a run with nothing in it.
def test_empty_trace(ig, small_config):
    result = ig.Simulator(small_config).run([], numpy=False)
    assert len(result) == 0
    assert result.summary["requests"] == 0 and result.columns["status"] == []


# The result's records view and repr.
def test_records_and_repr(ig, small_config):
    result = ig.Simulator(small_config).run([{"timestamp": 0, "user": "a", "input_tokens": 10}])
    (record,) = result.to_records()
    assert record["route"] == "default/chat" and record["status"] == 200
    assert set(record) == set(ig.COLUMNS)
    assert "1 requests, 1 succeeded" in repr(result)


# A run can be repeated with the same Simulator: each starts from fresh state.
def test_runs_are_independent(ig, small_config):
    sim = ig.Simulator(small_config)
    trace = records([i * 0.01 for i in range(70)], user=lambda i: "alice")
    assert sim.run(trace).summary["throttled"] == 10
    assert sim.run(trace).summary["throttled"] == 10


# Per-bucket totals add up to the run's, with numpy and with lists; to_pandas has every column.
def test_by_time_and_pandas(ig, small_config):
    trace = records([i * 20.0 for i in range(10)], user=lambda i: "alice")  # 0..180 s
    for numpy in (True, False):
        if numpy:
            pytest.importorskip("numpy")
        result = ig.Simulator(small_config).run(trace, numpy=numpy)
        minutes = result.by_time("minute")
        assert list(minutes["start"]) == [0.0, 60.0, 120.0, 180.0]
        assert list(minutes["requests"]) == [3, 3, 3, 1]
        assert sum(minutes["succeeded"]) == result.summary["succeeded"] == 10
        assert sum(minutes["cost"]) == pytest.approx(10 * price(CHEAP, 100, 50))
        assert list(result.by_time(90)["requests"]) == [5, 4, 1]
    with pytest.raises(ValueError, match="every must be"):
        result.by_time("fortnight")
    pandas = pytest.importorskip("pandas")
    frame = result.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == list(ig.COLUMNS) and len(frame) == 10
    assert frame["cost"].sum() == pytest.approx(10 * price(CHEAP, 100, 50))


# Three replicas without a shared store let each user through three times (one bucket per
# replica); with one they throttle exactly like one gateway. maxConcurrency is per replica.
def test_replicas(ig, small_config):
    trace = records([i * 0.001 for i in range(100)], user=lambda i: "alice")
    one = ig.Simulator(small_config).run(trace, numpy=False)
    three = ig.Simulator(small_config, replicas=3).run(trace, numpy=False)
    shared = ig.Simulator(small_config, replicas=3, shared_store=True).run(trace, numpy=False)
    assert one.summary["throttled"] == 40
    assert three.summary["throttled"] == 0
    assert shared["status"] == one["status"] and shared.summary["throttled"] == 40
    assert three["replica"][:4] == [0, 1, 2, 0] and three.summary["replicas"] == 3
    assert three.summary["cost"]["total"]["USD"]["requests"] == 100

    config = SMALL_CONFIG.replace("model: small}\n", "model: small}\n  maxConcurrency: 1\n")
    concurrent = records([0.0, 0.1, 0.2, 0.3])
    alone = ig.Simulator(config, {"cheap": {"latency": 1}}).run(concurrent, numpy=False)
    pair = ig.Simulator(config, {"cheap": {"latency": 1}}, replicas=2).run(concurrent, numpy=False)
    assert alone["backend"].count("default/cheap") == 1
    assert pair["backend"].count("default/cheap") == 2

    with pytest.raises(ValueError, match="replicas"):
        ig.Simulator(small_config, replicas=0)
    with pytest.raises(TypeError, match="shared_store"):
        ig.Simulator(small_config, shared_store=1)
