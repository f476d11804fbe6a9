#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test. Ends with one line
# "N passed, N failed, N skipped" counted from the test results; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

tools/install_deps.sh || { echo "0 passed, 1 failed"; exit 1; }

# Real datasets are read in place (never copied); tests skip cleanly when they are absent.
DATASETS="$(cd "$ROOT/.." && pwd)/shared/datasets"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

bazel query 'tests(//...)' --output=label 2>/dev/null > "$WORK/labels" || {
  echo "test.sh: bazel query failed" >&2
  echo "0 passed, 1 failed"
  exit 1
}
bazel test //... --keep_going \
  --test_env=VREC_DATASETS="$DATASETS" \
  --build_event_json_file="$WORK/bep.json" 2>&1 | grep -v 'linux-sandbox'
bazel_status=${PIPESTATUS[0]}

/usr/bin/python3 tools/count_tests.py "$WORK/bep.json" "$WORK/labels"
count_status=$?
if [ "$bazel_status" -ne 0 ] || [ "$count_status" -ne 0 ]; then
  exit 1
fi
