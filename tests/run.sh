#!/usr/bin/env bash
# The test command: set up (Debian packages, build) and run the whole Catch2 suite with CTest.
# Usage: tests/run.sh [extra ctest arguments, e.g. -L core or -LE slow]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/tests/setup.sh"
cd "${SIAMESE_BUILD_DIR:-$root/build}"
ctest --output-on-failure --timeout 1800 "$@"
