#!/usr/bin/env bash
# `cmake --install` into a DESTDIR gives a working plugin and programs: gst-inspect-1.0 finds
# faceverify and faceverifyoverlay in the installed plugin folder alone (a fresh registry), and
# the installed programs answer --help. Usage: tests/install_check.sh BUILD_DIR WORK_DIR
set -euo pipefail
build="$1" work="$2"
rm -rf "$work"
mkdir -p "$work"
prefix=/usr/local
DESTDIR="$work/root" cmake --install "$build" --prefix "$prefix" >"$work/install.log"
root="$work/root$prefix"
libdir="$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")"
plugin_dir="$root/${libdir:-lib}/gstreamer-1.0"
fail() { echo "install_check: $*" >&2; exit 1; }
[ -f "$plugin_dir/libgstsiamese.so" ] || fail "no libgstsiamese.so in $plugin_dir"
for element in faceverify faceverifyoverlay; do
  GST_PLUGIN_PATH= GST_PLUGIN_SYSTEM_PATH="$plugin_dir" GST_REGISTRY="$work/registry.bin" \
    gst-inspect-1.0 "$element" >"$work/inspect-$element.txt" 2>&1 ||
    fail "gst-inspect-1.0 $element failed on the installed plugin: $(tail -n 3 "$work/inspect-$element.txt")"
  grep -q "$plugin_dir/libgstsiamese.so" "$work/inspect-$element.txt" ||
    fail "gst-inspect-1.0 $element did not load the installed plugin"
done
for program in siamese-enroll siamese-train siamese-eval siamese-import; do
  "$root/bin/$program" --help >"$work/$program-help.txt" 2>&1 ||
    fail "$program --help failed from the installed tree"
  grep -qi "^usage: $program" "$work/$program-help.txt" || fail "$program --help printed no usage"
done
[ -x "$root/bin/siamese-fetch-weights" ] || fail "siamese-fetch-weights is not installed"
[ -f "$root/share/gst-siamese/weights/face-api-1.7.15.sha256" ] ||
  fail "the pinned checksums are not installed"
[ -f "$root/share/doc/gst-siamese/LICENSE" ] || fail "LICENSE is not installed"
echo "install_check: plugin, programs, checksums and licence installed under $root"
