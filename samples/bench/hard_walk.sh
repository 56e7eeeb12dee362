#!/usr/bin/env bash
# hard_walk.sh: faceverify on walks under camera conditions (siamese-render-walk --condition:
# rotate, blur, lowlight, sidelight, noise, jpeg, small, occlusion; "plain" = none), for
# detector=haar vs cnn (and hog, on request: --variants), each with dlib's ResNet unaligned
# (dlib.pt) and aligned (dlib-aligned.pt, --align landmarks68). Per walk set, condition and variant it prints:
#   recall     frames where the element reported a walker's face / frames showing it
#   precision  reported faces on a walker / all reported faces (a second box on the same walker
#              counts as neither; a face matching no walker is a false one)
#   verified / confused / unknown   people (enrolled) verified as themselves, verified as
#              someone else at some point, never verified; strangers accepted (verified as
#              anyone): siamese-demo-summary's verdicts against the walk's truth
# Walk sets: lfw = the first 4 (name order) of LFW's people with 10+ photos, enrolled from
# photos 1-5, walking with 6-10 (cut to their middle 0.6, as lfw_walks.sh), and 2 strangers (the
# 11th and 12th such people); att = AT&T s1-s4 (enrolled from 1-5, walking with 6-10) and
# strangers s21-s22. One gallery per detector and model holds both sets' people (8 x 5 photos),
# enrolled with that detector. Walks: 640x480, --fps 12, --segment 2.5, seed --seed (default 7),
# the same walk for every variant; the element at its defaults (detect-interval 3) with
# threads=2, min-face-size 60 (32 under small, whose faces are 40-60 px).
# Usage: samples/bench/hard_walk.sh [--out DIR] [--conditions LIST] [--sets lfw,att]
#        [--variants haar,cnn,haar-aligned,cnn-aligned] [--seed N]
#   --variants    also hog and hog-aligned (dlib's HOG detector; a build with libdlib-dev)
#   --out DIR     keeps the models (imported and calibrated once: minutes; reused when there),
#                 galleries, walks and summaries (default: a temporary folder)
#   --conditions  default plain,rotate,blur,lowlight,sidelight,noise,jpeg,small,occlusion
# Environment: SIAMESE_BUILD_DIR (default build/), SIAMESE_LFW, SIAMESE_DATA (AT&T),
#   SIAMESE_IMPORT_ARGS (more siamese-import flags, e.g. "--align-points five --no-flip-average
#   --no-align-mirror" for the import as it was before those defaults).
set -euo pipefail
bench_name=hard_walk
# shellcheck source=bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
lfw="${SIAMESE_LFW:-$root/../shared/data/lfw}"
att="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
out="" seed=7 sets="lfw,att" variants="haar,cnn,haar-aligned,cnn-aligned"
conditions="plain,rotate,blur,lowlight,sidelight,noise,jpeg,small,occlusion"
bench_flags out=out conditions=conditions sets=sets variants=variants seed=seed -- "$@"
bench_require_lfw "$lfw"
[ -f "$att/s1/1.pgm" ] || die "no AT&T faces in $att (set SIAMESE_DATA)"
bench_require_built bin/siamese-import bin/siamese-enroll bin/siamese-render-walk \
  bin/siamese-bus-json bin/siamese-demo-summary
bench_require_built gst-plugins/libgstsiamese.so
bench_use_built_plugin
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[ -n "$out" ] || out="$work/out"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
started=$SECONDS

# The LFW cast: people with 10 or more photos, in name order (C locale).
mapfile -t cast < <(cd "$lfw" && for d in */; do
  d="${d%/}"
  [ -f "$d/${d}_0010.jpg" ] && echo "$d"
done | LC_ALL=C sort | head -n 12)
((${#cast[@]} == 12)) || die "fewer than 12 people with 10 photos in $lfw"
lfw_people="$(IFS=,; echo "${cast[*]:0:4}")"
lfw_strangers="$(IFS=,; echo "${cast[*]:10:2}")"
echo "lfw: people ${lfw_people//,/, } (enrolled from photos 1-5, walking with 6-10);" \
  "strangers ${lfw_strangers//,/, }"
echo "att: people s1-s4 (enrolled from 1-5, walking with 6-10); strangers s21-s22"

# Models: imported once and calibrated on LFW less View 2's people, as samples/demo.sh does.
read -ra import_args <<<"${SIAMESE_IMPORT_ARGS:-}"
for align in none landmarks68; do
  model="$out/dlib.pt"
  [ "$align" = none ] || model="$out/dlib-aligned.pt"
  [ -f "$model" ] && continue
  t=$SECONDS
  "$build/bin/siamese-import" face-api --align "$align" "${import_args[@]}" --out "$model" --calibrate "$lfw" \
    --exclude-pairs "$lfw/pairs.txt" >"$out/import-$align.txt" 2>&1 ||
    die "siamese-import failed: $(tail -3 "$out/import-$align.txt")"
  echo "imported and calibrated $model in $((SECONDS - t)) s"
done

# Enrollment images: links to photos 1-5 of each person of both sets.
rm -rf "$out/enroll-images"
for person in "${cast[@]:0:4}"; do
  mkdir -p "$out/enroll-images/$person"
  for k in 1 2 3 4 5; do
    ln -s "$lfw/$person/${person}_000$k.jpg" "$out/enroll-images/$person/"
  done
done
for i in 1 2 3 4; do
  mkdir -p "$out/enroll-images/s$i"
  for k in 1 2 3 4 5; do ln -s "$att/s$i/$k.pgm" "$out/enroll-images/s$i/"; done
done

IFS=, read -r -a variant_list <<<"$variants"
IFS=, read -r -a condition_list <<<"$conditions"
IFS=, read -r -a set_list <<<"$sets"
for v in "${variant_list[@]}"; do
  case "$v" in haar|cnn|hog|haar-aligned|cnn-aligned|hog-aligned) ;; *) die "unknown variant $v" ;; esac
done
model_of() {
  case "$1" in *-aligned) echo "$out/dlib-aligned.pt" ;; *) echo "$out/dlib.pt" ;; esac
}
detector_of() { echo "${1%-aligned}"; }
for v in "${variant_list[@]}"; do
  t=$SECONDS
  gallery="$out/gallery-$v.db"
  rm -f "$gallery" "$gallery-wal" "$gallery-shm"
  "$build/bin/siamese-enroll" add --model "$(model_of "$v")" --gallery "$gallery" \
    --detector "$(detector_of "$v")" --min-face-size 40 --largest-face \
    "$out/enroll-images" >"$out/enroll-$v.txt" 2>&1 ||
    die "siamese-enroll ($v) failed: $(tail -3 "$out/enroll-$v.txt")"
  echo "gallery $v enrolled in $((SECONDS - t)) s: $(tail -1 "$out/enroll-$v.txt")"
done

printf '\n%-4s %-10s %-12s %7s %9s %9s %9s %8s %9s %6s\n' set condition variant recall \
  precision verified confused unknown strangers s
for set in "${set_list[@]}"; do
  case "$set" in
    lfw) walk=(--data "$lfw" --people "$lfw_people" --strangers "$lfw_strangers"
               --centre-crop 0.6) ;;
    att) walk=(--data "$att" --people s1-s4 --strangers s21-s22) ;;
    *) die "unknown set $set (lfw, att)" ;;
  esac
  for condition in "${condition_list[@]}"; do
    c="$condition"
    [ "$c" != plain ] || c=none
    name="$set-$condition"
    "$build/bin/siamese-render-walk" "${walk[@]}" --images 6-10 --fps 12 --segment 2.5 \
      --seed "$seed" --condition "$c" --out "$out/$name.avi" --truth "$out/$name.json" \
      >/dev/null || die "siamese-render-walk failed ($name)"
    min=60
    [ "$condition" != small ] || min=32
    for v in "${variant_list[@]}"; do
      t=$SECONDS
      timeout 600 gst-launch-1.0 -m filesrc location="$out/$name.avi" ! avidemux ! jpegdec ! \
        videoconvert ! faceverify model="$(model_of "$v")" gallery="$out/gallery-$v.db" \
        detector="$(detector_of "$v")" min-face-size=$min threads=2 ! fakesink \
        >"$work/bus.txt" 2>"$work/gst-err.txt" ||
        die "gst-launch failed ($name, $v): $(tail -3 "$work/gst-err.txt")"
      "$build/bin/siamese-bus-json" --input "$work/bus.txt" >"$work/messages.jsonl"
      "$build/bin/siamese-demo-summary" --messages "$work/messages.jsonl" \
        --truth "$out/$name.json" --json "$out/summary-$name-$v.json" >/dev/null
      python3 - "$out/summary-$name-$v.json" "$set" "$condition" "$v" "$((SECONDS - t))" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
visible = sum(w["visible_frames"] for w in s["walkers"])
found = sum(w["detected_frames"] for w in s["walkers"])
reported = found + s["unmatched_faces"]
print("%-4s %-10s %-12s %6.1f%% %8.1f%% %5d of %d %9d %8d %5d of %d %5s" % (
    sys.argv[2], sys.argv[3], sys.argv[4], 100.0 * found / max(1, visible),
    100.0 * found / max(1, reported), s["people_verified"], s["people"], s["people_confused"],
    s["people_unknown"], s["strangers_accepted"], s["strangers"], sys.argv[5]))
EOF
    done
  done
done
echo "hard_walk: done in $((SECONDS - started)) s (outputs in $out)"
