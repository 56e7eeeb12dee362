#!/usr/bin/env bash
# Training and inference speed of the C++ trainer/embedder against the Python reference
# (../shared/anchors/seed_baseline.py) in ONE run, interleaved round by round so that the noise
# of a shared machine falls on both sides alike:
#   training pairs/s on AT&T s11..s40 (300 pairs per epoch, batch 64, seed's settings),
#   embeddings/s of one branch at batch 1 and 64 (eval, no autograd) on AT&T images,
# for the `seed` network on both sides and for the C++ default architecture. Each side is
# measured at every thread setting T[:B] (T LibTorch threads, B OpenBLAS threads, default: all
# cores) and reported at its best. The seed's big Linear layer wants OpenBLAS on both cores
# (the reference's best setting, see ../shared/anchors/README.md); the default architecture's
# small convolutions run best with OpenBLAS on one thread and LibTorch's own threads.
# Usage: samples/bench/train_bench.sh
# Environment: ROUNDS (2), EPOCHS (3 per training measurement), SETTINGS ("1 2 1:1 2:1"),
#   SIAMESE_BUILD_DIR (build), SIAMESE_DATA (../shared/data/att_faces), PYTHON (/usr/bin/python3),
#   OUT (out/train_bench: raw JSON lines).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bench="${SIAMESE_BUILD_DIR:-$root/build}/bin/train_bench"
anchor="$root/../shared/anchors/seed_baseline.py"
python="${PYTHON:-/usr/bin/python3}"
data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
rounds="${ROUNDS:-2}"
epochs="${EPOCHS:-3}"
read -r -a settings <<< "${SETTINGS:-1 2 1:1 2:1}"
out="${OUT:-$root/out/train_bench}"

[ -x "$bench" ] || { echo "train_bench: $bench is not built (cmake --build build --target train_bench)" >&2; exit 1; }
[ -f "$anchor" ] || { echo "train_bench: no reference at $anchor" >&2; exit 1; }
[ -d "$data/s1" ] || { echo "train_bench: no AT&T faces in $data (set SIAMESE_DATA)" >&2; exit 1; }
"$python" -c 'import torch' 2>/dev/null || { echo "train_bench: $python lacks torch (apt-get install python3-torch)" >&2; exit 1; }
mkdir -p "$out"
raw="$out/raw.jsonl"
: > "$raw"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset OMP_NUM_THREADS

py_train() {  # torch threads, setting name
  "$python" "$anchor" train --protocol P2 --epochs "$epochs" --threads "$1" --no-eval \
    --data "$data" --out "$work/py_train.json" > /dev/null
  "$python" - "$work/py_train.json" "$2" <<'EOF' >> "$raw"
import json, sys
r = json.load(open(sys.argv[1]))
rates = [e["pairs_per_s"] for e in r["epochs"]][1:] or [r["pairs_per_s"]["median"]]
rates.sort()
print(json.dumps(dict(side="python", mode="train", arch="seed", threads=sys.argv[2],
                      pairs_per_s=rates[len(rates) // 2])))
EOF
}

py_infer() {  # torch threads, setting name
  "$python" "$anchor" infer --infer-batches 1 64 --threads "$1" --data "$data" \
    --out "$work/py_infer.json" > /dev/null
  "$python" - "$work/py_infer.json" "$2" <<'EOF' >> "$raw"
import json, sys
r = json.load(open(sys.argv[1]))
for b, v in r["batches"].items():
    print(json.dumps(dict(side="python", mode="infer", arch="seed", threads=sys.argv[2],
                          batch=int(b), emb_per_s=v["emb_per_s"]["median"])))
EOF
}

cpp() {  # setting name, train_bench arguments...: one JSON line, labelled with the setting
  local name="$1"
  shift
  "$bench" "$@" --data "$data" | "$python" -c '
import json, sys
r = json.loads(sys.stdin.read()); r["threads"] = sys.argv[1]; print(json.dumps(r))' "$name" >> "$raw"
}

for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds ..." >&2
  for setting in "${settings[@]}"; do
    t="${setting%%:*}"
    blas=""
    [ "$setting" = "$t" ] || blas="${setting#*:}"
    if [ -n "$blas" ]; then export OPENBLAS_NUM_THREADS="$blas"; else unset OPENBLAS_NUM_THREADS; fi
    py_train "$t" "$setting"
    cpp "$setting" train --arch seed --epochs "$epochs" --threads "$t"
    cpp "$setting" train --arch default --epochs "$epochs" --threads "$t"
    py_infer "$t" "$setting"
    for b in 1 64; do
      cpp "$setting" infer --arch seed --batch "$b" --threads "$t"
      cpp "$setting" infer --arch default --batch "$b" --threads "$t"
    done
  done
done
unset OPENBLAS_NUM_THREADS

"$python" - "$raw" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def best(side, mode, arch, batch=None):
    """Median over rounds per thread setting, then the best thread setting."""
    key = "pairs_per_s" if mode == "train" else "emb_per_s"
    by_threads = {}
    for r in rows:
        if (r["side"], r["mode"], r["arch"]) == (side, mode, arch) and r.get("batch") == batch:
            by_threads.setdefault(r["threads"], []).append(r[key])
    if not by_threads:
        return float("nan"), None
    t, v = max(((t, statistics.median(v)) for t, v in by_threads.items()), key=lambda x: x[1])
    return v, t
print("%-26s %15s %15s %15s %7s" % ("figure", "python seed", "C++ seed", "C++ default",
                                      "C++/py"))
lines = [("training pairs/s", "train", None), ("embeddings/s, batch 1", "infer", 1),
         ("embeddings/s, batch 64", "infer", 64)]
ratios = {}
for label, mode, batch in lines:
    py, pt = best("python", mode, "seed", batch)
    cs, ct = best("cpp", mode, "seed", batch)
    cd, dt = best("cpp", mode, "default", batch)
    ratios[label] = (cs / py, cd / cs)
    print("%-26s %9.1f %-5s %9.1f %-5s %9.1f %-5s %6.2fx" % (
        label, py, "t" + str(pt), cs, "t" + str(ct), cd, "t" + str(dt), cs / py))
print()
print("C++ seed / Python seed (goal >= 1.0 everywhere): " +
      ", ".join("%s %.2fx" % (k, v[0]) for k, v in ratios.items()))
print("C++ default / C++ seed per face (goal >= 5x at batch 1 and 64): " +
      ", ".join("%s %.1fx" % (k, v[1]) for k, v in ratios.items()))
print("(tT[:B] = the best setting: T LibTorch threads, B OpenBLAS threads (default all cores);"
      " raw figures: %s)" % sys.argv[1])
EOF
