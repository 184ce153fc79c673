"""List/watch behaviour of the syncer's reflectors against the fake API server: resuming a
dropped watch from the last resourceVersion, relisting on 410, bookmarks, partial events on a
reset connection, watch timeouts, and backoff on errors."""

import pathlib

import datetime

from fake_apiserver import FakeApiServer
from k8s_helpers import (CRD_PATHS, external_backend, load_rendered, secret, wait_until,
                         write_kubeconfig)

BACKENDS = "/apis/gateway.inference-gateway.io/v1alpha1/inferencebackends"
ROUTES = "/apis/gateway.inference-gateway.io/v1alpha1/inferenceroutes"


def backends_in(path):
    return sorted(load_rendered(path).get("InferenceBackend", {}))


def lists(apiserver, prefix=BACKENDS):
    return apiserver.request_log("GET", prefix, watch=False)


def watches(apiserver, prefix=BACKENDS):
    return apiserver.request_log("GET", prefix, watch=True)


def start_synced(apiserver, syncer, *args):
    s = syncer(*args)
    apiserver.wait_for_watchers(1, "inferencebackends")
    apiserver.wait_for_watchers(1, "secrets")
    s.wait_for_log("caches synced")
    return s


# A watch the server ends cleanly is resumed from the last resourceVersion: changes made while
# it was down are replayed, and nothing is relisted.
def test_dropped_watch_resumes_without_relist(apiserver, syncer):
    apiserver.create(external_backend("one"))
    s = start_synced(apiserver, syncer)
    list_rv = lists(apiserver)[-1]
    apiserver.hold_watches(True)
    apiserver.close_watches()
    wait_until(lambda: len(watches(apiserver)) == 1 and apiserver.watchers("inferencebackends") == 0,
               what="the watch closed")
    apiserver.create(external_backend("two"))
    apiserver.hold_watches(False)
    wait_until(lambda: backends_in(s.output) == ["default/one", "default/two"],
               what="the change made during the gap")
    assert len(lists(apiserver)) == 1
    resumed = watches(apiserver)[1]["query"]
    assert resumed["resourceVersion"] == "1"  # the list's RV: nothing was seen after it
    assert resumed["allowWatchBookmarks"] == "true"
    assert list_rv["query"].get("limit") == "500"


# A watch from a compacted resourceVersion gets an ERROR 410 event: the syncer relists, and
# objects deleted meanwhile disappear from the render.
def test_410_error_event_relists(apiserver, syncer):
    apiserver.create(external_backend("one"))
    s = start_synced(apiserver, syncer)
    wait_until(lambda: backends_in(s.output) == ["default/one"], what="first render")
    apiserver.hold_watches(True)
    apiserver.close_watches()
    wait_until(lambda: apiserver.watchers() == 0, what="watches closed")
    apiserver.delete("InferenceBackend", "default", "one")
    apiserver.create(external_backend("two"))
    apiserver.compact()
    apiserver.hold_watches(False)
    wait_until(lambda: backends_in(s.output) == ["default/two"], what="the relisted state")
    assert len(lists(apiserver)) == 2
    assert any(l.get("msg") == "watch: error event" and l.get("code") == "410" for l in s.logs())


# The same with the 410 as an HTTP status (as some proxies answer).
def test_410_http_status_relists(apiserver, syncer):
    apiserver.gone_as_http = True
    apiserver.create(external_backend("one"))
    s = start_synced(apiserver, syncer)
    apiserver.hold_watches(True)
    apiserver.close_watches()
    wait_until(lambda: apiserver.watchers() == 0, what="watches closed")
    apiserver.create(external_backend("two"))
    apiserver.compact()
    apiserver.hold_watches(False)
    wait_until(lambda: backends_in(s.output) == ["default/one", "default/two"], what="relisted")
    assert len(lists(apiserver)) == 2


# A BOOKMARK moves the resume point forward, so a watch that ends after compaction resumes
# without a 410 (and without a relist).
def test_bookmark_avoids_relist(apiserver, syncer):
    apiserver.create(external_backend("one"))
    s = start_synced(apiserver, syncer)
    apiserver.create(secret("unrelated", x="y"))  # moves the global RV past the backends'
    head = apiserver.head_rv
    apiserver.hold_watches(True)
    apiserver.bookmark_now()
    apiserver.close_watches()
    wait_until(lambda: apiserver.watchers() == 0, what="watches closed")
    apiserver.compact()
    apiserver.hold_watches(False)
    wait_until(lambda: len(watches(apiserver)) == 2, what="the backends watch resumed")
    assert watches(apiserver)[1]["query"]["resourceVersion"] == str(head)
    apiserver.create(external_backend("two"))
    wait_until(lambda: backends_in(s.output) == ["default/one", "default/two"], what="live event")
    assert len(lists(apiserver)) == 1


# A connection reset in the middle of an event: the partial line is discarded, the watch is
# resumed from the last complete event.
def test_reset_mid_event_discards_partial_line(apiserver, syncer):
    apiserver.create(external_backend("one"))
    s = start_synced(apiserver, syncer)
    apiserver.reset_watches()
    apiserver.create(external_backend("two"))
    wait_until(lambda: backends_in(s.output) == ["default/one", "default/two"], what="resumed")
    assert "half-written" not in pathlib.Path(s.output).read_text()
    assert len(lists(apiserver)) == 1
    assert any(l.get("msg") == "watch: connection ended" for l in s.logs())


# Watches end at timeoutSeconds (the fake sends a bookmark first) and are re-established from
# the last resourceVersion without relisting.
def test_watch_timeout_rewatches(apiserver, syncer):
    apiserver.create(external_backend("one"))
    s = start_synced(apiserver, syncer, "--watch-timeout", "1")
    wait_until(lambda: len(watches(apiserver)) >= 3, timeout=15, what="three watches")
    assert watches(apiserver)[0]["query"]["timeoutSeconds"] in ("1",)
    assert len(lists(apiserver)) == 1
    apiserver.create(external_backend("two"))
    wait_until(lambda: backends_in(s.output) == ["default/one", "default/two"], what="live event")


# Server errors on the watch are retried with backoff (never in a tight loop), 429 honours
# Retry-After, and the data stays correct.
def test_watch_errors_back_off(apiserver, syncer):
    apiserver.inject_error("GET", r"/inferenceroutes$", 500, times=2, watch=True)
    apiserver.inject_error("GET", r"/inferencebackends$", 429, times=1, retry_after=1, watch=True)
    s = syncer()
    wait_until(lambda: len(watches(apiserver, ROUTES)) >= 3, timeout=15, what="routes watched")
    wait_until(lambda: len(watches(apiserver)) >= 2, timeout=15, what="backends re-watch")
    # A failed watch (HTTP 500) means: back off, then relist, then watch again.
    route_requests = apiserver.request_log("GET", ROUTES)
    kinds = ["watch" if r["query"].get("watch") else "list" for r in route_requests[:5]]
    assert kinds == ["list", "watch", "list", "watch", "list"], kinds
    gap1 = route_requests[2]["time"] - route_requests[1]["time"]
    gap2 = route_requests[4]["time"] - route_requests[3]["time"]
    assert gap1 >= 0.75 and gap2 >= 1.55, (gap1, gap2)  # 0.8 s, then 1.6 s (+ jitter)
    assert len(lists(apiserver)) == 1  # a 429 does not relist
    backend_watches = watches(apiserver)
    assert backend_watches[1]["time"] - backend_watches[0]["time"] >= 0.95  # Retry-After: 1
    apiserver.create(external_backend("late"))
    wait_until(lambda: backends_in(s.output) == ["default/late"], what="render after errors")


# An API server that is down at start-up is retried with growing, jittered waits (no tight
# loop); once it is up the syncer lists, watches and renders.
def test_unreachable_server_backs_off_then_syncs(syncer, tmp_path):
    probe = FakeApiServer(crd_paths=CRD_PATHS).start()
    port = probe.port
    probe.stop()
    config = write_kubeconfig(tmp_path / "kc-down", f"http://127.0.0.1:{port}")
    s = syncer(config=config)

    def failures():
        return [l for l in s.logs() if l.get("msg") == "list failed; backing off"
                and l.get("resource") == "inferencebackends"]

    wait_until(lambda: len(failures()) >= 3, timeout=15, what="three failed lists")
    times = [datetime.datetime.fromisoformat(l["ts"].replace("Z", "+00:00")) for l in failures()]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:])]
    assert gaps[0] >= 0.75 and gaps[1] >= 1.55, gaps  # 0.8 s, then 1.6 s, each x[1, 2)
    server = FakeApiServer(crd_paths=CRD_PATHS, port=port).start()
    try:
        server.create(external_backend("late"))
        wait_until(lambda: backends_in(s.output) == ["default/late"], timeout=20,
                   what="render once the server is up")
    finally:
        s.stop()
        server.stop()
