#!/usr/bin/env bash
# gallery_tuning_bench.sh: strangers accepted and people verified, face by face through
# siamese-enroll identify (the element's matcher), before and after calibrated per-person
# thresholds and negative anchors (issue 15), and the calibration's proposed thresholds against
# those that were best in hindsight on the held-out faces.
# Usage: [NO_DETECT=1] [WALK_SEEDS="7 8"] samples/bench/gallery_tuning_bench.sh MODEL [OUT_DIR]
# With WALK_SEEDS="7 8" (and the plugin built) also faceverify on siamese-render-walk videos
# (s1-s10 walking with photos 6-10, strangers s26-s35) with each of the four galleries.
# AT&T split (people disjoint): enrolled s1-s10 photos 1-5, their photos 6-10 as probes;
# calibration strangers s11-s25 photos 1-5 (also the negative anchors, --not '*'); held-out
# strangers: s11-s25 photos 6-10 (known people, new photos) and s26-s40 (never seen).
# Needs the AT&T faces ($SIAMESE_DATA or ../shared/data/att_faces) and a built siamese-enroll
# ($SIAMESE_BUILD_DIR, default build/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${SIAMESE_BUILD_DIR:-$root/build}"
data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
die() { echo "gallery_tuning_bench: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 MODEL [OUT_DIR]"
model="$(realpath "$1")"
[ -f "$model" ] || die "no model file $1"
# LFW=1: the first 40 LFW people (by name) with at least 10 photos stand for s1-s40, their
# first 10 photos (by name) for photos 1-10 ($SIAMESE_LFW or ../shared/data/lfw).
if [ -n "${LFW:-}" ]; then
  data="${SIAMESE_LFW:-$root/../shared/data/lfw}"
  mapfile -t people < <(cd "$data" && for d in */; do
    n=$(ls "$d" | wc -l); [ "$n" -ge 10 ] && echo "${d%/}"; done | sort | head -40)
  [ ${#people[@]} -eq 40 ] || die "fewer than 40 people with 10 photos in $data"
else
  people=(); for k in $(seq 1 40); do people+=("s$k"); done
fi
[ -d "$data/${people[0]}" ] || die "no faces in $data"
out="${2:-$(mktemp -d)}"
mkdir -p "$out"
enroll=("$build/bin/siamese-enroll")
common=(--model "$model" --device cpu)  # the detector frames faces as the element does
[ -z "${NO_DETECT:-}" ] || common+=(--no-detect)  # NO_DETECT=1: the AT&T crops as they are
lf=()  # add, identify: LFW photos may show several people (calibrate takes the largest)
[ -z "${LFW:-}" ] || lf=(--largest-face)

# The split, as symbolic links (no face image is copied).
link() {  # link DEST PERSON_NUMBER FIRST LAST
  local who="${people[$(($2 - 1))]}"
  mkdir -p "$1/$who"
  if [ -z "${LFW:-}" ]; then
    for i in $(seq "$3" "$4"); do ln -sf "$data/$who/$i.pgm" "$1/$who/$i.pgm"; done
  else
    mapfile -t files < <(ls "$data/$who" | sort)
    for i in $(seq "$3" "$4"); do ln -sf "$data/$who/${files[$((i - 1))]}" "$1/$who/"; done
  fi
}
rm -rf "$out/split" "$out/gallery.db"*
for k in $(seq 1 10); do link "$out/split/enroll" "$k" 1 5; link "$out/split/probes" "$k" 6 10; done
for k in $(seq 11 25); do link "$out/split/cal" "$k" 1 5; link "$out/split/known" "$k" 6 10; done
for k in $(seq 26 40); do link "$out/split/unseen" "$k" 1 10; done

"${enroll[@]}" add "${common[@]}" "${lf[@]}" --gallery "$out/gallery.db" "$out/split/enroll" \
  >/dev/null
identify() {  # identify TAG: every probe and held-out stranger, all ten distances each
  "${enroll[@]}" identify "${common[@]}" "${lf[@]}" --gallery "$out/gallery.db" --top 10 --json \
    "$out"/split/probes/*/* "$out"/split/known/*/* "$out"/split/unseen/*/* \
    >"$out/identify-$1.jsonl"
}
identify before
cp "$out/gallery.db" "$out/gallery-before.db"
"${enroll[@]}" calibrate "${common[@]}" --gallery "$out/gallery.db" --strangers "$out/split/cal" \
  --plot "$out/calibration.png" --json >"$out/calibrate.json"
"${enroll[@]}" calibrate "${common[@]}" --gallery "$out/gallery.db" --strangers "$out/split/cal" \
  --apply >"$out/calibrate.txt"
identify thresholds
cp "$out/gallery.db" "$out/gallery-thresholds.db"
"${enroll[@]}" add "${common[@]}" "${lf[@]}" --gallery "$out/gallery.db" --not '*' "$out"/split/cal/* \
  >/dev/null
identify both
cp "$out/gallery.db" "$out/gallery-both.db"
"${enroll[@]}" list --gallery "$out/gallery.db" --model "$model" --json >"$out/list.json"
for k in $(seq 1 10); do  # negative anchors alone: the per-person thresholds cleared
  "${enroll[@]}" threshold --gallery "$out/gallery.db" "${people[$((k - 1))]}" auto >/dev/null
done
identify anchors
cp "$out/gallery.db" "$out/gallery-anchors.db"

python3 - "$out" <<'EOF'
import json, sys, os
out = sys.argv[1]
cal = json.load(open(os.path.join(out, "calibrate.json")))
proposed = {p["name"]: p["proposed"] for p in cal["people"]}
flagged = sum(1 for p in cal["people"] if not p["separable"])

def kind(image):
    part = image.split("/split/")[1].split("/")
    return part[0], part[1]

def summary(tag):
    rows = [json.loads(l) for l in open(os.path.join(out, f"identify-{tag}.jsonl"))]
    c = {"probes": 0, "verified": 0, "confused": 0, "known": 0, "known_in": 0, "unseen": 0,
         "unseen_in": 0}
    for r in rows:
        group, person = kind(r["image"])
        if group == "probes":
            c["probes"] += 1
            if r["verified"]:
                c["verified" if r["identity"] == person else "confused"] += 1
        else:
            c[group] += 1
            c[group + "_in"] += 1 if r["verified"] else 0
    return rows, c

print(f"model {cal['gallery']}: gallery threshold {cal['gallery_threshold']:.4f}; "
      f"{len(proposed)} people, {cal['strangers']} calibration strangers, {flagged} flagged")
for tag, what in [("before", "gallery threshold"), ("thresholds", "calibrated per-person"),
                  ("anchors", "negative anchors '*' alone"),
                  ("both", "per-person + negative anchors '*'")]:
    _, c = summary(tag)
    print(f"{what:34s}: people verified {c['verified']}/{c['probes']} (as someone else "
          f"{c['confused']}), strangers accepted: known {c['known_in']}/{c['known']}, "
          f"unseen {c['unseen_in']}/{c['unseen']}")

# Best in hindsight, per person, on the held-out faces (probes and strangers): the threshold
# that verifies the most of their probes while accepting none of the strangers as them (the
# middle of that interval), against the proposal.
rows, _ = summary("before")
best = {}
for name in proposed:
    genuine = []
    impostor = []
    for r in rows:
        group, person = kind(r["image"])
        top = r["top"]
        if not top or top[0]["identity"] != name:
            continue  # the matcher names only the nearest identity
        d = top[0]["distance"]
        if group == "probes" and person == name:
            genuine.append(d)
        elif group != "probes":
            impostor.append(d)
    ceiling = min(impostor) if impostor else float("inf")
    ok = sorted(d for d in genuine if d < ceiling)
    if ok:
        hi = ceiling if ceiling != float("inf") else ok[-1] * 1.1
        t = 0.5 * (ok[-1] + hi)
    else:
        t = 0.5 * ceiling if ceiling != float("inf") else proposed[name]
    best[name] = (t, len(ok), len(genuine), ceiling)
diffs = []
for name in sorted(proposed, key=lambda n: (len(n), n)):
    t, ok, n, ceiling = best[name]
    diffs.append(proposed[name] - t)
    print(f"  {name:4s} proposed {proposed[name]:.4f}  best in hindsight {t:.4f} "
          f"(verifies {ok}/{n} of their probes; nearest held-out stranger {ceiling:.4f})")
below = sum(1 for d in diffs if d < 0)
print(f"proposed - best: mean {sum(diffs) / len(diffs):+.4f}, mean |.| "
      f"{sum(abs(d) for d in diffs) / len(diffs):.4f}; proposed below best for {below} of "
      f"{len(diffs)}")
EOF

[ -n "${WALK_SEEDS:-}" ] && [ -z "${LFW:-}" ] || exit 0
export GST_PLUGIN_PATH="$build/gst-plugins" GST_REGISTRY="$out/gst-registry.bin"
printf '%-11s' "walk seed"
for g in before thresholds anchors both; do printf ' | %-31s' "$g"; done
echo
for seed in $WALK_SEEDS; do
  "$build/bin/siamese-render-walk" --data "$data" --people s1-s10 --images 6-10 \
    --strangers s26-s35 --seed "$seed" --out "$out/walk-$seed.avi" --truth "$out/walk-$seed.json" \
    >/dev/null
  printf '%-11s' "$seed"
  for g in before thresholds anchors both; do
    gst-launch-1.0 -m filesrc location="$out/walk-$seed.avi" ! avidemux ! jpegdec ! videoconvert ! \
      faceverify model="$model" gallery="$out/gallery-$g.db" ! fakesink >"$out/bus-$seed-$g.txt"
    "$build/bin/siamese-bus-json" --input "$out/bus-$seed-$g.txt" >"$out/messages-$seed-$g.jsonl"
    "$build/bin/siamese-demo-summary" --messages "$out/messages-$seed-$g.jsonl" \
      --truth "$out/walk-$seed.json" --json "$out/summary-$seed-$g.json" >/dev/null
    python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(" | %2d/%d verified, %d confused, %2d/%d strangers in" % (s["people_verified"], s["people"],
      s["people_confused"], s["strangers_accepted"], s["strangers"]), end="")' \
      "$out/summary-$seed-$g.json"
  done
  echo
done
