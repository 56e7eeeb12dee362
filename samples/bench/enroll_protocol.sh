#!/usr/bin/env bash
# The AT&T enrollment protocol (issue 3): with a model trained on s11..s40, enroll s1..s10 from
# images 1-5 and identify images 6-10 (rank-1 identification accuracy), then present every image
# of s11..s20 as a stranger (false accepts at the gallery threshold). Prints both figures.
# Usage: samples/bench/enroll_protocol.sh MODEL [--threshold T] [--device D] [--data DIR]
#   --threshold T  stored as the gallery's threshold (default: the model's calibrated one)
#   Binary: $SIAMESE_BUILD_DIR/bin/siamese-enroll (default build/). Data: --data, $SIAMESE_DATA,
#   else ../shared/data/att_faces beside the source tree.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
enroll="${SIAMESE_BUILD_DIR:-$root/build}/bin/siamese-enroll"
python=/usr/bin/python3

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
model="$1"; shift
threshold=() device=cpu data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
while [ $# -gt 0 ]; do
  case "$1" in
    --threshold) threshold=(--threshold "$2"); shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    *) usage ;;
  esac
done
[ -x "$enroll" ] || { echo "enroll_protocol: $enroll not built" >&2; exit 1; }
[ -d "$data/s1" ] || { echo "enroll_protocol: no AT&T faces in $data" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 10); do
  mkdir -p "$work/enroll/s$i"
  for n in 1 2 3 4 5; do ln -s "$(cd "$data/s$i" && pwd)/$n.pgm" "$work/enroll/s$i/$n.pgm"; done
done
gallery="$work/gallery.db"
common=(--model "$model" --gallery "$gallery" --no-detect --device "$device")

"$enroll" add "${common[@]}" "${threshold[@]}" --json "$work/enroll" > "$work/add.json"

probes=()
for i in $(seq 1 10); do for n in 6 7 8 9 10; do probes+=("$data/s$i/$n.pgm"); done; done
strangers=()
for i in $(seq 11 20); do for n in $(seq 1 10); do strangers+=("$data/s$i/$n.pgm"); done; done
"$enroll" identify "${common[@]}" --json --top 1 "${probes[@]}" > "$work/probes.json"
"$enroll" identify "${common[@]}" --json --top 1 "${strangers[@]}" > "$work/strangers.json"
# The threshold in force (the gallery's, else the model's), as verify reports it.
"$enroll" verify "${common[@]}" --json --claim s1 "$data/s1/1.pgm" > "$work/verify.json" || true

"$python" - "$work" "$model" <<'EOF'
import json, os, sys
work, model = sys.argv[1], sys.argv[2]
def lines(name):
    with open(os.path.join(work, name)) as f:
        return [json.loads(l) for l in f if l.strip()]
def identity_of(path):
    return os.path.basename(os.path.dirname(path))
added = lines("add.json")[0]
threshold = lines("verify.json")[0]["threshold"]
probes = lines("probes.json")
rank1 = sum(1 for p in probes if p["top"] and p["top"][0]["identity"] == identity_of(p["image"]))
accepted_right = sum(1 for p in probes if p["verified"] and p["identity"] == identity_of(p["image"]))
strangers = lines("strangers.json")
false_accepts = sum(1 for s in strangers if s["verified"])
print(f"AT&T enrollment protocol, model {model} (gallery fingerprint {added['model_fingerprint']})")
print(f"  enrolled: {added['enrolled']} images of s1..s10 (images 1-5), failed {len(added['failed'])}")
print(f"  rank-1 identification, images 6-10 of s1..s10: {rank1}/{len(probes)} = {100.0 * rank1 / max(1, len(probes)):.1f}%")
print(f"  verified as the right identity at threshold {threshold:.4f}: {accepted_right}/{len(probes)}")
print(f"  false accepts, s11..s20 presented as strangers: {false_accepts}/{len(strangers)} faces at threshold {threshold:.4f}")
# The same runs at other thresholds (the nearest distances do not depend on it): a threshold
# calibrated on 1:1 pairs accepts more strangers in 1:N, where each face meets every sample.
def nearest(f):
    return f["top"][0] if f["top"] else None
print("  threshold sweep (x gallery threshold): probes right+accepted / wrong+accepted, strangers accepted")
for k in (0.25, 0.5, 0.75, 1.0, 1.25):
    t = threshold * k
    right = sum(1 for p in probes if nearest(p) and nearest(p)["distance"] <= t and nearest(p)["identity"] == identity_of(p["image"]))
    wrong = sum(1 for p in probes if nearest(p) and nearest(p)["distance"] <= t and nearest(p)["identity"] != identity_of(p["image"]))
    fa = sum(1 for s in strangers if nearest(s) and nearest(s)["distance"] <= t)
    print(f"    {k:4.2f} x = {t:.4f}: {right:3d}/{len(probes)} / {wrong:3d}/{len(probes)}, {fa:3d}/{len(strangers)}")
EOF
