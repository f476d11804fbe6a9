#!/usr/bin/env bash
# Runs a libFuzzer campaign: tools/fuzz.sh TARGET SECONDS [extra libFuzzer flags]
# TARGET is one of tests/fuzz's targets (http_request_fuzzer, event_json_fuzzer,
# event_log_fuzzer, csv_import_fuzzer, bundle_fuzzer). The target is built with clang 14,
# ASan and UBSan (--config=fuzz, in its own Bazel output base so the normal gcc build is not
# disturbed), starts from the seed corpus in tests/fuzz/corpus/TARGET, and keeps what it finds
# in ~/.cache/vrec/fuzz/TARGET (not in the repository; copy an input worth keeping into the seed
# corpus by hand). A crash or broken invariant stops it with the input saved as crash-*; the
# script prints the executions and exits non-zero then.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: tools/fuzz.sh TARGET SECONDS [libFuzzer flags]" >&2
  exit 2
fi
TARGET=$1
SECONDS_TO_RUN=$2
shift 2
if [ ! -d "tests/fuzz/corpus/$TARGET" ]; then
  echo "fuzz: unknown target '$TARGET' (see tests/fuzz/BUILD.bazel)" >&2
  exit 2
fi
tools/install_deps.sh
if ! command -v clang >/dev/null 2>&1 || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz: installing clang and libclang-rt-14-dev" >&2
  apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi
OUT=$HOME/.cache/vrec/bazel-fuzz
FLAGS=(--config=fuzz --symlink_prefix=/)  # no bazel-* links: those belong to the normal build
bazel --output_base="$OUT" build "${FLAGS[@]}" "//tests/fuzz:$TARGET" >&2
BIN=$(bazel --output_base="$OUT" info "${FLAGS[@]}" bazel-bin 2>/dev/null)/tests/fuzz/$TARGET
WORK=$HOME/.cache/vrec/fuzz/$TARGET
mkdir -p "$WORK/corpus" "$WORK/artifacts"
# Scratch files (logs, worlds, indexes the targets write per input) in memory: fsync is free there.
export TEST_TMPDIR=${TEST_TMPDIR:-/dev/shm/vrec_fuzz_$TARGET}
mkdir -p "$TEST_TMPDIR"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:alloc_dealloc_mismatch=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$WORK"
set +e
"$BIN" -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 -artifact_prefix="$WORK/artifacts/" -rss_limit_mb=4096 \
  "$@" "$WORK/corpus" "$OLDPWD/tests/fuzz/corpus/$TARGET" 2>"$WORK/log"
status=$?
set -e
rm -rf "$TEST_TMPDIR"
grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|invariant" "$WORK/log" || true
echo "fuzz: $TARGET exit $status; log $WORK/log"
exit $status
