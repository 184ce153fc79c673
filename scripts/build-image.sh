#!/bin/sh
# Builds the inferencegw container image (Containerfile) with buildah, without a
# registry: unless BASE_IMAGE names a Debian 12 image buildah already has (or can pull), the base
# is made from Debian's packages with mmdebstrap (minbase) and committed as
# localhost/inferencegw-base:bookworm, once.
#
#   scripts/build-image.sh                       # -> ghcr.io/inferencegw/inferencegw:VERSION
#   IMAGE=registry.example.com/inferencegw:dev scripts/build-image.sh
#   BASE_IMAGE=docker.io/library/debian:bookworm-slim scripts/build-image.sh
#
# Needs root (or a user buildah and mmdebstrap can work for), buildah and mmdebstrap
# (apt-get install buildah mmdebstrap), and a Debian mirror (DEBIAN_MIRROR, default
# deb.debian.org). Builds use --isolation chroot, which works where podman cannot run containers.
# Prints the image name on its last line.
set -eu
cd "$(dirname "$0")/.."
version=$(sed -n "s/^ *version: '\([^']*\)',*$/\1/p" meson.build | head -n 1)
image=${IMAGE:-ghcr.io/inferencegw/inferencegw:$version}
base=${BASE_IMAGE:-localhost/inferencegw-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

for tool in buildah; do
  command -v "$tool" >/dev/null || { echo "build-image.sh: $tool is not installed" >&2; exit 2; }
done

if [ -z "${BASE_IMAGE:-}" ] && ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  command -v mmdebstrap >/dev/null ||
    { echo "build-image.sh: mmdebstrap is not installed (or set BASE_IMAGE)" >&2; exit 2; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "build-image.sh: making $base with mmdebstrap"
  mmdebstrap --variant=minbase --include=ca-certificates --quiet bookworm "$work/base.tar" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main"
  container=$(buildah from scratch)
  buildah add --quiet "$container" "$work/base.tar" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd /bin/bash "$container"
  buildah commit --quiet --rm "$container" "$base" >/dev/null
fi

echo "build-image.sh: building $image on $base"
buildah build --isolation chroot --layers --build-arg "BASE=$base" -f Containerfile \
  -t "$image" .
echo "$image"
