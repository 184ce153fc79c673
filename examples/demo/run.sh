#!/usr/bin/env bash
# Runs the demo: four mock LLM backends and inferencegw-proxy on examples/demo, on loopback.
# Prints curl lines to try; Ctrl-C stops everything. Needs a build (meson compile -C build).
#   BUILD=build-other examples/demo/run.sh     # another build directory
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
MOCK=$BUILD/tools/mock-llm/inferencegw-mock-llm
PROXY=$BUILD/frontends/proxy/inferencegw-proxy
for bin in "$MOCK" "$PROXY"; do
  [ -x "$bin" ] || { echo "missing $bin: run 'meson setup $BUILD && meson compile -C $BUILD' first" >&2; exit 1; }
done
LOG=${LOG:-/tmp/inferencegw-demo.log}

pids=()
cleanup() {
  trap - EXIT INT TERM
  [ "${#pids[@]}" -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "stopped; the proxy's log is in $LOG"
}
trap cleanup EXIT INT TERM

mock() {  # port name model [flags...]
  local port=$1 name=$2 model=$3; shift 3
  "$MOCK" --listen "127.0.0.1:$port" --threads 1 --name "$name" --model "$model" \
    --latency-ms 20 --chunk-interval-ms 30 "$@" >/dev/null &
  pids+=($!)
}
mock 18001 local-mistral mistral-7b
mock 18002 anthropic-claude claude-3-sonnet --require-api-key demo-anthropic-key
mock 18003 openai-gpt4 gpt-4 --require-api-key demo-openai-key
mock 18004 anthropic-claude-35 claude-3-5-sonnet --require-api-key demo-anthropic-key

"$PROXY" --config examples/demo --listen 127.0.0.1:8080 --admin-listen 127.0.0.1:9090 >"$LOG" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -sf http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf http://127.0.0.1:8080/readyz >/dev/null || { echo "the proxy did not start:" >&2; cat "$LOG" >&2; exit 1; }

cat <<'TXT'
inferencegw is running on http://127.0.0.1:8080 (admin: http://127.0.0.1:9090), in front of
four mock backends. Try:

  # the default route: local Mistral (a KServe backend), with cost in the response headers
  curl -si localhost:8080/v1/chat/completions -H 'content-type: application/json' -H 'x-user-id: alice' \
    -d '{"model":"mistral-7b","messages":[{"role":"user","content":"Hi"}]}'

  # premium users go to GPT-4
  curl -s localhost:8080/v1/chat/completions -H 'x-user-tier: premium' -H 'x-user-id: alice' \
    -d '{"model":"mistral-7b","messages":[{"role":"user","content":"Hi"}]}'

  # a claude-* model: the A/B route (10% of users get Claude 3.5), translated to Anthropic's API, streamed
  curl -sN localhost:8080/v1/chat/completions -H 'x-user-id: bob' \
    -d '{"model":"claude-3-sonnet","stream":true,"messages":[{"role":"user","content":"Hi"}]}'

  # Anthropic's own API in, an OpenAI-format backend out
  curl -s localhost:8080/v1/messages -H 'x-user-id: carol' \
    -d '{"model":"mistral-7b","max_tokens":100,"messages":[{"role":"user","content":"Hi"}]}'

  # break the local backend and watch the fallback chain (x-inferencegw-backend, -attempts)
  curl -s -X POST localhost:18001/mock/config -d '{"status":503}'
  curl -si localhost:8080/v1/chat/completions -d '{"model":"mistral-7b","messages":[{"role":"user","content":"Hi"}]}'
  curl -s -X POST localhost:18001/mock/config -d '{"status":200}'

  # what it knows
  curl -s localhost:9090/admin/backends; curl -s localhost:9090/admin/costs
  curl -s localhost:9090/admin/experiments; curl -s localhost:8080/metrics | grep inference_gateway_

Ctrl-C stops the demo.
TXT
wait "${pids[-1]}"
