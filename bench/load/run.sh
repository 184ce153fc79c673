#!/usr/bin/env bash
# Load benchmark: the mock LLM server directly, through inferencegw-proxy, and through nginx as a
# plain keep-alive reverse proxy, measured in one run on this machine.
#
#   bench/load/run.sh [BUILD_DIR]            # requests (wrk); default build/
#   THREADS=2 DURATION=10 CONNS=64 bench/load/run.sh
#   bench/load/run.sh stream [--streams N[,N...]] [--chunks C] [--interval-ms I] [BUILD_DIR]
#
# Requests mode. THREADS: worker threads of the proxy and worker processes of nginx (the same
# number). Reports, per target: requests/s and latency at concurrency 1 and at saturation (CONNS
# connections), CPU time per request of the proxy and of nginx (utime+stime from /proc), and the
# transit time of streamed chunks (the mock stamps its send time into each chunk).
#
# Stream mode: N concurrent streams (bench/load/streams.py) per target; memory per open stream,
# CPU per relayed chunk and stream completion times of the proxy and of nginx. See
# docs/benchmarks.md, "Streams at scale", and the comment above stream_mode below.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODE=requests
if [ "${1:-}" = stream ]; then
  MODE=stream
  shift
fi
STREAM_COUNTS=1000
STREAM_CHUNKS=20
STREAM_INTERVAL_MS=""  # default: max(100, N / 5) ms per stream count N
while [ $# -gt 0 ]; do
  case "$1" in
    --streams) STREAM_COUNTS=$2; shift 2 ;;
    --chunks) STREAM_CHUNKS=$2; shift 2 ;;
    --interval-ms) STREAM_INTERVAL_MS=$2; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
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

# shellcheck source=bench/load/common.sh
. bench/load/common.sh

# ---- stream mode ---------------------------------------------------------------------------------
# For each stream count N, fresh processes (so the idle RSS is a fresh process's, and no allocator
# cache left by a bigger run hides growth): the mock (1 thread), the proxy (--threads 1, the mock
# as an external OpenAI backend with maxConcurrency 100000) and nginx (worker_processes 1,
# proxy_buffering off, worker_connections and worker_rlimit_nofile at the open-files hard limit).
# streams.py then runs the targets in the order direct, nginx, inferencegw (the proxy last, so
# the others are measured even if it dies). PIN=1 (the default on 2+ cores): the proxy and nginx
# on CPU 1, the mock and the client on CPU 0, so the relay under measurement has a core to itself
# and the load generators share the other. PIN=0 lets the scheduler place everything.
# PERF=DIR records the proxy with perf (cpu-clock) during the run; SYSCALLS=DIR counts the system
# calls of the proxy and of the nginx worker per relayed chunk (perf stat on the syscall
# tracepoints); RESULTS=FILE appends one JSON object per target run. PERF and SYSCALLS cost the
# relays CPU: do not take CPU numbers from such a run.
stream_mode() {
  local relay_cpu=() load_cpu=()
  if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then
    relay_cpu=(taskset -c 1)
    load_cpu=(taskset -c 0)
  fi
  local hard soft
  hard=$(ulimit -Hn)
  soft=$(ulimit -Sn)
  echo "stream mode: $(nproc) cores, pinning: ${relay_cpu[*]:-none} (proxy, nginx)" \
       "${load_cpu[*]:-none} (mock, client); proxy --threads 1, nginx worker_processes 1, mock" \
       "--threads 1; $STREAM_CHUNKS content chunks per stream; open files soft/hard $soft/$hard;" \
       "load average $(cut -d' ' -f1-3 /proc/loadavg)"
  local status=0 n first=1
  for n in ${STREAM_COUNTS//,/ }; do
    local interval=${STREAM_INTERVAL_MS:-$((n / 5 > 100 ? n / 5 : 100))}
    local dir="$TMP/n$n"
    mkdir -p "$dir"
    chmod 755 "$dir"
    if [ $((2 * n + 32)) -gt "$hard" ]; then
      echo "note: $n streams through a relay need $((2 * n)) sockets (client side + upstream)" \
           "plus listeners and logs; the open-files hard limit is $hard, so some must fail" >&2
    fi

    local mock_port proxy_port admin_port nginx_port
    mock_port=$(free_port)
    ( ulimit -n "$hard"
      exec "${load_cpu[@]}" "$MOCK" --listen "127.0.0.1:$mock_port" --threads 1 \
        --model mock-model >/dev/null ) &
    local mock_pid=$!
    pids+=($mock_pid)
    wait_http "http://127.0.0.1:$mock_port/health"

    cat >"$dir/gateway.yaml" <<YAML
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: mock}
spec:
  type: external
  external: {url: "http://127.0.0.1:$mock_port/v1", provider: openai, model: mock-model}
  cost: {inputTokenCost: "0.0005", outputTokenCost: "0.0015"}
  maxConcurrency: 100000
  timeoutSeconds: 120
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: bench}
spec:
  default: true
  defaultBackend: {name: mock}
  fallback: {timeoutSeconds: 120}
  rateLimit: {requestsPerMinute: 100000000, perUser: true}
YAML
    proxy_port=$(free_port)
    admin_port=$(free_port)
    "${relay_cpu[@]}" "$PROXY" --config "$dir/gateway.yaml" --listen "127.0.0.1:$proxy_port" \
      --admin-listen "127.0.0.1:$admin_port" --threads 1 >"$dir/proxy.log" 2>&1 &
    local proxy_pid=$!
    pids+=($proxy_pid)
    wait_http "http://127.0.0.1:$proxy_port/healthz"

    nginx_port=$(free_port)
    cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $hard;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections $((hard - 64)); }
http {
  access_log $dir/nginx-access.log;
  upstream mock { server 127.0.0.1:$mock_port; keepalive 256; }
  server {
    listen 127.0.0.1:$nginx_port backlog=4096;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
CONF
    "${relay_cpu[@]}" nginx -c "$dir/nginx.conf" -p "$dir" &
    local nginx_pid=$!
    pids+=($nginx_pid)
    wait_http "http://127.0.0.1:$nginx_port/health"
    local nginx_pids
    nginx_pids=$(echo "$nginx_pid" $(pgrep -P "$nginx_pid") | tr ' ' ,)
    echo "== $n streams, $STREAM_CHUNKS chunks $interval ms apart (a stream lasts" \
         "~$((STREAM_CHUNKS * interval)) ms); proxy open files:" \
         "$(awk '/Max open files/ {print $4 "/" $5}' "/proc/$proxy_pid/limits")"

    local perf_pid=""
    if [ -n "${PERF:-}" ]; then  # PERF=DIR: profile the proxy (cpu-clock samples) into DIR
      mkdir -p "$PERF"
      perf record -q -e cpu-clock -F 2999 -g -p "$proxy_pid" -o "$PERF/proxy-$n.data" \
        2>"$dir/perf.err" &
      perf_pid=$!
    fi
    local sys_pids=()
    if [ -n "${SYSCALLS:-}" ]; then  # SYSCALLS=DIR: count the relays' system calls into DIR
      mkdir -p "$SYSCALLS"
      perf stat -e 'syscalls:sys_enter_*' -p "$proxy_pid" -o "$SYSCALLS/proxy-$n.txt" &
      sys_pids+=($!)
      perf stat -e 'syscalls:sys_enter_*' -p "${nginx_pids#*,}" -o "$SYSCALLS/nginx-$n.txt" &
      sys_pids+=($!)
    fi
    local header=()
    [ "$first" = 1 ] && header=(--header)
    first=0
    "${load_cpu[@]}" /usr/bin/python3 bench/load/streams.py --streams "$n" \
      --chunks "$STREAM_CHUNKS" --interval-ms "$interval" --mock "http://127.0.0.1:$mock_port" \
      --target "direct=http://127.0.0.1:$mock_port/v1/chat/completions" \
      --target "nginx=http://127.0.0.1:$nginx_port/v1/chat/completions@$nginx_pids" \
      --target "inferencegw=http://127.0.0.1:$proxy_port/v1/chat/completions@$proxy_pid" \
      --json "$dir/results.jsonl" "${header[@]}" || status=1
    [ -n "${RESULTS:-}" ] && cat "$dir/results.jsonl" >>"$RESULTS"
    if [ "${#sys_pids[@]}" -gt 0 ]; then
      kill -INT "${sys_pids[@]}" 2>/dev/null || true
      wait "${sys_pids[@]}" 2>/dev/null || true
      /usr/bin/python3 - "$dir/results.jsonl" "$SYSCALLS/proxy-$n.txt" "$SYSCALLS/nginx-$n.txt" \
        <<'PY' | tee "$SYSCALLS/per-chunk-$n.txt"
import json, re, sys
events = {r["target"]: r["events"] for r in map(json.loads, open(sys.argv[1])) if r.get("events")}
for name, path in (("inferencegw", sys.argv[2]), ("nginx", sys.argv[3])):
    counts = []
    for line in open(path):
        m = re.match(r"\s*([\d,]+)\s+syscalls:sys_enter_(\w+)", line)
        if m and m.group(1) != "0":
            counts.append((int(m.group(1).replace(",", "")), m.group(2)))
    counts.sort(reverse=True)
    n = events.get(name) or 1
    total = sum(c for c, _ in counts)
    top = ", ".join(f"{s} {c / n:.2f}" for c, s in counts[:10])
    print(f"syscalls per chunk, {name}: {total / n:.2f} ({top})")
PY
    fi
    if [ -n "$perf_pid" ]; then
      kill -INT "$perf_pid" 2>/dev/null || true
      wait "$perf_pid" 2>/dev/null || true
      perf report -i "$PERF/proxy-$n.data" --no-children --stdio --sort dso,symbol 2>/dev/null |
        grep -E '^ +[0-9]' | head -n 40 >"$PERF/proxy-$n.top.txt" || true
      echo "perf: $PERF/proxy-$n.data, top symbols in $PERF/proxy-$n.top.txt"
    fi

    local pid rc
    for pid in $proxy_pid $nginx_pid $mock_pid; do
      local state
      state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
      if [ -z "$state" ] || [ "$state" = Z ]; then
        rc=0
        wait "$pid" 2>/dev/null || rc=$?
        echo "!! process $pid exited during the run with status $rc" \
             "$([ "$rc" -gt 128 ] && echo "(signal $((rc - 128)))")" >&2
        [ "$pid" = "$proxy_pid" ] && {
          echo "!! inferencegw DIED; its last log lines other than access lines:" >&2
          grep -v '"msg":"request"' "$dir/proxy.log" | tail -n 5 >&2
        }
        status=1
      else
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
      fi
    done
    pids=()
  done
  echo
  echo "summary (KB/stream: RSS growth / streams open at once; us/chunk: CPU time / SSE events" \
       "relayed; median: stream completion time):"
  /usr/bin/python3 bench/load/streams.py --summarize "$TMP"/n*/results.jsonl
  return "$status"
}
if [ "$MODE" = stream ]; then
  stream_mode
  exit $?
fi

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
