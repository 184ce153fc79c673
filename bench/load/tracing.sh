#!/usr/bin/env bash
# Load benchmark of tracing: the same proxy and mock with tracing off, on at sampling 0
# (traceidratio 0: the traceparent parse and the sampling decision only), and on at sampling 1
# (every request builds a server span and an attempt span, exported to a local OTLP sink that
# answers 200), each measured with wrk for DURATION seconds at CONNS connections. Reports
# requests/s, latency percentiles, the proxy's CPU time per request (utime+stime from /proc)
# and the spans the proxy exported and dropped.
#
#   bench/load/tracing.sh [BUILD_DIR]
#   THREADS=1 DURATION=10 CONNS=32 ROUNDS=3 bench/load/tracing.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
THREADS=${THREADS:-1}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-3}
PROXY=$BUILD/frontends/proxy/inferencegw-proxy
MOCK=$BUILD/tools/mock-llm/inferencegw-mock-llm
# shellcheck source=bench/load/common.sh
source bench/load/common.sh
TMP=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

MOCK_PORT=$(free_port)
"$MOCK" --listen "127.0.0.1:$MOCK_PORT" --threads 1 --model mock-model >/dev/null &
pids+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/health"

# The OTLP sink: answers every POST with 200 and counts the bytes it got.
SINK_PORT=$(free_port)
/usr/bin/python3 - "$SINK_PORT" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
        self.wfile.write(b"{}")
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)
wait_http "http://127.0.0.1:$SINK_PORT/"

cat >"$TMP/gateway.yaml" <<YAML
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: mock}
spec:
  type: kubernetes
  kubernetes: {serviceName: mock, url: "http://127.0.0.1:$MOCK_PORT", model: mock-model}
  cost: {inputTokenCost: "0.0005", outputTokenCost: "0.0015"}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: bench}
spec:
  default: true
  defaultBackend: {name: mock}
YAML
CLK_TCK=$(getconf CLK_TCK)

run() {  # label, proxy flags... -> one line of results
  local label=$1; shift
  local port admin pid before after line
  port=$(free_port); admin=$(free_port)
  "$PROXY" --config "$TMP/gateway.yaml" --listen "127.0.0.1:$port" --admin-listen \
    "127.0.0.1:$admin" --threads "$THREADS" --no-access-log "$@" >"$TMP/proxy.log" 2>&1 &
  pid=$!
  wait_http "http://127.0.0.1:$port/healthz"
  wrk -t1 -c"$CONNS" -d2s -s bench/load/wrk-report.lua \
    "http://127.0.0.1:$port/v1/chat/completions" >/dev/null 2>&1  # warm-up
  before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  line=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" -s bench/load/wrk-report.lua \
    "http://127.0.0.1:$port/v1/chat/completions" 2>/dev/null | tail -n 1)
  after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  local metrics
  metrics=$(curl -sf "http://127.0.0.1:$port/metrics" | grep -E '^inferencegw_trace_spans' || true)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  /usr/bin/python3 - "$label" "$line" "$before" "$after" "$CLK_TCK" "$metrics" <<'PY'
import json, sys
label, line, before, after, tck, metrics = sys.argv[1:]
r = json.loads(line)
cpu_us = (int(after) - int(before)) / int(tck) * 1e6 / max(r["requests"], 1)
spans = {l.split(" ")[0]: float(l.split(" ")[1]) for l in metrics.splitlines() if l}
exported = sum(v for k, v in spans.items() if "exported" in k)
dropped = sum(v for k, v in spans.items() if "dropped" in k)
print(f"{label:12s} rps {r['rps']:9.1f}  p50 {r['p50_us']:6d} us  p99 {r['p99_us']:6d} us  "
      f"cpu/req {cpu_us:6.1f} us  errors {r['errors']}  spans exported {exported:.0f} "
      f"dropped {dropped:.0f}")
PY
}

echo "threads $THREADS, $CONNS connections, ${DURATION}s per run, $ROUNDS rounds"
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round"
  run "off"
  run "sampling 0" --otlp-endpoint "http://127.0.0.1:$SINK_PORT" \
    --trace-sampler traceidratio --trace-sampler-arg 0
  run "sampling 1" --otlp-endpoint "http://127.0.0.1:$SINK_PORT" \
    --trace-sampler always_on --otlp-batch-delay-ms 200 --otlp-max-queue 65536
done
