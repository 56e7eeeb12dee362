#!/usr/bin/env bash
# A video file to JSON lines of decisions: one object per faceverify-decision message
# (track-id, identity, state, verified, distance, margin, first-seen, running-time, ...).
# Usage: MODEL=m.pt GALLERY=g.db samples/recipes/file-to-json.sh VIDEO [> decisions.jsonl]
# MESSAGES=faceverify,faceverify-decision keeps the per-frame messages too.
set -euo pipefail
# shellcheck source=samples/recipes/common.sh
source "$(dirname "$0")/common.sh"
if [ $# -ne 1 ]; then
  echo "usage: $(basename "$0") VIDEO" >&2
  exit 2
fi
bus_json="${SIAMESE_BUILD_DIR:-$root/build}/bin/siamese-bus-json"
gst-launch-1.0 -m \
  filesrc location="\"$1\"" ! decodebin ! videoconvert ! \
  faceverify model="\"$MODEL\"" gallery="\"$GALLERY\"" message=on-change ! fakesink sync=false |
  "$bus_json" --only "${MESSAGES:-faceverify-decision}"
