"""Helpers shared by the k8s tests: object builders, a kubeconfig writer, a handle on a running
inferencegw-k8s-sync process, and polling with a deadline (tests never sleep for a fixed time
to let something happen)."""

import base64
import json
import os
import pathlib
import signal
import subprocess
import time

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CRD_PATHS = sorted((REPO / "deploy" / "crds").glob("gateway.inference-gateway.io_*.yaml"))
API_VERSION = "gateway.inference-gateway.io/v1alpha1"


def wait_until(predicate, timeout=10.0, what="condition"):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def backend(name, ns="default", **spec):
    return {"apiVersion": API_VERSION, "kind": "InferenceBackend",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def external_backend(name, ns="default", url="https://api.openai.com/v1", secret=None, **extra):
    external = {"url": url, "provider": extra.pop("provider", "openai")}
    if secret is not None:
        external["apiKeySecret"] = {"name": secret[0], "key": secret[1]}
    return backend(name, ns, type="external", external=external, **extra)


def route(name, ns="default", **spec):
    return {"apiVersion": API_VERSION, "kind": "InferenceRoute",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def secret(name, ns="default", annotations=None, **values):
    meta = {"name": name, "namespace": ns}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}


def write_kubeconfig(path, server_url, token="test-token", cluster_extra=None, user=None,
                     namespace="default"):
    cluster = {"server": server_url}
    cluster.update(cluster_extra or {})
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "fake", "cluster": cluster}],
        "users": [{"name": "tester", "user": user if user is not None else {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "fake", "user": "tester",
                                                  "namespace": namespace}}],
    }
    pathlib.Path(path).write_text(yaml.safe_dump(config))
    return str(path)


def load_rendered(path):
    """The rendered config as {kind: {"ns/name": document}}; {} while the file is absent."""
    try:
        text = pathlib.Path(path).read_text()
    except FileNotFoundError:
        return {}
    out = {}
    for doc in yaml.safe_load_all(text):
        if not doc:
            continue
        meta = doc["metadata"]
        out.setdefault(doc["kind"], {})[f"{meta['namespace']}/{meta['name']}"] = doc
    return out


class SyncerProcess:
    """A running inferencegw-k8s-sync. stop() sends SIGTERM and waits for the exit code."""

    def __init__(self, binary, args, log_path, env=None):
        self.args = [binary] + list(args)
        self.log_path = pathlib.Path(log_path)
        self._log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        for var in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "POD_NAME"):
            full_env.pop(var, None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self._log,
                                     env=full_env)
        self.returncode = None

    def logs(self):
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"msg": raw, "unparsed": True})
        return lines

    def log_count(self, msg):
        return sum(1 for line in self.logs() if line.get("msg") == msg)

    def wait_for_log(self, msg, count=1, timeout=10.0):
        return wait_until(lambda: self.log_count(msg) >= count, timeout, f"log {msg!r} x{count}")

    def wait_exit(self, timeout=20.0):
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        finally:
            self._close()
        return self.returncode

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._close()
                raise AssertionError("the syncer did not exit within 10 s of SIGTERM")
        self.returncode = self.proc.returncode
        self._close()
        return self.returncode

    def _close(self):
        if not self._log.closed:
            self._log.close()
