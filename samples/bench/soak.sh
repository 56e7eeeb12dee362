#!/usr/bin/env bash
# Soak: faceverify (in gst-launch-1.0) and siamese-access-control each play a looped walk video
# for DURATION while the gallery they both read changes every INTERVAL seconds, in turn by
# `siamese-enroll remove SUBJECT`, a replacement by a gallery with SUBJECT (cp with.db
# gallery.db.new && mv gallery.db.new gallery.db), `siamese-enroll add --rebuild`, a replacement
# by a gallery without SUBJECT, and `siamese-enroll add` of SUBJECT. Every SAMPLE seconds it
# reads RSS, open fds and threads of both processes from /proc. At the end, soak_report.py
# prints a table per minute, how long each process took to reflect each change (SUBJECT, who
# walks through every frame beside a stranger, verified or no longer verified), the growth of
# RSS/fds/threads after the first minute, and PASS or FAIL.
#
# Usage: samples/bench/soak.sh [--duration S] [--demo-out DIR] [--out DIR] [--interval S]
#          [--sample S] [--max-delay S] [--max-add-delay S] [--fps N] [--subject ID]
#          [--stranger ID] [--data DIR]
#   --duration S   how long both processes play (default 1800: 30 minutes)
#   --demo-out DIR the output of samples/demo.sh (model.pt, gallery.db); without it the demo
#                  runs first, into OUT/demo (training: several minutes)
#   --out DIR      where everything goes (default: a new temporary folder, kept)
#   --interval S   seconds from one change's end to the next one's start (default 10)
#   --sample S     seconds between /proc samples (default 60)
#   --max-delay S  a removal must show in the decisions within S seconds (default 2)
#   --max-add-delay S   an addition within S seconds (default 5: verifying needs new evidence)
#   --fps N        frames per second of the walk (default 15)
#   --subject ID   the enrolled person who walks (default s1); --stranger ID beside them (s21)
#   Binaries and plugin from $SIAMESE_BUILD_DIR (default build/); faces from --data,
#   $SIAMESE_DATA or ../shared/data/att_faces.
# Exit status: 0 PASS, 1 FAIL or error, 2 usage.
set -euo pipefail
export LC_ALL=C  # EPOCHREALTIME and printf with a decimal point
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${SIAMESE_BUILD_DIR:-$root/build}" && pwd)"
# shellcheck source=walk_video.sh
source "$root/samples/bench/walk_video.sh"

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
duration=1800 demo_out="" out="" interval=10 sample=60 max_delay=2 max_add_delay=5 fps=15
segment=8 subject=s1
stranger=s21 data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case "$1" in
    --duration) duration="$2" ;;
    --demo-out) demo_out="$2" ;;
    --out) out="$2" ;;
    --interval) interval="$2" ;;
    --sample) sample="$2" ;;
    --max-delay) max_delay="$2" ;;
    --max-add-delay) max_add_delay="$2" ;;
    --fps) fps="$2" ;;
    --subject) subject="$2" ;;
    --stranger) stranger="$2" ;;
    --data) data="$2" ;;
    *) usage ;;
  esac
  shift 2
done
die() { echo "soak: $*" >&2; exit 1; }
for v in duration interval sample fps; do
  [[ "${!v}" =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "--$v must be a whole number > 0"
done
for v in max_delay max_add_delay; do
  [[ "${!v}" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--${v//_/-} must be a number of seconds"
done
[ -d "$data/$subject" ] && [ -d "$data/$stranger" ] ||
  die "no AT&T faces $subject and $stranger in $data (--data or SIAMESE_DATA)"
for f in gst-plugins/libgstsiamese.so bin/siamese-enroll bin/siamese-access-control \
         bin/siamese-render-walk bin/siamese-bus-json; do
  [ -e "$build/$f" ] || die "$build/$f not built"
done
command -v python3 >/dev/null || die "python3 is needed for the report"
out="${out:-$(mktemp -d "${TMPDIR:-/tmp}/siamese-soak-XXXXXX")}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
bench_use_built_plugin
export GST_REGISTRY="$out/gst-registry.bin"

# 1. A trained model and its gallery: the demo's.
if [ -z "$demo_out" ]; then
  demo_out="$out/demo"
  echo "== no --demo-out: running samples/demo.sh into $demo_out"
  SIAMESE_SKIP_SETUP=1 SIAMESE_BUILD_DIR="$build" "$root/samples/demo.sh" "$demo_out" ||
    die "samples/demo.sh failed"
fi
demo_out="$(cd "$demo_out" && pwd)"
model="$demo_out/model.pt"
[ -f "$model" ] && [ -f "$demo_out/gallery.db" ] || die "$demo_out has no model.pt and gallery.db"
enroll=("$build/bin/siamese-enroll")
face_flags=(--min-face-size 40 --largest-face)  # as the demo enrolls

echo "== preparing $out"
rm -f "$out"/gallery.db* "$out"/with.db* "$out"/without.db* "$out"/audit.db*
cp "$demo_out/gallery.db" "$out/with.db"  # the demo checkpoints: the file holds everything
"${enroll[@]}" list --gallery "$out/with.db" | grep -w "$subject" >/dev/null ||
  die "$subject is not enrolled in $demo_out/gallery.db"
# A rebuild clears the stored threshold (it belonged to the old model): give it back.
stored="$("${enroll[@]}" list --gallery "$out/with.db" --json | python3 -c \
  'import json, sys; t = json.loads(sys.stdin.readline()).get("threshold"); print("" if t is None else repr(t))')"
rebuild_threshold=()
[ -z "$stored" ] || rebuild_threshold=(--threshold "$stored")
cp "$out/with.db" "$out/without.db"
"${enroll[@]}" remove --gallery "$out/without.db" "$subject" >/dev/null
cp "$out/with.db" "$out/gallery.db"
rm -rf "$out/enroll-subject"
mkdir -p "$out/enroll-subject/$subject"
for k in 1 2 3 4 5; do ln -s "$(cd "$data" && pwd)/$subject/$k.pgm" "$out/enroll-subject/$subject/"; done

# 2. The loop: SUBJECT (images the gallery never saw) and a stranger cross the frame side by
#    side, so SUBJECT is in view in nearly every frame; played from JPEG files as a camera.
"$build/bin/siamese-render-walk" --data "$data" --people "$subject" --images 6-10 \
  --strangers "$stranger" --pairs 1 --gap 0 --segment "$segment" --fps "$fps" --seed 3 \
  --out "$out/walk.avi" --truth "$out/walk.json" >/dev/null
rm -rf "$out/frames"
mkdir -p "$out/frames"
gst-launch-1.0 -q filesrc location="$out/walk.avi" ! avidemux ! \
  multifilesink location="$out/frames/%05d.jpg" >/dev/null
# identity sync=true plays at the frame rate; the leaky queue drops frames the element has no
# time for, as behind a camera, so decisions stay close to the wall clock.
source_desc="multifilesrc location=$out/frames/%05d.jpg loop=true \
caps=image/jpeg,framerate=$fps/1 ! jpegdec ! videoconvert ! identity sync=true ! \
queue leaky=downstream max-size-buffers=1"

# 3. Both processes. Bus lines become JSON (siamese-bus-json) stamped with the wall clock.
stamp() { while IFS= read -r line; do printf '{"wall":%s,"m":%s}\n' "$EPOCHREALTIME" "$line"; done; }
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
printf 'start\t%s\n' "$EPOCHREALTIME" >"$out/run.tsv"
stdbuf -oL gst-launch-1.0 -e -m $source_desc ! \
  faceverify name=faceverify0 model="$model" gallery="$out/gallery.db" ! fakesink sync=false \
  > >("$build/bin/siamese-bus-json" --only faceverify | stamp >"$out/element.jsonl") \
  2>"$out/element.err" &
element_pid=$!
pids+=("$element_pid")
"$build/bin/siamese-access-control" --pipeline-desc "$source_desc ! \
faceverify name=faceverify0 ! fakesink sync=false" --model "$model" --gallery "$out/gallery.db" \
  --audit-log "$out/audit.db" --verbose >"$out/access.log" 2>&1 &
access_pid=$!
pids+=("$access_pid")

# 4. Samples from /proc: RSS, open fds, threads ("-" once a process is gone).
sample_proc() {  # LABEL PID
  local rss threads fds
  if [ -r "/proc/$2/status" ]; then
    rss="$(awk '/^VmRSS:/ {print $2}' "/proc/$2/status" 2>/dev/null || true)"
    threads="$(awk '/^Threads:/ {print $2}' "/proc/$2/status" 2>/dev/null || true)"
    fds="$(find "/proc/$2/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$EPOCHREALTIME" "$1" "$2" "${rss:--}" "${fds:--}" \
    "${threads:--}" >>"$out/samples.tsv"
  printf '  %-8s RSS %s kB, %s fds, %s threads\n' "$1" "${rss:--}" "${fds:--}" "${threads:--}"
}
printf 'wall\tprocess\tpid\trss_kb\tfds\tthreads\n' >"$out/samples.tsv"
printf 'start\tdone\tkind\texpect\tstatus\n' >"$out/changes.tsv"

# 5. The changes, in turn; each records when it started and when its command finished.
kinds=(remove replace-with rebuild replace-without add)
change() {  # KIND
  local status=0 expect=present start="$EPOCHREALTIME"
  case "$1" in
    remove)
      expect=absent
      "${enroll[@]}" remove --gallery "$out/gallery.db" "$subject" >>"$out/enroll.log" 2>&1 ||
        status=$? ;;
    replace-with)
      { cp "$out/with.db" "$out/gallery.db.new" && mv "$out/gallery.db.new" "$out/gallery.db"; } ||
        status=$? ;;
    rebuild)
      "${enroll[@]}" add --model "$model" --gallery "$out/gallery.db" --rebuild \
        "${rebuild_threshold[@]}" "${face_flags[@]}" >>"$out/enroll.log" 2>&1 || status=$? ;;
    replace-without)
      expect=absent
      { cp "$out/without.db" "$out/gallery.db.new" &&
          mv "$out/gallery.db.new" "$out/gallery.db"; } || status=$? ;;
    add)
      "${enroll[@]}" add --model "$model" --gallery "$out/gallery.db" "${face_flags[@]}" \
        "$out/enroll-subject" >>"$out/enroll.log" 2>&1 || status=$? ;;
  esac
  printf '%s\t%s\t%s\t%s\t%s\n' "$start" "$EPOCHREALTIME" "$1" "$expect" "$status" \
    >>"$out/changes.tsv"
}

echo "== soak for $duration s: a change every $interval s, samples every $sample s ($out)"
begin=$SECONDS next_change=$interval next_sample=5 n=0
while [ $((SECONDS - begin)) -lt "$duration" ]; do
  now=$((SECONDS - begin))
  if [ "$now" -ge "$next_sample" ]; then
    echo "-- $((now / 60)) min $((now % 60)) s, $n changes"
    for pid in "$element_pid" "$access_pid"; do
      kill -0 "$pid" 2>/dev/null || echo "soak: process $pid has exited (see $out/*.err, *.log)"
    done
    sample_proc element "$element_pid"
    sample_proc access "$access_pid"
    next_sample=$((next_sample + sample))
  fi
  if [ "$now" -ge "$next_change" ]; then
    change "${kinds[$((n % ${#kinds[@]}))]}"
    n=$((n + 1))
    next_change=$((SECONDS - begin + interval))  # INTERVAL s of the new state, however long
                                                 # the command took
  fi
  sleep 0.2
done
sample_proc element "$element_pid"
sample_proc access "$access_pid"
printf 'end\t%s\n' "$EPOCHREALTIME" >>"$out/run.tsv"

# 6. Stop both (EOS on SIGINT), then the report.
cleanup
for pid in "${pids[@]}"; do
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && { echo "soak: $pid did not stop on SIGINT; killing"; kill "$pid"; }
done
wait 2>/dev/null || true
pids=()
grep -h -m5 -i "error\|critical" "$out/element.err" "$out/access.log" 2>/dev/null |
  sed 's/^/  log: /' || true
python3 "$root/samples/bench/soak_report.py" "$out" --subject "$subject" \
  --max-delay "$max_delay" --max-add-delay "$max_add_delay" --track-life "$segment" \
  --warmup "$(( duration > 120 ? 60 : 0 ))"
