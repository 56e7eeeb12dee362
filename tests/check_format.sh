#!/usr/bin/env bash
# Every C++ source of the project must read as clang-format writes it (.clang-format at the top):
# names each file that does not, and the command that fixes it.
# Usage: tests/check_format.sh [REPO_ROOT]
set -euo pipefail
root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
format="$(command -v clang-format || command -v clang-format-14 || true)"
if [ -z "$format" ]; then
  echo "check_format: clang-format is not installed (tests/setup.sh installs it)" >&2
  exit 1
fi
cd "$root"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -- '*.cpp' '*.h' '*.hpp' '*.cu')
else  # an unpacked source archive
  mapfile -t files < <(find . -path ./build\* -prune -o \( -name '*.cpp' -o -name '*.h' \
    -o -name '*.hpp' -o -name '*.cu' \) -print | sed 's|^\./||')
fi
present=()
for f in "${files[@]}"; do if [ -f "$f" ]; then present+=("$f"); fi; done
# One clang-format for all files (one per file cost a minute of CI); each complaint starts with
# "FILE:LINE:COLUMN: error:".
format_status=0
complaints="$("$format" --style=file --dry-run -Werror "${present[@]}" 2>&1 >/dev/null)" ||
  format_status=$?
mapfile -t bad < <(sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: .*/\1/p' <<<"$complaints" | sort -u)
if [ "$format_status" -ne 0 ] && [ ${#bad[@]} -eq 0 ]; then
  echo "check_format: $format failed (status $format_status):" >&2
  echo "$complaints" >&2
  exit 1
fi
if [ ${#bad[@]} -gt 0 ]; then
  echo "check_format: ${#bad[@]} of ${#files[@]} files are not formatted; fix with:" >&2
  echo "  $format -i --style=file ${bad[*]}" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
