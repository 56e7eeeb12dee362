#!/usr/bin/env bash
# The test command: set up (Debian packages, build) and run the whole Catch2 suite with CTest,
# and beside it a second stage: the core, enrollment and gst tests again, built with ASan and
# UBSan into build-asan/ and run there (tests/sanitizers/run.sh) while the first stage tests (its
# tests mostly keep one core busy). Both stages run; the status is the first failure's.
# Usage: tests/run.sh [extra ctest arguments for the first stage, e.g. -L core or -LE slow]
# Environment: SIAMESE_SANITIZE_STAGE=0 skips the sanitizer stage (README: its cost from a
# clean clone).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tests/setup.sh"
build="$(cd "${SIAMESE_BUILD_DIR:-$root/build}" && pwd)"
export SIAMESE_ASAN_BUILD_DIR="${SIAMESE_ASAN_BUILD_DIR:-$build-asan}"
sanitize="${SIAMESE_SANITIZE_STAGE:-1}"
if [ "$sanitize" != 0 ]; then
  # Its tests start as soon as its build is done, not after the first stage: the two stages
  # share the machine's cores all along (CI's time).
  echo "tests/run.sh: the sanitizer stage runs meanwhile (log: $build/sanitizer.log)"
  "$root/tests/sanitizers/run.sh" all >"$build/sanitizer.log" 2>&1 &
  sanitizer_stage=$!
fi
cd "$build"
status=0
ctest --output-on-failure --timeout 1800 "$@" || status=$?
if [ "$sanitize" != 0 ]; then
  echo "tests/run.sh: waiting for the sanitizer stage"
  sanitizer_status=0
  wait "$sanitizer_stage" || sanitizer_status=$?
  # Its build's progress lines are noise; its test results and any failure are not.
  grep -v '^\[[0-9]*/[0-9]*\] ' "$build/sanitizer.log" || true
  if [ "$sanitizer_status" -ne 0 ]; then
    echo "tests/run.sh: the sanitizer stage failed (status $sanitizer_status; log: $build/sanitizer.log)"
    [ "$status" -ne 0 ] || status=$sanitizer_status
  fi
fi
exit "$status"
