#!/usr/bin/env bash
# dlib_reference.sh: LFW View 2 for the imported network with dlib's own face finder in front
# of it (dlib_reference.cpp: dlib's HOG detector and 68-point shape predictor, the components
# behind dlib's published 99.38%), beside siamese-eval --detect on the same photos (Haar boxes,
# face-api's landmarks: the project's default), one after the other in one run. Prints each row
# and its fold-by-fold difference from siamese-eval's (mean +- standard error over the folds).
# Installs Debian's libdlib-dev and libdlib-data when missing (apt-get, as root or with sudo),
# checks the shape predictor's sha256, and builds dlib_reference.
# Usage: samples/bench/dlib_reference.sh [--out DIR] [--folds K]
#   --out DIR    keeps the import and the JSON results (default: a temporary folder)
#   --folds K    only LFW's first K folds (default 10, all; 2: a quick check of ~5 minutes)
# Environment: SIAMESE_BUILD_DIR (default build/), SIAMESE_LFW, SIAMESE_IMPORT_ARGS (more
#   siamese-import flags, e.g. "--align-points five").
set -euo pipefail
bench_name=dlib_reference
# shellcheck source=bench_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
lfw="${SIAMESE_LFW:-$root/../shared/data/lfw}"
out="" folds=10
bench_flags out=out folds=folds -- "$@"
bench_require_lfw "$lfw"
bench_require_built bin/siamese-import bin/siamese-eval
predictor=/usr/share/dlib/shape_predictor_68_face_landmarks.dat
# Debian 12's libdlib-data 19.24+dfsg-1; another version is named, not silently used.
predictor_sha256=fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f

missing=()
for p in libdlib-dev libdlib-data; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "$bench_name: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}"
fi
echo "$predictor_sha256  $predictor" | sha256sum --check --quiet ||
  die "$predictor is not the shape predictor this figure was measured with (sha256 above)"
# A build configured before dlib was installed finds it now.
[ -e "$build/bin/dlib_reference" ] || cmake "$build" >/dev/null
cmake --build "$build" --target dlib_reference >/dev/null

if [ -z "$out" ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
model="$out/dlib.pt"
# shellcheck disable=SC2086
[ -f "$model" ] || "$build/bin/siamese-import" face-api ${SIAMESE_IMPORT_ARGS:-} --out "$model" >/dev/null
pairs="$lfw/pairs.txt"
if [ "$folds" != 10 ]; then
  # The first K folds' pairs with the header saying K (siamese-eval reads the folds it is told).
  per_fold="$(head -1 "$lfw/pairs.txt" | cut -f2)"
  pairs="$out/pairs-$folds.txt"
  { printf '%s\t%s\n' "$folds" "$per_fold"; sed -n "2,$((folds * per_fold * 2 + 1))p" "$lfw/pairs.txt"; } >"$pairs"
fi
export OMP_NUM_THREADS=1
echo "$bench_name: siamese-eval --detect (Haar boxes, face-api landmarks) on $folds folds"
"$build/bin/siamese-eval" --model "$model" --data "$lfw" --pairs "$pairs" --detect --threads 1 \
  --json >"$out/siamese_eval.json"
echo "$bench_name: dlib's HOG detector and shape predictor"
"$build/bin/dlib_reference" --model "$model" --data "$lfw" --pairs "$pairs" --predictor "$predictor" \
  --json >"$out/dlib_reference.json"

python3 - "$out/siamese_eval.json" "$out/dlib_reference.json" <<'EOF'
import json, math, sys
def last_object(path):
    lines = [l for l in open(path) if l.strip().startswith("{")]
    return json.loads(lines[-1])
base = last_object(sys.argv[1])
base_folds = base["fold_accuracies"]
rows = [("siamese-eval --detect (Haar, face-api landmarks)", base)]
rows += [(r["row"], r) for r in map(json.loads, (l for l in open(sys.argv[2]) if l.strip()))]
print(f"{'row':<50} {'accuracy':>16} {'AUC':>7} {'EER':>6}  fold by fold")
for name, r in rows:
    diffs = [100 * (a - b) for a, b in zip(r["fold_accuracies"], base_folds)]
    mean = sum(diffs) / len(diffs)
    sem = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs))
    versus = "" if r is base else f"{mean:+.2f} +- {sem:.2f}"
    print(f"{name:<50} {100 * r['mean_accuracy']:7.2f}% +- {100 * r['standard_error']:.2f} "
          f"{r['auc']:.4f} {100 * r['eer']:5.2f}%  {versus}")
EOF
