#!/usr/bin/env bash
# The scores table of docs/results.md: every model on minrl's locomotion
# datasets, several seeds, the same number of training steps for all.
#
#   bash scripts/results.sh                 # all datasets, models and seeds (skips runs already recorded)
#   DATASETS="hopper-medium" SEEDS="1 2 3" bash scripts/results.sh
#
# Each finished run's summary.json, evals.jsonl and eval_final.json are
# copied to docs/results/runs/<preset>-s<seed>/ (committed, so the table
# survives across machines); a run recorded there is not run again. At the
# end the table (minrl results docs/results/runs) replaces the one between
# the table markers of docs/results.md; with another RECORD directory (an
# experiment beside the main grid) the table is only printed.
#
# Budget (2 vCPUs): the paper trains 100k steps; this runs STEPS (default
# 2000) for every model, evaluating every EVAL_EVERY steps (default STEPS/2),
# with a 10% linear warm-up and lr 1e-3 for all (the
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
RECORD=${RECORD:-docs/results/runs}
EPISODE_BATCH=${EPISODE_BATCH:-2}
EVAL_EVERY=${EVAL_EVERY:-$((STEPS / 2))}
BIN=${BIN:-/tmp/minrl-results}
go build -tags openblas -o "$BIN" ./cmd/minrl
export MINRL_TRAIN_WARMUP=$((STEPS / 10)) MINRL_TRAIN_LR=0.001 MINRL_TRAIN_EVAL_EVERY=$EVAL_EVERY MINRL_EVAL_EPISODES=10
# Seed-major order: a first seed of every cell comes before the second, so a
# partial grid still covers every dataset.
for seed in $SEEDS; do
  for ds in $DATASETS; do
    for model in $MODELS; do
      preset="$ds-$model"
      name="$preset-s$seed"
      if [ -f "$RECORD/$name/summary.json" ]; then continue; fi
      batch=()
      case $model in *-episode) batch=(--batch "$EPISODE_BATCH");; esac
      echo "== $name $(date +%T)"
      "$BIN" train "$preset" --steps "$STEPS" --seed "$seed" --out "$OUT/$name" "${batch[@]}" | tail -3
      mkdir -p "$RECORD/$name"
      cp "$OUT/$name/summary.json" "$OUT/$name/evals.jsonl" "$OUT/$name/eval_final.json" "$RECORD/$name/"
    done
  done
done
mkdir -p "$OUT"
"$BIN" results "$RECORD" --out "$OUT/table.md"
if [ "$RECORD" = docs/results/runs ]; then
  awk -v table="$OUT/table.md" '
    /^<!-- \/table -->/ { skip = 0 }
    !skip { print }
    /^<!-- table:/ { while ((getline line < table) > 0) print line; skip = 1 }
  ' docs/results.md > docs/results.md.tmp && mv docs/results.md.tmp docs/results.md
fi
cat "$OUT/table.md"
