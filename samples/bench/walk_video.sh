# Sourced by the element benchmarks (element_bench, streams_bench, memory_bench): the built
# plugin on a registry inside the build tree, and the benchmark's walk video in a temporary
# folder. Expects $build, $data and die() from the sourcing script.

# The built plugin and a registry inside the build tree: the user's registry is not touched.
bench_use_built_plugin() {
  unset GST_PLUGIN_PATH_1_0 GST_REGISTRY_1_0
  export GST_PLUGIN_PATH="$build/gst-plugins" GST_REGISTRY="$build/gst-registry-bench.bin"
}

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
