#!/usr/bin/env bash
# Webcam preview with the overlay: every face boxed, green with its name when verified,
# red "unknown" when not.
# Usage: MODEL=m.pt GALLERY=g.db samples/recipes/webcam-preview.sh [/dev/video0]
set -euo pipefail
# shellcheck source=samples/recipes/common.sh
source "$(dirname "$0")/common.sh"
device="${1:-/dev/video0}"
# shellcheck disable=SC2086  # SINK may hold properties: word splitting wanted
exec gst-launch-1.0 \
  v4l2src device="$device" ! videoconvert ! queue max-size-buffers=2 leaky=downstream ! \
  faceverify model="\"$MODEL\"" gallery="\"$GALLERY\"" ! \
  faceverifyoverlay ! videoconvert ! ${SINK:-autovideosink}
