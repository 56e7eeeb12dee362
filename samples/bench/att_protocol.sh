#!/usr/bin/env bash
# The AT&T protocol (issue 2, DESIGN.md section 7) for anyone to repeat: train on s11..s40 only,
# then score all 4950 pairs of the unseen people s1..s10 with siamese-eval (AUC, EER, TAR@FAR=1%,
# accuracy at the model's calibrated threshold), beside the Python reference.
#   seed:    the seed's network at the seed's settings, exactly as seed_baseline.py trains it
#            (s11..s40, contrastive margin 2, Adam 5e-4, batch 64, 100 epochs, last epoch kept,
#            threshold calibrated on the training identities: there are no others).
#   default: siamese-train's defaults; s11..s34 train, s35..s40 are the validation identities
#            that pick the best epoch and calibrate the threshold.
# Also reported: the same test with detector crops (each test image placed on a gray background,
# found by the Haar cascade and framed by the model's crop policy, as the element frames faces).
# Usage: samples/bench/att_protocol.sh [seed] [default]      (default: both)
# Environment: EPOCHS (seed, 100), DEFAULT_EPOCHS (default: siamese-train's), SEED (0),
#   THREADS (2), OUT (out/att_protocol), SIAMESE_BUILD_DIR (build), SIAMESE_DATA,
#   TRAIN_IDS (s11-s34), VAL_IDS (s35-s40), TEST_IDS (s1-s10), EXTRA (more siamese-train flags).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${SIAMESE_BUILD_DIR:-$root/build}/bin"
data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
out="${OUT:-$root/out/att_protocol}"
threads="${THREADS:-2}"
seed="${SEED:-0}"
train_ids="${TRAIN_IDS:-s11-s34}"
val_ids="${VAL_IDS:-s35-s40}"
test_ids="${TEST_IDS:-s1-s10}"
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(seed default)

for p in siamese-train siamese-eval; do
  [ -x "$bin/$p" ] || { echo "att_protocol: $bin/$p is not built (cmake --build build)" >&2; exit 1; }
done
[ -d "$data/s1" ] || { echo "att_protocol: no AT&T faces in $data (set SIAMESE_DATA)" >&2; exit 1; }
mkdir -p "$out"
# The LibTorch thread count is set with --threads; OpenBLAS (the seed's Linear layers) follows
# the same count.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-$threads}"

for arch in "${archs[@]}"; do
  if [ "$arch" = seed ]; then
    split=(--identities s11-s40 --val-identities 0 --epochs "${EPOCHS:-100}")
    what="s11-s40 (no validation identities, as the reference)"
  else
    split=(--identities "$train_ids" --val-identities-list "$val_ids")
    [ -z "${DEFAULT_EPOCHS:-}" ] || split+=(--epochs "$DEFAULT_EPOCHS")
    what="$train_ids, validating on $val_ids"
  fi
  model="$out/$arch.pt"
  echo "== $arch: training on $what (log: $out/$arch.train.log)"
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$bin/siamese-train" --arch "$arch" --data "$data" "${split[@]}" --out "$model" --seed "$seed" \
    --threads "$threads" --device cpu --plots "$out/$arch.plots" ${EXTRA:-} | tee "$out/$arch.train.log"
  end=$(date +%s.%N)
  echo "$start $end" > "$out/$arch.time"
  "$bin/siamese-eval" --model "$model" --data "$data" --identities "$test_ids" --device cpu \
    --threads "$threads" --json --roc "$out/$arch.test-roc.png" > "$out/$arch.test.json"
  "$bin/siamese-eval" --model "$model" --data "$data" --identities "$test_ids" --device cpu \
    --threads "$threads" --json --detect > "$out/$arch.test-detect.json"
done

/usr/bin/python3 - "$out" "$test_ids" "${archs[@]}" <<'EOF'
import json, sys
out, test_ids, archs = sys.argv[1], sys.argv[2], sys.argv[3:]
print()
print("AT&T protocol: unseen people %s, all pairs (accuracy at the model's stored threshold)"
      % test_ids)
print("%-26s %8s %8s %8s %10s %9s %10s" % ("", "AUC", "EER", "TAR@1%", "accuracy", "pairs",
                                          "train s"))
print("%-26s %8s %8s %8s %10s %9s %10s" % ("python seed (reference)", "0.93-0.96", "9-16%",
                                          "0.33", "", "4950", "~720"))
for arch in archs:
    for tag, name in (("test", arch), ("test-detect", arch + " (detector crops)")):
        r = json.load(open("%s/%s.%s.json" % (out, arch, tag)))
        start, end = map(float, open("%s/%s.time" % (out, arch)).read().split())
        print("%-26s %8.4f %7.2f%% %8.3f %9.2f%% %9d %10s" % (
            "C++ " + name, r["auc"], 100 * r["eer"], r["tar_at_far_1e-2"], 100 * r["accuracy"],
            r["pairs"], "%.0f" % (end - start) if tag == "test" else ""))
print("(detector crops: each test image placed on a gray background, found by the Haar cascade\n"
      " and framed with the model's crop policy, as the element does)")
EOF
