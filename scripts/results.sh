#!/usr/bin/env bash
# The scores table of docs/results.md: every model on minrl's locomotion
# datasets, several seeds, the same number of training steps for all.
#
#   bash scripts/results.sh                 # all datasets, models and seeds (resumes; skips finished runs)
#   DATASETS="hopper-medium" SEEDS="1 2 3" bash scripts/results.sh
#
# Budget (2 vCPUs): the paper trains 100k steps; this runs STEPS (default
# 2000) for every model, with a 10% linear warm-up and lr 1e-3 for all (the
# Decision Mamba rate; DT's official 1e-4 barely moves in 2000 steps), 10
# evaluation episodes per target. Whole-episode models train on batches of
# EPISODE_BATCH (default 2) episodes, about the compute of 64 windows of 20
# steps. Needs the datasets: minrl collect --env minrl/<Robot>-v0 (docs/datasets.md).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-2000}
SEEDS=${SEEDS:-"1 2 3"}
DATASETS=${DATASETS:-"hopper-medium walker2d-medium halfcheetah-medium hopper-medium-replay walker2d-medium-replay halfcheetah-medium-replay hopper-medium-expert walker2d-medium-expert halfcheetah-medium-expert"}
MODELS=${MODELS:-"bc dt mingru minlstm mingru-episode minlstm-episode"}
OUT=${OUT:-runs/results}
EPISODE_BATCH=${EPISODE_BATCH:-2}
BIN=${BIN:-/tmp/minrl-results}
go build -tags openblas -o "$BIN" ./cmd/minrl
export MINRL_TRAIN_WARMUP=$((STEPS / 10)) MINRL_TRAIN_LR=0.001 MINRL_TRAIN_EVAL_EVERY=$((STEPS / 2)) MINRL_EVAL_EPISODES=10
for ds in $DATASETS; do
  for model in $MODELS; do
    for seed in $SEEDS; do
      preset="$ds-$model"
      dir="$OUT/$preset-s$seed"
      if [ -f "$dir/summary.json" ]; then continue; fi
      batch=()
      case $model in *-episode) batch=(--batch "$EPISODE_BATCH");; esac
      echo "== $preset seed $seed $(date +%T)"
      "$BIN" train "$preset" --steps "$STEPS" --seed "$seed" --out "$dir" "${batch[@]}" | tail -3
    done
  done
done
"$BIN" results "$OUT" --out docs/results-table.md
cat docs/results-table.md
