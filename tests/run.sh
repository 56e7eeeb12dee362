#!/usr/bin/env bash
# The test command: set up (Debian packages, build) and run the whole Catch2 suite with CTest,
# then a second stage: the core, enrollment and gst tests again, built with ASan and UBSan into
# build-asan/ (tests/sanitizers/run.sh) while the first stage tests (its tests mostly keep one
# core busy). Both stages run; the status is the first failure's.
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
  echo "tests/run.sh: building the sanitizer stage meanwhile (log: $build/sanitizer-build.log)"
  "$root/tests/sanitizers/run.sh" build >"$build/sanitizer-build.log" 2>&1 &
  sanitizer_build=$!
fi
cd "$build"
status=0
ctest --output-on-failure --timeout 1800 "$@" || status=$?
if [ "$sanitize" != 0 ]; then
  if wait "$sanitizer_build"; then
    tail -1 "$build/sanitizer-build.log"
    "$root/tests/sanitizers/run.sh" test || { s=$?; [ "$status" -ne 0 ] || status=$s; }
  else
    echo "tests/run.sh: the sanitizer stage's build failed:"
    tail -40 "$build/sanitizer-build.log"
    [ "$status" -ne 0 ] || status=1
  fi
fi
exit "$status"
