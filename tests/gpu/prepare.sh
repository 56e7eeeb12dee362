#!/usr/bin/env bash
# Run HERE (a Debian development machine with the project's dependencies installed): gathers into
# build-gpu-carry/ (ignored by git; about 25 MiB) what tests/gpu/run.sh needs on a CUDA machine that
# has CUDA, PyTorch (whose package holds LibTorch), a C++ compiler, CMake and ninja, but no OpenCV,
# SQLite, nlohmann-json or Catch2 development files and no network:
#   deps/include/    OpenCV 4 headers (all: siamese_core compiles every source), catch2/,
#                    nlohmann/, sqlite3.h
#   deps/lib/        libopencv_core and libopencv_imgproc with the libraries they load (all but
#                    glibc, libstdc++, libgcc_s and zlib; the reference BLAS/LAPACK instead of
#                    OpenBLAS, to stay small), libsqlite3, Catch2's static main
#   deps/lib/cmake/opencv4/OpenCVConfig.cmake  a small config declaring those two libraries
#                    (the GPU build links only code that needs core and imgproc: the static
#                    archive never pulls in the detector or the image reader)
#   deps/lib/cmake/Catch2, deps/share/cmake/nlohmann_json  Debian's package configs
#   att_faces/       the AT&T faces (SIAMESE_DATA for the tests)
# Usage: tests/gpu/prepare.sh [DEST]   (DEST defaults to <repo>/build-gpu-carry)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dest="${1:-$root/build-gpu-carry}"
multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
libdir="/usr/lib/$multiarch"
data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"

die() { echo "prepare.sh: error: $*" >&2; exit 1; }
for f in /usr/include/opencv4/opencv2/core.hpp /usr/include/catch2/catch.hpp \
         /usr/include/nlohmann/json.hpp /usr/include/sqlite3.h \
         /usr/lib/cmake/Catch2/Catch2Config.cmake \
         /usr/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake; do
  [[ -e "$f" ]] || die "$f is missing (run tests/setup.sh first)"
done
[[ -e "$libdir/libopencv_core.so" ]] || die "no libopencv_core.so in $libdir"
cv_soname="$(objdump -p "$libdir/libopencv_core.so" | awk '$1 == "SONAME" {print $2}')"
cv_soversion="${cv_soname##*.so.}"  # libopencv_core.so.406 -> 406

rm -rf "$dest"
mkdir -p "$dest/deps/include" "$dest/deps/lib/cmake/opencv4" "$dest/deps/share/cmake"

# Headers and package configs.
cp -a /usr/include/opencv4 /usr/include/catch2 /usr/include/nlohmann "$dest/deps/include/"
cp -a /usr/include/sqlite3.h /usr/include/sqlite3ext.h "$dest/deps/include/"
cp -a /usr/lib/cmake/Catch2 "$dest/deps/lib/cmake/"
[[ -e /usr/lib/libCatch2WithMain.a ]] && cp -a /usr/lib/libCatch2WithMain.a "$dest/deps/lib/"
cp -a /usr/share/cmake/nlohmann_json "$dest/deps/share/cmake/"

# Libraries: OpenCV core + imgproc and everything they load except the C/C++ runtime and zlib,
# which every Linux with a compiler has. ldd resolves libblas/liblapack to the reference builds.
ref_path="$libdir/lapack:$libdir/blas"
libs=("$libdir/libopencv_core.so.$cv_soversion" "$libdir/libopencv_imgproc.so.$cv_soversion"
      "$(readlink -f "$libdir/libsqlite3.so.0")")
for lib in "${libs[@]}"; do
  cp -L "$lib" "$dest/deps/lib/$(basename "$lib")"
  LD_LIBRARY_PATH="$ref_path" ldd "$lib" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r soname path; do
  case "$soname" in
    libc.so.*|libm.so.*|libstdc++.so.*|libgcc_s.so.*|ld-linux*|libz.so.*|libpthread.so.*|\
    libdl.so.*|librt.so.*) continue ;;
  esac
  cp -L "$path" "$dest/deps/lib/$soname"
done
mv "$dest/deps/lib/$(basename "$(readlink -f "$libdir/libsqlite3.so.0")")" "$dest/deps/lib/libsqlite3.so.0"
ln -s libsqlite3.so.0 "$dest/deps/lib/libsqlite3.so"

cat > "$dest/deps/lib/cmake/opencv4/OpenCVConfig.cmake" <<EOF
# Written by tests/gpu/prepare.sh: OpenCV core and imgproc as carried from a Debian machine.
# Other components count as found but add nothing: the GPU build links only code that needs
# core and imgproc.
get_filename_component(_cv_root "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(OpenCV_VERSION $(pkg-config --modversion opencv4 2>/dev/null || echo 4))
set(OpenCV_INCLUDE_DIRS "\${_cv_root}/include/opencv4")
foreach(_m core imgproc)
  if(NOT TARGET opencv_\${_m})
    add_library(opencv_\${_m} SHARED IMPORTED)
    set_target_properties(opencv_\${_m} PROPERTIES
      IMPORTED_LOCATION "\${_cv_root}/lib/libopencv_\${_m}.so.$cv_soversion"
      IMPORTED_SONAME "libopencv_\${_m}.so.$cv_soversion"
      INTERFACE_INCLUDE_DIRECTORIES "\${_cv_root}/include/opencv4")
  endif()
endforeach()
set(OpenCV_LIBS opencv_core opencv_imgproc)
foreach(_c \${OpenCV_FIND_COMPONENTS})
  set(OpenCV_\${_c}_FOUND TRUE)
endforeach()
set(OpenCV_FOUND TRUE)
EOF

# The faces the [cuda] tests embed.
if [[ -d "$data/s1" ]]; then
  cp -a "$data" "$dest/att_faces"
else
  echo "prepare.sh: note: no AT&T faces at $data; the tests will use synthetic faces" >&2
fi

echo "prepare.sh: wrote $dest ($(du -sh "$dest" | cut -f1)); carry it to the GPU machine and run"
echo "  tests/gpu/run.sh   (it looks for build-gpu-carry/ in the repository, or SIAMESE_GPU_CARRY)"
