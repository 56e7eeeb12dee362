#!/usr/bin/env bash
# model_fps.sh: frames/s of faceverify at its defaults (every property left alone, as the demo
# runs it) on the benchmarks' 640x480 walk video, for two or more models in one interleaved run
# (model A, B, A, B, ...: the shared machine's load falls on all alike), each with s1..s10
# enrolled from images 1-5 as the demo enrolls them. Also decode alone, for the pipeline's floor.
# Usage: samples/bench/model_fps.sh [--seconds S] [--repeat N] MODEL...
#   --seconds S  video length (default 20); --repeat N: runs per model (default 3)
# Environment: SIAMESE_DATA (the AT&T faces), SIAMESE_BUILD_DIR (default build/).
set -euo pipefail
bench_name=model_fps
# shellcheck source=bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
# shellcheck source=walk_video.sh
source "$root/samples/bench/walk_video.sh"
seconds=20 reps=3
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --repeat) reps="$2"; shift 2 ;;
    -h|--help) bench_help; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) models+=("$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"); shift ;;
  esac
done
((${#models[@]})) || die "name at least one model file"
bench_require_att "$data"
bench_require_built gst-plugins/libgstsiamese.so
bench_use_built_plugin
bench_render_walk "$seconds"
frames="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["frame_count"])' \
  "$work/walk.json")"

mkdir -p "$work/people"
for i in $(seq 1 10); do
  mkdir -p "$work/people/s$i"
  for k in 1 2 3 4 5; do ln -s "$data/s$i/$k.pgm" "$work/people/s$i/"; done
done
for m in "${!models[@]}"; do
  "$build/bin/siamese-enroll" add --model "${models[$m]}" --gallery "$work/gallery$m.db" \
    --min-face-size 40 --largest-face "$work/people" >/dev/null 2>&1 ||
    die "siamese-enroll failed for ${models[$m]}"
done

# Seconds from PLAYING to EOS as gst-launch reports them (model loading not counted).
run_seconds() {
  local o
  o="$(gst-launch-1.0 filesrc location="$video" ! avidemux ! jpegdec ! videoconvert ! queue ! \
       "$@" ! fakesink sync=false 2>&1)" || die "pipeline failed: $*"$'\n'"$(tail -5 <<<"$o")"
  sed -n 's/.*Execution ended after \([0-9]*\):\([0-9]*\):\([0-9.]*\).*/\1 \2 \3/p' <<<"$o" |
    awk '{print $1*3600 + $2*60 + $3}'
}
fps_of() { awk -v f="$frames" -v s="$1" 'BEGIN {printf "%.1f", f / s}'; }

echo "video: $frames frames 640x480 (s1..s10 and 5 strangers, often two at once); $(nproc) CPU cores; $reps interleaved runs"
declare -A runs
for rep in $(seq 1 "$reps"); do
  runs[decode]+=" $(fps_of "$(run_seconds identity)")"
  for m in "${!models[@]}"; do
    runs[$m]+=" $(fps_of "$(run_seconds faceverify model="${models[$m]}" \
      gallery="$work/gallery$m.db")")"
  done
done
summary() {  # label, then the frames/s of each run
  local label="$1"; shift
  printf '%-44s runs:%s  median %s\n' "$label" "$(printf ' %s' "$@")" \
    "$(printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')"
}
# shellcheck disable=SC2086
summary "decode only (identity)" ${runs[decode]}
for m in "${!models[@]}"; do
  # shellcheck disable=SC2086
  summary "faceverify, $(basename "${models[$m]}")" ${runs[$m]}
done
