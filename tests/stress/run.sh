#!/bin/sh
# Builds the proxy and the mock with sanitizers and runs the fault and stress suite against
# them: ASan+UBSan with --threads 1 (build-stress-asan), then TSan with --threads 2
# (build-stress-tsan). Extra arguments go to pytest (say --stress-scale 0.2 or -k slowloris).
#
#   tests/stress/run.sh                 # both builds, CI size
#   STRESS_BUILDS=asan tests/stress/run.sh -x
#   STRESS_ASAN_DIR=build-asan tests/stress/run.sh   # reuse a sanitizer build dir (.ci/run does)
#   STRESS_BUILDS=tsan tests/stress/run.sh --threads 1  # the last --threads wins
#
# Exit status: 0 when every run passed, else the first failing step's status.
set -eu
cd "$(dirname "$0")/../.."
root=$(pwd)
python=${PYTHON:-/usr/bin/python3}
builds=${STRESS_BUILDS:-"asan tsan"}
jobs=${STRESS_JOBS:-2}

setup() {  # setup DIR SANITIZER
  # -O1 -g1: a third less compile time than -O2 -g, and reports still name file and line.
  if [ ! -f "$1/build.ninja" ]; then
    meson setup "$1" -Doptimization=1 -Ddebug=false -Dcpp_args=-g1 "-Db_sanitize=$2" \
      -Db_lundef=false -Dpython=disabled -Dbenchmarks=disabled -Dk8s_sync=disabled \
      -Dtests=disabled
  fi
  nice meson compile -C "$1" -j "$jobs" frontends/proxy/inferencegw-proxy \
    tools/mock-llm/inferencegw-mock-llm
}

status=0
for build in $builds; do
  case $build in
    asan) dir=${STRESS_ASAN_DIR:-build-stress-asan}; sanitizer=address,undefined; threads=1 ;;
    tsan) dir=${STRESS_TSAN_DIR:-build-stress-tsan}; sanitizer=thread; threads=2 ;;
    *) echo "run.sh: unknown build '$build' (asan or tsan)" >&2; exit 2 ;;
  esac
  started=$(date +%s)
  setup "$dir" "$sanitizer"
  built=$(date +%s)
  # TSan needs a non-randomized address space layout on some kernels.
  runner=""
  if [ "$build" = tsan ] && command -v setarch >/dev/null; then runner="setarch $(uname -m) -R"; fi
  set +e
  ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:quarantine_size_mb=32} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
  STRESS_SANITIZER=$sanitizer \
    $runner "$python" -m pytest -q -W error -p no:cacheprovider "$root/tests/stress" \
      --rootdir "$root/tests/stress" \
      --proxy "$root/$dir/frontends/proxy/inferencegw-proxy" \
      --mock-llm "$root/$dir/tools/mock-llm/inferencegw-mock-llm" \
      --threads "$threads" "$@"
  rc=$?
  set -e
  ended=$(date +%s)
  echo "run.sh: $build: build $((built - started)) s, tests $((ended - built)) s, status $rc"
  [ "$status" -ne 0 ] || status=$rc
done
exit "$status"
