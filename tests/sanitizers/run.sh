#!/usr/bin/env bash
# The sanitizer stage of tests/run.sh: builds the test executables of labels core, enrollment
# and gst, less those marked NO_SANITIZER in tests/CMakeLists.txt (target
# siamese_sanitizer_tests) with AddressSanitizer and UndefinedBehaviorSanitizer
# into $SIAMESE_BUILD_DIR-asan (default build-asan/), and runs each of them whole (all its test
# cases in one process; the list: build-asan/tests/sanitizer_tests.txt), $SIAMESE_SANITIZER_JOBS
# at a time (default: the number of cores). Any UBSan report fails its executable
# (halt_on_error=1); leaks are reported, less those allocated by third-party libraries
# (lsan.supp, next to this file). Each executable's output: build-asan/sanitizer-logs/.
# Usage: tests/sanitizers/run.sh [build|test|all] [Catch2 test spec, e.g. "[gallery]"]
#   (after setup.sh)
#   build: configure and build only;
#   test: run the tests of a build made before; all (default): both (tests/run.sh runs it
#   beside the first stage).
# Environment: SIAMESE_CMAKE_ARGS (as for tests/setup.sh), SIAMESE_ASAN_BUILD_DIR,
#   SIAMESE_SANITIZER_JOBS.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${SIAMESE_ASAN_BUILD_DIR:-${SIAMESE_BUILD_DIR:-$root/build}-asan}"
mode=all
case "${1:-}" in build | test | all) mode="$1"; shift ;; esac
start=$SECONDS

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ "$mode" != test ] && [ ! -f "$build/CMakeCache.txt" ]; then
  # No samples, no CUDA kernels: what labels core, enrollment and gst need, and no more.
  # -O1 -g1: about a third of the compile time of -O2 -g; reports keep their line numbers.
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" "${generator[@]}" ${SIAMESE_CMAKE_ARGS:-} \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
    -DSIAMESE_SANITIZE=ON -DSIAMESE_BUILD_SAMPLES=OFF \
    -DSIAMESE_CUDA_KERNELS=OFF
fi
if [ "$mode" != test ]; then
  cmake --build "$build" -j "$(nproc)" --target siamese_sanitizer_tests
  echo "sanitizer stage: build $((SECONDS - start)) s"
fi
[ "$mode" != build ] || exit 0
[ -f "$build/CMakeCache.txt" ] || { echo "sanitizer stage: $build is not built" >&2; exit 1; }
tested=$SECONDS

export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$here/ubsan.supp"
export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"

# The gst tools the gst tests run load our instrumented plugin, so they need the ASan runtime
# first: wrappers on PATH preload it. Leaks are not checked in these third-party programs.
cxx="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")"
runtime="$("$cxx" -print-file-name=libasan.so)"
[ -f "$runtime" ] || runtime="$("$cxx" -print-file-name=libclang_rt.asan-x86_64.so)"
[ -f "$runtime" ] || { echo "sanitizer stage: no ASan runtime for $cxx" >&2; exit 1; }
wrappers="$build/sanitizer-bin"
mkdir -p "$wrappers"
for tool in gst-launch-1.0 gst-inspect-1.0; do
  real="$(command -v "$tool")" || continue
  # shellcheck disable=SC2016  # $ASAN_OPTIONS and "$@" are the wrapper's, expanded when it runs
  printf '#!/bin/sh\nLD_PRELOAD=%s ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" exec %s "$@"\n' \
    "$runtime" "$real" >"$wrappers/$tool"
  chmod +x "$wrappers/$tool"
done
export PATH="$wrappers:$PATH"
# Two executables at a time, one per core: one mostly keeps one core busy. Waiting OpenMP
# threads sleep instead of spinning, so two LibTorch thread pools do not spin against each other.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" OPENBLAS_NUM_THREADS=1
jobs="${SIAMESE_SANITIZER_JOBS:-$(nproc)}"
list="$build/tests/sanitizer_tests.txt"
[ -s "$list" ] || { echo "sanitizer stage: $list is missing; configure $build again" >&2; exit 1; }
mapfile -t executables <"$list"
logs="$build/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"

# Runs one executable from the tests' folder, as CTest does; its status goes to NAME.status.
run_executable() {
  local executable="$1" name
  shift
  name="$(basename "$executable")"
  local began=$SECONDS code=0 warn=(--warn NoTests)  # a whole run must find test cases
  [ $# -eq 0 ] || warn=()  # a test spec may match none in some executables
  (cd "$build/tests" && timeout 3600 "$executable" "${warn[@]}" "$@") >"$logs/$name.log" 2>&1 ||
    code=$?
  echo "$code $((SECONDS - began))" >"$logs/$name.status"
}
for executable in "${executables[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_executable "$executable" "$@" &
done
wait

status=0
for executable in "${executables[@]}"; do
  name="$(basename "$executable")"
  code=1 seconds="?"
  [ ! -f "$logs/$name.status" ] || read -r code seconds <"$logs/$name.status"
  # Catch2's last line says how many test cases and assertions passed, or which failed.
  # (none when it crashed).
  summary="$(grep -E '^(All tests passed|test cases:|No tests ran)' "$logs/$name.log" | tail -1 ||
    true)"
  if [ "$code" -eq 0 ]; then
    echo "sanitizer stage: $name passed in $seconds s: $summary"
  else
    echo "sanitizer stage: $name FAILED (status $code) in $seconds s: $summary"
    echo "---- the last 300 lines of $logs/$name.log"
    tail -300 "$logs/$name.log"
    echo "----"
    status=1
  fi
done
echo "sanitizer stage: tests $((SECONDS - tested)) s"
exit "$status"
