#!/usr/bin/env bash
# demo_walks.sh: the demo's model and gallery on walk videos rendered with other seeds, as the
# README's demo table reports them (per walk: enrolled people verified as themselves, verified
# as someone else or unknown, strangers accepted). Runs the demo's pipeline per walk, without
# the overlay and the encoder.
# Usage: samples/bench/demo_walks.sh [DEMO_OUT] [SEEDS...]   (default: ./demo-out, seeds 7-12)
# Needs samples/demo.sh to have run into DEMO_OUT (model.pt, gallery.db), and the AT&T faces.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${SIAMESE_BUILD_DIR:-$root/build}"
out="$(cd "${1:-demo-out}" && pwd)"
shift || true
seeds=("$@")
((${#seeds[@]})) || seeds=(7 8 9 10 11 12)
data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
die() { echo "demo_walks: $*" >&2; exit 1; }
[ -f "$out/model.pt" ] && [ -f "$out/gallery.db" ] || die "$out has no model.pt and gallery.db (run samples/demo.sh first)"
export GST_PLUGIN_PATH="$build/gst-plugins" GST_REGISTRY="$build/gst-registry-bench.bin"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

total_verified=0 total_wrong=0 total_accepted=0 people=0 strangers=0
for seed in "${seeds[@]}"; do
  "$build/bin/siamese-render-walk" --data "$data" --people s1-s10 --images 6-10 \
    --strangers s21-s30 --seed "$seed" --out "$work/walk.avi" --truth "$work/walk.json" >/dev/null
  gst-launch-1.0 -m filesrc location="$work/walk.avi" ! avidemux ! jpegdec ! videoconvert ! \
    faceverify model="$out/model.pt" gallery="$out/gallery.db" ! fakesink >"$work/bus.txt"
  "$build/bin/siamese-bus-json" --input "$work/bus.txt" >"$work/messages.jsonl"
  "$build/bin/siamese-demo-summary" --messages "$work/messages.jsonl" --truth "$work/walk.json" \
    --json "$work/summary.json" >"$work/summary.txt"
  read -r verified wrong accepted np ns < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s["people_verified"], s["people_unknown"] + s["people_confused"], s["strangers_accepted"],
      s["people"], s["strangers"])' "$work/summary.json")
  echo "walk seed $seed: $verified of $np verified as themselves, $wrong someone else or unknown, $accepted of $ns strangers accepted"
  total_verified=$((total_verified + verified)) total_wrong=$((total_wrong + wrong))
  total_accepted=$((total_accepted + accepted)) people=$((people + np)) strangers=$((strangers + ns))
done
echo "all walks: $total_verified of $people verified, $total_wrong someone else or unknown, $total_accepted of $strangers strangers accepted"
