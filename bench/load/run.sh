#!/usr/bin/env bash
# Load benchmark: the mock LLM server directly, through inferencegw-proxy, and through nginx as a
# plain keep-alive reverse proxy, measured in one run on this machine with wrk.
#
#   bench/load/run.sh [BUILD_DIR]            # default build/
#   THREADS=2 DURATION=10 CONNS=64 bench/load/run.sh
#
# THREADS: worker threads of the proxy and worker processes of nginx (the same number).
# Reports, per target: requests/s and latency at concurrency 1 and at saturation (CONNS
# connections), CPU time per request of the proxy and of nginx (utime+stime from /proc), and the
# transit time of streamed chunks (the mock stamps its send time into each chunk).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
WRK_THREADS=${WRK_THREADS:-2}
MOCK_THREADS=${MOCK_THREADS:-2}
STREAMS=${STREAMS:-300}
MOCK=$BUILD/tools/mock-llm/inferencegw-mock-llm
PROXY=$BUILD/frontends/proxy/inferencegw-proxy
for tool in wrk nginx curl /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (scripts/install-deps.sh)" >&2; exit 1; }
done
for bin in "$MOCK" "$PROXY"; do
  [ -x "$bin" ] || { echo "missing $bin: build first" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/inferencegw-load.XXXXXX)
chmod 755 "$TMP"
pids=()
cleanup() {
  [ "${#pids[@]}" -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  [ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid" 2>/dev/null)" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "not answering: $1" >&2; exit 1
}

MOCK_PORT=$(free_port)
"$MOCK" --listen "127.0.0.1:$MOCK_PORT" --threads "$MOCK_THREADS" --model mock-model \
  --stamp-chunks >/dev/null &
pids+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/health"

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
  rateLimit: {requestsPerMinute: 100000000, perUser: true}
YAML
PROXY_PORT=$(free_port)
ADMIN_PORT=$(free_port)
"$PROXY" --config "$TMP/gateway.yaml" --listen "127.0.0.1:$PROXY_PORT" \
  --admin-listen "127.0.0.1:$ADMIN_PORT" --threads "$THREADS" >"$TMP/proxy.log" 2>&1 &
PROXY_PID=$!
pids+=($PROXY_PID)
wait_http "http://127.0.0.1:$PROXY_PORT/healthz"

NGINX_PORT=$(free_port)
cat >"$TMP/nginx.conf" <<CONF
worker_processes $THREADS;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log $TMP/nginx-access.log;
  upstream mock { server 127.0.0.1:$MOCK_PORT; keepalive 256; }
  server {
    listen 127.0.0.1:$NGINX_PORT reuseport;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
CONF
nginx -c "$TMP/nginx.conf" -p "$TMP" &
NGINX_PID=$!
pids+=($NGINX_PID)
wait_http "http://127.0.0.1:$NGINX_PORT/health"

# CPU time (utime + stime, in clock ticks) of a process and its children (nginx's workers).
cpu_ticks() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

run_wrk() {  # url conns threads -> JSON line
  wrk -t"$3" -c"$2" -d"${DURATION}s" -s bench/load/wrk-report.lua "$1" 2>/dev/null | tail -n 1
}

declare -A URL=(
  [direct]="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
  [inferencegw]="http://127.0.0.1:$PROXY_PORT/v1/chat/completions"
  [nginx]="http://127.0.0.1:$NGINX_PORT/v1/chat/completions"
)
echo "machine: $(nproc) cores; proxy threads / nginx workers: $THREADS; mock threads: $MOCK_THREADS;" \
     "wrk: ${DURATION}s, $WRK_THREADS threads, $CONNS connections at saturation"
printf '%-12s %-30s %-30s %s\n' target "concurrency 1 (rps, p50, p99)" \
  "saturation (rps, p50, p99)" "stream chunk transit (first p50/p99, all p50)"
for target in direct inferencegw nginx; do
  url=${URL[$target]}
  run_wrk "$url" 4 1 >/dev/null   # warm up connections and caches
  c1=$(run_wrk "$url" 1 1)
  measured=""
  [ "$target" = inferencegw ] && measured=$PROXY_PID
  [ "$target" = nginx ] && measured=$NGINX_PID
  before=""
  [ -n "$measured" ] && before=$(cpu_ticks "$measured")
  sat=$(run_wrk "$url" "$CONNS" "$WRK_THREADS")
  cpu=""
  if [ -n "$before" ]; then
    after=$(cpu_ticks "$measured")
    reqs=$(echo "$sat" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
    cpu=$(/usr/bin/python3 -c "print(f'{($after-$before)/$CLK_TCK/$reqs*1e6:.1f} us CPU/request')")
  fi
  stream=$(/usr/bin/python3 bench/load/stream_latency.py "$url" --requests "$STREAMS")
  /usr/bin/python3 - "$target" "$c1" "$sat" "$stream" "$cpu" <<'PY'
import json, sys
t, c1, sat, st, cpu = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5]
f = lambda r: f"{r['rps']:>8.0f} {r['p50_us']:>6}us {r['p99_us']:>6}us" + (f" ({r['errors']} err)" if r['errors'] else "")
print(f"{t:<12} {f(c1):<30} {f(sat):<30} {st['first_p50_us']}/{st['first_p99_us']}us, {st['chunk_p50_us']}us {cpu}")
PY
done
