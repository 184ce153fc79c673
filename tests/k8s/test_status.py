"""Status written back by the syncer: route phase, activeBackends and conditions, backend health
from the proxy's admin endpoint, no write loops, observedGeneration, and leader election."""

import http.server
import json
import threading

import pytest

from k8s_helpers import backend, external_backend, load_rendered, route, secret, wait_until

STATUS_PATCH = "application/merge-patch+json"


def status_of(apiserver, kind, name, ns="default"):
    obj = apiserver.get(kind, ns, name)
    return (obj or {}).get("status") or {}


def condition(status, type_):
    for c in status.get("conditions", []):
        if c["type"] == type_:
            return c
    return None


def status_patches(apiserver, plural=None, name=None):
    out = []
    for r in apiserver.request_log("PATCH"):
        if not r["path"].endswith("/status"):
            continue
        if plural and f"/{plural}/" not in r["path"]:
            continue
        if name and not r["path"].endswith(f"/{name}/status"):
            continue
        out.append(r)
    return out


def barrier(apiserver, s, name="barrier"):
    """Creates a backend and a route that sorts after every other object, and waits until the
    route has status: statuses are written in namespace/name order, backends first, so every
    write of that pass is done by then."""
    apiserver.create(external_backend(name))
    apiserver.create(route(f"zzzz-{name}", defaultBackend={"name": name}))
    wait_until(lambda: status_of(apiserver, "InferenceRoute", f"zzzz-{name}").get("phase"),
               what="barrier status")


# A route naming a backend that does not exist is Failed with ResolvedRefs=False
# (BackendNotFound, naming it) and left out of the render; creating the backend fixes both.
def test_missing_backend_surfaces_in_status(apiserver, syncer):
    apiserver.create(external_backend("gpt4"))
    apiserver.create(route("chat", defaultBackend={"name": "gpt4"},
                           fallback={"backends": ["gpt4", "claude"]}))
    s = syncer()
    st = wait_until(lambda: status_of(apiserver, "InferenceRoute", "chat").get("phase") == "Failed"
                    and status_of(apiserver, "InferenceRoute", "chat"), what="Failed")
    refs = condition(st, "ResolvedRefs")
    assert refs["status"] == "False" and refs["reason"] == "BackendNotFound"
    assert '"claude"' in refs["message"] and "default" in refs["message"]
    ready = condition(st, "Ready")
    assert ready["status"] == "False" and ready["reason"] == "BackendNotFound"
    assert st["activeBackends"] == 0 and st["observedGeneration"] == 1
    assert "InferenceRoute" not in load_rendered(s.output)

    apiserver.create(external_backend("claude"))
    st = wait_until(lambda: status_of(apiserver, "InferenceRoute", "chat").get("phase") == "Active"
                    and status_of(apiserver, "InferenceRoute", "chat"), what="Active")
    assert condition(st, "ResolvedRefs")["status"] == "True"
    assert condition(st, "Ready")["status"] == "True"
    assert st["activeBackends"] == 2
    wait_until(lambda: "default/chat" in load_rendered(s.output).get("InferenceRoute", {}),
               what="route rendered once fixed")


# Backends get Ready/ResolvedRefs: a missing API-key Secret is SecretNotFound (the backend is
# still rendered, as the library only warns); an invalid spec is InvalidSpec and a route using
# it is Failed with BackendInvalid.
def test_backend_conditions(apiserver, syncer):
    apiserver.create(external_backend("keyless", secret=("openai-credentials", "api-key")))
    apiserver.create(backend("broken", type="kubernetes", kubernetes={"serviceName": "vllm", "port": 8000},
                             external={"url": "https://x.example/v1"}))
    apiserver.create(route("uses-broken", defaultBackend={"name": "broken"}))
    syncer()
    st = wait_until(lambda: condition(status_of(apiserver, "InferenceBackend", "keyless"), "Ready"),
                    what="keyless status")
    assert st["reason"] == "SecretNotFound" and '"openai-credentials"' in st["message"]
    broken = wait_until(lambda: status_of(apiserver, "InferenceBackend", "broken"), what="broken")
    ready = condition(broken, "Ready")
    assert ready["status"] == "False" and "spec.external" in ready["message"]
    assert broken["health"] == "Unknown"
    r = wait_until(lambda: status_of(apiserver, "InferenceRoute", "uses-broken"), what="route")
    assert r["phase"] == "Failed"
    assert condition(r, "ResolvedRefs")["reason"] == "BackendInvalid"

    apiserver.create(secret("openai-credentials", **{"api-key": "sk-1"}))
    wait_until(lambda: condition(status_of(apiserver, "InferenceBackend", "keyless"), "Ready")
               ["status"] == "True", what="secret resolved")


# Status is written once per change: our own writes (MODIFIED events) and restarts do not
# cause more writes, and lastTransitionTime survives a message-only change.
def test_no_status_write_loops(apiserver, syncer):
    apiserver.create(external_backend("a"))
    apiserver.create(external_backend("b"))
    apiserver.create(route("chat", defaultBackend={"name": "a"}))
    s = syncer()
    barrier(apiserver, s, "barrier1")
    assert len(status_patches(apiserver, "inferenceroutes")) == 2  # chat, the barrier route
    assert len(status_patches(apiserver, "inferencebackends")) == 3
    first = condition(status_of(apiserver, "InferenceRoute", "chat"), "Ready")

    # A spec change: one more write, observedGeneration follows, Ready stays True (same time).
    apiserver.apply(route("chat", defaultBackend={"name": "a"}, rules=[{"backends": [{"name": "b"}]}]))
    st = wait_until(lambda: status_of(apiserver, "InferenceRoute", "chat").get("observedGeneration") == 2
                    and status_of(apiserver, "InferenceRoute", "chat"), what="generation 2")
    assert st["activeBackends"] == 2
    ready = condition(st, "Ready")
    assert ready["observedGeneration"] == 2 and ready["message"] != first["message"]
    assert ready["lastTransitionTime"] == first["lastTransitionTime"]
    barrier(apiserver, s, "barrier2")
    assert len(status_patches(apiserver, "inferenceroutes")) == 4  # + chat again, barrier2
    s.stop()

    # A restarted syncer finds every status already right and writes nothing.
    before = len(status_patches(apiserver))
    t = syncer()
    t.wait_for_log("caches synced")
    barrier(apiserver, t, "barrier3")
    assert len(status_patches(apiserver)) == before + 2  # barrier3's backend and route only
    assert all(r["content_type"] == STATUS_PATCH for r in status_patches(apiserver))


class FakeProxyAdmin:
    """Serves GET /admin/backends like the proxy: [{"key": "ns/name", "health": ...}]."""

    def __init__(self):
        self.health = {}
        admin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                body = json.dumps([{"key": k, "health": v, "inflight": 0}
                                   for k, v in sorted(admin.health.items())]).encode()
                self.send_response(200 if self.path == "/admin/backends" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def proxy_admin():
    admin = FakeProxyAdmin()
    yield admin
    admin.close()


# Backend health comes from the proxy's /admin/backends: an Unhealthy backend makes the route
# Degraded (activeBackends counts the others); all unhealthy makes Ready False.
def test_health_from_proxy(apiserver, syncer, proxy_admin):
    for name in ("a", "b"):
        apiserver.create(external_backend(name))
    apiserver.create(route("chat", rules=[{"backends": [{"name": "a"}, {"name": "b"}]}]))
    proxy_admin.health = {"default/a": "Healthy", "default/b": "Healthy"}
    syncer("--proxy-admin", proxy_admin.url, "--status-interval", "0.2")
    wait_until(lambda: status_of(apiserver, "InferenceBackend", "a").get("health") == "Healthy",
               what="Healthy")
    wait_until(lambda: status_of(apiserver, "InferenceRoute", "chat").get("phase") == "Active",
               what="Active")

    proxy_admin.health["default/b"] = "Unhealthy"
    st = wait_until(lambda: status_of(apiserver, "InferenceRoute", "chat").get("phase") == "Degraded"
                    and status_of(apiserver, "InferenceRoute", "chat"), what="Degraded")
    assert st["activeBackends"] == 1
    assert condition(st, "Ready")["status"] == "True"
    assert condition(st, "Ready")["reason"] == "BackendsUnhealthy"
    b = status_of(apiserver, "InferenceBackend", "b")
    assert b["health"] == "Unhealthy" and condition(b, "Ready")["reason"] == "Unhealthy"

    proxy_admin.health["default/a"] = "Unhealthy"
    st = wait_until(lambda: status_of(apiserver, "InferenceRoute", "chat").get("activeBackends") == 0
                    and status_of(apiserver, "InferenceRoute", "chat"), what="no healthy backend")
    assert condition(st, "Ready")["status"] == "False"
    assert condition(st, "Ready")["reason"] == "NoHealthyBackends"


# Without --proxy-admin health stays Unknown and routes are Active.
def test_health_unknown_without_proxy(apiserver, syncer):
    apiserver.create(external_backend("a"))
    apiserver.create(route("chat", defaultBackend={"name": "a"}))
    syncer()
    st = wait_until(lambda: status_of(apiserver, "InferenceRoute", "chat"), what="status")
    assert st["phase"] == "Active"
    assert status_of(apiserver, "InferenceBackend", "a")["health"] == "Unknown"


LEASE_ARGS = ("--lease-duration", "2", "--renew-deadline", "1.5", "--retry-period", "0.25",
              "--lease-namespace", "igw-system")


# Two replicas: both render the same file, only the Lease holder writes status; when it stops
# (releasing the Lease) the other takes over.
def test_leader_election(apiserver, syncer):
    apiserver.create(external_backend("a"))
    apiserver.create(route("chat", defaultBackend={"name": "a"}))
    first = syncer(*LEASE_ARGS, "--identity", "replica-1", leader_elect=True, name="r1")
    first.wait_for_log("became leader")
    second = syncer(*LEASE_ARGS, "--identity", "replica-2", leader_elect=True, name="r2")
    second.wait_for_log("caches synced")
    wait_until(lambda: status_of(apiserver, "InferenceRoute", "chat").get("phase"), what="status")
    lease = apiserver.get("Lease", "igw-system", "inferencegw-k8s-sync")
    assert lease["spec"]["holderIdentity"] == "replica-1"
    assert lease["spec"]["leaseDurationSeconds"] == 2
    wait_until(lambda: load_rendered(second.output) == load_rendered(first.output)
               and load_rendered(first.output), what="same render on both")

    apiserver.create(external_backend("b"))
    wait_until(lambda: status_of(apiserver, "InferenceBackend", "b").get("health"), what="b status")
    barrier(apiserver, first)
    assert second.log_count("status updated") == 0
    assert second.log_count("became leader") == 0

    first.stop()
    second.wait_for_log("became leader")
    lease = apiserver.get("Lease", "igw-system", "inferencegw-k8s-sync")
    assert lease["spec"]["holderIdentity"] == "replica-2"
    assert lease["spec"]["leaseTransitions"] == 1
    apiserver.create(external_backend("c"))
    wait_until(lambda: status_of(apiserver, "InferenceBackend", "c").get("health"), what="c status")
    # The log line follows the status write; under load it can trail the write we just saw.
    wait_until(lambda: second.log_count("status updated") >= 1, what="the new leader's log")


# A leader that dies without releasing is replaced once its lease expires.
def test_leader_crash_takeover(apiserver, syncer):
    apiserver.create(external_backend("a"))
    first = syncer(*LEASE_ARGS, "--identity", "replica-1", leader_elect=True, name="r1")
    first.wait_for_log("became leader")
    second = syncer(*LEASE_ARGS, "--identity", "replica-2", leader_elect=True, name="r2")
    second.wait_for_log("caches synced")
    first.proc.kill()
    first.wait_exit()
    first.expected_exit = first.returncode
    second.wait_for_log("became leader", timeout=15)
    assert apiserver.get("Lease", "igw-system", "inferencegw-k8s-sync")["spec"]["holderIdentity"] == "replica-2"
