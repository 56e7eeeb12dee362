#!/usr/bin/env bash
# faceverify speed, beside GStreamer's opencv facedetect on the same video in the same run:
# frames/s of a 640x480 walk video with 1-2 faces per frame (faces 120-190 px) for
# detect-interval 1, 3 (the default) and 5 at two minimum face sizes (also at facedetect's pyramid step,
# scale-factor 1.25), and faces embedded per second for batch-size 1, 8 and 32
# (batch-frames the same; every frame detected, every face re-embedded on every frame).
# Prints figures and ratios; pipelines are decode ! queue ! ELEMENT ! fakesink sync=false.
# Usage: samples/bench/element_bench.sh [--model M] [--gallery DB] [--seconds S] [--repeat N]
#        [--data DIR]
#   --model MODEL  default: a one-epoch model of the default architecture trained here (speed
#                  depends on the architecture, not on the training)
#   --gallery DB   default: s1..s10 enrolled with siamese-enroll when built, else none
#   --seconds S    video length (default 20); --repeat N: best of N runs each (default 3)
#   --data DIR     the AT&T faces (default $SIAMESE_DATA, else ../shared/data/att_faces)
#   Binaries and plugin from $SIAMESE_BUILD_DIR (default build/): bin/siamese-render-walk,
#   gst-plugins/libgstsiamese.so, and bin/siamese-train, bin/siamese-enroll when needed.
set -euo pipefail
bench_name=element_bench
# shellcheck source=bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
# shellcheck source=walk_video.sh
source "$root/samples/bench/walk_video.sh"

model="" gallery="" seconds=20 reps=3 data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
bench_flags model=model gallery=gallery seconds=seconds repeat=reps data=data -- "$@"
bench_require_att "$data"
bench_require_built gst-plugins/libgstsiamese.so bin/siamese-render-walk
bench_require_gst_launch

bench_use_built_plugin
gst-inspect-1.0 facedetect >/dev/null 2>&1 || die "facedetect missing (gstreamer1.0-opencv)"

bench_render_walk "$seconds"
read -r frames faces < <(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(d["frame_count"], sum(len(f["faces"]) for f in d["frames"]))' "$work/walk.json")

if [ -z "$model" ]; then
  [ -x "$build/bin/siamese-train" ] || die "no --model and $build/bin/siamese-train not built"
  model="$work/model.pt"
  echo "training a one-epoch model for the benchmark (--model skips this)..."
  "$build/bin/siamese-train" --data "$data" --identities s11-s40 --epochs 1 --out "$model" \
    >/dev/null 2>&1 || die "siamese-train failed"
fi
if [ -z "$gallery" ] && [ -x "$build/bin/siamese-enroll" ]; then
  gallery="$work/gallery.db"
  mkdir -p "$work/people"
  for i in $(seq 1 10); do ln -s "$(cd "$data/s$i" && pwd)" "$work/people/s$i"; done
  "$build/bin/siamese-enroll" add --model "$model" --gallery "$gallery" --no-detect \
    --device cpu "$work/people" >/dev/null 2>&1 || die "siamese-enroll failed"
fi
gallery_arg=()
[ -n "$gallery" ] && gallery_arg=(gallery="$gallery")

decode=(filesrc location="$video" ! avidemux ! jpegdec ! videoconvert ! queue)
sink=(fakesink sync=false)

# run LABEL ELEMENT... : prints and remembers frames/s (wall time from PLAYING to EOS, as
# gst-launch reports it: loading the model and the cascade is not counted), the best of
# $reps runs because the machine is shared and noisy.
declare -A fps
run() {
  local label="$1"; shift
  local out="" seconds_taken="" attempt
  for attempt in $(seq 1 "$reps"); do
    local o s
    o="$(gst-launch-1.0 -m "${decode[@]}" ! "$@" ! "${sink[@]}" 2>&1)" ||
      die "pipeline failed: $*"$'\n'"$(tail -5 <<<"$o")"
    s="$(sed -n 's/.*Execution ended after \([0-9]*\):\([0-9]*\):\([0-9.]*\).*/\1 \2 \3/p' \
      <<<"$o" | awk '{print $1*3600 + $2*60 + $3}')"
    if [ -z "$seconds_taken" ] || awk -v a="$s" -v b="$seconds_taken" 'BEGIN {exit !(a < b)}'; then
      seconds_taken="$s" out="$o"
    fi
  done
  local embedded
  embedded="$(grep 'faceverify, timestamp' <<<"$out" | grep -o 'track-id' | wc -l || true)"
  fps[$label]="$(awk -v f="$frames" -v s="$seconds_taken" 'BEGIN {printf "%.1f", f / s}')"
  local per_face=""
  if [ "$embedded" -gt 0 ]; then
    per_face="$(awk -v n="$embedded" -v s="$seconds_taken" 'BEGIN {printf "%8.1f", n / s}')"
  fi
  printf '%-58s %8s %9.2f %s\n' "$label" "${fps[$label]}" \
    "$(awk -v f="$frames" -v s="$seconds_taken" 'BEGIN {print 1000 * s / f}')" "$per_face"
}

verify=(faceverify model="$model" "${gallery_arg[@]}" device=cpu)
echo "video: ${frames} frames 640x480, ${faces} faces (1-2 per frame, 120-190 px); $(nproc) CPU cores; best of $reps runs"
echo "model: $model${gallery:+, gallery: $gallery}"
printf '%-58s %8s %9s %s\n' "pipeline element" "frames/s" "ms/frame" "faces/s"
run "decode only (identity)" identity
run "facedetect, defaults (min-size 30)" videoconvert ! facedetect display=false
run "facedetect min-size 60" videoconvert ! facedetect display=false min-size-width=60 min-size-height=60
run "facedetect min-size 100" videoconvert ! facedetect display=false min-size-width=100 min-size-height=100
for min in 60 100; do
  for interval in 1 3 5; do
    run "faceverify min-face-size $min detect-interval $interval" \
      "${verify[@]}" min-face-size=$min detect-interval=$interval message=none
  done
  run "faceverify min-face-size $min detect-interval 1 scale-factor 1.25" \
    "${verify[@]}" min-face-size=$min detect-interval=1 scale-factor=1.25 message=none
done
# Faces are embedded only where detected, so every frame is detected, at the cheapest settings.
echo "embedding throughput (min 100, scale-factor 1.25, every frame detected, every face embedded):"
for b in 1 8 32; do
  run "faceverify batch-size $b batch-frames $b" "${verify[@]}" min-face-size=100 \
    detect-interval=1 scale-factor=1.25 reverify-interval=1 batch-size=$b batch-frames=$b \
    message=every-frame
done

ratio() { awk -v a="${fps[$1]}" -v b="${fps[$2]}" 'BEGIN {printf "%.2f", a / b}'; }
echo "ratios (frames/s, faceverify / facedetect at the same minimum face size):"
for min in 60 100; do
  for variant in "detect-interval 1" "detect-interval 3" "detect-interval 5" "detect-interval 1 scale-factor 1.25"; do
    printf '  min %3s, %-36s %s\n' "$min" "$variant:" \
      "$(ratio "faceverify min-face-size $min $variant" "facedetect min-size $min")"
  done
done
echo "  embedding batch 8 / batch 1: $(ratio "faceverify batch-size 8 batch-frames 8" "faceverify batch-size 1 batch-frames 1"), batch 32 / batch 1: $(ratio "faceverify batch-size 32 batch-frames 32" "faceverify batch-size 1 batch-frames 1")"
