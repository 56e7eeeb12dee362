# Sourced first by the benchmark scripts: where the sources ($root) and the build ($build) are,
# die(), and the checks each makes before it starts. Set bench_name (the prefix of every error)
# before sourcing. The build folder is $SIAMESE_BUILD_DIR, default build/.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${SIAMESE_BUILD_DIR:-$root/build}" && pwd)"

die() { echo "${bench_name:-bench}: $*" >&2; exit 1; }

# bench_help: the script's header comment (after the #! line), without the "# ".
bench_help() { sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; }

# bench_flags FLAG=VAR... -- "$@": reads each "--FLAG VALUE" of the command line into the
# variable VAR; --help prints the header comment; another argument, or a flag without its value,
# is a usage error (exit 2).
bench_flags() {
  local -A var_of=()
  while [ "$1" != -- ]; do var_of[${1%%=*}]="${1#*=}"; shift; done
  shift
  while [ $# -gt 0 ]; do
    case "$1" in -h | --help) bench_help; exit 0 ;; esac
    local flag="${1#--}"
    if [[ "$1" != --* || -z "${var_of[$flag]:-}" ]]; then
      echo "$bench_name: unknown argument $1 (see --help)" >&2
      exit 2
    fi
    [ $# -ge 2 ] || { echo "$bench_name: $1 needs a value" >&2; exit 2; }
    printf -v "${var_of[$flag]}" '%s' "$2"
    shift 2
  done
}

# bench_require_att DIR: the AT&T faces are in DIR.
bench_require_att() { [ -d "$1/s1" ] || die "no AT&T faces in $1 (--data or SIAMESE_DATA)"; }

# bench_require_lfw DIR: LFW with its View 2 pairs is in DIR.
bench_require_lfw() { [ -f "$1/pairs.txt" ] || die "no LFW in $1 (set SIAMESE_LFW)"; }

# bench_require_built PATH...: each PATH (relative to $build: bin/x, gst-plugins/y.so) is built.
bench_require_built() {
  local f
  for f in "$@"; do
    [ -e "$build/$f" ] || die "$build/$f is not built (cmake --build $build)"
  done
}

# bench_require_gst_launch: gst-launch-1.0 is on the PATH.
bench_require_gst_launch() {
  command -v gst-launch-1.0 >/dev/null || die "gst-launch-1.0 not installed (gstreamer1.0-tools)"
}

# The built plugin and a registry inside the build tree: the user's registry is not touched.
bench_use_built_plugin() {
  unset GST_PLUGIN_PATH_1_0 GST_REGISTRY_1_0
  export GST_PLUGIN_PATH="$build/gst-plugins" GST_REGISTRY="$build/gst-registry-bench.bin"
}
