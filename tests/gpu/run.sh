#!/usr/bin/env bash
# One script for a CUDA machine: builds the GPU parts against the LibTorch that Python's `torch`
# package ships, runs the [cuda] tests with SIAMESE_EXPECT_CUDA=ON (a skip is a failure there)
# and the GPU benchmark, and prints a report. Budget: under 8 minutes on 16 cores.
#
# The approach. The GPU machine has CUDA (nvcc), PyTorch, a compiler, CMake and ninja, but no
# OpenCV, SQLite, nlohmann-json or Catch2 development files and no network. Rather than a second,
# reduced build of the core, the normal build runs there with those few dependencies carried
# along: tests/gpu/prepare.sh, run on a development machine, gathers them into build-gpu-carry/
# (headers, Debian's libopencv_core/imgproc with what they load, a small OpenCVConfig.cmake,
# Catch2/nlohmann configs, libsqlite3, the AT&T faces; about 40 MiB). siamese_core compiles in
# full from the carried headers; its static archive only lends the test and the benchmark the
# objects they use, none of which needs imgcodecs or objdetect, so only core and imgproc are
# linked. The plugin is off (no GStreamer there); samples are off (some need GStreamer at
# configure); gpu_bench is defined by tests/CMakeLists.txt in that case.
#
#   here:        tests/gpu/prepare.sh
#   GPU machine: tests/gpu/run.sh            (with build-gpu-carry/ beside tests/)
#
# Environment (all optional): SIAMESE_GPU_CARRY (default <repo>/build-gpu-carry),
# SIAMESE_GPU_BUILD (default <repo>/build-gpu), SIAMESE_GPU_REPORT (a file to copy the report to),
# PYTHON (default python3), TORCH_CMAKE_PREFIX (skip asking Python), SIAMESE_EXPECT_CUDA (ON),
# BENCH_ARGS (extra gpu_bench flags, e.g. --quick), SIAMESE_GPU_BUILD_TIMEOUT (360 s).
# A rehearsal on a machine without a GPU (checks the carried dependencies and the build; the
# tests skip and the benchmark stops at once):
#   TORCH_CMAKE_PREFIX=/usr SIAMESE_EXPECT_CUDA=OFF SIAMESE_GPU_BUILD_TIMEOUT=3000 \
#     SIAMESE_GPU_BUILD=build-gpu-rehearsal tests/gpu/run.sh
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
carry="${SIAMESE_GPU_CARRY:-$root/build-gpu-carry}"
build="${SIAMESE_GPU_BUILD:-$root/build-gpu}"
python="${PYTHON:-python3}"
expect_cuda="${SIAMESE_EXPECT_CUDA:-ON}"
report="$build/gpu-report.txt"
t_start=$SECONDS

die() { echo "run.sh: error: $*" >&2; exit 1; }
step() { echo; echo "=== $* ($((SECONDS - t_start)) s)"; }

[[ -f "$carry/deps/lib/cmake/opencv4/OpenCVConfig.cmake" ]] ||
  die "$carry is missing or incomplete: run tests/gpu/prepare.sh on a development machine and carry build-gpu-carry/ here"
mkdir -p "$build"

# ---- what this machine has ----------------------------------------------------------------
step "machine"
if [[ -n "${TORCH_CMAKE_PREFIX:-}" ]]; then
  torch_prefix="$TORCH_CMAKE_PREFIX"
  torch_version="(from TORCH_CMAKE_PREFIX)"
  abi=1
else
  torch_prefix="$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')" ||
    die "$python cannot import torch (set PYTHON or TORCH_CMAKE_PREFIX)"
  torch_version="$("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
  # PyTorch wheels were long built with the pre-C++11 ABI; everything linked with them must match.
  abi="$("$python" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
fi
nvcc="${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
[[ -x "$nvcc" ]] || die "no nvcc (set CUDACXX)"
python_bin="$(dirname "$("$python" -c 'import sys; print(sys.executable)' 2>/dev/null || echo /usr/bin/python3)")"
export PATH="$python_bin:$PATH"  # pip's cmake and ninja live beside Python
command -v cmake >/dev/null || die "no cmake on PATH"
generator=(); command -v ninja >/dev/null && generator=(-G Ninja)
gpu="$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>/dev/null | head -1)"
cap="$(echo "$gpu" | awk -F', ' '{print $3}' | tr -d '.')"
archs="${cap:-90}"
echo "GPU:      ${gpu:-unknown (nvidia-smi failed)}"
echo "PyTorch:  $torch_version, cmake prefix $torch_prefix, _GLIBCXX_USE_CXX11_ABI=$abi"
echo "nvcc:     $("$nvcc" --version | tail -1)"
echo "compiler: $(c++ --version | head -1); cmake $(cmake --version | head -1 | awk '{print $3}')"
echo "glibc:    $(ldd --version | head -1)"
[[ "$abi" == 1 ]] || echo "run.sh: warning: pre-C++11-ABI LibTorch: the carried OpenCV uses the C++11 ABI; only functions without std::string parameters are linked, which is what the GPU targets use"
cxx_std=()
if "$python" -c 'import sys, torch; v = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]); sys.exit(0 if v >= (2, 12) else 1)' 2>/dev/null; then
  # LibTorch >= 2.12 headers need C++20; this takes effect once the top CMakeLists.txt sets
  # CMAKE_CXX_STANDARD only when it is not given.
  cxx_std=(-DCMAKE_CXX_STANDARD=20)
fi

# ---- build -------------------------------------------------------------------------------
step "configure"
export LD_LIBRARY_PATH="$carry/deps/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[[ -n "$cap" ]] && export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-${cap:0:1}.${cap:1}}"
timeout 240 cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$carry/deps;$torch_prefix" \
  -DOpenCV_DIR="$carry/deps/lib/cmake/opencv4" -DCatch2_DIR="$carry/deps/lib/cmake/Catch2" \
  -Dnlohmann_json_DIR="$carry/deps/share/cmake/nlohmann_json" \
  -DSQLite3_INCLUDE_DIR="$carry/deps/include" -DSQLite3_LIBRARY="$carry/deps/lib/libsqlite3.so" \
  -DCMAKE_CUDA_COMPILER="$nvcc" -DSIAMESE_CUDA_KERNELS=ON -DSIAMESE_CUDA_ARCHITECTURES="$archs" \
  -DCMAKE_CXX_FLAGS="-D_GLIBCXX_USE_CXX11_ABI=$abi" "${cxx_std[@]}" \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,--disable-new-dtags" \
  -DSIAMESE_BUILD_PLUGIN=OFF -DSIAMESE_BUILD_SAMPLES=OFF -DSIAMESE_BUILD_TESTS=ON \
  -DSIAMESE_EXPECT_CUDA="$expect_cuda" > "$build/configure.log" 2>&1
rc=$?
grep -E "^-- siamese:|Caffe2|CUDA" "$build/configure.log" | head -20
[[ $rc == 0 ]] || { tail -40 "$build/configure.log"; die "configure failed (log: $build/configure.log)"; }

step "build test_cuda gpu_bench"
keep_going=(); [[ ${#generator[@]} -gt 0 ]] && keep_going=(-- -k 0)  # every error in one run
timeout "${SIAMESE_GPU_BUILD_TIMEOUT:-360}" cmake --build "$build" --target test_cuda gpu_bench \
  -j"$(nproc)" "${keep_going[@]}" > "$build/build.log" 2>&1
rc=$?
[[ $rc == 0 ]] || { grep -E "error|Error" -A3 "$build/build.log" | head -60; die "build failed (log: $build/build.log)"; }
echo "built in $((SECONDS - t_start)) s"

# ---- tests and benchmark ------------------------------------------------------------------
export SIAMESE_DATA="${SIAMESE_DATA:-$carry/att_faces}"
step "[cuda] tests (SIAMESE_EXPECT_CUDA=$expect_cuda)"
timeout 240 "$build/bin/test_cuda" --durations yes 2>&1 | tee "$build/test_cuda.log"
tests_rc=${PIPESTATUS[0]}

step "gpu_bench"
# shellcheck disable=SC2086
timeout 240 "$build/bin/gpu_bench" ${BENCH_ARGS:-} 2>&1 | tee "$build/gpu_bench.log"
bench_rc=${PIPESTATUS[0]}

# ---- report ------------------------------------------------------------------------------
{
  echo "gst-siamese GPU report — $(date -u '+%Y-%m-%d %H:%M UTC'), $((SECONDS - t_start)) s"
  echo "GPU: ${gpu:-unknown}; PyTorch $torch_version; $("$nvcc" --version | tail -1)"
  echo
  echo "[cuda] tests: $([[ $tests_rc == 0 ]] && echo PASSED || echo "FAILED (exit $tests_rc)")"
  grep -E "^(All tests passed|test cases:|assertions:)" "$build/test_cuda.log" || true
  grep -E "^[0-9.]+ s: " "$build/test_cuda.log" || true
  echo
  echo "gpu_bench: $([[ $bench_rc == 0 ]] && echo OK || echo "FAILED (exit $bench_rc)")"
  cat "$build/gpu_bench.log"
} > "$report"
step "report"
cat "$report"
[[ -n "${SIAMESE_GPU_REPORT:-}" ]] && cp "$report" "$SIAMESE_GPU_REPORT"
[[ $tests_rc == 0 && $bench_rc == 0 ]]
