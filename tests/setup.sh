#!/usr/bin/env bash
# Shared set-up for tests/run.sh and samples/demo.sh: installs the Debian packages the project
# needs (only those missing), fetches the pinned pretrained weights once (tests/fetch_weights.sh),
# then configures and builds into build/ (or $SIAMESE_BUILD_DIR). Safe to run again. Extra CMake
# arguments: $SIAMESE_CMAKE_ARGS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SIAMESE_BUILD_DIR:-$root/build}"

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread
  libopencv-dev opencv-data
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-opencv
  catch2 libsqlite3-dev nlohmann-json3-dev clang-format postgresql libpq-dev
  libmosquitto-dev mosquitto libsoup-3.0-dev libgpiod-dev libtomlplusplus-dev
  libgloo-dev libfaiss-dev libdlib-dev
  python3-torch python3-torchvision
  npm chromium glib-networking openssl
)

missing=()
for p in "${packages[@]}"; do
  # An npm already on the PATH (e.g. NodeSource's, which conflicts with Debian's) will do.
  [ "$p" = npm ] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The pretrained face-api package (dlib's face ResNet): fetched and checked once, cached outside
# git. Offline, the build goes on and the tests that need the weights skip, saying why.
"$root/tests/fetch_weights.sh" ||
  echo "setup: warning: pretrained weights not fetched; run tests/fetch_weights.sh when online" >&2

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release ${SIAMESE_CMAKE_ARGS:-}
fi
cmake --build "$build" -j "$(nproc)"
