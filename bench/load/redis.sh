#!/usr/bin/env bash
# Shared limits through Redis: the proxy with its limits and budget in memory, and the same proxy
# with them in a local redis-server (--redis), side by side in one run, against one mock.
#
#   bench/load/redis.sh [BUILD_DIR]
#   THREADS=2 DURATION=10 CONNS=64 bench/load/redis.sh
#
# The route has a per-user request limit, a token limit and a daily budget, all far above what
# the run uses, so every request runs the full admission (one Redis script) and reconciliation
# (one more, after the answer) and none is refused. Reports per target: requests/s at CONNS
# connections and the median and p99 latency at concurrency 1; for Redis also the calls per
# request (inference_gateway_shared_store_calls_total), Redis CPU per request (INFO
# commandstats: usec of EVALSHA/EVAL), and bytes in and out of Redis per request (INFO stats).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
MOCK=$BUILD/tools/mock-llm/inferencegw-mock-llm
PROXY=$BUILD/frontends/proxy/inferencegw-proxy
for tool in wrk curl redis-server redis-cli /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (scripts/install-deps.sh)" >&2; exit 1; }
done
for bin in "$MOCK" "$PROXY"; do
  [ -x "$bin" ] || { echo "missing $bin: build first" >&2; exit 1; }
done

TMP=$(mktemp -d /tmp/inferencegw-redis-bench.XXXXXX)
pids=()
cleanup() {
  [ "${#pids[@]}" -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# shellcheck source=bench/load/common.sh
. bench/load/common.sh

MOCK_PORT=$(free_port)
"$MOCK" --listen "127.0.0.1:$MOCK_PORT" --threads 1 --model mock-model >/dev/null &
pids+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/health"

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$TMP" >"$TMP/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

cat >"$TMP/gateway.yaml" <<YAML
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: mock}
spec:
  type: kubernetes
  kubernetes: {serviceName: mock, url: "http://127.0.0.1:$MOCK_PORT", model: mock-model}
  cost: {inputTokenCost: "0.0005", outputTokenCost: "0.0015"}
  maxConcurrency: 100000
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: bench}
spec:
  default: true
  defaultBackend: {name: mock}
  rateLimit: {requestsPerMinute: 100000000, perUser: true, tokensPerMinute: 100000000}
  budget: {limit: "1000000", period: day, currency: USD}
YAML

start_proxy() {  # name [flags...] -> sets PORT_<name>, PID_<name>
  local name=$1
  shift
  local port admin
  port=$(free_port)
  admin=$(free_port)
  "$PROXY" --config "$TMP/gateway.yaml" --listen "127.0.0.1:$port" \
    --admin-listen "127.0.0.1:$admin" --threads "$THREADS" --no-access-log "$@" \
    >"$TMP/$name.log" 2>&1 &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/healthz"
  printf -v "PORT_$name" '%s' "$port"
}
start_proxy memory
start_proxy redis --redis "redis://127.0.0.1:$REDIS_PORT/0"

run_wrk() {  # url conns threads -> JSON line
  wrk -t"$3" -c"$2" -d"${DURATION}s" -s bench/load/wrk-report.lua "$1" 2>/dev/null | tail -n 1
}
stat_field() { rcli info "$1" | tr -d '\r' | awk -F'[:=,]' -v k="$2" '$1 == k {print $2}'; }
evalsha_usec() {
  rcli info commandstats | tr -d '\r' |
    awk -F'[:=,]' '/^cmdstat_(evalsha|eval):/ {calls += $3; usec += $5} END {print calls + 0, usec + 0}'
}
store_calls() {
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk '/^inference_gateway_shared_store_calls_total/ {s += $2} END {print s + 0}'
}

echo "shared limits through Redis: proxy --threads $THREADS, ${DURATION}s per run, $(nproc) cores," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A C1 SAT
for name in memory redis; do
  port_var="PORT_$name"
  url="http://127.0.0.1:${!port_var}/v1/chat/completions"
  run_wrk "$url" 8 2 >/dev/null  # warm up connections and buckets
  C1[$name]=$(run_wrk "$url" 1 1)
  if [ "$name" = redis ]; then
    rcli config resetstat >/dev/null
    calls_before=$(store_calls "${!port_var}")
  fi
  SAT[$name]=$(run_wrk "$url" "$CONNS" 2)
  if [ "$name" = redis ]; then
    calls_after=$(store_calls "${!port_var}")
    read -r redis_calls redis_usec < <(evalsha_usec)
    net_in=$(stat_field stats total_net_input_bytes)
    net_out=$(stat_field stats total_net_output_bytes)
  fi
done

# One Redis round trip on this machine: redis-benchmark's median PING at one connection (C client).
RTT_US=$(redis-benchmark -p "$REDIS_PORT" -t ping_mbulk -c 1 -n 20000 --csv 2>/dev/null |
  tail -n 1 | tr -d '"' | awk -F, '{printf "%d", $5 * 1000}')

/usr/bin/python3 - "${C1[memory]}" "${SAT[memory]}" "${C1[redis]}" "${SAT[redis]}" \
  "$calls_before" "$calls_after" "$redis_calls" "$redis_usec" "$net_in" "$net_out" "$CONNS" "$RTT_US" <<'PY'
import json, sys
c1m, satm, c1r, satr = (json.loads(a) for a in sys.argv[1:5])
calls_before, calls_after, redis_calls, redis_usec, net_in, net_out = map(float, sys.argv[5:11])
conns = sys.argv[11]
rtt_us = int(sys.argv[12])
print(f"| target | rps at {conns} conns | p50 at c=1 | p99 at c=1 | errors |")
print("|---|---|---|---|---|")
for name, c1, sat in (("in-memory limits", c1m, satm), ("Redis limits", c1r, satr)):
    print(f"| {name} | {sat['rps']:.0f} | {c1['p50_us']} us | {c1['p99_us']} us | "
          f"{c1['errors'] + sat['errors']} |")
requests = satr["requests"]
print()
print(f"Redis throughput: {100 * satr['rps'] / satm['rps']:.0f}% of in-memory; "
      f"added median at c=1: {c1r['p50_us'] - c1m['p50_us']} us "
      f"(one Redis round trip, PING from Python: {rtt_us} us; target: at most that + 30 us)")
print(f"per request through Redis ({requests} requests at {conns} conns): "
      f"{(calls_after - calls_before) / requests:.2f} store calls, "
      f"{redis_calls / requests:.2f} scripts, {redis_usec / max(redis_calls, 1):.1f} us Redis CPU "
      f"per script ({redis_usec / requests:.1f} us per request), "
      f"{net_in / requests:.0f} B in / {net_out / requests:.0f} B out")
PY
