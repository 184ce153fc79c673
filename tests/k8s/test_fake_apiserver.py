"""The fake API server itself behaves as kube-apiserver documents (so that passing tests mean
something): Status errors, create/update/patch/delete semantics, the status subresource,
generation, optimistic concurrency, lists with pagination, and watch streams."""

import http.client
import json
import urllib.parse

import pytest

from fake_apiserver import FakeApiServer
from k8s_helpers import CRD_PATHS, external_backend

IB = "/apis/gateway.inference-gateway.io/v1alpha1/namespaces/default/inferencebackends"


@pytest.fixture
def api():
    server = FakeApiServer(crd_paths=CRD_PATHS).start()
    yield server
    server.stop()


def call(api, method, path, body=None, content_type="application/json", token="test-token"):
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None, dict(response.getheaders())
    finally:
        conn.close()


def watch_lines(api, path, count):
    """Opens a watch and returns its first `count` events (then closes the connection)."""
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": "Bearer test-token"})
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Transfer-Encoding") == "chunked"
        return [json.loads(_read_line(response)) for _ in range(count)]
    finally:
        conn.close()


def _read_line(response):
    line = b""
    while not line.endswith(b"\n"):
        chunk = response.read(1)
        if not chunk:
            break
        line += chunk
    return line


# Errors are Status objects; unknown paths are 404 "the server could not find the requested
# resource"; no token is 401.
def test_errors_are_status_objects(api):
    code, body, _ = call(api, "GET", "/apis/example.com/v1/namespaces/x/widgets")
    assert code == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == "the server could not find the requested resource"
    code, body, _ = call(api, "GET", IB + "/missing")
    assert code == 404
    assert body["details"] == {"name": "missing", "group": "gateway.inference-gateway.io",
                               "kind": "inferencebackends"}
    assert body["message"] == 'inferencebackends.gateway.inference-gateway.io "missing" not found'
    code, body, _ = call(api, "GET", IB, token=None)
    assert code == 401 and body["reason"] == "Unauthorized"


# Create sets server fields and drops status; duplicates are 409 AlreadyExists; a namespace
# mismatch is 400; schema violations are 422 Invalid; defaults are applied.
def test_create(api):
    obj = external_backend("a")
    obj["status"] = {"health": "Healthy"}
    code, created, _ = call(api, "POST", IB, obj)
    assert code == 201
    meta = created["metadata"]
    assert meta["generation"] == 1 and meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["resourceVersion"] == "1" and "status" not in created
    assert created["spec"]["timeoutSeconds"] == 60  # CRD default
    code, body, _ = call(api, "POST", IB, external_backend("a"))
    assert code == 409 and body["reason"] == "AlreadyExists"
    code, body, _ = call(api, "POST", IB, external_backend("b", ns="other"))
    assert code == 400
    bad = external_backend("c")
    bad["spec"]["timeoutSeconds"] = 0
    code, body, _ = call(api, "POST", IB, bad)
    assert code == 422 and body["reason"] == "Invalid" and "spec.timeoutSeconds" in body["message"]
    unknown = external_backend("d")
    unknown["spec"]["bogus"] = 1
    code, body, _ = call(api, "POST", IB, unknown)
    assert code == 201 and "bogus" not in body["spec"]  # pruned


# PUT needs the current resourceVersion (422 without, 409 when stale), keeps status, bumps
# generation only on spec changes, and an identical PUT changes nothing.
def test_update_and_status_subresource(api):
    _, created, _ = call(api, "POST", IB, external_backend("a"))
    body = dict(created)
    del body["metadata"]["resourceVersion"]
    code, err, _ = call(api, "PUT", IB + "/a", body)
    assert code == 422 and "must be specified for an update" in err["message"]

    same = dict(created)
    same["metadata"] = dict(created["metadata"], resourceVersion="1")
    code, unchanged, _ = call(api, "PUT", IB + "/a", same)
    assert code == 200 and unchanged["metadata"]["resourceVersion"] == "1"

    code, status, _ = call(api, "PATCH", IB + "/a/status", {"status": {"health": "Healthy"}},
                           "application/merge-patch+json")
    assert code == 200 and status["status"] == {"health": "Healthy"}
    assert status["metadata"]["generation"] == 1 and status["metadata"]["resourceVersion"] == "2"

    stale = dict(same)
    stale["spec"] = dict(same["spec"], priority=5)
    code, err, _ = call(api, "PUT", IB + "/a", stale)
    assert code == 409 and err["reason"] == "Conflict"
    assert "the object has been modified" in err["message"]

    stale["metadata"] = dict(stale["metadata"], resourceVersion="2")
    stale["status"] = {"health": "Unhealthy"}  # ignored on the main endpoint
    code, updated, _ = call(api, "PUT", IB + "/a", stale)
    assert code == 200 and updated["metadata"]["generation"] == 2
    assert updated["status"] == {"health": "Healthy"} and updated["spec"]["priority"] == 5

    # The status endpoint ignores spec changes.
    updated["spec"]["priority"] = 9
    updated["status"] = {"health": "Unknown"}
    code, st, _ = call(api, "PUT", IB + "/a/status", updated)
    assert code == 200 and st["spec"]["priority"] == 5 and st["status"]["health"] == "Unknown"
    assert st["metadata"]["generation"] == 2


# Patches: merge patch, JSON patch (a failing test op is 422), strategic merge is 415 on CRs.
def test_patches(api):
    call(api, "POST", IB, external_backend("a"))
    code, obj, _ = call(api, "PATCH", IB + "/a", {"spec": {"priority": 3}},
                        "application/merge-patch+json")
    assert code == 200 and obj["spec"]["priority"] == 3 and obj["metadata"]["generation"] == 2
    code, obj, _ = call(api, "PATCH", IB + "/a",
                        [{"op": "test", "path": "/spec/priority", "value": 3},
                         {"op": "replace", "path": "/spec/priority", "value": 4}],
                        "application/json-patch+json")
    assert code == 200 and obj["spec"]["priority"] == 4
    code, err, _ = call(api, "PATCH", IB + "/a",
                        [{"op": "test", "path": "/spec/priority", "value": 99}],
                        "application/json-patch+json")
    assert code == 422
    code, err, _ = call(api, "PATCH", IB + "/a", {"spec": {}}, "application/strategic-merge-patch+json")
    assert code == 415
    code, err, _ = call(api, "PATCH", IB + "/a", {"metadata": {"resourceVersion": "1"}},
                        "application/merge-patch+json")
    assert code == 409


# Delete answers a Status Success (or, with finalizers, the object with deletionTimestamp).
def test_delete(api):
    call(api, "POST", IB, external_backend("a"))
    code, body, _ = call(api, "DELETE", IB + "/a")
    assert code == 200 and body["status"] == "Success" and body["details"]["name"] == "a"
    obj = external_backend("f")
    obj["metadata"]["finalizers"] = ["example.com/keep"]
    call(api, "POST", IB, obj)
    code, body, _ = call(api, "DELETE", IB + "/f")
    assert code == 200 and body["metadata"]["deletionTimestamp"]
    assert body["metadata"]["generation"] == 2
    body["metadata"]["finalizers"] = []
    code, _, _ = call(api, "PUT", IB + "/f", body)
    assert code == 200
    assert call(api, "GET", IB + "/f")[0] == 404


# Lists carry the collection's resourceVersion and paginate with continue tokens that expire
# (410) after compaction; selectors filter.
def test_list_pagination_and_selectors(api):
    for name in ("a", "b", "c"):
        obj = external_backend(name)
        obj["metadata"]["labels"] = {"tier": "gold" if name != "b" else "silver"}
        call(api, "POST", IB, obj)
    code, page, _ = call(api, "GET", IB + "?limit=2")
    assert page["kind"] == "InferenceBackendList" and page["metadata"]["resourceVersion"] == "3"
    assert [i["metadata"]["name"] for i in page["items"]] == ["a", "b"]
    token = urllib.parse.quote(page["metadata"]["continue"])
    _, rest, _ = call(api, "GET", IB + f"?limit=2&continue={token}")
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c"] and "continue" not in rest["metadata"]
    _, gold, _ = call(api, "GET", IB + "?labelSelector=tier%3Dgold")
    assert [i["metadata"]["name"] for i in gold["items"]] == ["a", "c"]
    _, one, _ = call(api, "GET", IB + "?fieldSelector=metadata.name%3Db")
    assert [i["metadata"]["name"] for i in one["items"]] == ["b"]
    call(api, "POST", IB, external_backend("d"))
    api.compact()
    code, err, _ = call(api, "GET", IB + f"?limit=2&continue={token}")
    assert code == 410 and err["reason"] == "Expired"


# Watches: synthetic ADDED without an RV, replay after an RV, ERROR 410 for a compacted RV,
# bookmarks only when allowed, sendInitialEvents rejected.
def test_watch(api):
    call(api, "POST", IB, external_backend("a"))
    call(api, "POST", IB, external_backend("b"))
    call(api, "DELETE", IB + "/a")
    events = watch_lines(api, IB + "?watch=true&resourceVersion=0", 1)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "b"
    replay = watch_lines(api, IB + "?watch=1&resourceVersion=1", 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in replay] == [
        ("ADDED", "b"), ("DELETED", "a")]
    assert replay[1]["object"]["metadata"]["resourceVersion"] == "3"
    api.compact()
    gone = watch_lines(api, IB + "?watch=1&resourceVersion=1", 1)[0]
    assert gone["type"] == "ERROR" and gone["object"]["code"] == 410
    assert gone["object"]["message"] == "too old resource version: 1 (3)"
    code, err, _ = call(api, "GET", IB + "?watch=1&sendInitialEvents=true")
    assert code == 422
    timed = watch_lines(api, IB + "?watch=1&resourceVersion=3&allowWatchBookmarks=true&timeoutSeconds=1", 1)
    assert timed[0]["type"] == "BOOKMARK"
    assert timed[0]["object"]["metadata"]["resourceVersion"] == "3"
