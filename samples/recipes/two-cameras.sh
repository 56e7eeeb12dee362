#!/usr/bin/env bash
# Two cameras in one pipeline, side by side: one faceverify per camera (named after the door,
# so bus messages say which camera saw whom), one window.
# Usage: MODEL=m.pt GALLERY=g.db samples/recipes/two-cameras.sh [/dev/video0 /dev/video2]
# Any source description works: CAM0="uridecodebin uri=rtsp://..." CAM1="..." two-cameras.sh
set -euo pipefail
# shellcheck source=samples/recipes/common.sh
source "$(dirname "$0")/common.sh"
cam0="${CAM0:-v4l2src device=${1:-/dev/video0}}"
cam1="${CAM1:-v4l2src device=${2:-/dev/video2}}"
branch() {  # source description, faceverify name, compositor pad
  echo "$1 ! videoconvert ! videoscale ! video/x-raw,width=640,height=480 ! queue ! \
faceverify name=$2 model=\"$MODEL\" gallery=\"$GALLERY\" ! faceverifyoverlay ! videoconvert ! \
queue ! mix.$3"
}
# shellcheck disable=SC2046,SC2086  # descriptions are split into words on purpose
exec gst-launch-1.0 ${GST_LAUNCH_FLAGS:-} \
  compositor name=mix sink_1::xpos=640 ! videoconvert ! ${SINK:-autovideosink} \
  $(branch "$cam0" door sink_0) $(branch "$cam1" lobby sink_1)
