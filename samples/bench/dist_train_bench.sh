#!/usr/bin/env bash
# Data-parallel training speed of siamese-train (issue 16): training pairs/s of the default
# architecture on AT&T (s1..s30 train, s31..s40 validate; batch 64, augmentation and batch-hard
# mining on, as by default) with 1, 2 and 4 ranks on this machine, each rank one LibTorch
# thread, plus one process with all cores' threads (what one machine does without ranks).
# Rounds are interleaved (every setting once per round) so a shared machine's noise falls on all
# alike. Per setting: the median over rounds of rank 0's median epoch rate (epochs 2..), and the
# share of the training steps' time spent in collectives (gathering embeddings, all-reducing
# gradients, waiting for the slowest rank).
# Usage: samples/bench/dist_train_bench.sh
# Environment: ROUNDS (3), EPOCHS (4), RANKS ("1 2 4"), SIAMESE_BUILD_DIR (build),
#   SIAMESE_DATA (../shared/data/att_faces).
set -euo pipefail
bench_name=dist_train_bench
source "$(dirname "${BASH_SOURCE[0]}")/bench_common.sh"
[ "${1:-}" = --help ] && { bench_help; exit 0; }
data="${SIAMESE_DATA:-$root/../shared/data/att_faces}"
rounds="${ROUNDS:-3}"
epochs="${EPOCHS:-4}"
read -r -a ranks <<< "${RANKS:-1 2 4}"
bench_require_att "$data"
bench_require_built bin/siamese-train
cores="$(nproc)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset OMP_NUM_THREADS RANK WORLD_SIZE MASTER_ADDR MASTER_PORT

train=("$build/bin/siamese-train" --data "$data" --val-identities 10 --epochs "$epochs"
  --batch-size 64 --seed 1)

# median: the median of the numbers on stdin, one a line.
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# run NAME WORLD THREADS: one job of WORLD ranks; appends "NAME pairs/s share%" to $work/results.
run() {
  local name="$1" world="$2" threads="$3" port r pids=()
  port=$((20000 + RANDOM % 20000))
  for ((r = world - 1; r >= 0; r--)); do
    "${train[@]}" --threads "$threads" --out "$work/m.pt" --world-size "$world" --rank "$r" \
      --master "127.0.0.1:$port" > "$work/rank$r.log" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p" || die "$name: a rank failed: $(tail -n 2 "$work"/rank*.log)"
  done
  # Rank 0's epochs 2.. (the first warms up): "epoch E/N  loss L  S s  R pairs/s ..."
  local rate share
  rate="$(grep -E '^epoch [0-9]+/[0-9]+  loss' "$work/rank0.log" | tail -n +2 |
    sed -E 's/.* ([0-9]+) pairs\/s.*/\1/' | median)"
  share="$(sed -nE 's/^distributed: .*\(([0-9.]+)%.*/\1/p' "$work/rank0.log")"
  echo "$name $rate ${share:-0}" >> "$work/results"
}

: > "$work/results"
for ((round = 1; round <= rounds; round++)); do
  run "1x${cores}threads" 1 "$cores"
  for w in "${ranks[@]}"; do run "${w}ranks" "$w" 1; done
  echo "round $round/$rounds done" >&2
done

echo "dist_train_bench: $(nproc) cores, default arch, batch 64, $epochs epochs, $rounds rounds"
printf '%-16s %12s %14s %18s\n' setting pairs/s vs-1-rank collectives-share
base="$(awk '$1 == "1ranks" { print $2 }' "$work/results" | median)"
for name in "1x${cores}threads" $(printf '%sranks ' "${ranks[@]}"); do
  rate="$(awk -v n="$name" '$1 == n { print $2 }' "$work/results" | median)"
  share="$(awk -v n="$name" '$1 == n { print $3 }' "$work/results" | median)"
  printf '%-16s %12s %14s %17s%%\n' "$name" "$rate" \
    "$(awk -v r="$rate" -v b="$base" 'BEGIN { printf "%.2fx", r / b }')" "$share"
done
