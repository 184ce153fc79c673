"""deploy/: the CRD schemas agree with the library's loader (fields, types, defaults, ranges,
enums), the kustomization builds, RBAC is least privilege, the Deployment wires the syncer to
the proxy, the samples reproduce the seed README, and the Grafana dashboard only uses metrics
the proxy exports."""

import copy
import json
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

from fake_apiserver import FakeApiServer
from k8s_helpers import CRD_PATHS, REPO, write_kubeconfig
from k8s_schema import apply_defaults, prune, validate

DEPLOY = REPO / "deploy"


def crd_schemas():
    out = {}
    for path in CRD_PATHS:
        doc = yaml.safe_load(path.read_text())
        (version,) = doc["spec"]["versions"]
        out[doc["spec"]["names"]["kind"]] = (doc, version)
    return out


def spec_schema(kind):
    return crd_schemas()[kind][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def walk(schema, path=""):
    """Yields (path, node) for every schema node below `schema`."""
    yield path, schema
    for key, sub in (schema.get("properties") or {}).items():
        yield from walk(sub, f"{path}.{key}" if path else key)
    if isinstance(schema.get("items"), dict):
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}{{}}")


def run_check(binary, path):
    result = subprocess.run([binary, "--check", str(path)], capture_output=True, text=True,
                            timeout=30)
    return result.returncode, result.stdout + result.stderr


def manifest(kind, name, spec):
    return {"apiVersion": "gateway.inference-gateway.io/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}


def write_docs(path, docs):
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


# Valid, non-default sample values for string fields, by field name.
STRING_SAMPLES = {
    "url": "https://models.example.com/v1", "namespace": "models", "path": "/ready",
    "pathPrefix": "/v1", "openAIPathPrefix": "/openai/v2", "currency": "EUR",
    "userHeader": "x-tenant", "inputTokenCost": "0.001", "outputTokenCost": "0.002",
    "requestCost": "0.0001", "cachedInputTokenCost": "0.0005",
    "cacheWriteInputTokenCost": "0.00125", "modelPattern": "gpt-*", "limit": "50.00",
    "perUser": "2.5",
}


def sample(schema, name, path):
    """A valid value for `schema` that differs from its default, every property filled."""
    if "enum" in schema:
        choices = [v for v in schema["enum"] if v != schema.get("default")]
        return choices[-1]
    t = schema.get("type")
    if t == "object":
        if "additionalProperties" in schema:
            return {"x-sample": "value"}
        return {k: sample(v, k, f"{path}.{k}") for k, v in (schema.get("properties") or {}).items()}
    if t == "array":
        return [sample(schema["items"], name, path + "[]")]
    if t == "string":
        return STRING_SAMPLES.get(name, f"sample-{name.lower()}")
    if t == "boolean":
        return not schema.get("default", False)
    if t in ("integer", "number"):
        low = schema.get("minimum", 0)
        value = max(low, 1) + 1
        if "maximum" in schema:
            value = min(value, schema["maximum"])
        if value == schema.get("default"):
            value = value + 1 if value + 1 <= schema.get("maximum", value + 1) else value - 1
        return value
    raise AssertionError(f"{path}: no sample for {schema}")


def maximal_backends():
    schema = spec_schema("InferenceBackend")
    out = []
    for backend_type in ("kserve", "external", "kubernetes"):
        spec = sample(schema, "spec", "spec")
        spec["type"] = backend_type
        for other in {"kserve", "external", "kubernetes"} - {backend_type}:
            del spec[other]
        spec["circuitBreaker"]["maxOpenSeconds"] = 600
        out.append(manifest("InferenceBackend", f"b-{backend_type}", spec))
    return out


def maximal_route():
    spec = sample(spec_schema("InferenceRoute"), "spec", "spec")
    spec["rules"][0]["backends"] = [{"name": "b-kserve", "weight": 40}, {"name": "b-external"}]
    spec["defaultBackend"] = {"name": "b-external", "weight": 60}
    spec["fallback"]["backends"] = ["b-kubernetes", "b-external"]
    spec["fallback"]["backoffMaxMillis"] = 5000
    spec["experiments"] = [{"name": "ab", "control": "b-external", "treatment": "b-kserve",
                            "trafficPercent": 12.5, "metric": "cost"}]
    return manifest("InferenceRoute", "r-maximal", spec)


# The CRDs are structural: a type on every node (except int-or-string / preserve-unknown),
# no forbidden keywords, defaults that validate, the status subresource and printer columns.
def test_crds_are_structural():
    forbidden = {"definitions", "dependencies", "deprecated", "discriminator", "id",
                 "patternProperties", "readOnly", "writeOnly", "xml", "$ref"}
    for kind, (doc, version) in crd_schemas().items():
        assert doc["spec"]["scope"] == "Namespaced"
        assert doc["spec"]["group"] == "gateway.inference-gateway.io"
        assert doc["metadata"]["name"] == f"{doc['spec']['names']['plural']}.gateway.inference-gateway.io"
        assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
        assert version["subresources"] == {"status": {}}
        root = version["schema"]["openAPIV3Schema"]
        for path, node in walk(root):
            assert node.get("type") or node.get("x-kubernetes-int-or-string") or \
                node.get("x-kubernetes-preserve-unknown-fields"), f"{kind} {path}: no type"
            assert not forbidden & set(node), f"{kind} {path}: forbidden keyword"
            assert node.get("additionalProperties") is not False
            if "default" in node:
                assert validate(node["default"], node, path) == [], f"{kind} {path}: bad default"
            if node.get("x-kubernetes-list-type") == "map":
                for key in node["x-kubernetes-list-map-keys"]:
                    assert key in node["items"]["required"]
        columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
        assert columns["Age"] == ".metadata.creationTimestamp"
        if kind == "InferenceBackend":
            assert columns["Type"] == ".spec.type" and columns["Health"] == ".status.health"
        else:
            assert columns["Phase"] == ".status.phase"
            assert columns["Active Backends"] == ".status.activeBackends"


# CRD -> loader: objects with every CRD field set to a valid non-default value load without
# errors (no unknown field, no type or range mismatch).
def test_every_crd_field_is_known_to_the_loader(k8s_sync_binary, tmp_path):
    docs = maximal_backends() + [maximal_route()]
    for doc in docs:
        schema = crd_schemas()[doc["kind"]][1]["schema"]["openAPIV3Schema"]
        assert validate(doc["spec"], schema["properties"]["spec"], "spec") == []
    code, out = run_check(k8s_sync_binary, write_docs(tmp_path / "maximal.yaml", docs))
    assert code == 0, out


# Loader -> CRD: the loader's own every-field fixture (tests/fixtures/config/every-field.yaml)
# validates against the CRD schemas and loses nothing to pruning. (Prices must be strings for
# the API server; the loader also accepts YAML numbers, so those are quoted first.)
def test_every_loader_field_is_in_the_crds():
    fixture = REPO / "tests" / "fixtures" / "config" / "every-field.yaml"
    seen = 0
    for doc in yaml.safe_load_all(fixture.read_text()):
        if not doc or doc["kind"] not in ("InferenceBackend", "InferenceRoute"):
            continue
        seen += 1
        spec = copy.deepcopy(doc["spec"])
        for key, value in (spec.get("cost") or {}).items():
            if isinstance(value, (int, float)):
                spec["cost"][key] = str(value)
        schema = spec_schema(doc["kind"])
        pruned = prune(copy.deepcopy(spec), schema)
        assert pruned == spec, f"{doc['metadata']['name']}: fields the CRD does not declare"
        assert validate(spec, schema, "spec") == [], doc["metadata"]["name"]
    assert seen >= 4


def _render_once(binary, tmp_path, docs, schema_defaults, label):
    server = FakeApiServer(crd_paths=CRD_PATHS, schema_defaults=schema_defaults).start()
    try:
        for doc in docs:
            server.create(doc)
        config = write_kubeconfig(tmp_path / f"kc-{label}", server.url)
        out = tmp_path / f"render-{label}.yaml"
        result = subprocess.run([binary, "--kubeconfig", config, "--output", str(out), "--once",
                                 "--write-status=false"], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        return out.read_text()
    finally:
        server.stop()


# Defaults agree: objects with every defaulted field left out render the same whether the API
# server applied the CRD defaults or the library applied its own.
def test_crd_defaults_match_library_defaults(k8s_sync_binary, tmp_path):
    skeleton_backends = [
        manifest("InferenceBackend", "k", {"type": "kserve", "kserve": {"serviceName": "m"},
                                            "healthCheck": {}, "cost": {"inputTokenCost": "0.1"},
                                            "circuitBreaker": {}}),
        manifest("InferenceBackend", "e", {"type": "external",
                                            "external": {"url": "https://x.example/v1"}}),
        manifest("InferenceBackend", "s", {"type": "kubernetes",
                                            "kubernetes": {"serviceName": "vllm"}}),
    ]
    skeleton_route = manifest("InferenceRoute", "r", {
        "rules": [{"backends": [{"name": "k"}]}], "defaultBackend": {"name": "e"},
        "fallback": {}, "rateLimit": {}, "experiments": [{"name": "x", "control": "e",
                                                          "treatment": "s"}],
        "budget": {"limit": "1"}})
    docs = skeleton_backends + [skeleton_route]
    with_defaults = _render_once(k8s_sync_binary, tmp_path, docs, True, "defaults")
    without = _render_once(k8s_sync_binary, tmp_path, docs, False, "plain")
    assert "InferenceRoute" in with_defaults and with_defaults.count("InferenceBackend") == 3
    assert with_defaults == without


def walk_fields(schema, tokens=()):
    """Yields (tokens, node) for every field below `schema`; list items are index 0."""
    yield tokens, schema
    for key, sub in (schema.get("properties") or {}).items():
        yield from walk_fields(sub, tokens + (key,))
    if isinstance(schema.get("items"), dict):
        yield from walk_fields(schema["items"], tokens + (0,))


def field_name(tokens):
    out = "spec"
    for t in tokens:
        out += f"[{t}]" if isinstance(t, int) else f".{t}"
    return out


def _range_cases():
    base = {"InferenceBackend": maximal_backends()[1], "InferenceRoute": maximal_route()}
    companions = {"spec.circuitBreaker.maxOpenSeconds": ("openSeconds", 1),
                  "spec.fallback.backoffMaxMillis": ("backoffBaseMillis", 1),
                  "spec.circuitBreaker.openSeconds": ("maxOpenSeconds", 10 ** 6),
                  "spec.fallback.backoffBaseMillis": ("backoffMaxMillis", 10 ** 6)}
    cases = []
    for kind, doc in base.items():
        for tokens, node in walk_fields(spec_schema(kind)):
            if not tokens:
                continue
            parent = doc["spec"]
            try:
                for t in tokens[:-1]:
                    parent = parent[t]
                parent[tokens[-1]]
            except (KeyError, IndexError, TypeError):
                continue
            name = field_name(tokens)
            if node.get("type") in ("integer", "number"):
                for bound, step in (("minimum", -1), ("maximum", +1)):
                    if bound in node:
                        cases.append((kind, tokens, node[bound], True, companions.get(name)))
                        cases.append((kind, tokens, node[bound] + step, False, companions.get(name)))
            if "enum" in node and tokens != ("type",):  # spec.type: see the maximal backends
                for value in node["enum"]:
                    cases.append((kind, tokens, value, True, None))
                cases.append((kind, tokens, "not-a-valid-value", False, None))
    return base, cases


# Ranges and enums agree: every CRD minimum/maximum is accepted by the loader and one step
# beyond is rejected naming the field; every enum value loads and anything else is rejected.
def test_crd_ranges_and_enums_match_the_loader(k8s_sync_binary, tmp_path):
    base, cases = _range_cases()
    assert len(cases) > 40
    for i, (kind, tokens, value, accepted, companion) in enumerate(cases):
        doc = copy.deepcopy(base[kind])
        parent = doc["spec"]
        for t in tokens[:-1]:
            parent = parent[t]
        parent[tokens[-1]] = value
        if companion:
            parent[companion[0]] = companion[1]
        docs = maximal_backends() if kind == "InferenceRoute" else []
        docs = [d for d in docs if d["metadata"]["name"] != doc["metadata"]["name"]] + [doc]
        code, out = run_check(k8s_sync_binary, write_docs(tmp_path / f"case-{i}.yaml", docs))
        field = field_name(tokens)
        if kind == "InferenceRoute" and tokens[:1] == ("experiments",) and tokens[-1] in (
                "control", "treatment"):
            continue
        if accepted:
            assert code == 0, f"{field}={value!r} should load: {out}"
        else:
            assert code == 1 and field in out, f"{field}={value!r} should be rejected: {out}"


# The samples are the seed README's two YAML examples, verbatim but for lines marked "not in
# the seed" (which make them route without the route header), and load (warnings only for the
# API-key Secrets they reference).
def test_samples_reproduce_the_seed(k8s_sync_binary):
    readme = pathlib.Path("/work/shared/seed/inference-gateway-README.md")
    blocks = re.findall(r"```yaml\n(.*?)```", readme.read_text(), re.S) if readme.exists() else []
    samples = [(DEPLOY / "samples" / n).read_text()
               for n in ("example-1-multi-provider.yaml", "example-2-ab-testing.yaml")]
    seed_copies = [(REPO / "tests" / "fixtures" / "seed" / n).read_text()
                   for n in ("example-1-multi-provider.yaml", "example-2-ab-testing.yaml")]
    for sample_text, seed_text in zip(samples, seed_copies):
        added = [line for line in sample_text.splitlines(True) if "# not in the seed" in line]
        assert len(added) == 1
        assert "".join(line for line in sample_text.splitlines(True)
                       if line not in added).endswith(seed_text)
    for block, seed_text in zip(blocks, seed_copies):
        assert block == seed_text
    code, out = run_check(k8s_sync_binary, DEPLOY / "samples")
    assert code == 0, out
    assert out.count("warning:") == 3 and "SecretNotFound" not in out.split("ok:")[1]
    assert "ok: 4 backends, 2 routes" in out


def kustomize_build(path):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (for its built-in kustomize) is not installed")
    result = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def load_deploy_docs():
    """Every document of deploy/ (without kustomize), by (kind, name)."""
    out = {}
    for path in sorted(DEPLOY.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or "samples" in path.parts:
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out[(doc["kind"], doc["metadata"]["name"])] = doc
    return out


# kubectl kustomize deploy/ builds every object, all in the gateway namespace.
def test_kustomization_builds():
    docs = kustomize_build(DEPLOY)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["Namespace", "CustomResourceDefinition", "CustomResourceDefinition",
                            "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
                            "RoleBinding", "Deployment", "Service", "PodDisruptionBudget",
                            "ServiceMonitor", "ConfigMap"])
    for d in docs:
        if d["kind"] not in ("Namespace", "CustomResourceDefinition", "ClusterRole",
                             "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] == "inferencegw-system", d["kind"]
    dashboard = next(d for d in docs if d["kind"] == "ConfigMap")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    json.loads(dashboard["data"]["grafana-dashboard.json"])


# RBAC is least privilege: read-only on everything but the two status subresources (patch)
# and the Lease (in the gateway's namespace only); bound to the Deployment's ServiceAccount.
def test_rbac_least_privilege():
    docs = load_deploy_docs()
    role = docs[("ClusterRole", "inferencegw-k8s-sync")]
    read = {"get", "list", "watch"}
    for rule in role["rules"]:
        if all(r.endswith("/status") for r in rule["resources"]):
            assert set(rule["verbs"]) == {"patch"}
        else:
            assert set(rule["verbs"]) <= read, rule
    granted = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert granted == {("gateway.inference-gateway.io", "inferencebackends"),
                       ("gateway.inference-gateway.io", "inferenceroutes"),
                       ("gateway.inference-gateway.io", "inferencebackends/status"),
                       ("gateway.inference-gateway.io", "inferenceroutes/status"),
                       ("", "secrets"), ("", "services"),
                       ("serving.kserve.io", "inferenceservices")}
    lease_role = docs[("Role", "inferencegw-k8s-sync-leader-election")]
    assert lease_role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                                    "verbs": ["get", "create", "update"]}]
    deployment = docs[("Deployment", "inferencegw")]
    sa = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        binding = next(d for (k, _), d in docs.items() if k == kind)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa,
                                        "namespace": "inferencegw-system"}]


# The Deployment runs the proxy with the syncer beside it: the syncer's --output is the
# proxy's --config on a shared in-memory volume, and the syncer polls the proxy's admin port.
def test_deployment_wires_syncer_to_proxy():
    docs = load_deploy_docs()
    pod = docs[("Deployment", "inferencegw")]["spec"]["template"]["spec"]
    (sync,) = [c for c in pod["initContainers"] if c["name"] == "k8s-sync"]
    (proxy,) = [c for c in pod["containers"] if c["name"] == "proxy"]
    assert sync["restartPolicy"] == "Always"  # native sidecar: starts before the proxy

    def flag(container, name):
        for arg in container["args"]:
            if arg.startswith(f"--{name}="):
                return arg.split("=", 1)[1]
        raise AssertionError(f"{container['name']}: no --{name}")

    assert flag(sync, "output") == flag(proxy, "config")
    assert flag(sync, "proxy-admin") == "http://" + flag(proxy, "admin-listen")
    volume = {v["name"]: v for v in pod["volumes"]}["config"]
    assert volume["emptyDir"]["medium"] == "Memory"
    mounts = {c["name"]: {m["name"]: m for m in c["volumeMounts"]} for c in (sync, proxy)}
    assert mounts["k8s-sync"]["config"]["mountPath"] == mounts["proxy"]["config"]["mountPath"]
    assert mounts["proxy"]["config"]["readOnly"] is True
    assert flag(sync, "output").startswith(mounts["proxy"]["config"]["mountPath"] + "/")
    env = {e["name"] for e in sync["env"]}
    assert {"POD_NAME", "POD_NAMESPACE"} <= env
    service = docs[("Service", "inferencegw")]
    assert service["spec"]["selector"] == docs[("Deployment", "inferencegw")]["spec"]["selector"]["matchLabels"]
    monitor = docs[("ServiceMonitor", "inferencegw")]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    pdb = docs[("PodDisruptionBudget", "inferencegw")]
    assert pdb["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]


# The dashboard is valid Grafana JSON whose queries use only metrics the library exports, and
# it covers what the issue asks for.
def test_grafana_dashboard():
    dashboard = json.loads((DEPLOY / "monitoring" / "grafana-dashboard.json").read_text())
    exported = set(re.findall(r'"(inference_gateway_[a-z_]+)"',
                              (REPO / "lib" / "src" / "metrics.cc").read_text()))
    assert exported
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = set()
    for expr in exprs:
        for name in re.findall(r"inference_gateway_[a-z_]+", expr):
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            assert base in exported, f"{name} is not exported by the proxy"
            used.add(base)
    for metric in ("requests_total", "request_duration_seconds", "cost_total", "tokens_total",
                   "fallbacks_total", "rate_limit_hits_total", "experiment_assignments_total",
                   "circuit_breaker_state", "request_errors_total"):
        assert f"inference_gateway_{metric}" in used, metric
    assert sum("histogram_quantile(0.99" in e for e in exprs) >= 1
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


# deploy/ names the image scripts/build-image.sh builds, at the project's version.
def test_deploy_names_the_image_the_build_script_makes():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    (image,) = [i for i in kustomization["images"] if i["name"] == "inferencegw"]
    version = re.search(r"version: '([^']+)'", (REPO / "meson.build").read_text()).group(1)
    assert image["newTag"] == version
    script = (REPO / "scripts" / "build-image.sh").read_text()
    assert f"image=${{IMAGE:-{image['newName']}:$version}}" in script
    containerfile = (REPO / "Containerfile").read_text()
    assert "USER 65532:65532" in containerfile  # the ids deploy/gateway runs as
    pod = yaml.safe_load_all((DEPLOY / "gateway" / "deployment.yaml").read_text())
    spec = next(d for d in pod if d and d.get("kind") == "Deployment")["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] == 65532
