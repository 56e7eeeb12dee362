#!/usr/bin/env bash
# siamese-access-control's MQTT events on the demo's model and walk video, played at its frame
# rate (--realtime, as a camera): events_bench starts a mosquitto broker, subscribes, runs the
# controller with --mqtt, stops the broker DOWN_AFTER seconds after the first event and restarts
# it DOWN_FOR seconds later, and prints events made / delivered / repeated / lost, how many
# were held while the broker was away, and the latency from a face's first frame to the event's
# arrival at the subscriber (median, p95). A second run without the restart gives the latency
# undisturbed.
#
# Usage: samples/bench/events_bench.sh [--demo-out DIR] [--down-after S] [--down-for S]
#   --demo-out DIR  the output of samples/demo.sh (model.pt, gallery.db, walk.avi); without
#                   it the demo runs first, into a temporary folder (several minutes)
#   --down-after S  seconds after the first event before the broker stops (default 10)
#   --down-for S    seconds it stays down (default 8)
#   Binaries and plugin from $SIAMESE_BUILD_DIR (default build/); /usr/sbin/mosquitto.
set -euo pipefail
bench_name=events_bench
# shellcheck source=bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
demo_out="" down_after=10 down_for=8
while [ $# -gt 0 ]; do
  case "$1" in
    --demo-out) demo_out="${2:?}"; shift 2 ;;
    --down-after) down_after="${2:?}"; shift 2 ;;
    --down-for) down_for="${2:?}"; shift 2 ;;
    -h|--help) bench_help; exit 0 ;;
    *) bench_help >&2; exit 2 ;;
  esac
done
bench_require_built bin/siamese-access-control bin/events_bench gst-plugins/libgstsiamese.so
[ -x /usr/sbin/mosquitto ] || die "no /usr/sbin/mosquitto (tests/setup.sh installs it)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -z "$demo_out" ]; then
  demo_out="$work/demo"
  SIAMESE_SKIP_SETUP=1 SIAMESE_BUILD_DIR="$build" "$root/samples/demo.sh" "$demo_out" >/dev/null ||
    die "samples/demo.sh failed"
fi
for f in model.pt gallery.db walk.avi; do
  [ -f "$demo_out/$f" ] || die "$demo_out has no $f (run samples/demo.sh)"
done
bench_use_built_plugin
export GST_REGISTRY="$work/gst-registry.bin"
cp "$demo_out/gallery.db" "$work/gallery.db"  # the controller only reads it; keep the demo's
run=("$build/bin/siamese-access-control" --model "$demo_out/model.pt" --gallery "$work/gallery.db"
  --source-file "$demo_out/walk.avi" --realtime --device cpu)
echo "== undisturbed"
"$build/bin/events_bench" -- "${run[@]}" --audit-log "$work/audit1.db"
echo "== broker stopped $down_after s after the first event, for $down_for s"
"$build/bin/events_bench" --down-after "$down_after" --down-for "$down_for" -- "${run[@]}" \
  --audit-log "$work/audit2.db"
