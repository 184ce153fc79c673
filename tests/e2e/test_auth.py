"""Client authentication with gateway API keys, trusted attribute headers, and secrets that
never leave the proxy."""

from __future__ import annotations

import hashlib
import json

import pytest

from harness import backend, client_keys_secret, route, secret

ALICE_KEY = "sk-alice-gateway-key-1111"
BOB_KEY = "sk-bob-gateway-key-2222"
PROVIDER_KEY = "sk-provider-upstream-key-3333"


@pytest.fixture
def gated(env):
    plain = env.mock("plain", "--require-api-key", PROVIDER_KEY)
    premium = env.mock("premium", "--require-api-key", PROVIDER_KEY)
    proxy = env.proxy([
        client_keys_secret("gateway-keys", {
            "alice": ALICE_KEY,
            "bob": f"{{key: {BOB_KEY}, attributes: {{x-user-tier: premium}}}}",
        }),
        secret("provider", {"key": PROVIDER_KEY}),
        backend("plain", f"{plain.url}/v1", key=("provider", "key"),
                cost={"inputTokenCost": "0.001", "outputTokenCost": "0.001"}),
        backend("premium", f"{premium.url}/v1", key=("provider", "key"),
                cost={"inputTokenCost": "0.001", "outputTokenCost": "0.001"}),
        route("chat", default=True, defaultBackend={"name": "plain"},
              rules=[{"match": {"headers": {"x-user-tier": "premium"}},
                      "backends": [{"name": "premium"}]}],
              rateLimit={"requestsPerMinute": 2, "perUser": True}),
    ])
    return proxy, plain, premium


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


# Without a key, or with a wrong one, the client gets 401 in its API's shape and nothing is sent
# upstream.
def test_401_without_or_with_wrong_key(gated):
    proxy, plain, premium = gated
    for headers in ({}, bearer("sk-wrong"), {"x-api-key": "sk-wrong"}, bearer("")):
        resp = proxy.chat("m", headers=headers)
        assert resp.status == 401, headers
        error = resp.json()["error"]
        assert error["code"] == "invalid_api_key"
        assert set(error) == {"message", "type", "param", "code"}
    messages = proxy.post("/v1/messages", {"model": "m", "max_tokens": 8,
                                           "messages": [{"role": "user", "content": "Hi"}]})
    assert messages.status == 401
    assert messages.json()["type"] == "error"
    assert messages.json()["error"]["type"] == "authentication_error"
    assert plain.inference_requests() == 0
    assert premium.inference_requests() == 0


# A key's attributes are trusted headers that rules match; the client's own copy of such a
# header is ignored, whoever sends it.
def test_attributes_are_trusted_headers(gated):
    proxy, plain, premium = gated
    alice = proxy.chat("m", headers=bearer(ALICE_KEY))
    assert alice.status == 200
    assert alice.headers["x-inferencegw-backend"] == "default/plain"
    spoofed = proxy.chat("m", headers={**bearer(ALICE_KEY), "x-user-tier": "premium"})
    assert spoofed.headers["x-inferencegw-backend"] == "default/plain"
    bob = proxy.chat("m", headers=bearer(BOB_KEY))
    assert bob.headers["x-inferencegw-backend"] == "default/premium"
    bob_says_basic = proxy.chat("m", headers={"x-api-key": BOB_KEY, "x-user-tier": "basic"})
    assert bob_says_basic.status == 200
    assert bob_says_basic.headers["x-inferencegw-backend"] == "default/premium"
    # The gateway key goes nowhere: the upstream sees the provider's key only.
    for mock in (plain, premium):
        last = mock.last_request()
        assert last["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"
        text = json.dumps(last)
        assert ALICE_KEY not in text and BOB_KEY not in text


# With keys configured the user is the key's user: a client cannot pick another rate-limit
# bucket with the userHeader, and costs are booked to the key's user id.
def test_authenticated_user_owns_the_rate_limit(gated):
    proxy, _, _ = gated
    for i in range(2):
        resp = proxy.chat("m", headers={**bearer(ALICE_KEY), "x-user-id": f"someone-{i}"})
        assert resp.status == 200
    refused = proxy.chat("m", headers={**bearer(ALICE_KEY), "x-user-id": "someone-else"})
    assert refused.status == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert proxy.chat("m", headers=bearer(BOB_KEY)).status == 200
    users = {row["name"]: row for row in proxy.admin_json("/admin/costs")["by_user"]}
    assert users["alice"]["requests"] == 2
    assert users["bob"]["requests"] == 1
    assert not any(name.startswith("someone") for name in users)


# Provider keys and client keys never appear in stdout logs, /admin/*, /metrics or error bodies.
def test_secrets_never_exposed(gated):
    proxy, plain, _ = gated
    bodies = []
    bodies.append(proxy.chat("m", headers=bearer(ALICE_KEY)).text)
    bodies.append(proxy.chat("m", headers=bearer(BOB_KEY), stream=True).text)
    bodies.append(proxy.chat("m", headers=bearer(ALICE_KEY + "x")).text)  # 401
    plain.configure(status=500)
    bodies.append(proxy.chat("m", headers=bearer(ALICE_KEY)).text)  # 500 from upstream
    bodies.append(proxy.chat("m", headers=bearer(ALICE_KEY)).text)  # 429
    for path in ("/admin/config", "/admin/backends", "/admin/costs", "/admin/experiments",
                 "/metrics", "/healthz", "/readyz"):
        resp = proxy.admin(path)
        assert resp.status in (200, 503), path
        bodies.append(resp.text)
    bodies.append(proxy.get("/metrics").text)
    bodies.append(proxy.get("/v1/models").text)
    # The loaded config is rendered with the Secret's key names only.
    config = proxy.admin("/admin/config").text
    assert "gateway-keys" in config
    # Wait for the last request's log line so that every line is in.
    proxy.wait_for_log(lambda e: e.get("msg") == "request" and e.get("status") == 429)
    everything = "\n".join(bodies) + "\n" + proxy.stdout_text() + "\n" + proxy.stderr()
    for key in (ALICE_KEY, BOB_KEY, PROVIDER_KEY):
        assert key not in everything
        assert key.split("-", 1)[1] not in everything  # nor without its "sk-" prefix
        assert hashlib.sha256(key.encode()).hexdigest() not in everything  # nor its hash
