# Sourced by the element benchmarks (element_bench, streams_bench, memory_bench, ...) after
# bench_common.sh: the benchmark's walk video in a temporary folder. Expects $data.

# bench_render_walk SECONDS: sets $work (a temporary folder, removed on exit) and $video, a
# 640x480 walk of s1..s10 and five strangers, often two at once, with $work/walk.json.
bench_render_walk() {
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  video="$work/walk.avi"
  "$build/bin/siamese-render-walk" --data "$data" --people s1-s10 --strangers s21-s25 \
    --out "$video" --truth "$work/walk.json" --seconds "$1" --gap 0 --pairs 0.5 \
    --seed 1 >/dev/null || die "siamese-render-walk failed"
}
