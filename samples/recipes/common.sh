# shellcheck shell=bash
# Shared by the recipes: the model, the gallery and the plugin path. Source it, do not run it.
# MODEL and GALLERY default to the demo's output (demo-out/); the plugin is taken from the
# build tree unless it is installed (GST_PLUGIN_PATH already set, or found in the registry).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODEL="${MODEL:-demo-out/model.pt}"
GALLERY="${GALLERY:-demo-out/gallery.db}"
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-${SIAMESE_BUILD_DIR:-$root/build}/gst-plugins}"
for f in "$MODEL" "$GALLERY"; do
  if [ ! -f "$f" ]; then
    echo "$(basename "$0"): $f not found: set MODEL=... and GALLERY=... (samples/demo.sh makes both)" >&2
    exit 1
  fi
done
if ! gst-inspect-1.0 faceverify >/dev/null 2>&1; then
  echo "$(basename "$0"): the faceverify element is not found; build the project or set GST_PLUGIN_PATH" >&2
  exit 1
fi
