#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, build dir build-fuzz) and runs each one
# for SECONDS seconds on a copy of its seed corpus and kept crash inputs; the tree is not changed.
# Exits non-zero, printing the crashing input's path, when any target crashes, hangs (-timeout)
# or runs out of memory (-rss_limit_mb).
#
#   tests/fuzz/run.sh 20              # every target, 20 s each
#   tests/fuzz/run.sh 60 config sse   # only these targets
#
# Environment: BUILD_DIR (default build-fuzz), WORK_DIR (default: a new temporary directory,
# where corpora and crash inputs are written; kept when a target fails), FUZZ_CXX (default
# clang++; Debian 12's clang 14 with libclang-rt-14-dev).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${1:-20}"
shift || true
all_targets=(config translate_request translate_response sse stream_translate usage http_request)
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then targets=("${all_targets[@]}"); fi

build_dir="${BUILD_DIR:-build-fuzz}"
# A fresh temporary directory unless WORK_DIR names one; removed at the end unless named.
work_dir="${WORK_DIR:-$(mktemp -d -t igw-fuzz.XXXXXX)}"
cxx="${FUZZ_CXX:-clang++}"

if [ ! -f "$build_dir/build.ninja" ]; then
  # The library only (plus Boost.Beast headers for http_request), instrumented for libFuzzer,
  # with assertions on (the library's and Beast's).
  CXX="$cxx" meson setup "$build_dir" -Dfuzzing=true -Dbuildtype=plain \
    -Ddefault_library=static -Db_sanitize=address,undefined -Db_lundef=false -Db_ndebug=false \
    -Dcpp_args='-O1 -gline-tables-only -fsanitize=fuzzer-no-link -fno-sanitize-recover=all' \
    -Dproxy=disabled -Dk8s_sync=disabled -Dpython=disabled -Dbenchmarks=disabled \
    >"$work_dir/setup.log" 2>&1 || { cat "$work_dir/setup.log"; exit 1; }
fi
ninja_targets=()
for t in "${targets[@]}"; do ninja_targets+=("tests/fuzz/${t}_fuzz"); done
ninja -C "$build_dir" "${ninja_targets[@]}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=0
for t in "${targets[@]}"; do
  corpus="$work_dir/corpus/$t"
  artifacts="$work_dir/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  cp -R tests/fuzz/corpus/"$t"/. "$corpus"/ 2>/dev/null || true
  cp -R tests/fuzz/crashes/"$t"/. "$corpus"/ 2>/dev/null || true
  echo "=== $t: ${seconds}s"
  # A tests/fuzz/<target>.dict, when there is one, gives libFuzzer the format's keywords.
  dict=()
  if [ -f "tests/fuzz/$t.dict" ]; then dict=("-dict=tests/fuzz/$t.dict"); fi
  if ! "$build_dir/tests/fuzz/${t}_fuzz" "$corpus" "${dict[@]}" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$artifacts/" >"$work_dir/$t.log" 2>&1; then
    failed=1
    tail -n 60 "$work_dir/$t.log"
    for f in "$artifacts"/*; do
      [ -e "$f" ] && echo "FAIL $t: crash input $f (replay: $build_dir/tests/fuzz/${t}_fuzz $f)"
    done
    echo "FAIL $t: log $work_dir/$t.log"
  else
    grep -E '^#[0-9]+[[:space:]]+DONE|^INFO: fuzzed for' "$work_dir/$t.log" | tail -n 1 || true
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzzing found crashes; inputs and logs are in $work_dir"
  exit 1
fi
if [ -z "${WORK_DIR:-}" ]; then rm -rf "$work_dir"; fi
echo "fuzzing: no crash in ${#targets[@]} targets, ${seconds}s each"
