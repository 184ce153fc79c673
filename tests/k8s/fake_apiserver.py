"""A fake kube-apiserver for tests: a real HTTP(S) server on 127.0.0.1 (ephemeral port) that
serves the syncer's resources the way /work/shared/reference/kubernetes-api.md describes.

What it implements (and the tests rely on):
- Paths: /api/v1/... (Secrets, Services) and /apis/{group}/{version}/... (the two CRDs, KServe
  InferenceServices, coordination.k8s.io Leases); namespaced and all-namespace collections;
  discovery (APIResourceList) for each group/version; 404 Status for anything else and for
  resource types that were "uninstalled".
- Bearer-token auth (401 Status otherwise); tokens can be rotated by the test.
- One global resourceVersion counter; create (201, uid, creationTimestamp, generation 1 for
  custom resources, status dropped when the type has a status subresource, 409 AlreadyExists),
  get, list (<Kind>List with the collection RV; labelSelector k=v/k!=v/k; fieldSelector
  metadata.name=/metadata.namespace=; limit/continue with 410 for tokens older than compaction),
  PUT (RV required for custom resources, 409 Conflict on a stale RV, status/spec split of the
  status subresource, generation bumped only when spec changes, no new RV or event when nothing
  changed), PATCH (merge-patch and json-patch; 415 for strategic-merge and apply), DELETE
  (Status Success and a DELETED event; finalizers honoured).
- Custom resources are pruned, defaulted and validated (422 Invalid) with the CRD's OpenAPI
  schema read from deploy/crds; CEL rules (x-kubernetes-validations) are NOT evaluated.
- Watch (watch=1|true): chunked, one JSON event per line, flushed per event; replay after a
  resourceVersion; synthetic ADDED for an unset RV or "0"; ERROR 410 Expired (or HTTP 410 via
  a knob) for an RV older than the compaction floor; BOOKMARK when allowWatchBookmarks=true (on
  demand and just before a timeoutSeconds close); sendInitialEvents is rejected with 422.
- Test knobs: close_watches, reset_watches (partial event then TCP RST), hold_watches,
  bookmark_now, compact, inject_error (401/403/429 with Retry-After/5xx), wait_for_watchers,
  request log.
"""

import base64
import copy
import http.server
import io
import json
import re
import socket
import ssl
import struct
import threading
import time
import urllib.parse

import yaml

from k8s_schema import apply_defaults, prune, validate

NOT_FOUND = "the server could not find the requested resource"


class Resource:
    """One served resource type."""

    def __init__(self, group, version, plural, kind, status=False, custom=False, schema=None,
                 list_kind=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.status = status      # has the status subresource
        self.custom = custom      # custom resource: generation, RV required on PUT
        self.schema = schema      # openAPIV3Schema or None
        self.list_kind = list_kind or kind + "List"

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self):
        return f"{self.plural}.{self.group}" if self.group else self.plural


def load_crds(paths):
    """Resources for every CustomResourceDefinition document in the YAML files `paths`."""
    out = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") != "CustomResourceDefinition":
                    continue
                spec = doc["spec"]
                for v in spec["versions"]:
                    if not v.get("served", True):
                        continue
                    out.append(Resource(
                        spec["group"], v["name"], spec["names"]["plural"], spec["names"]["kind"],
                        status="status" in (v.get("subresources") or {}), custom=True,
                        schema=(v.get("schema") or {}).get("openAPIV3Schema"),
                        list_kind=spec["names"].get("listKind")))
    return out


def builtin_resources():
    return [
        Resource("", "v1", "secrets", "Secret"),
        Resource("", "v1", "services", "Service"),
        Resource("coordination.k8s.io", "v1", "leases", "Lease"),
        # KServe's CRD is not ours; served schemaless, with its status subresource.
        Resource("serving.kserve.io", "v1beta1", "inferenceservices", "InferenceService",
                 status=True, custom=True),
    ]


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, retry_after=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retry_after = retry_after

    def body(self):
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            status["details"] = self.details
        return status


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path):
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def json_patch(target, ops):
    """RFC 6902 (add, remove, replace, test, copy, move). Raises ApiError 422 on failure."""
    doc = copy.deepcopy(target)

    def parent(tokens):
        node = doc
        for t in tokens[:-1]:
            node = node[int(t)] if isinstance(node, list) else node[t]
        return node

    for op in ops:
        try:
            tokens = _pointer(op["path"])
            kind = op["op"]
            if kind in ("copy", "move"):
                src = _pointer(op["from"])
                node = doc
                for t in src:
                    node = node[int(t)] if isinstance(node, list) else node[t]
                value = copy.deepcopy(node)
                if kind == "move":
                    p = parent(src)
                    del p[int(src[-1]) if isinstance(p, list) else src[-1]]
                kind, op = "add", {"op": "add", "path": op["path"], "value": value}
            if not tokens:
                if kind in ("add", "replace"):
                    doc = copy.deepcopy(op["value"])
                    continue
                raise ApiError(422, "Invalid", f"json patch: unsupported root {kind}")
            p = parent(tokens)
            last = tokens[-1]
            if kind == "test":
                current = p[int(last)] if isinstance(p, list) else p[last]
                if current != op["value"]:
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: testing value {op['path']} failed")
            elif kind == "remove":
                del p[int(last) if isinstance(p, list) else last]
            elif kind == "replace":
                if isinstance(p, list):
                    p[int(last)] = copy.deepcopy(op["value"])
                else:
                    if last not in p:
                        raise KeyError(last)
                    p[last] = copy.deepcopy(op["value"])
            elif kind == "add":
                if isinstance(p, list):
                    if last == "-":
                        p.append(copy.deepcopy(op["value"]))
                    else:
                        p.insert(int(last), copy.deepcopy(op["value"]))
                else:
                    p[last] = copy.deepcopy(op["value"])
            else:
                raise ApiError(422, "Invalid", f"json patch: unknown op {kind}")
        except ApiError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as e:
            raise ApiError(422, "Invalid", f"json patch {op.get('op')} {op.get('path')}: {e}")
    return doc


def _parse_label_selector(text):
    reqs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append(("ne", k.strip(), v.strip()))
        elif "==" in part or "=" in part:
            k, v = re.split("==|=", part, maxsplit=1)
            reqs.append(("eq", k.strip(), v.strip()))
        elif part.startswith("!"):
            reqs.append(("absent", part[1:].strip(), None))
        elif re.fullmatch(r"[A-Za-z0-9._/-]+", part):
            reqs.append(("exists", part, None))
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part}")
    return reqs


def _parse_field_selector(text):
    reqs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"([a-zA-Z.]+)\s*(!=|==|=)\s*(.*)", part)
        if not m or m.group(1) not in ("metadata.name", "metadata.namespace"):
            raise ApiError(400, "BadRequest", f'field label not supported: "{part}"')
        reqs.append((m.group(1), m.group(2) != "!=", m.group(3)))
    return reqs


class Selector:
    def __init__(self, query):
        self.labels = _parse_label_selector(query.get("labelSelector", ""))
        self.fields = _parse_field_selector(query.get("fieldSelector", ""))

    def matches(self, obj):
        if obj is None:
            return False
        meta = obj.get("metadata", {})
        labels = meta.get("labels") or {}
        for op, k, v in self.labels:
            if op == "eq" and labels.get(k) != v:
                return False
            if op == "ne" and labels.get(k) == v:
                return False
            if op == "exists" and k not in labels:
                return False
            if op == "absent" and k in labels:
                return False
        for field, equal, v in self.fields:
            actual = meta.get(field.split(".", 1)[1], "")
            if (actual == v) != equal:
                return False
        return True


class _Watch:
    def __init__(self, res, ns, bookmarks):
        self.res = res
        self.ns = ns
        self.bookmarks = bookmarks
        self.close = False
        self.reset = False
        self.bookmark = False


class FakeApiServer:
    """Thread-safe. Start with start(), stop with stop() (or use as a context manager)."""

    def __init__(self, crd_paths=(), tokens=("test-token",), ssl_context=None, clock=None,
                 schema_defaults=True, port=0):
        self.resources = {(r.group, r.version, r.plural): r
                          for r in builtin_resources() + load_crds(crd_paths)}
        self.uninstalled = set()           # plurals answered with 404
        self.tokens = set(tokens)
        self.ssl_context = ssl_context
        self.schema_defaults = schema_defaults  # apply the CRD's `default:` values on writes
        self._port = port                       # 0: an ephemeral port
        self._clock = clock or self._counting_clock()
        self._cond = threading.Condition()
        self._objects = {}                 # (group, plural, ns, name) -> object
        self._events = []                  # dicts: rv, res, ns, type, obj, old
        self._rv = 0
        self._uid = 0
        self.compacted_below = 0           # watches/continues from an RV below this get 410
        self.gone_as_http = False          # answer stale watches with HTTP 410 instead of ERROR
        self._hold = False
        self._watches = []
        self._injected = []                # [method, regex, code, remaining, retry_after]
        self.requests = []                 # dicts: method, path, query, content_type, auth
        self._stopping = False
        self._httpd = None
        self._thread = None

    # ------------------------------------------------------------------ lifecycle

    @staticmethod
    def _counting_clock():
        start = 1767225600  # 2026-01-01T00:00:00Z; advances one second per reading
        counter = [0]

        def now():
            counter[0] += 1
            return start + counter[0]
        return now

    def start(self):
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._httpd.daemon_threads = True
        if self.ssl_context is not None:
            self._httpd.socket = self.ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self):
        with self._cond:
            self._stopping = True
            self._hold = False
            self._cond.notify_all()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._httpd.server_address[1]

    @property
    def url(self):
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ test API

    def resource_for_kind(self, kind):
        for r in self.resources.values():
            if r.kind == kind:
                return r
        raise KeyError(kind)

    def create(self, obj):
        """Creates `obj` (a dict with kind and metadata.namespace) as a client would; returns it."""
        res = self.resource_for_kind(obj["kind"])
        return self._create(res, obj["metadata"].get("namespace", "default"), copy.deepcopy(obj))

    def apply(self, obj):
        """Creates `obj`, or replaces an existing one's content (RV taken from the store)."""
        res = self.resource_for_kind(obj["kind"])
        ns = obj["metadata"].get("namespace", "default")
        with self._cond:
            current = self._objects.get((res.group, res.plural, ns, obj["metadata"]["name"]))
            if current is None:
                return self._create(res, ns, copy.deepcopy(obj))
            body = copy.deepcopy(obj)
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            return self._update(res, ns, obj["metadata"]["name"], body, sub=None)

    def delete(self, kind, ns, name):
        res = self.resource_for_kind(kind)
        return self._delete(res, ns, name)

    def get(self, kind, ns, name):
        res = self.resource_for_kind(kind)
        with self._cond:
            obj = self._objects.get((res.group, res.plural, ns, name))
            return copy.deepcopy(obj)

    def set_status(self, kind, ns, name, status):
        """Writes the status subresource (as another controller would)."""
        res = self.resource_for_kind(kind)
        with self._cond:
            current = self._objects[(res.group, res.plural, ns, name)]
            body = copy.deepcopy(current)
            body["status"] = status
            return self._update(res, ns, name, body, sub="status")

    @property
    def head_rv(self):
        with self._cond:
            return self._rv

    def compact(self):
        """Forgets the event history: watches and continue tokens from older RVs get 410."""
        with self._cond:
            self.compacted_below = self._rv
            self._events = [e for e in self._events if e["rv"] >= self._rv]

    def close_watches(self):
        """Ends every open watch cleanly (terminal chunk), as a timeout would."""
        with self._cond:
            for w in self._watches:
                w.close = True
            self._cond.notify_all()

    def reset_watches(self):
        """Sends half an event to every open watch, then resets the TCP connection."""
        with self._cond:
            for w in self._watches:
                w.reset = True
            self._cond.notify_all()

    def bookmark_now(self):
        """Sends a BOOKMARK at the current RV to every watch that allowed bookmarks."""
        with self._cond:
            for w in self._watches:
                w.bookmark = True
            self._cond.notify_all()

    def hold_watches(self, hold):
        """While held, new watch requests wait before they are answered."""
        with self._cond:
            self._hold = hold
            self._cond.notify_all()

    def inject_error(self, method, path_regex, code, times=1, retry_after=None, watch=None):
        """Answers the next `times` matching requests with `code` and a Status body. `watch`
        True/False restricts it to watch/non-watch requests."""
        with self._cond:
            self._injected.append([method, re.compile(path_regex), code, times, retry_after, watch])

    def uninstall(self, plural):
        with self._cond:
            self.uninstalled.add(plural)

    def watchers(self, plural=None):
        with self._cond:
            return sum(1 for w in self._watches if plural is None or w.res.plural == plural)

    def wait_for_watchers(self, count, plural=None, timeout=10):
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for w in self._watches if plural is None or w.res.plural == plural) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"fewer than {count} watchers of {plural or 'anything'}")
                self._cond.wait(left)

    def request_log(self, method=None, path_prefix=None, watch=None):
        with self._cond:
            out = []
            for r in self.requests:
                if method is not None and r["method"] != method:
                    continue
                if path_prefix is not None and not r["path"].startswith(path_prefix):
                    continue
                if watch is not None and (r["query"].get("watch") in ("1", "true")) != watch:
                    continue
                out.append(r)
            return out

    # ------------------------------------------------------------------ storage (locked)

    def _now_text(self):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))

    def _record(self, res, ns, kind, obj, old=None):
        self._events.append({"rv": self._rv, "res": res, "ns": ns, "type": kind,
                             "obj": copy.deepcopy(obj), "old": copy.deepcopy(old)})
        self._cond.notify_all()

    def _check_schema(self, res, obj, parts):
        if res.schema is None:
            return
        errors = []
        for part in parts:
            schema = (res.schema.get("properties") or {}).get(part)
            if schema is None or part not in obj:
                continue
            prune(obj[part], schema)
            if self.schema_defaults:
                apply_defaults(obj[part], schema)
            errors += validate(obj[part], schema, part)
        for key in list(obj):
            if key not in ("apiVersion", "kind", "metadata") and key not in (res.schema.get("properties") or {}):
                del obj[key]
        if errors:
            name = obj["metadata"].get("name", "")
            raise ApiError(422, "Invalid",
                           f'{res.kind}.{res.group} "{name}" is invalid: ' + ", ".join(errors),
                           {"name": name, "group": res.group, "kind": res.kind,
                            "causes": [{"reason": "FieldValueInvalid", "message": e,
                                        "field": e.split(":", 1)[0]} for e in errors]})

    @staticmethod
    def _fold_string_data(obj):
        if obj.get("kind") == "Secret" and "stringData" in obj:
            data = obj.setdefault("data", {})
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(v.encode()).decode()

    def _create(self, res, ns, body):
        with self._cond:
            meta = body.setdefault("metadata", {})
            if meta.get("namespace", ns) != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            if not meta.get("name"):
                if meta.get("generateName"):
                    self._uid += 1
                    meta["name"] = f"{meta['generateName']}{self._uid:05x}"
                else:
                    raise ApiError(422, "Invalid", f"{res.kind} \"\" is invalid: metadata.name: Required value: name or generateName is required")
            name = meta["name"]
            key = (res.group, res.plural, ns, name)
            if key in self._objects:
                raise ApiError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists',
                               {"name": name, "group": res.group, "kind": res.plural})
            body["apiVersion"] = res.api_version
            body["kind"] = res.kind
            if res.status:
                body.pop("status", None)
            self._fold_string_data(body)
            self._check_schema(res, body, ["spec", "status"])
            for server_field in ("resourceVersion", "uid", "creationTimestamp", "generation",
                                 "deletionTimestamp"):
                meta.pop(server_field, None)
            self._rv += 1
            self._uid += 1
            meta["namespace"] = ns
            meta["uid"] = f"00000000-0000-4000-8000-{self._uid:012d}"
            meta["creationTimestamp"] = self._now_text()
            meta["resourceVersion"] = str(self._rv)
            if res.custom:
                meta["generation"] = 1
            self._objects[key] = body
            self._record(res, ns, "ADDED", body)
            return copy.deepcopy(body)

    def _update(self, res, ns, name, body, sub, rv_required=None):
        with self._cond:
            key = (res.group, res.plural, ns, name)
            stored = self._objects.get(key)
            if stored is None:
                raise ApiError(404, "NotFound", f'{res.qualified} "{name}" not found',
                               {"name": name, "group": res.group, "kind": res.plural})
            meta = body.get("metadata") or {}
            if meta.get("name", name) != name:
                raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
            rv = meta.get("resourceVersion")
            if rv_required is None:
                rv_required = res.custom
            if not rv and rv_required:
                raise ApiError(422, "Invalid", f'{res.kind}.{res.group} "{name}" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update')
            if rv and rv != stored["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has been modified; please apply your changes to the latest version and try again',
                               {"name": name, "group": res.group, "kind": res.plural})
            if sub == "status":
                new = copy.deepcopy(stored)
                if "status" in body:
                    new["status"] = copy.deepcopy(body["status"])
                else:
                    new.pop("status", None)
                self._check_schema(res, new, ["status"])
            else:
                new = copy.deepcopy(body)
                new["apiVersion"] = res.api_version
                new["kind"] = res.kind
                new_meta = new.setdefault("metadata", {})
                for server_field in ("uid", "creationTimestamp", "namespace", "generation",
                                     "deletionTimestamp"):
                    if server_field in stored["metadata"]:
                        new_meta[server_field] = stored["metadata"][server_field]
                    else:
                        new_meta.pop(server_field, None)
                new_meta["name"] = name
                if res.status:
                    if "status" in stored:
                        new["status"] = copy.deepcopy(stored["status"])
                    else:
                        new.pop("status", None)
                self._fold_string_data(new)
                self._check_schema(res, new, ["spec", "status"])
                if res.custom:
                    def content(o):
                        return {k: v for k, v in o.items()
                                if k not in ("metadata", "status" if res.status else "")}
                    if content(new) != content(stored):
                        new_meta["generation"] = stored["metadata"].get("generation", 1) + 1
            new["metadata"]["resourceVersion"] = stored["metadata"]["resourceVersion"]
            if new == stored:
                return copy.deepcopy(stored)  # nothing changed: no new RV, no event
            meta_new = new["metadata"]
            if meta_new.get("deletionTimestamp") and not meta_new.get("finalizers"):
                return self._remove(res, key, new)
            self._rv += 1
            meta_new["resourceVersion"] = str(self._rv)
            self._objects[key] = new
            self._record(res, ns, "MODIFIED", new, stored)
            return copy.deepcopy(new)

    def _remove(self, res, key, final):
        self._rv += 1
        final = copy.deepcopy(final)
        final["metadata"]["resourceVersion"] = str(self._rv)
        old = self._objects.pop(key)
        self._record(res, key[2], "DELETED", final, old)
        return final

    def _delete(self, res, ns, name):
        with self._cond:
            key = (res.group, res.plural, ns, name)
            stored = self._objects.get(key)
            if stored is None:
                raise ApiError(404, "NotFound", f'{res.qualified} "{name}" not found',
                               {"name": name, "group": res.group, "kind": res.plural})
            if stored["metadata"].get("finalizers"):
                if stored["metadata"].get("deletionTimestamp"):
                    return copy.deepcopy(stored)
                new = copy.deepcopy(stored)
                new["metadata"]["deletionTimestamp"] = self._now_text()
                if res.custom:
                    new["metadata"]["generation"] = stored["metadata"].get("generation", 1) + 1
                self._rv += 1
                new["metadata"]["resourceVersion"] = str(self._rv)
                self._objects[key] = new
                self._record(res, ns, "MODIFIED", new, stored)
                return copy.deepcopy(new)
            final = self._remove(res, key, stored)
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                    "details": {"name": name, "group": res.group, "kind": res.plural,
                                "uid": final["metadata"]["uid"]}}

    def _list(self, res, ns, query):
        selector = Selector(query)
        limit = int(query.get("limit", "0") or 0)
        cont = query.get("continue", "")
        with self._cond:
            list_rv = self._rv
            start_after = None
            if cont:
                try:
                    token = json.loads(base64.b64decode(cont))
                    list_rv, start_after = token["rv"], token["start"]
                except (ValueError, KeyError):
                    raise ApiError(400, "BadRequest", "continue key is not valid")
                if list_rv < self.compacted_below:
                    raise ApiError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
            items = sorted(
                (copy.deepcopy(o) for (g, p, n, _), o in self._objects.items()
                 if g == res.group and p == res.plural and (ns is None or n == ns)
                 and selector.matches(o)),
                key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"]))
        if start_after is not None:
            items = [o for o in items
                     if (o["metadata"]["namespace"], o["metadata"]["name"]) > tuple(start_after)]
        meta = {"resourceVersion": str(list_rv)}
        if limit and len(items) > limit:
            items = items[:limit]
            last = items[-1]["metadata"]
            meta["continue"] = base64.b64encode(json.dumps(
                {"rv": list_rv, "start": [last["namespace"], last["name"]]}).encode()).decode()
        return {"apiVersion": res.api_version, "kind": res.list_kind, "metadata": meta,
                "items": items}

    # ------------------------------------------------------------------ HTTP

    def _authorized(self, headers):
        auth = headers.get("Authorization", "")
        return auth.startswith("Bearer ") and auth[len("Bearer "):] in self.tokens

    def _injected_error(self, method, path, query):
        is_watch = query.get("watch") in ("1", "true")
        with self._cond:
            for entry in self._injected:
                m, regex, code, remaining, retry_after, watch = entry
                if (remaining > 0 and (m is None or m == method) and regex.search(path)
                        and (watch is None or watch == is_watch)):
                    entry[3] -= 1
                    reasons = {401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests",
                               500: "InternalError", 503: "ServiceUnavailable", 410: "Expired"}
                    details = {"retryAfterSeconds": retry_after} if retry_after else None
                    return ApiError(code, reasons.get(code, "Unknown"), f"injected {code}",
                                    details, retry_after)
        return None

    def handle(self, h, method):
        parsed = urllib.parse.urlsplit(h.path)
        path = parsed.path
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query, keep_blank_values=True).items()}
        body = b""
        length = int(h.headers.get("Content-Length", "0") or 0)
        if length:
            body = h.rfile.read(length)
        authorized = self._authorized(h.headers)
        with self._cond:
            self.requests.append({"method": method, "path": path, "query": query,
                                  "time": time.monotonic(), "authorized": authorized,
                                  "content_type": h.headers.get("Content-Type", ""),
                                  "user_agent": h.headers.get("User-Agent", ""),
                                  "body": body.decode("utf-8", "replace")})
        try:
            if not authorized:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            injected = self._injected_error(method, path, query)
            if injected is not None:
                raise injected
            self._dispatch(h, method, path, query, body)
        except ApiError as e:
            headers = {"Retry-After": str(e.retry_after)} if e.retry_after else {}
            h.send_json(e.code, e.body(), headers)

    def _resolve(self, path):
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", NOT_FOUND)
        if not rest:
            return group, version, None, None, None, None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, plural, tail = rest[1], rest[2], rest[3:]
        else:
            ns, plural, tail = None, rest[0], rest[1:]
        res = self.resources.get((group, version, plural))
        if res is None or plural in self.uninstalled or len(tail) > 2:
            raise ApiError(404, "NotFound", NOT_FOUND)
        name = urllib.parse.unquote(tail[0]) if tail else None
        sub = tail[1] if len(tail) == 2 else None
        if sub is not None and (sub != "status" or not res.status):
            raise ApiError(404, "NotFound", NOT_FOUND)
        if ns is None and name is not None:
            raise ApiError(404, "NotFound", NOT_FOUND)  # every served type is namespaced
        return group, version, res, ns, name, sub

    def _discovery(self, group, version):
        resources = []
        for r in self.resources.values():
            if r.group == group and r.version == version and r.plural not in self.uninstalled:
                resources.append({"name": r.plural, "namespaced": True, "kind": r.kind,
                                  "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
                if r.status:
                    resources.append({"name": r.plural + "/status", "namespaced": True,
                                      "kind": r.kind, "verbs": ["get", "patch", "update"]})
        if not resources:
            raise ApiError(404, "NotFound", NOT_FOUND)
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": resources}

    def _dispatch(self, h, method, path, query, body):
        group, version, res, ns, name, sub = self._resolve(path)
        if res is None:
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", "method not allowed")
            h.send_json(200, self._discovery(group, version))
            return
        if method == "GET" and name is None:
            if query.get("watch") in ("1", "true"):
                self._serve_watch(h, res, ns, query)
            else:
                if "sendInitialEvents" in query:
                    raise ApiError(422, "Invalid", "sendInitialEvents is forbidden for list")
                h.send_json(200, self._list(res, ns, query))
            return
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            raise ApiError(400, "BadRequest", "the body of the request was in an unknown format")
        if method == "GET":
            obj = self.get(res.kind, ns, name)
            if obj is None:
                raise ApiError(404, "NotFound", f'{res.qualified} "{name}" not found',
                               {"name": name, "group": res.group, "kind": res.plural})
            h.send_json(200, obj)
        elif method == "POST" and name is None and ns is not None:
            h.send_json(201, self._create(res, ns, doc or {}))
        elif method == "PUT" and name is not None:
            h.send_json(200, self._update(res, ns, name, doc or {}, sub))
        elif method == "PATCH" and name is not None:
            h.send_json(200, self._patch(res, ns, name, sub, h.headers.get("Content-Type", ""), doc))
        elif method == "DELETE" and name is not None and sub is None:
            h.send_json(200, self._delete(res, ns, name))
        else:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not supported on {path}")

    def _patch(self, res, ns, name, sub, content_type, patch):
        content_type = content_type.split(";")[0].strip()
        if content_type == "application/strategic-merge-patch+json" and res.custom:
            raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml')
        if content_type not in ("application/merge-patch+json", "application/json-patch+json"):
            raise ApiError(415, "UnsupportedMediaType", f"the fake API server does not support {content_type}")
        with self._cond:
            stored = self._objects.get((res.group, res.plural, ns, name))
            if stored is None:
                raise ApiError(404, "NotFound", f'{res.qualified} "{name}" not found',
                               {"name": name, "group": res.group, "kind": res.plural})
            if content_type == "application/merge-patch+json":
                if not isinstance(patch, dict):
                    raise ApiError(400, "BadRequest", "merge patch must be a JSON object")
                patched = merge_patch(stored, patch)
                wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")
            else:
                patched = json_patch(stored, patch or [])
                wanted_rv = None
            if wanted_rv is None:
                patched.setdefault("metadata", {})["resourceVersion"] = stored["metadata"]["resourceVersion"]
            return self._update(res, ns, name, patched, sub)

    def _serve_watch(self, h, res, ns, query):
        if "sendInitialEvents" in query:
            raise ApiError(422, "Invalid", "sendInitialEvents is not supported by this server; use list then watch")
        selector = Selector(query)
        rv_text = query.get("resourceVersion", "")
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._hold and not self._stopping:
                self._cond.wait()
            initial = []
            if rv_text in ("", "0"):
                last_rv = self._rv
                for (g, p, n, _), o in sorted(self._objects.items()):
                    if g == res.group and p == res.plural and (ns is None or n == ns) and selector.matches(o):
                        initial.append({"type": "ADDED", "object": copy.deepcopy(o)})
            else:
                try:
                    last_rv = int(rv_text)
                except ValueError:
                    raise ApiError(400, "BadRequest", f'invalid resource version "{rv_text}"')
                if last_rv < self.compacted_below:
                    gone = ApiError(410, "Expired", f"too old resource version: {last_rv} ({self.compacted_below})")
                    if self.gone_as_http:
                        raise gone
                    initial.append({"type": "ERROR", "object": gone.body()})
            watch = _Watch(res, ns, bookmarks)
            self._watches.append(watch)
            self._cond.notify_all()
        try:
            h.start_stream()
            for event in initial:
                h.send_line(event)
            if initial and initial[-1]["type"] == "ERROR":
                h.end_stream()
                return
            while True:
                with self._cond:
                    while True:
                        pending = [e for e in self._events
                                   if e["rv"] > last_rv and e["res"] is res and (ns is None or e["ns"] == ns)]
                        if (pending or watch.close or watch.reset or watch.bookmark
                                or self._stopping or time.monotonic() >= deadline):
                            break
                        self._cond.wait(max(0.0, deadline - time.monotonic()))
                    head = self._rv
                    events = []
                    for e in pending:
                        now_match, old_match = selector.matches(e["obj"]), selector.matches(e["old"])
                        kind = e["type"]
                        if kind == "MODIFIED" and now_match and not old_match:
                            kind = "ADDED"
                        elif kind == "MODIFIED" and old_match and not now_match:
                            kind = "DELETED"
                        elif not now_match and not (kind == "DELETED" and old_match):
                            continue
                        events.append({"type": kind, "object": copy.deepcopy(e["obj"])})
                    # Every event of this resource up to `head` is in `events` now.
                    last_rv = head
                    bookmark, watch.bookmark = watch.bookmark, False
                    close, reset = watch.close or self._stopping, watch.reset
                    timed_out = time.monotonic() >= deadline
                for event in events:
                    h.send_line(event)
                if reset:
                    h.reset_mid_event(res)
                    return
                if (bookmark or timed_out) and bookmarks:
                    h.send_line({"type": "BOOKMARK", "object": {
                        "kind": res.kind, "apiVersion": res.api_version,
                        "metadata": {"resourceVersion": str(head)}}})
                if close or timed_out:
                    h.end_stream()
                    return
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            h.close_connection = True
        finally:
            with self._cond:
                self._watches.remove(watch)
                self._cond.notify_all()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server_fake = None

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_GET(self):
        self.server_fake.handle(self, "GET")

    def do_POST(self):
        self.server_fake.handle(self, "POST")

    def do_PUT(self):
        self.server_fake.handle(self, "PUT")

    def do_PATCH(self):
        self.server_fake.handle(self, "PATCH")

    def do_DELETE(self):
        self.server_fake.handle(self, "DELETE")

    def send_json(self, code, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def send_line(self, event):
        self._chunk(json.dumps(event).encode() + b"\n")

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def reset_mid_event(self, res):
        partial = json.dumps({"type": "ADDED", "object": {
            "apiVersion": res.api_version, "kind": res.kind,
            "metadata": {"name": "half-written", "namespace": "default", "resourceVersion": "999999"},
            "spec": {}}}).encode()
        self._chunk(partial[: len(partial) // 2])
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True
        self.wfile = io.BytesIO()  # the base class flushes it after we return
