#!/usr/bin/env bash
# faceverify's detectors in the element: frames/s of a 640x480 walk video (1-2 faces per frame,
# 120-190 px) for detector=haar, detector=hog and detector=cnn (input 416 and 320) at
# detect-interval 1 and 3, beside GStreamer's opencv facedetect at the same minimum face size,
# in one interleaved run (every pipeline once per round, rounds repeated; the best round of each
# is printed, because the machine is shared). Pipelines are decode ! queue ! ELEMENT ! fakesink sync=false.
# Usage: samples/bench/detector_element_bench.sh [--model M] [--video AVI] [--seconds S]
#        [--rounds N] [--min-size PX] [--threads N] [--data DIR]
#   --model MODEL  default: a one-epoch model of the default architecture trained here
#   --video AVI    a walk already rendered, with its truth file AVI's name .json beside it (else
#                  siamese-render-walk renders one of S seconds)
#   --min-size PX  min-face-size and facedetect's min-size (default 60)
#   --threads N    faceverify's threads property (default 2)
#   Binaries and plugin from $SIAMESE_BUILD_DIR (default build/). The CNN needs the weights of
#   tests/fetch_weights.sh; hog, a build with libdlib-dev.
set -euo pipefail
bench_name=detector_element_bench
# shellcheck source=bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
# shellcheck source=walk_video.sh
source "$root/samples/bench/walk_video.sh"

model="" video="" seconds=20 rounds=3 min=60 threads=2
data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
bench_flags model=model video=video seconds=seconds rounds=rounds min-size=min threads=threads \
  data=data -- "$@"
bench_require_built gst-plugins/libgstsiamese.so
bench_require_gst_launch
bench_use_built_plugin
gst-inspect-1.0 facedetect >/dev/null 2>&1 || die "facedetect missing (gstreamer1.0-opencv)"

if [ -z "$video" ]; then
  bench_require_att "$data"
  bench_require_built bin/siamese-render-walk
  bench_render_walk "$seconds"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
truth="${video%.*}.json"  # siamese-render-walk's --truth beside the video
[ -f "$truth" ] || die "$truth missing (the walk's --truth file, beside the video)"
frames="$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["frame_count"])' "$truth")"
[ "$frames" -gt 0 ] || die "cannot count the frames of $video"

if [ -z "$model" ]; then
  [ -x "$build/bin/siamese-train" ] || die "no --model and $build/bin/siamese-train not built"
  model="$work/model.pt"
  echo "training a one-epoch model for the benchmark (--model skips this)..."
  "$build/bin/siamese-train" --data "$data" --identities s11-s40 --epochs 1 --out "$model" \
    >/dev/null 2>&1 || die "siamese-train failed"
fi

decode=(filesrc location="$video" ! avidemux ! jpegdec ! videoconvert ! queue)
verify=(faceverify model="$model" device=cpu threads="$threads" min-face-size="$min" message=none)
labels=()
declare -A pipes best
add() { labels+=("$1"); pipes[$1]="$2"; }
add "facedetect min-size $min" "videoconvert ! facedetect display=false min-size-width=$min min-size-height=$min"
for interval in 1 3; do
  add "faceverify haar detect-interval $interval" "${verify[*]} detector=haar detect-interval=$interval"
  add "faceverify hog detect-interval $interval" "${verify[*]} detector=hog detect-interval=$interval"
  add "faceverify cnn 416 detect-interval $interval" "${verify[*]} detector=cnn detect-interval=$interval"
  add "faceverify cnn 320 detect-interval $interval" "${verify[*]} detector=cnn detector-input-size=320 detect-interval=$interval"
done

seconds_of() {
  sed -n 's/.*Execution ended after \([0-9]*\):\([0-9]*\):\([0-9.]*\).*/\1 \2 \3/p' |
    awk '{print $1*3600 + $2*60 + $3}'
}
for round in $(seq 1 "$rounds"); do
  for label in "${labels[@]}"; do
    # shellcheck disable=SC2086
    o="$(gst-launch-1.0 "${decode[@]}" ! ${pipes[$label]} ! fakesink sync=false 2>&1)" ||
      die "pipeline failed: ${pipes[$label]}"$'\n'"$(tail -5 <<<"$o")"
    s="$(seconds_of <<<"$o")"
    fps="$(awk -v f="$frames" -v s="$s" 'BEGIN {printf "%.1f", f / s}')"
    echo "round $round: $label: $fps frames/s"
    if [ -z "${best[$label]:-}" ] || awk -v a="$fps" -v b="${best[$label]}" 'BEGIN {exit !(a > b)}'; then
      best[$label]="$fps"
    fi
  done
done
echo "video: $frames frames 640x480; $(nproc) CPU cores; faceverify threads=$threads; best of $rounds interleaved rounds"
printf '%-44s %9s %s\n' "pipeline element" "frames/s" "vs facedetect"
for label in "${labels[@]}"; do
  printf '%-44s %9s %s\n' "$label" "${best[$label]}" \
    "$(awk -v a="${best[$label]}" -v b="${best["facedetect min-size $min"]}" 'BEGIN {printf "%.2f", a / b}')"
done
