"""How the syncer authenticates: bearer tokens (static and from a file re-read after a 401),
HTTPS with a CA file or CA data, exec credential plugins, in-cluster ServiceAccount files; and
that no token ever reaches the logs."""

import base64
import json
import os
import pathlib
import ssl
import subprocess
import sys

import pytest

from fake_apiserver import FakeApiServer
from k8s_helpers import CRD_PATHS, external_backend, load_rendered, wait_until, write_kubeconfig


def backends_in(path):
    return sorted(load_rendered(path).get("InferenceBackend", {}))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl CLI)."""
    d = tmp_path_factory.mktemp("tls")

    def run(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=fake-kube-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=fake-kube-apiserver")
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.cnf")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out",
        "other-ca.crt", "-days", "2", "-subj", "/CN=unrelated-ca")
    return d


@pytest.fixture
def tls_apiserver(tls_files):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files / "server.crt", tls_files / "server.key")
    server = FakeApiServer(crd_paths=CRD_PATHS, ssl_context=context).start()
    yield server
    server.stop()


# A token file is re-read after a 401: rotating the token (server and file) is picked up on the
# next request without a restart.
def test_token_file_reread_on_401(apiserver, syncer, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("token-one\n")
    apiserver.tokens = {"token-one"}
    config = write_kubeconfig(tmp_path / "kc-file", apiserver.url,
                              user={"tokenFile": str(token_file)})
    apiserver.create(external_backend("a"))
    s = syncer(config=config)
    wait_until(lambda: backends_in(s.output) == ["default/a"], what="first render")
    # Rotate without a race: count requests from before anything changes; write the file while
    # the server still accepts the old token (the syncer re-reads the file only after a 401, or
    # once a minute), then switch the server in one assignment. Every request after the switch
    # carries the cached old token until one is rejected, so at least one request after the
    # switch (the wait below needs some) is a 401 counted here, then retried with the new token.
    rotated_at = len(apiserver.requests)
    token_file.write_text("token-two\n")
    apiserver.tokens = {"token-two"}
    apiserver.close_watches()
    apiserver.create(external_backend("b"))
    wait_until(lambda: backends_in(s.output) == ["default/a", "default/b"], what="after rotation")
    after = apiserver.requests[rotated_at:]
    rejected = [r for r in after if not r["authorized"]]
    # At most one 401 per concurrent watch (5 reflectors), each retried with the re-read token.
    assert 1 <= len(rejected) <= 5
    assert after[-1]["authorized"]
    logs = pathlib.Path(s.log_path).read_text()
    assert "token-one" not in logs and "token-two" not in logs


# A wrong token never renders anything and is reported, without the token in the logs.
def test_wrong_token(apiserver, syncer, tmp_path):
    config = write_kubeconfig(tmp_path / "kc-bad", apiserver.url, token="not-the-token")
    apiserver.create(external_backend("a"))
    s = syncer(config=config)
    s.wait_for_log("list failed; backing off")
    assert not pathlib.Path(s.output).exists()
    assert "not-the-token" not in pathlib.Path(s.log_path).read_text()


# HTTPS verified with certificate-authority (a file) and with certificate-authority-data.
@pytest.mark.parametrize("ca_form", ["file", "data"])
def test_https_with_ca(tls_apiserver, syncer, tls_files, tmp_path, ca_form):
    if ca_form == "file":
        extra = {"certificate-authority": str(tls_files / "ca.crt")}
    else:
        extra = {"certificate-authority-data":
                 base64.b64encode((tls_files / "ca.crt").read_bytes()).decode()}
    config = write_kubeconfig(tmp_path / "kc-tls", tls_apiserver.url, cluster_extra=extra)
    tls_apiserver.create(external_backend("a"))
    s = syncer(config=config)
    wait_until(lambda: backends_in(s.output) == ["default/a"], what="render over https")


# A server certificate from another CA is refused (fail closed).
def test_https_wrong_ca_refused(tls_apiserver, syncer, tls_files, tmp_path):
    config = write_kubeconfig(tmp_path / "kc-tls", tls_apiserver.url,
                              cluster_extra={"certificate-authority": str(tls_files / "other-ca.crt")})
    tls_apiserver.create(external_backend("a"))
    s = syncer(config=config)
    s.wait_for_log("list failed; backing off")
    assert not pathlib.Path(s.output).exists()
    assert not [r for r in tls_apiserver.requests if r["method"] == "GET"]


# An exec credential plugin provides the token; it gets KUBERNETES_EXEC_INFO and its env.
def test_exec_plugin(apiserver, syncer, tmp_path):
    info_file = tmp_path / "exec-info.json"
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, os, sys\n"
        f"open({str(info_file)!r}, 'w').write(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "assert os.environ['FAKE_PLUGIN_MODE'] == 'ok'\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',\n"
        "                  'status': {'token': 'exec-token', 'expirationTimestamp': '2099-01-01T00:00:00Z'}}))\n")
    apiserver.tokens = {"exec-token"}
    config = write_kubeconfig(tmp_path / "kc-exec", apiserver.url, user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
        "args": [str(plugin)], "env": [{"name": "FAKE_PLUGIN_MODE", "value": "ok"}],
        "provideClusterInfo": True, "interactiveMode": "Never"}})
    apiserver.create(external_backend("a"))
    s = syncer(config=config)
    wait_until(lambda: backends_in(s.output) == ["default/a"], what="render with exec token")
    info = json.loads(info_file.read_text())
    assert info["kind"] == "ExecCredential"
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == apiserver.url
    assert "exec-token" not in pathlib.Path(s.log_path).read_text()


# In-cluster: KUBERNETES_SERVICE_HOST/PORT plus the ServiceAccount token, CA and namespace
# files; the Lease goes to the pod's namespace.
def test_in_cluster(tls_apiserver, tls_files, k8s_sync_binary, tmp_path):
    from k8s_helpers import SyncerProcess
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text("test-token")
    (sa / "ca.crt").write_bytes((tls_files / "ca.crt").read_bytes())
    (sa / "namespace").write_text("igw-system\n")
    tls_apiserver.create(external_backend("a"))
    output = tmp_path / "out.yaml"
    proc = SyncerProcess(k8s_sync_binary, ["--output", str(output), "--lease-duration", "2",
                                           "--renew-deadline", "1.5", "--retry-period", "0.25",
                                           "--identity", "pod-0"],
                         tmp_path / "in-cluster.log",
                         env={"KUBERNETES_SERVICE_HOST": "127.0.0.1",
                              "KUBERNETES_SERVICE_PORT": str(tls_apiserver.port),
                              "INFERENCEGW_SERVICE_ACCOUNT_DIR": str(sa),
                              "HOME": str(tmp_path)})
    try:
        wait_until(lambda: backends_in(output) == ["default/a"], what="in-cluster render")
        proc.wait_for_log("became leader")
        assert tls_apiserver.get("Lease", "igw-system", "inferencegw-k8s-sync")
    finally:
        assert proc.stop() == 0
    # The lease was released on shutdown.
    lease = tls_apiserver.get("Lease", "igw-system", "inferencegw-k8s-sync")
    assert lease["spec"]["holderIdentity"] == ""


# $KUBECONFIG is a ':' list merged like kubectl: missing files are skipped, the first file that
# defines a name wins, current-context comes from the first file that sets it; --context picks
# another context.
def test_kubeconfig_env_merge(apiserver, k8s_sync_binary, tmp_path):
    import yaml
    from k8s_helpers import SyncerProcess
    first = {"apiVersion": "v1", "kind": "Config", "current-context": "main",
             "clusters": [{"name": "c", "cluster": {"server": apiserver.url}}],
             "users": [{"name": "u", "user": {"token": "test-token"}}],
             "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}}]}
    second = {"apiVersion": "v1", "kind": "Config", "current-context": "broken",
              "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
              "users": [{"name": "u", "user": {"token": "wrong"}}],
              "contexts": [{"name": "broken", "context": {"cluster": "nope", "user": "u"}},
                           {"name": "alt", "context": {"cluster": "c", "user": "u",
                                                       "namespace": "team-a"}}]}
    (tmp_path / "first").write_text(yaml.safe_dump(first))
    (tmp_path / "second").write_text(yaml.safe_dump(second))
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{tmp_path / 'first'}:{tmp_path / 'second'}",
           "HOME": str(tmp_path)}
    apiserver.create(external_backend("a"))
    for extra, name in (([], "current"), (["--context", "alt"], "alt")):
        out = tmp_path / f"out-{name}.yaml"
        proc = SyncerProcess(k8s_sync_binary, ["--output", str(out), "--once"] + extra,
                             tmp_path / f"merge-{name}.log", env)
        assert proc.wait_exit() == 0, proc.log_path.read_text()
        assert backends_in(out) == ["default/a"]
    proc = SyncerProcess(k8s_sync_binary, ["--output", str(tmp_path / "x.yaml"), "--once",
                                           "--context", "broken"], tmp_path / "merge-bad.log", env)
    assert proc.wait_exit() == 1
    assert 'cluster \\"nope\\" not found' in proc.log_path.read_text()
