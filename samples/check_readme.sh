#!/usr/bin/env bash
# Runs the README's commands that need no camera: every shell block marked
# `<!-- readme-test -->`, in order, in one bash session, from a scratch folder laid out like the
# repository (build/ and samples/ linked in, ../shared/data/att_faces linked to the faces), so
# the commands are checked exactly as written and nothing lands in the source tree.
# Usage: samples/check_readme.sh [BUILD_DIR] [WORK_DIR]
# Exit status: 0 all ran, 1 a command failed, 77 the AT&T faces are missing (skipped).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-${SIAMESE_BUILD_DIR:-$root/build}}" && pwd)"
if [ -n "${2:-}" ]; then
  work="$2"
  rm -rf "$work"
  mkdir -p "$work"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi

data=""
for candidate in "${SIAMESE_DATA:-}" "$root/../shared/data/att_faces"; do
  if [ -n "$candidate" ] && [ -f "$candidate/s1/1.pgm" ]; then
    data="$(cd "$candidate" && pwd)"
    break
  fi
done
if [ -z "$data" ]; then
  echo "check_readme: skipped: the AT&T faces are missing (set SIAMESE_DATA)"
  exit 77
fi

mkdir -p "$work/repo" "$work/shared/data"
ln -s "$build" "$work/repo/build"
ln -s "$root/samples" "$work/repo/samples"
ln -s "$data" "$work/shared/data/att_faces"

# The marked blocks: the fenced block that follows each marker line.
awk '/^<!-- readme-test -->$/ { marked = 1; next }
     marked == 1 && /^```/    { marked = 2; printf "\n# --- README block %d\n", ++n; next }
     marked == 2 && /^```/    { marked = 0; next }
     marked == 2              { print }' "$root/README.md" >"$work/readme-commands.sh"
blocks=$(grep -c '^# --- README block' "$work/readme-commands.sh" || true)
if [ "$blocks" -lt 1 ]; then
  echo "check_readme: no blocks marked <!-- readme-test --> in README.md" >&2
  exit 1
fi
echo "check_readme: running $blocks README blocks in $work/repo"
cd "$work/repo"
export GST_REGISTRY="$work/gst-registry.bin"  # never the user's registry
unset GST_PLUGIN_PATH
bash -e -u -o pipefail -x "$work/readme-commands.sh"
echo "check_readme: all $blocks README blocks ran"
