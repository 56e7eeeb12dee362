#!/usr/bin/env bash
# Peak memory (maximum resident set size, /usr/bin/time -v) of a gst-launch-1.0 process running
# faceverify over the walk video with a gallery of 100k random unit embeddings (bench_fixtures),
# beside the same pipeline with no element (decode only), faceverify without a gallery, and
# GStreamer's facedetect: the differences are what the model and the gallery cost.
# Branch: filesrc ! avidemux ! jpegdec ! videoconvert ! queue ! ELEMENT ! fakesink sync=false
# Usage: samples/bench/memory_bench.sh [--model M] [--count N] [--seconds S] [--data DIR]
#   --model M   default: an untrained model of the default architecture (bench_fixtures)
#   --count N   gallery embeddings (default 100000, 5 per identity)
#   --seconds S video length (default 6)
#   Binaries and plugin from $SIAMESE_BUILD_DIR (default build/).
set -euo pipefail
bench_name=memory_bench
# shellcheck source=bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
# shellcheck source=walk_video.sh
source "$root/samples/bench/walk_video.sh"

model="" count=100000 seconds=6 data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
bench_flags model=model count=count seconds=seconds data=data -- "$@"
bench_require_att "$data"
bench_require_built gst-plugins/libgstsiamese.so bin/siamese-render-walk bin/bench_fixtures
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install time)"

bench_use_built_plugin
bench_render_walk "$seconds"
if [ -z "$model" ]; then
  model="$work/model.pt"
  "$build/bin/bench_fixtures" model "$model" >/dev/null
fi
gallery="$work/gallery.db"
"$build/bin/bench_fixtures" gallery "$gallery" --model "$model" --count "$count" >/dev/null

declare -A rss
run() {
  local label="$1"; shift
  /usr/bin/time -v -o "$work/time.txt" gst-launch-1.0 -q filesrc location="$video" ! avidemux ! \
    jpegdec ! videoconvert ! queue ! "$@" ! fakesink sync=false >"$work/out.txt" 2>&1 ||
    die "pipeline failed: $*"$'\n'"$(tail -5 "$work/out.txt")"
  rss[$label]="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")"
  printf '%-40s %10.1f\n' "$label" "$(awk -v k="${rss[$label]}" 'BEGIN {print k / 1024}')"
}
echo "gallery: $count random embeddings ($(du -h "$gallery" | cut -f1) on disk); model: $model ($(du -h "$model" | cut -f1))"
printf '%-40s %10s\n' "pipeline" "peak MiB"
run "decode only (identity)" identity
run "facedetect" facedetect display=false
run "faceverify, no gallery" faceverify model="$model" device=cpu message=none
run "faceverify, gallery of $count" faceverify model="$model" gallery="$gallery" device=cpu \
  message=none
awk -v a="${rss[faceverify, gallery of $count]}" -v b="${rss[faceverify, no gallery]}" \
  -v c="${rss[decode only (identity)]}" -v n="$count" 'BEGIN {
  printf "faceverify over decode only: %.1f MiB; the gallery adds %.1f MiB (%.0f bytes per embedding)\n",
    (b - c) / 1024, (a - b) / 1024, (a - b) * 1024 / n }'
