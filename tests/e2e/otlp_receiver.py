"""A stdlib OTLP/HTTP JSON trace receiver for the tracing tests: `POST /v1/traces` on a loopback
port the kernel picks, keeping every span (flattened, with attributes as a plain dict) and the
request headers of every export. Started and stopped by the `otlp` fixture (conftest.py)."""

from __future__ import annotations

import http.server
import json
import threading

import harness


def _value(v: dict):
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    raise AssertionError(f"unknown OTLP value {v!r}")


class OtlpReceiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.spans: list[dict] = []
        self.exports: list[dict] = []  # {"headers": {...}, "resource": {...}}
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                doc = json.loads(body)
                receiver._add(doc, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="otlp",
                                       daemon=True)
        self.thread.start()

    def _add(self, doc: dict, headers: dict):
        spans = []
        for rs in doc["resourceSpans"]:
            resource = {a["key"]: _value(a["value"]) for a in rs["resource"]["attributes"]}
            for ss in rs["scopeSpans"]:
                for s in ss["spans"]:
                    spans.append({**s, "attributes": {a["key"]: _value(a["value"])
                                                      for a in s.get("attributes", [])},
                                  "resource": resource})
        with self.lock:
            self.exports.append({"headers": headers, "content_type": headers.get("content-type")})
            self.spans.extend(spans)

    def all_spans(self) -> list[dict]:
        with self.lock:
            return list(self.spans)

    def trace(self, trace_id: str, count: int) -> list[dict]:
        """Waits until `count` spans of `trace_id` arrived; returns them (server span first)."""
        def ready():
            spans = [s for s in self.all_spans() if s["traceId"] == trace_id]
            return spans if len(spans) >= count else None
        spans = harness.wait_until(ready, what=f"{count} spans of trace {trace_id}")
        return sorted(spans, key=lambda s: (s["kind"] != 2, int(s["startTimeUnixNano"])))

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
