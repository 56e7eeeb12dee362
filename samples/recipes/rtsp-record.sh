#!/usr/bin/env bash
# An IP camera (or any URI: rtsp://, http://, file://) to an annotated recording (Motion-JPEG
# in AVI). Ctrl-C ends the recording cleanly (-e sends EOS so the file is finalised).
# Usage: MODEL=m.pt GALLERY=g.db samples/recipes/rtsp-record.sh rtsp://camera/stream out.avi
set -euo pipefail
# shellcheck source=samples/recipes/common.sh
source "$(dirname "$0")/common.sh"
if [ $# -ne 2 ]; then
  echo "usage: $(basename "$0") URI OUT.avi" >&2
  exit 2
fi
exec gst-launch-1.0 -e \
  uridecodebin uri="\"$1\"" ! videoconvert ! queue ! \
  faceverify model="\"$MODEL\"" gallery="\"$GALLERY\"" ! \
  faceverifyoverlay ! videoconvert ! jpegenc ! avimux ! filesink location="\"$2\""
