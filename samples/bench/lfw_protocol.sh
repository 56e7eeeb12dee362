#!/usr/bin/env bash
# The LFW View 2 protocol (DESIGN.md section 7) and the AT&T protocol for the pretrained network,
# models trained here and fine-tuned ones (siamese-train --init), for anyone to repeat. Each
# model is made (imported or trained) once, then scored by siamese-eval on LFW's pairs.txt
# (10-fold accuracy and its standard error, AUC, EER, TAR at FAR 1e-2 and 1e-3) and on all pairs
# of the unseen AT&T people s1..s10, both on Haar detector crops (--detect).
#   dlib          siamese-import face-api --align none (dlib's ResNet as @vladmandic/face-api
#                 packages it, framing the detector's box)
#   att           the default architecture as the README trains it: AT&T s11..s40, 6 validate
#   lfw           the default architecture on the LFW people named in no pair of pairs.txt
#                 (1,468 people, 1,549 images: 52 people have two or more, the others one)
#   dlib-ft-lfw   dlib fine-tuned on those LFW people (--init, defaults: early layers frozen)
#   dlib-ft-lfw-last  the same without validation people: the last epoch kept, whatever it does
#   dlib-ft-att   dlib fine-tuned on AT&T s11..s40 (--init, defaults)
#   dlib-ft-site  dlib fine-tuned on a small site folder, AT&T s11..s20 (3 of them validate)
#   dlib-ft-site-unguarded  the same folder with no guard: nothing frozen, lr 1e-4, 10 epochs,
#                 no validation people (the last epoch kept): how far a network forgets
# Models and figures are kept in OUT; a model or figure already there is not made again.
# Usage: samples/bench/lfw_protocol.sh [NAME...]      (default: all of the above)
# Environment: OUT (out/lfw_protocol), SIAMESE_BUILD_DIR (build), SIAMESE_DATA (AT&T),
#   SIAMESE_LFW (LFW), THREADS (LibTorch's choice), LFW_EPOCHS (3: dlib-ft-lfw's epochs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${SIAMESE_BUILD_DIR:-$root/build}/bin"
att="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
lfw="${SIAMESE_LFW:-$root/../shared/data/lfw}"
out="${OUT:-$root/out/lfw_protocol}"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(dlib att lfw dlib-ft-lfw dlib-ft-lfw-last dlib-ft-att
  dlib-ft-site dlib-ft-site-unguarded)
threads=()
[ -z "${THREADS:-}" ] || threads=(--threads "$THREADS")

for p in siamese-train siamese-eval siamese-import; do
  [ -x "$bin/$p" ] || { echo "lfw_protocol: $bin/$p is not built (cmake --build build)" >&2; exit 1; }
done
[ -f "$lfw/pairs.txt" ] || { echo "lfw_protocol: no LFW pairs.txt in $lfw (set SIAMESE_LFW)" >&2; exit 1; }
[ -d "$att/s1" ] || { echo "lfw_protocol: no AT&T faces in $att (set SIAMESE_DATA)" >&2; exit 1; }
mkdir -p "$out"

# make NAME: the model file $out/NAME.pt (and its training log).
make_model() {
  local name=$1 model="$out/$1.pt"
  [ -f "$model" ] && return 0
  local lfw_people=(--data "$lfw" --exclude-pairs "$lfw/pairs.txt" --min-images 1 --detect
    --val-identities 10)
  local args
  case "$name" in
    # Framed, as the README's rows (and the fine-tuned ones built on it) were measured.
    dlib) "$bin/siamese-import" face-api --align none --out "$model"; return 0 ;;
    att) args=(--data "$att" --identities s11-s40 --val-identities 6 --detect) ;;
    lfw) args=("${lfw_people[@]}") ;;
    dlib-ft-lfw) make_model dlib
      args=(--init "$out/dlib.pt" "${lfw_people[@]}" --epochs "${LFW_EPOCHS:-3}") ;;
    dlib-ft-lfw-last) make_model dlib
      args=(--init "$out/dlib.pt" "${lfw_people[@]:0:7}" --val-identities 0
        --epochs "${LFW_EPOCHS:-3}") ;;
    dlib-ft-att) make_model dlib
      args=(--init "$out/dlib.pt" --data "$att" --identities s11-s40 --val-identities 6 --detect) ;;
    dlib-ft-site) make_model dlib
      args=(--init "$out/dlib.pt" --data "$att" --identities s11-s20 --val-identities 3 --detect) ;;
    dlib-ft-site-unguarded) make_model dlib
      args=(--init "$out/dlib.pt" --data "$att" --identities s11-s20 --val-identities 0 --detect
        --freeze 0 --lr 1e-4 --epochs 10) ;;
    *) echo "lfw_protocol: unknown model '$name'" >&2; exit 2 ;;
  esac
  echo "== $name: siamese-train ${args[*]} (log: $out/$name.train.log)"
  "$bin/siamese-train" "${args[@]}" "${threads[@]}" --out "$model" > "$out/$name.train.log"
}

for name in "${names[@]}"; do
  make_model "$name"
  if [ ! -f "$out/$name.lfw.json" ]; then
    echo "== $name: LFW View 2 (detector crops)"
    "$bin/siamese-eval" --model "$out/$name.pt" --data "$lfw" --pairs "$lfw/pairs.txt" --detect \
      --json "${threads[@]}" > "$out/$name.lfw.json.tmp"
    mv "$out/$name.lfw.json.tmp" "$out/$name.lfw.json"
  fi
  if [ ! -f "$out/$name.att.json" ]; then
    "$bin/siamese-eval" --model "$out/$name.pt" --data "$att" --identities s1-s10 --detect \
      --json "${threads[@]}" > "$out/$name.att.json"
  fi
done

/usr/bin/python3 - "$out" "${names[@]}" <<'EOF'
import json, math, os, sys
out, names = sys.argv[1], sys.argv[2:]
print()
print("LFW View 2 (6000 pairs, 10 folds; each fold at the threshold best on the other nine) and the")
print("AT&T protocol (unseen s1..s10, 4950 pairs), both on Haar detector crops")
head = ("%-24s %15s %7s %7s %9s %9s %8s | %7s %7s %7s"
        % ("model", "LFW accuracy", "AUC", "EER", "TAR@1e-2", "TAR@1e-3", "no face", "AT&T AUC",
           "EER", "TAR@1%"))
print(head)
base = "%s/dlib.lfw.json" % out
base = json.load(open(base))["fold_accuracies"] if os.path.exists(base) else None
paired = []
for n in names:
    l = json.load(open("%s/%s.lfw.json" % (out, n)))
    a = json.load(open("%s/%s.att.json" % (out, n)))
    print("%-24s %8.2f%% +-%4.2f %7.4f %6.2f%% %9.3f %9.3f %8d | %7.4f %6.2f%% %7.3f" % (
        n, 100 * l["mean_accuracy"], 100 * l["standard_error"], l["auc"], 100 * l["eer"],
        l["tar_at_far_1e-2"], l["tar_at_far_1e-3"], l["no_face"], a["auc"], 100 * a["eer"],
        a["tar_at_far_1e-2"]))
    if base and n != "dlib":
        d = [x - y for x, y in zip(l["fold_accuracies"], base)]
        m = sum(d) / len(d)
        se = math.sqrt(sum((x - m) ** 2 for x in d) / (len(d) - 1) / len(d))
        paired.append("%-24s %+6.2f +- %.2f points" % (n, 100 * m, 100 * se))
if paired:
    print("\nLFW accuracy minus dlib's, fold by fold (mean and standard error of the 10 differences):")
    print("\n".join(paired))
EOF
