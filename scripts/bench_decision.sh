#!/usr/bin/env bash
# Decision-model throughput, side by side in one run: minrl (pure Go and
# -tags openblas) and the same models in PyTorch (scripts/bench_torch_decision.py,
# Debian's python3-torch): training steps per second and act latency per
# env step. Writes docs/bench/decision.md and the raw outputs beside it in
# docs/bench/decision/.
#
#   bash scripts/bench_decision.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/bench
raw=$out/decision
mkdir -p "$raw"
# minrl: 5 runs (go test -count 5) of 10 training steps or of 0.5 s of
# acting (sub-millisecond steps need many to time); the table takes the
# median of the 5 means.
for tags in purego openblas; do
  {
    go test -tags "$tags" ./policy -run XXX -bench 'TrainStep/(dt|mingru|minlstm)$' -benchtime 10x -count 5
    go test -tags "$tags" ./policy -run XXX -bench 'Act' -benchtime 0.5s -count 5
  } > "$raw/$tags.txt"
done
go version > "$raw/go-version.txt"
/usr/bin/python3 scripts/bench_torch_decision.py --repeats 10 --json "$raw/torch.json" > /dev/null
/usr/bin/python3 - "$out/decision.md" <<'PY'
import json, re, statistics, sys
def go(path):
    runs = {}
    for line in open(path):
        m = re.match(r"Benchmark(\S+)-\d+\s+\d+\s+(\d+) ns/op", line)
        if m:
            runs.setdefault(m.group(1), []).append(int(m.group(2)) / 1e6)  # ms
    return {k: statistics.median(v) for k, v in runs.items()}
raw = "docs/bench/decision"
pure, blas = go(raw + "/purego.txt"), go(raw + "/openblas.txt")
t = json.load(open(raw + "/torch.json"))
L = ["Command: `bash scripts/bench_decision.sh` (B=64, K=20, embed 128, 3 layers, obs 11, act 3; 2 vCPUs; %s; torch %s, %d threads; raw outputs in docs/bench/decision/)." % (open(raw + "/go-version.txt").read().split()[2], t["torch"], t["threads"]), "",
     "Training step (forward, masked MSE, backward, gradient clipping, AdamW), ms; minrl: median of 5 means of 10 steps; PyTorch: median of 10 steps.",
     "PyTorch runs the minRNN scan in the official log-space parallel form (logcumsumexp) and, in the last columns, as a sequential loop in linear space:", "",
     "| model | minrl pure Go | minrl openblas | PyTorch | PyTorch / minrl openblas | PyTorch, loop scan | loop / minrl openblas |", "|---|---:|---:|---:|---:|---:|---:|"]
for k in ["dt", "mingru", "minlstm"]:
    p, b, tt = pure["TrainStep/" + k], blas["TrainStep/" + k], t["train_ms"][k]
    loop = t["train_ms"].get(k + "-seq")
    extra = f"{loop:.1f} | {loop/b:.1f}x" if loop else "- | -"
    L.append(f"| {k} | {p:.1f} | {b:.1f} | {tt:.1f} | {tt/b:.1f}x | {extra} |")
L += ["", "Acting, ms per env step for n episodes in lockstep (window: re-run the last K steps; episode: carried state, O(1)); minrl: median of 5 means over 0.5 s each; PyTorch: median of 50 steps, its episode step as three one-token passes (minrl feeds the three new tokens as one chunk):", "",
      "| model, mode | n | minrl pure Go | minrl openblas | PyTorch |", "|---|---:|---:|---:|---:|"]
for k in ["dt", "mingru"]:
    for mode in ["window", "episode"]:
        for n in [1, 16]:
            key = f"Act/{mode}/{k}/n={n}"
            if key not in pure:
                continue
            L.append(f"| {k}, {mode} | {n} | {pure[key]:.3f} | {blas[key]:.3f} | {t['act_ms'].get(f'{k}/{mode}/n={n}', float('nan')):.3f} |")
L += ["", "minGRU's stateful step against DT's windowed step, in the same build:", "",
      "| n | pure Go | openblas |", "|---:|---:|---:|"]
for n in [1, 16]:
    L.append(f"| {n} | {pure[f'Act/window/dt/n={n}']/pure[f'Act/episode/mingru/n={n}']:.1f}x | {blas[f'Act/window/dt/n={n}']/blas[f'Act/episode/mingru/n={n}']:.1f}x |")
open(sys.argv[1], "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
