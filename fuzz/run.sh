#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/CMakeLists.txt) with clang into build-fuzz/ and runs each
# for SECONDS, one after the other, then prints per target the executions, exec/s, corpus size
# and what it found. Every crash, timeout, out-of-memory or leak input is written to
# fuzz/regressions/TARGET/ (commit it: tests/test_fuzz_regressions.cpp replays those folders in
# the normal build). Installs clang and libFuzzer with apt-get when they are missing.
#
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   (default 60 s; targets: model_file gallery image
#                                             bus_json tfjs_manifest; default all)
# Environment: SIAMESE_FUZZ_BUILD_DIR (default build-fuzz/), SIAMESE_FUZZ_JOBS (build jobs,
#   default nproc), SIAMESE_FUZZ_LEAKS=1 (check leaks too; slower). The corpus grows run after
#   run in BUILD/fuzz-corpus/TARGET.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SIAMESE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-60}"
[ $# -eq 0 ] || shift
all_targets=(model_file gallery image bus_json tfjs_manifest)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
die() { echo "fuzz/run.sh: $*" >&2; exit 1; }
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || die "SECONDS must be a whole number > 0, not '$seconds'"
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || die "unknown target '$t' (one of ${all_targets[*]})"
done

# 1. clang with libFuzzer (Debian 12: clang-14 and libfuzzer-14-dev).
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' \
  >"$probe/p.cpp"
if ! clang++ -fsanitize=fuzzer,address "$probe/p.cpp" -o "$probe/p" 2>/dev/null; then
  echo "fuzz/run.sh: installing clang and libFuzzer"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends \
    clang libfuzzer-14-dev
  clang++ -fsanitize=fuzzer,address "$probe/p.cpp" -o "$probe/p" ||
    die "clang++ cannot link -fsanitize=fuzzer (is libfuzzer-14-dev installed?)"
fi

# 2. Build: our sources with coverage, ASan and UBSan; only what the fuzzers need.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" "${generator[@]}" "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIAMESE_BUILD_FUZZERS=ON -DSIAMESE_BUILD_TESTS=OFF \
    -DSIAMESE_BUILD_SAMPLES=OFF -DSIAMESE_BUILD_PLUGIN=OFF -DSIAMESE_CUDA_KERNELS=OFF
fi
cmake --build "$build" -j "${SIAMESE_FUZZ_JOBS:-$(nproc)}" --target fuzz_seeds \
  "${targets[@]/#/fuzz_}"

# 3. Seeds (regenerated each run: they follow the readers' formats). Leaks are checked only
#    with SIAMESE_FUZZ_LEAKS=1, and then stacks are unwound slowly (LibTorch and GLib have no
#    frame pointers; a leak's stack must reach the third-party function lsan.supp names): about
#    10x fewer executions per second for the model, gallery and image readers.
leaks="${SIAMESE_FUZZ_LEAKS:-0}"
if [ "$leaks" = 1 ]; then
  export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:${ASAN_OPTIONS:-}"
else
  export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}"
fi
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
export TMPDIR="$build/fuzz-tmp" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
rm -rf "$build/fuzz-seeds" "$TMPDIR"
mkdir -p "$TMPDIR"
cat "$root/tests/sanitizers/lsan.supp" "$root/fuzz/lsan.supp" >"$build/lsan.supp"
export LSAN_OPTIONS="suppressions=$build/lsan.supp:print_suppressions=0"
"$build/bin/fuzz_seeds" "$build/fuzz-seeds" "${targets[@]}" >/dev/null
python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3  # Debian's, with python3-torch
if [[ " ${targets[*]} " == *" model_file "* ]] && "$python" -c 'import torch' 2>/dev/null; then
  # A TorchScript branch with its facts as the extra file siamese.json, as PyTorch exports it
  # (torch.jit.script reads the class's source: a file, not stdin).
  cat >"$TMPDIR/script_seed.py" <<'EOF'
import json, sys, torch
class Branch(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(16, 4)
    def forward(self, x):
        x = torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)
        return torch.nn.functional.normalize(self.fc(x), dim=1)
facts = {"input": {"channels": 1, "height": 16, "width": 16, "scale": 1 / 255, "mean": [0.5],
                   "std": [0.5]}, "embedding_size": 4, "normalized": True, "threshold": 0.8}
torch.jit.save(torch.jit.script(Branch()), sys.argv[1],
               _extra_files={"siamese.json": json.dumps(facts)})
EOF
  "$python" "$TMPDIR/script_seed.py" "$build/fuzz-seeds/model_file/script.pt" ||
    echo "(no TorchScript seed)"
fi

# 4. Run each target; fork mode keeps going after a finding and writes each one as an artifact.
declare -A max_len=([model_file]=131072 [gallery]=65536 [image]=16384 [bus_json]=65536
                    [tfjs_manifest]=16384)
report="$build/fuzz-report.txt"
printf '%-11s %12s %8s %8s %8s  %s\n' target executions exec/s corpus found "new inputs" >"$report"
for t in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$t" regressions="$root/fuzz/regressions/$t"
  mkdir -p "$corpus" "$regressions"
  before="$(ls "$regressions" | sort)"
  log="$build/fuzz-$t.log"
  echo "== fuzz_$t for $seconds s (log: $log)"
  "$build/bin/fuzz_$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -max_len="${max_len[$t]}" \
    -artifact_prefix="$regressions/" -print_final_stats=1 -detect_leaks="$leaks" \
    "$corpus" "$build/fuzz-seeds/$t" >"$log" 2>&1 || true
  # The last status line of fork mode: "#N: cov: C ft: F corp: K exec/s E oom/timeout/crash:
  # O/T/X time: S job: J dft_time: D".
  status="$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)"
  execs="$(sed -nE 's/^#([0-9]+):.*/\1/p' <<<"$status")"
  rate="$(sed -nE 's/.* exec\/s:? ([0-9]+).*/\1/p' <<<"$status")"
  found="$(sed -nE 's/.* oom\/timeout\/crash: ([0-9]+\/[0-9]+\/[0-9]+).*/\1/p' <<<"$status")"
  new="$(comm -13 <(echo "$before") <(ls "$regressions" | sort) | tr '\n' ' ')"
  printf '%-11s %12s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" \
    "$(find "$corpus" -type f | wc -l)" "${found:-?}" "${new:-none}" >>"$report"
  if grep -q "ERROR: libFuzzer\|ERROR: AddressSanitizer\|runtime error:" "$log"; then
    grep -m3 -E "ERROR: (libFuzzer|AddressSanitizer)|runtime error:" "$log" | sed 's/^/   /'
  fi
done
echo
echo "found = out-of-memory/timeout/crash counts; new inputs are in fuzz/regressions/TARGET/"
cat "$report"
