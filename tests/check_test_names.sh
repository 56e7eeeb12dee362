#!/usr/bin/env bash
# Catch2 test names that CTest cannot run by name: catch_discover_tests splits a name at ';'
# into entries that match nothing, and Catch reads a name starting with '-' as an option. Each
# slipped in three times and failed CI; this check names the file and line.
# Usage: tests/check_test_names.sh [TESTS_DIR]
set -euo pipefail
dir="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
bad="$(grep -nE 'TEST_CASE\("([^"]*;|[- ])' "$dir"/*.cpp || true)"
if [ -n "$bad" ]; then
  echo "check_test_names: test names CTest cannot run (a ';' inside, or a leading '-' or space):" >&2
  echo "$bad" >&2
  exit 1
fi
echo "check_test_names: $(grep -c 'TEST_CASE(' "$dir"/*.cpp | awk -F: '{s+=$2} END {print s}') test names can be run by name"
