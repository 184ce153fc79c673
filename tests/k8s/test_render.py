"""The rendered config follows the cluster: creates, updates, deletes, Secret rotation, KServe
URLs, invalid objects left out, determinism across replicas, writes only on change."""

import base64
import hashlib
import os
import pathlib

import yaml

from k8s_helpers import (backend, external_backend, load_rendered, route, secret, wait_until)


def rendered_names(path, kind):
    return sorted(load_rendered(path).get(kind, {}))


# A backend and a route created after start-up appear in the file; an update and a delete follow.
def test_create_update_delete_follow(apiserver, syncer):
    apiserver.create(external_backend("gpt4"))
    s = syncer()
    wait_until(lambda: rendered_names(s.output, "InferenceBackend") == ["default/gpt4"],
               what="the first backend rendered")
    apiserver.create(route("chat", defaultBackend={"name": "gpt4"}))
    wait_until(lambda: rendered_names(s.output, "InferenceRoute") == ["default/chat"],
               what="the route rendered")

    updated = external_backend("gpt4", url="https://api.example.com/v2", timeoutSeconds=12)
    apiserver.apply(updated)
    doc = wait_until(lambda: load_rendered(s.output)["InferenceBackend"]["default/gpt4"]
                     if load_rendered(s.output)["InferenceBackend"]["default/gpt4"]["spec"]
                     .get("timeoutSeconds") == 12 else None, what="the update rendered")
    assert doc["spec"]["external"]["url"] == "https://api.example.com/v2"
    assert doc["metadata"]["generation"] == 2

    apiserver.delete("InferenceRoute", "default", "chat")
    wait_until(lambda: rendered_names(s.output, "InferenceRoute") == [], what="the route removed")
    assert rendered_names(s.output, "InferenceBackend") == ["default/gpt4"]


# Rotating a referenced Secret's value rewrites the file with the new value; unreferenced
# Secrets never appear in it.
def test_secret_rotation(apiserver, syncer):
    apiserver.create(secret("openai-credentials", **{"api-key": "sk-old"}))
    apiserver.create(secret("unrelated", password="hunter2"))
    apiserver.create(external_backend("gpt4", secret=("openai-credentials", "api-key")))
    s = syncer()

    def key_value():
        doc = load_rendered(s.output).get("Secret", {}).get("default/openai-credentials")
        return doc and __import__("base64").b64decode(doc["data"]["api-key"]).decode()

    assert wait_until(key_value, what="the secret rendered") == "sk-old"
    apiserver.apply(secret("openai-credentials", **{"api-key": "sk-new"}))
    wait_until(lambda: key_value() == "sk-new", what="the rotated secret rendered")
    assert "default/unrelated" not in load_rendered(s.output)["Secret"]
    assert os.stat(s.output).st_mode & 0o777 == 0o600
    logs = pathlib.Path(s.log_path).read_text()
    assert "sk-new" not in logs and "sk-old" not in logs and "hunter2" not in logs


# Secrets annotated as client-key Secrets are rendered even though no backend references them.
# Key policies and route budgets survive the syncer: only the key's hash is written, with its
# routes (as namespace/name), models, limits, budget and expiry; the route keeps its budget.
def test_client_key_secret_rendered(apiserver, syncer):
    policy = ("{key: sk-bob, routes: [chat], models: ['gpt-4o*'], rateLimit: {requestsPerMinute:"
              " 30}, budget: {limit: '10.00', period: day}, expires: '2027-01-01T01:00:00+01:00'}")
    apiserver.create(secret("gateway-keys",
                            annotations={"gateway.inference-gateway.io/client-keys": "true"},
                            alice="sk-alice", bob=policy))
    apiserver.create(external_backend("gpt4"))
    apiserver.create(route("chat", defaultBackend={"name": "gpt4"},
                           budget={"limit": "50.00", "perUser": "2.5", "period": "week"}))
    s = syncer()
    wait_until(lambda: "default/gateway-keys" in load_rendered(s.output).get("Secret", {})
               and "default/chat" in load_rendered(s.output).get("InferenceRoute", {}),
               what="the client-key secret and the route rendered")
    rendered = load_rendered(s.output)
    data = rendered["Secret"]["default/gateway-keys"]["data"]
    bob = yaml.safe_load(base64.b64decode(data["bob"]).decode())
    assert bob == {"keySha256": hashlib.sha256(b"sk-bob").hexdigest(),
                   "routes": ["default/chat"], "models": ["gpt-4o*"],
                   "rateLimit": {"requestsPerMinute": 30},
                   "budget": {"limit": "10", "period": "day", "currency": "USD"},
                   "expires": "2027-01-01T00:00:00Z"}
    assert "sk-bob" not in pathlib.Path(s.output).read_text()
    assert rendered["InferenceRoute"]["default/chat"]["spec"]["budget"] == {
        "limit": "50", "perUser": "2.5", "period": "week", "currency": "USD"}


# A client-key Secret made invalid (a bad policy on one entry) is never left out: that would
# drop its keys, and with the only such Secret gone authentication would switch off. The syncer
# keeps the last good config until the Secret is fixed.
def test_invalid_client_key_secret_keeps_the_last_good_config(apiserver, syncer):
    keys = {"gateway.inference-gateway.io/client-keys": "true"}
    apiserver.create(secret("gateway-keys", annotations=keys, alice="sk-alice"))
    apiserver.create(external_backend("gpt4"))
    apiserver.create(route("chat", defaultBackend={"name": "gpt4"}))
    s = syncer()
    wait_until(lambda: "default/gateway-keys" in load_rendered(s.output).get("Secret", {}),
               what="the client-key secret rendered")
    apiserver.apply(secret("gateway-keys", annotations=keys, alice="sk-alice",
                           bob="{key: sk-bob, rateLimit: {requestsPerMinute: -1}}"))
    apiserver.create(route("later", defaultBackend={"name": "gpt4"}))
    wait_until(lambda: "client-key Secret default/gateway-keys is invalid"
               in pathlib.Path(s.log_path).read_text(), what="the syncer to log the bad Secret")
    rendered = load_rendered(s.output)
    assert list(rendered["Secret"]["default/gateway-keys"]["data"]) == ["alice"]
    assert "default/later" not in rendered.get("InferenceRoute", {})
    apiserver.apply(secret("gateway-keys", annotations=keys, alice="sk-alice", bob="sk-bob"))
    wait_until(lambda: "default/later" in load_rendered(s.output).get("InferenceRoute", {}),
               what="the config written again once the Secret is fixed")
    assert sorted(load_rendered(s.output)["Secret"]["default/gateway-keys"]["data"]) == [
        "alice", "bob"]


# A KServe backend gets kserve.url from its InferenceService's status.url, and loses it when the
# InferenceService goes away (the proxy then uses the predictor URL convention).
def test_kserve_url_from_inference_service(apiserver, syncer):
    apiserver.create(backend("mistral", type="kserve", kserve={"serviceName": "mistral-7b"}))
    apiserver.create({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                      "metadata": {"name": "mistral-7b", "namespace": "default"},
                      "spec": {"predictor": {"model": {"modelFormat": {"name": "huggingface"}}}}})
    s = syncer()

    def kserve_block():
        doc = load_rendered(s.output).get("InferenceBackend", {}).get("default/mistral")
        return doc and doc["spec"]["kserve"]

    wait_until(lambda: kserve_block() is not None and "url" not in kserve_block(),
               what="the backend rendered without a url")
    apiserver.set_status("InferenceService", "default", "mistral-7b",
                         {"url": "http://mistral-7b.default.example.com"})
    wait_until(lambda: (kserve_block() or {}).get("url") == "http://mistral-7b.default.example.com",
               what="status.url rendered")
    apiserver.delete("InferenceService", "default", "mistral-7b")
    wait_until(lambda: kserve_block() is not None and "url" not in kserve_block(),
               what="the url gone with the InferenceService")


# Without KServe installed (404 on its API) the syncer still syncs and renders.
def test_kserve_not_installed(apiserver, syncer):
    apiserver.uninstall("inferenceservices")
    apiserver.create(backend("mistral", type="kserve", kserve={"serviceName": "mistral-7b"}))
    s = syncer()
    wait_until(lambda: rendered_names(s.output, "InferenceBackend") == ["default/mistral"],
               what="the kserve backend rendered")
    assert any(l.get("msg") == "resource type not served; will retry"
               and l.get("resource") == "inferenceservices" for l in s.logs())


# An invalid object is left out; everything else keeps working; fixing it brings it back.
def test_invalid_object_left_out(apiserver, syncer):
    apiserver.create(external_backend("good"))
    apiserver.create(route("chat", defaultBackend={"name": "good"}))
    # Valid for the CRD schema (CEL is not evaluated by the fake), invalid for the library.
    apiserver.create(backend("bad", type="external",
                             kubernetes={"serviceName": "x"},
                             external={"url": "https://x.example/v1"}))
    s = syncer()
    wait_until(lambda: rendered_names(s.output, "InferenceRoute") == ["default/chat"],
               what="the valid route rendered")
    assert rendered_names(s.output, "InferenceBackend") == ["default/good"]
    apiserver.apply(external_backend("bad"))
    wait_until(lambda: rendered_names(s.output, "InferenceBackend") == ["default/bad", "default/good"],
               what="the fixed backend rendered")


# Two replicas watching the same cluster write byte-identical files, whatever the creation order.
def test_replicas_render_identically(apiserver, syncer):
    for name in ("zeta", "alpha", "mid"):
        apiserver.create(external_backend(name, ns="team-b"))
        apiserver.create(external_backend(name, ns="team-a"))
    apiserver.create(route("r", ns="team-a", defaultBackend={"name": "mid"}))
    a = syncer()
    b = syncer()
    wait_until(lambda: len(rendered_names(a.output, "InferenceBackend")) == 6
               and len(rendered_names(b.output, "InferenceBackend")) == 6, what="both rendered")
    wait_until(lambda: pathlib.Path(a.output).read_bytes() == pathlib.Path(b.output).read_bytes(),
               what="identical files")
    docs = [d for d in yaml.safe_load_all(pathlib.Path(a.output).read_text()) if d]
    keys = [(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs]
    assert keys == sorted(keys, key=lambda k: ({"InferenceBackend": 0, "InferenceRoute": 1}[k[0]], k[1], k[2]))


# Status writes and unrelated changes do not rewrite the file (same inode, same bytes): the
# proxy reloads only on real config changes.
def test_file_rewritten_only_on_change(apiserver, syncer):
    apiserver.create(external_backend("gpt4"))
    apiserver.create(route("chat", defaultBackend={"name": "gpt4"}))
    s = syncer()
    wait_until(lambda: rendered_names(s.output, "InferenceRoute") == ["default/chat"],
               what="rendered")
    wait_until(lambda: (apiserver.get("InferenceRoute", "default", "chat").get("status") or {})
               .get("phase") == "Active", what="status written")
    inode = os.stat(s.output).st_ino
    writes = s.log_count("config written")
    apiserver.create(secret("unrelated", password="x"))
    apiserver.apply({**external_backend("gpt4"),
                     "metadata": {"name": "gpt4", "namespace": "default",
                                  "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}})
    apiserver.set_status("InferenceRoute", "default", "chat", {"phase": "Pending"})
    wait_until(lambda: (apiserver.get("InferenceRoute", "default", "chat").get("status") or {})
               .get("phase") == "Active", what="status restored by the syncer")
    assert os.stat(s.output).st_ino == inode
    assert s.log_count("config written") == writes


# --once lists, renders, writes status and exits 0.
def test_once(apiserver, syncer):
    apiserver.create(external_backend("gpt4"))
    apiserver.create(route("chat", defaultBackend={"name": "gpt4"}))
    s = syncer("--once")
    assert s.wait_exit() == 0
    assert rendered_names(s.output, "InferenceRoute") == ["default/chat"]
    assert apiserver.get("InferenceRoute", "default", "chat")["status"]["phase"] == "Active"


# --namespace limits what is watched (several namespaces, comma-separated or repeated).
def test_namespace_selection(apiserver, syncer):
    for ns in ("a", "b", "c"):
        apiserver.create(external_backend("x", ns=ns))
    s = syncer("--namespace", "a,b")
    t = syncer("--namespace", "c", "--namespace", "a")
    wait_until(lambda: rendered_names(s.output, "InferenceBackend") == ["a/x", "b/x"], what="a,b")
    wait_until(lambda: rendered_names(t.output, "InferenceBackend") == ["a/x", "c/x"], what="c,a")
    assert not apiserver.request_log(path_prefix="/apis/gateway.inference-gateway.io/v1alpha1/inferencebackends")
