"""Routing decisions through the library's RouteTable, and the documented experiment hash."""

from __future__ import annotations

import pytest

from conftest import SMALL_CONFIG, expected_arm, fmix64, stable_hash64


@pytest.fixture(scope="module")
def router(ig, small_config):
    return ig.Router(small_config)


# The pinned values of docs/routing.md, from the module and from the independent Python copy.
def test_pinned_hash_values(ig):
    assert ig.stable_hash64("alice") == 0x3507D047A67C08F4 == stable_hash64("alice")
    assert ig.experiment_bucket("claude-3-5-test", "alice") == 5694
    assert ig.fmix64(12345) == fmix64(12345)
    assert ig.stable_hash64(b"bytes too") == stable_hash64("bytes too")


# Rules, the default backend and the fallback chain give the documented plan.
def test_rule_and_default(router):
    d = router.decide({"user": "bob", "headers": {"x-user-tier": "premium"}})
    assert d.ok and d.status == "ok"
    assert d.route == "default/chat"
    assert d.rule == 0
    assert d.backend == d.picked == "default/pricey"
    assert d.plan == ["default/pricey", "default/cheap", "default/backup"]
    assert d.experiment is None and d.arm == "none"
    d = router.decide({"user": "bob"})
    assert d.rule == -1
    assert d.plan == ["default/cheap", "default/backup"]
    assert d.user_key == "bob" and d.user_hash == stable_hash64("bob")


# Header names match in any case; a header value must match exactly.
def test_header_matching(router):
    assert router.decide({"headers": {"X-User-Tier": "premium"}}).backend == "default/pricey"
    assert router.decide({"headers": [("x-user-tier", "Premium")]}).backend == "default/cheap"


# The model selects the route; the route header overrides it; unknown routes are reported.
def test_route_selection(router):
    assert router.decide({"model": "exp-1"}).route == "default/lab"
    assert router.decide({"model": "other"}).route == "default/chat"
    d = router.decide({"model": "exp-1", "headers": {"x-inferencegw-route": "chat"}})
    assert d.route == "default/chat"
    d = router.decide({"headers": {"x-inferencegw-route": "nope"}})
    assert d.status == "unknown_route" and not d.ok and d.route is None and d.plan == []
    assert d.reason.startswith('no route named "nope" (x-inferencegw-route header')
    assert "routes: default/chat, default/lab" in d.reason
    assert router.decide({"model": "other"}).reason is None


# A config with no default route explains a no_route with the fix: the route header, models
# and default (the proxy's 404 says the same).
def test_no_route_explains_the_fix(ig):
    from conftest import SMALL_CONFIG

    router = ig.Router(ig.load_config(SMALL_CONFIG.replace("default: true", "default: false")))
    d = router.decide({"model": "gpt-4"})
    assert d.status == "no_route"
    assert d.reason.startswith('no route serves model "gpt-4": no route lists it in spec.models')
    for fix in ("x-inferencegw-route", "spec.models", "default"):
        assert fix in d.reason
    assert d.to_dict()["reason"] == d.reason


# The arm of every user is the one computed from docs/routing.md's formula.
def test_experiment_arms_match_documented_hash(router):
    users = [f"user-{i}" for i in range(500)] + ["alice", "bob", "", "ünïcode"]
    treatment = 0
    for user in users:
        if user == "":
            continue
        d = router.decide({"model": "exp-x", "user": user})
        assert d.experiment == "price-test"
        assert d.arm == expected_arm("price-test", user, 30), user
        assert d.backend == ("default/pricey" if d.arm == "treatment" else "default/cheap")
        treatment += d.arm == "treatment"
    assert 100 < treatment < 200  # about 30% of 503


# The user from the header and from the `user` field are the same user.
def test_user_field_equals_header(router):
    a = router.decide({"model": "exp-x", "user": "carol"})
    b = router.decide({"model": "exp-x", "headers": {"x-user-id": "carol"}})
    assert a.to_dict() == b.to_dict()
    # A header already present wins over the `user` field.
    c = router.decide({"model": "exp-x", "user": "dave", "headers": {"x-user-id": "carol"}})
    assert c.user_key == "carol"


# Without a user key the arm comes from the entropy, per request.
def test_keyless_arm_uses_entropy(router):
    arms = {router.decide({"model": "exp-x"}, entropy=e).arm for e in range(200)}
    assert arms == {"control", "treatment"}
    assert router.decide({"model": "exp-x"}, entropy=7).arm == router.decide(
        {"model": "exp-x"}, entropy=7
    ).arm


# Weighted rules pick by entropy with the documented SplitMix64 / MulHigh64 arithmetic.
def test_weighted_pick(ig):
    config = ig.load_config(
        SMALL_CONFIG.replace(
            "backends:\n        - {name: pricey}",
            "backends:\n        - {name: pricey, weight: 25}\n        - {name: backup, weight: 75}",
        )
    )
    router = ig.Router(config)
    for entropy in (0, 1, 2**63, 2**64 - 1, 123456789):
        r0 = ig.split_mix64(entropy)
        expected = "default/pricey" if (r0 * 100) >> 64 < 25 else "default/backup"
        d = router.decide({"headers": {"x-user-tier": "premium"}}, entropy=entropy)
        assert d.picked == expected


# With client keys configured the user is the authenticated user and gets its attributes.
def test_client_keys(ig):
    keys = """
---
apiVersion: v1
kind: Secret
metadata:
  name: gateway-keys
  annotations: {gateway.inference-gateway.io/client-keys: "true"}
stringData:
  alice: sk-alice
  bob: "{key: sk-bob, attributes: {x-user-tier: premium}}"
"""
    router = ig.Router(ig.load_config(SMALL_CONFIG + keys))
    assert router.decide({"user": "bob"}).backend == "default/pricey"
    # A client's own x-user-tier is not trusted.
    d = router.decide({"user": "alice", "headers": {"x-user-tier": "premium"}})
    assert d.backend == "default/cheap" and d.user_key == "alice"
    assert router.decide({"user": "mallory"}).status == "unauthenticated"
    assert router.decide({}).status == "unauthenticated"


# Bad requests raise clear TypeError / ValueError, never crash.
@pytest.mark.parametrize(
    "request_, error, text",
    [
        ("model", TypeError, "request must be a dict"),
        (None, TypeError, "request must be a dict"),
        ({"model": 5}, TypeError, 'request\\["model"\\] must be str'),
        ({"user": b"x"}, TypeError, 'request\\["user"\\] must be str'),
        ({"headers": "x-user-id: a"}, TypeError, "headers"),
        ({"headers": {"a": 1}}, TypeError, "must be str"),
        ({"headers": [("a",)]}, ValueError, "2 items"),
        ({"modle": "x"}, ValueError, 'unknown request field "modle"'),
    ],
)
def test_bad_requests(router, request_, error, text):
    with pytest.raises(error, match=text):
        router.decide(request_)


# Entropy must be a 64-bit unsigned int.
def test_bad_entropy(router):
    with pytest.raises(ValueError, match="2\\*\\*64"):
        router.decide({}, entropy=-1)
    with pytest.raises(ValueError):
        router.decide({}, entropy=2**64)
    with pytest.raises(TypeError):
        router.decide({}, entropy=1.5)
    assert router.decide({}, entropy=2**64 - 1).ok


# A Router can be built from a path or YAML text, and lists routes and backends.
def test_router_from_text(ig):
    router = ig.Router(SMALL_CONFIG)
    assert router.routes == ["default/chat", "default/lab"]
    assert router.backends == ["default/cheap", "default/backup", "default/pricey"]
    with pytest.raises(ig.ConfigError):
        ig.Router("kind: InferenceRoute\nmetadata: {name: r}\nspec: {defaultBackend: {name: x}}\n")
