#!/usr/bin/env bash
# lfw_walks.sh: the demo's measure (enrolled people verified as themselves, verified as someone
# else or unknown, strangers accepted) on walks rendered from LFW's colour photos instead of
# AT&T's grey faces. Ten people are enrolled from their photos 1-5 and walk with their photos
# 6-10 (never an enrolled photo); ten other people walk as strangers (photos 6-10). The people
# are the first 20, in name order, of the 158 with ten or more photos (every one of them is in
# View 2's pairs.txt, so none is in the dlib model's calibration). Each photo is cut to its
# middle 0.6 (the face and a margin, as AT&T's images frame theirs).
# Usage: samples/bench/lfw_walks.sh [--model MODEL] [--out DIR] [SEEDS...]   (seeds 7-12)
#   --model MODEL  default: dlib's ResNet imported here and calibrated as samples/demo.sh does
#   --out DIR      where the model, gallery and enrollment links go (default: a temporary folder)
# Environment: SIAMESE_LFW (default ../shared/data/lfw), SIAMESE_BUILD_DIR (default build/),
#   SIAMESE_IMPORT_ARGS (more siamese-import flags for the default model, e.g.
#   "--align-points five --no-flip-average --no-align-mirror" for the import as it was before
#   those defaults).
set -euo pipefail
bench_name=lfw_walks
# shellcheck source=bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
lfw="${SIAMESE_LFW:-$root/../shared/data/lfw}"
model="" out=""
seeds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) bench_help; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) seeds+=("$1"); shift ;;
  esac
done
((${#seeds[@]})) || seeds=(7 8 9 10 11 12)
bench_require_lfw "$lfw"
bench_require_built bin/siamese-import bin/siamese-enroll bin/siamese-render-walk \
  bin/siamese-bus-json bin/siamese-demo-summary
bench_use_built_plugin
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -z "$out" ]; then out="$work/out"; fi
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# The cast: people with 10 or more photos, in name order (C locale).
mapfile -t cast < <(cd "$lfw" && for d in */; do
  d="${d%/}"
  n=$(find "$d" -maxdepth 1 -name '*.jpg' | wc -l)
  [ "$n" -ge 10 ] && echo "$d"
done | LC_ALL=C sort | head -n 20)
((${#cast[@]} == 20)) || die "fewer than 20 people with 10 photos in $lfw"
people="$(IFS=,; echo "${cast[*]:0:10}")"
strangers="$(IFS=,; echo "${cast[*]:10:10}")"
echo "people (enrolled from photos 1-5, walking with 6-10): ${people//,/, }"
echo "strangers (photos 6-10): ${strangers//,/, }"

if [ -z "$model" ]; then
  model="$out/dlib.pt"
  read -ra import_args <<<"${SIAMESE_IMPORT_ARGS:-}"
  "$build/bin/siamese-import" face-api "${import_args[@]}" --out "$model" --calibrate "$lfw" \
    --exclude-pairs "$lfw/pairs.txt" >"$out/import.txt" || die "siamese-import failed: $(tail -3 "$out/import.txt")"
  grep '^calibration:' "$out/import.txt" || true
fi

rm -rf "$out/enroll-images" "$out/gallery.db" "$out/gallery.db-wal" "$out/gallery.db-shm"
for person in "${cast[@]:0:10}"; do
  mkdir -p "$out/enroll-images/$person"
  for k in 1 2 3 4 5; do
    ln -s "$lfw/$person/${person}_000$k.jpg" "$out/enroll-images/$person/"
  done
done
"$build/bin/siamese-enroll" add --model "$model" --gallery "$out/gallery.db" \
  --min-face-size 40 --largest-face "$out/enroll-images" >"$out/enroll.txt" ||
  die "siamese-enroll failed: $(tail -3 "$out/enroll.txt")"
"$build/bin/siamese-enroll" list --gallery "$out/gallery.db" --model "$model" | grep -i threshold || true

total_verified=0 total_wrong=0 total_accepted=0 total_people=0 total_strangers=0
for seed in "${seeds[@]}"; do
  "$build/bin/siamese-render-walk" --data "$lfw" --people "$people" --images 6-10 \
    --strangers "$strangers" --centre-crop 0.6 --seed "$seed" --out "$work/walk.avi" \
    --truth "$work/walk.json" >/dev/null
  gst-launch-1.0 -m filesrc location="$work/walk.avi" ! avidemux ! jpegdec ! videoconvert ! \
    faceverify model="$model" gallery="$out/gallery.db" ! fakesink >"$work/bus.txt"
  "$build/bin/siamese-bus-json" --input "$work/bus.txt" >"$work/messages.jsonl"
  "$build/bin/siamese-demo-summary" --messages "$work/messages.jsonl" --truth "$work/walk.json" \
    --json "$work/summary.json" >"$work/summary.txt"
  read -r verified wrong accepted np ns missed < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
missed = [w["identity"] + "(" + w["verdict"] + ")" for w in s["walkers"]
          if w["verdict"] not in ("verified", "rejected")]
print(s["people_verified"], s["people_unknown"] + s["people_confused"], s["strangers_accepted"],
      s["people"], s["strangers"], ",".join(missed) or "-")' "$work/summary.json")
  echo "LFW walk seed $seed: $verified of $np verified as themselves, $wrong someone else or unknown, $accepted of $ns strangers accepted (not verified or let in: $missed)"
  total_verified=$((total_verified + verified)) total_wrong=$((total_wrong + wrong))
  total_accepted=$((total_accepted + accepted))
  total_people=$((total_people + np)) total_strangers=$((total_strangers + ns))
done
echo "all LFW walks: $total_verified of $total_people verified, $total_wrong someone else or unknown, $total_accepted of $total_strangers strangers accepted"
