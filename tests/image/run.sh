#!/bin/bash
# Builds the container image (scripts/build-image.sh) and checks it with buildah run --isolation
# chroot (podman cannot run containers on this kind of machine):
#   1. it runs as the non-root user 65532 and has no compilers or -dev packages;
#   2. inferencegw-proxy --check and inferencegw-k8s-sync --check accept the bundled samples;
#   3. inside the image, the proxy serves one chat completion on loopback from the bundled mock
#      LLM server, and /healthz answers.
# Exit status 0 when every check passed. The container is removed on exit; the image is kept
# (buildah rmi it). IMAGE and BASE_IMAGE are passed on to the build script.
set -euo pipefail
cd "$(dirname "$0")/../.."

image=$(scripts/build-image.sh | tail -n 1)
container=$(buildah from --quiet "$image")
trap 'buildah rm "$container" >/dev/null 2>&1 || true' EXIT
in_image() { buildah run --isolation chroot "$container" -- "$@"; }
fail() { echo "tests/image: FAIL: $*" >&2; exit 1; }

user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$image")
[ "$user" = "65532:65532" ] || fail "image user is '$user', expected 65532:65532"
[ "$(in_image id -u)" = 65532 ] || fail "buildah run is not running as uid 65532"
if in_image sh -c 'command -v g++ || command -v cc || ls /usr/include/absl' >/dev/null 2>&1; then
  fail "the runtime image carries build tools or headers"
fi
echo "tests/image: ok: non-root (65532), no build tools"

in_image inferencegw-proxy --check --config /usr/share/inferencegw/samples ||
  fail "inferencegw-proxy --check rejected the samples"
in_image inferencegw-k8s-sync --check /usr/share/inferencegw/samples ||
  fail "inferencegw-k8s-sync --check rejected the samples"
echo "tests/image: ok: both binaries accept deploy/samples"

# Free loopback ports, picked now; buildah's chroot isolation shares the host's network.
read -r mock_port proxy_port admin_port < <(/usr/bin/python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
reply=$(in_image bash -c '
set -u
cfg=$(mktemp -d)
cat > "$cfg/config.yaml" <<YAML
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceBackend
metadata: {name: mock}
spec: {type: external, external: {url: "http://127.0.0.1:'"$mock_port"'/v1", provider: openai}}
---
apiVersion: gateway.inference-gateway.io/v1alpha1
kind: InferenceRoute
metadata: {name: chat}
spec: {defaultBackend: {name: mock}}
YAML
inferencegw-mock-llm --listen 127.0.0.1:'"$mock_port"' --threads 1 >/dev/null & mock=$!
inferencegw-proxy --config "$cfg/config.yaml" --listen 127.0.0.1:'"$proxy_port"' \
  --admin-listen 127.0.0.1:'"$admin_port"' --threads 1 >/dev/null 2>&1 & proxy=$!
trap "kill $mock $proxy 2>/dev/null; wait; rm -rf $cfg" EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/'"$proxy_port"') 2>/dev/null && break; sleep 0.1; done
ask() {  # ask METHOD PATH [BODY]: one HTTP/1.1 exchange over bash /dev/tcp
  exec 3<>/dev/tcp/127.0.0.1/'"$proxy_port"'
  printf "%s %s HTTP/1.1\r\nHost: image-test\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" \
    "$1" "$2" "${#3}" "$3" >&3
  cat <&3
  exec 3>&-
}
ask GET /healthz ""
echo "----"
ask POST /v1/chat/completions "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}"
') || fail "the in-image request script failed: $reply"
health=${reply%%----*}
chat=${reply#*----}
grep -q "^HTTP/1.1 200" <<<"$health" || fail "/healthz: $health"
grep -q "^HTTP/1.1 200" <<<"$chat" || fail "chat completion: $chat"
grep -qi "^x-inferencegw-backend: default/mock" <<<"$chat" || fail "no backend header: $chat"
grep -q '"chat.completion"' <<<"$chat" || fail "not a chat completion: $chat"
echo "tests/image: ok: the proxy in the image served a chat completion from the mock"
echo "tests/image: all checks passed ($image)"
