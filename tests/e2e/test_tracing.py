"""OpenTelemetry traces: the span tree and attributes the proxy exports over OTLP/HTTP JSON, W3C
trace context continued from the client and propagated upstream, sampling, and a collector that
is down or hangs costing requests nothing."""

from __future__ import annotations

import re
import socket
import subprocess

import harness
from harness import backend, route

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
SECRET = "tok-3f9a77e1c2"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fallback_config(primary_url: str, secondary_url: str, **route_spec) -> list[dict]:
    return [
        backend("primary", f"{primary_url}/v1", model="up-model"),
        backend("secondary", f"{secondary_url}/v1", model="down-model",
                cost={"inputTokenCost": "0.001", "outputTokenCost": "0.002"}),
        route("chain", default=True, defaultBackend={"name": "primary"},
              fallback={"backends": ["primary", "secondary"]}, **route_spec),
    ]


def tracing_flags(otlp, *extra) -> list[str]:
    return ["--otlp-endpoint", otlp.url, "--otlp-batch-delay-ms", "50", *extra]


def metric(proxy: harness.Proxy, name: str) -> float:
    text = proxy.get("/metrics").text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# A request that falls back gives one server span (the child of the client's span, in the
# client's trace) with two attempt spans under it, GenAI and gateway attributes on each; the
# upstream that answered got a traceparent whose parent is its attempt span, and the client's
# tracestate; OTEL_EXPORTER_OTLP_HEADERS reach the collector and never the logs; a protobuf
# protocol setting is warned about and JSON is sent.
def test_fallback_exports_server_span_with_two_attempt_spans(env, otlp, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{SECRET}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "gw-under-test")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")  # warned about; JSON sent
    secondary = env.mock("secondary")
    proxy = env.proxy(fallback_config(f"http://127.0.0.1:{closed_port()}", secondary.url),
                      *tracing_flags(otlp))
    resp = proxy.chat("client-model", max_tokens=50, headers={
        "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01", "tracestate": "vendor=opaque"})
    assert resp.status == 200, resp.text
    assert resp.headers["x-inferencegw-attempts"] == "2"

    server, first, second = otlp.trace(CLIENT_TRACE, 3)
    assert server["kind"] == 2 and first["kind"] == 3 and second["kind"] == 3
    assert server["parentSpanId"] == CLIENT_SPAN
    assert first["parentSpanId"] == server["spanId"]
    assert second["parentSpanId"] == server["spanId"]
    assert len({server["spanId"], first["spanId"], second["spanId"]}) == 3
    assert server["name"] == "POST /v1/chat/completions"
    assert server["resource"]["service.name"] == "gw-under-test"

    a = server["attributes"]
    assert a["http.request.method"] == "POST"
    assert a["url.path"] == "/v1/chat/completions"
    assert a["http.response.status_code"] == 200
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "client-model"
    assert a["gen_ai.request.max_tokens"] == 50
    assert a["gen_ai.response.model"] == "down-model"
    assert a["gen_ai.provider.name"] == "openai"
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["inferencegw.route"] == "default/chain"
    assert a["inferencegw.backend"] == "default/secondary"
    assert a["inferencegw.attempts"] == 2
    assert a["inferencegw.request_id"] == resp.headers["x-request-id"]
    assert a["inferencegw.cost"] == resp.headers["x-inferencegw-cost"]
    assert "inferencegw.request.body" not in a  # the route has no enableLogging

    f = first["attributes"]
    assert first["name"] == "chat up-model"
    assert f["inferencegw.backend"] == "default/primary"
    assert f["inferencegw.attempt.outcome"] == "connect_error"
    assert f["server.address"] == "127.0.0.1"
    assert first["status"]["code"] == 2
    s = second["attributes"]
    assert second["name"] == "chat down-model"
    assert s["inferencegw.backend"] == "default/secondary"
    assert s["inferencegw.attempt.outcome"] == "success"
    assert s["http.response.status_code"] == 200
    assert s["server.port"] == secondary.port
    assert s["gen_ai.request.model"] == "down-model"

    upstream = secondary.last_request()["headers"]
    assert upstream["traceparent"] == f"00-{CLIENT_TRACE}-{second['spanId']}-01"
    assert upstream["tracestate"] == "vendor=opaque"

    assert all(e["headers"].get("authorization") == f"Bearer {SECRET}" for e in otlp.exports)
    assert all(e["content_type"] == "application/json" for e in otlp.exports)
    tracing_line = proxy.wait_for_log(lambda e: e.get("msg") == "tracing")
    assert tracing_line["headers"] == "authorization"
    assert proxy.wait_for_log(lambda e: e.get("msg", "").startswith("OTLP protocol not supported")
                              )["protocol"] == "http/protobuf"
    assert SECRET not in proxy.stdout_text() and SECRET not in proxy.stderr()


# Without a traceparent, or with an invalid one, the request starts a new trace: a root server
# span, and the upstream gets that trace with its attempt span as the parent.
def test_new_trace_without_a_valid_traceparent(env, otlp):
    alpha = env.mock("alpha")
    proxy = env.proxy([backend("a", f"{alpha.url}/v1"), route("r", default=True,
                                                               defaultBackend={"name": "a"})],
                      *tracing_flags(otlp))
    for headers in ({}, {"traceparent": "00-not-a-valid-header-01"}):
        resp = proxy.chat("m", headers=headers)
        assert resp.status == 200, resp.text
        upstream = alpha.last_request()["headers"]["traceparent"]
        match = re.fullmatch(r"00-([0-9a-f]{32})-([0-9a-f]{16})-01", upstream)
        assert match, upstream
        trace_id, parent = match.groups()
        assert trace_id != CLIENT_TRACE and trace_id != "0" * 32
        server, attempt = otlp.trace(trace_id, 2)
        assert "parentSpanId" not in server
        assert attempt["spanId"] == parent
        assert attempt["parentSpanId"] == server["spanId"]


# A route with enableLogging exports the request and response bodies on its server span.
def test_enable_logging_exports_content(env, otlp):
    alpha = env.mock("alpha")
    proxy = env.proxy([backend("a", f"{alpha.url}/v1"),
                       route("r", default=True, defaultBackend={"name": "a"},
                             enableLogging=True)],
                      *tracing_flags(otlp))
    resp = proxy.chat("m", content="tell me a secret recipe",
                      headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    assert resp.status == 200, resp.text
    server, _ = otlp.trace(CLIENT_TRACE, 2)
    assert "tell me a secret recipe" in server["attributes"]["inferencegw.request.body"]
    assert server["attributes"]["inferencegw.response.body"] == resp.text


# Sampling ratio 0 exports nothing (the proxy's stop flushes its queue, so nothing can still be
# on its way) and a client's unsampled parent is respected by the parent-based sampler; requests
# are served as usual.
def test_sampling_zero_exports_nothing(env, otlp):
    alpha = env.mock("alpha")
    config = [backend("a", f"{alpha.url}/v1"), route("r", default=True,
                                                      defaultBackend={"name": "a"})]
    proxy = env.proxy(config, *tracing_flags(otlp, "--trace-sampler", "traceidratio",
                                             "--trace-sampler-arg", "0"))
    for _ in range(5):
        assert proxy.chat("m").status == 200
    assert proxy.stop() == 0

    parent_based = env.proxy(config, *tracing_flags(otlp))  # parentbased_always_on
    resp = parent_based.chat("m", headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"})
    assert resp.status == 200
    # Unsampled: the client's context passes upstream unchanged.
    assert alpha.last_request()["headers"]["traceparent"] == f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-00"
    assert parent_based.stop() == 0
    assert otlp.all_spans() == []


# A collector that refuses connections, or accepts and never answers, costs requests nothing:
# they all succeed while failed exports and queue drops are counted in Prometheus metrics.
def test_down_or_hanging_collector_does_not_affect_requests(env):
    alpha = env.mock("alpha")
    config = [backend("a", f"{alpha.url}/v1"), route("r", default=True,
                                                      defaultBackend={"name": "a"})]
    down = env.proxy(config, "--otlp-endpoint", f"http://127.0.0.1:{closed_port()}",
                     "--otlp-batch-delay-ms", "20")
    for _ in range(5):
        assert down.chat("m").status == 200
    harness.wait_until(lambda: metric(down, "inferencegw_trace_export_failures_total") >= 1,
                       what="a failed export")
    assert metric(down, "inferencegw_trace_spans_exported_total") == 0
    down.wait_for_log(lambda e: e.get("msg", "").startswith("trace export failing"))

    # Listening, never accepting: the POST waits until its timeout. One span fits the queue, so
    # each request's second span is dropped.
    with socket.socket() as hang:
        hang.bind(("127.0.0.1", 0))
        hang.listen(64)
        stuck = env.proxy(config, "--otlp-endpoint", f"http://127.0.0.1:{hang.getsockname()[1]}",
                          "--otlp-batch-delay-ms", "20", "--otlp-timeout-ms", "300",
                          "--otlp-max-queue", "1")
        for _ in range(10):
            resp = stuck.chat("m")
            assert resp.status == 200
        assert metric(stuck, 'inferencegw_trace_spans_dropped_total') >= 10
        harness.wait_until(lambda: metric(stuck, "inferencegw_trace_export_failures_total") >= 1,
                           what="a timed-out export")
        assert stuck.stop() == 0


# Bad tracing settings stop the proxy at startup with exit status 2, naming what is wrong but
# never a header value; OTEL_SDK_DISABLED=true turns tracing off even with an endpoint set.
def test_tracing_settings_are_checked_and_sdk_disabled_turns_tracing_off(env, otlp, monkeypatch):
    alpha = env.mock("alpha")
    config = env.write_config([backend("a", f"{alpha.url}/v1"),
                               route("r", default=True, defaultBackend={"name": "a"})])

    def start(*flags):
        return subprocess.run([str(env.proxy_binary), "--config", str(config), *flags],
                              capture_output=True, text=True, timeout=harness.WAIT_SECONDS)

    bad_sampler = start("--otlp-endpoint", otlp.url, "--trace-sampler", "bogus")
    assert bad_sampler.returncode == 2
    assert "bogus" in bad_sampler.stderr
    bad_headers = start("--otlp-endpoint", otlp.url, "--otlp-headers", f"a=1,{SECRET}")
    assert bad_headers.returncode == 2
    assert "item 2" in bad_headers.stderr and SECRET not in bad_headers.stderr

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.url)
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    proxy = env.proxy(config, "--otlp-batch-delay-ms", "20")
    resp = proxy.chat("m", headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    assert resp.status == 200
    assert alpha.last_request()["headers"]["traceparent"] == f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    assert proxy.stop() == 0
    assert not any(e.get("msg") == "tracing" for e in proxy.log_entries())
    assert otlp.all_spans() == []


# A streamed answer gets the same tree: the attempt that streamed ends as a success with the
# usage the stream reported, and the server span has the status and usage the client got.
def test_streamed_request_spans(env, otlp):
    alpha = env.mock("alpha")
    proxy = env.proxy([backend("a", f"{alpha.url}/v1", model="stream-model"),
                       route("r", default=True, defaultBackend={"name": "a"})],
                      *tracing_flags(otlp))
    resp = proxy.chat("m", stream=True, include_usage=True,
                      headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    assert resp.status == 200
    usage = [e.json()["usage"] for e in resp.events()
             if e.data != "[DONE]" and e.json().get("usage")]
    assert usage, resp.text
    server, attempt = otlp.trace(CLIENT_TRACE, 2)
    assert server["attributes"]["http.response.status_code"] == 200
    assert server["attributes"]["gen_ai.usage.output_tokens"] == usage[-1]["completion_tokens"]
    assert attempt["parentSpanId"] == server["spanId"]
    assert attempt["attributes"]["inferencegw.attempt.outcome"] == "success"
    assert attempt["attributes"]["gen_ai.usage.input_tokens"] == usage[-1]["prompt_tokens"]
    assert attempt["name"] == "chat stream-model"
    assert int(attempt["endTimeUnixNano"]) >= int(attempt["startTimeUnixNano"])
