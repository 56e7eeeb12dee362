#!/usr/bin/env bash
# faceverify with 1, 2 and 4 streams in ONE pipeline (one branch per stream, all elements sharing
# one model through model-instance-id), beside GStreamer's opencv facedetect with as many
# branches, on the same walk video (640x480, 1-2 faces of 120-190 px per frame), in one run:
# frames/s of all streams together (wall time from PLAYING to EOS, as gst-launch reports it)
# and per-frame latency of the element, median and p99 (GStreamer's latency tracer with
# flags=element: time from a buffer entering the element to it leaving; a queue sits before
# each element so upstream work is not counted).
# Branch: filesrc ! avidemux ! jpegdec ! videoconvert ! queue ! ELEMENT ! fakesink sync=false
# Usage: samples/bench/streams_bench.sh [--model M] [--gallery DB] [--seconds S] [--data DIR]
#   --model M     default: an untrained model of the default architecture (bench_fixtures;
#                 speed depends on the architecture, not on the weights)
#   --gallery DB  default: 1000 random embeddings bound to the model (bench_fixtures)
#   --seconds S   video length (default 10 s at 25 frames/s)
#   --data DIR    the AT&T faces (default $SIAMESE_DATA, else ../shared/data/att_faces)
#   Binaries and plugin from $SIAMESE_BUILD_DIR (default build/): bin/siamese-render-walk,
#   bin/bench_fixtures, gst-plugins/libgstsiamese.so.
set -euo pipefail
bench_name=streams_bench
# shellcheck source=bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
# shellcheck source=walk_video.sh
source "$root/samples/bench/walk_video.sh"

model="" gallery="" seconds=10 data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
bench_flags model=model gallery=gallery seconds=seconds data=data -- "$@"
bench_require_att "$data"
bench_require_built gst-plugins/libgstsiamese.so bin/siamese-render-walk bin/bench_fixtures
bench_require_gst_launch

bench_use_built_plugin
gst-inspect-1.0 facedetect >/dev/null 2>&1 || die "facedetect missing (gstreamer1.0-opencv)"

bench_render_walk "$seconds"
frames="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frame_count"])' "$work/walk.json")"
if [ -z "$model" ]; then
  model="$work/model.pt"
  "$build/bin/bench_fixtures" model "$model" >/dev/null
fi
if [ -z "$gallery" ]; then
  gallery="$work/gallery.db"
  "$build/bin/bench_fixtures" gallery "$gallery" --model "$model" --count 1000 >/dev/null
fi

# run LABEL STREAMS ELEMENT... : one pipeline with STREAMS branches; prints frames/s (all
# streams) and the element's per-frame latency (median, p99 in ms over every frame).
declare -A fps
run() {
  local label="$1" streams="$2"; shift 2
  local branches=() i
  for i in $(seq 1 "$streams"); do
    branches+=(filesrc location="$video" ! avidemux ! jpegdec ! videoconvert ! queue ! "$@" !
               fakesink sync=false)
  done
  local out
  out="$(GST_DEBUG_NO_COLOR=1 GST_TRACERS='latency(flags=element)' GST_DEBUG='GST_TRACER:7' \
    gst-launch-1.0 "${branches[@]}" 2>"$work/trace.txt")" ||
    die "pipeline failed: $*"$'\n'"$(tail -5 "$work/trace.txt")"
  local s
  s="$(sed -n 's/.*Execution ended after \([0-9]*\):\([0-9]*\):\([0-9.]*\).*/\1 \2 \3/p' \
    <<<"$out" | awk '{print $1*3600 + $2*60 + $3}')"
  fps[$label]="$(awk -v f="$frames" -v n="$streams" -v s="$s" 'BEGIN {printf "%.1f", f * n / s}')"
  local element="$1"
  read -r median p99 count < <(grep -o "element-latency, .*element=(string)${element}[0-9]*, .*time=(guint64)[0-9]*" \
      "$work/trace.txt" | sed 's/.*time=(guint64)//' | sort -n | awk '
      { v[NR] = $1 }
      END { if (NR == 0) { print "- - 0"; exit }
            m = int((NR + 1) / 2); p = int(0.99 * NR); if (p < 1) p = 1;
            printf "%.2f %.2f %d\n", v[m] / 1e6, v[p] / 1e6, NR }')
  printf '%-44s %7s %9s %9s %9s %7s\n' "$label" "$streams" "${fps[$label]}" "$median" "$p99" "$count"
}

echo "video: $frames frames 640x480 per stream (1-2 faces of 120-190 px); $(nproc) CPU cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "model: $model; gallery: $gallery"
printf '%-44s %7s %9s %9s %9s %7s\n' "element" "streams" "frames/s" "p50 ms" "p99 ms" "frames"
verify=(faceverify model="$model" gallery="$gallery" device=cpu min-face-size=100 message=none
        model-instance-id=bench)
for n in 1 2 4; do
  run "facedetect min-size 100 ($n)" "$n" facedetect display=false min-size-width=100 \
    min-size-height=100
  run "faceverify detect-interval 1 ($n)" "$n" "${verify[@]}" detect-interval=1
  run "faceverify detect-interval 5 ($n)" "$n" "${verify[@]}" detect-interval=5
done
ratio() { awk -v a="${fps[$1]}" -v b="${fps[$2]}" 'BEGIN {printf "%.2f", a / b}'; }
echo "ratios (frames/s, faceverify / facedetect with as many streams):"
for n in 1 2 4; do
  printf '  %d stream(s): detect-interval 1 %s, detect-interval 5 %s\n' "$n" \
    "$(ratio "faceverify detect-interval 1 ($n)" "facedetect min-size 100 ($n)")" \
    "$(ratio "faceverify detect-interval 5 ($n)" "facedetect min-size 100 ($n)")"
done
