#!/usr/bin/env bash
# Decision-model throughput, side by side in one run: minrl (pure Go and
# -tags openblas) and the same models in PyTorch (scripts/bench_torch_decision.py,
# Debian's python3-torch): training steps per second and act latency per
# env step. Writes docs/bench/decision.md.
#
#   bash scripts/bench_decision.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/bench
mkdir -p "$out"
go test ./policy -run XXX -bench 'TrainStep|Act' -benchtime 20x > /tmp/bench_decision_purego.txt
go test -tags openblas ./policy -run XXX -bench 'TrainStep|Act' -benchtime 20x > /tmp/bench_decision_openblas.txt
/usr/bin/python3 scripts/bench_torch_decision.py --repeats 10 --json /tmp/bench_decision_torch.json > /dev/null
/usr/bin/python3 - "$out/decision.md" <<'PY'
import json, re, sys
def go(path):
    r = {}
    for line in open(path):
        m = re.match(r"Benchmark(\S+)-\d+\s+\d+\s+(\d+) ns/op", line)
        if m:
            r[m.group(1)] = int(m.group(2)) / 1e6  # ms
    return r
pure, blas = go("/tmp/bench_decision_purego.txt"), go("/tmp/bench_decision_openblas.txt")
t = json.load(open("/tmp/bench_decision_torch.json"))
L = ["Command: `bash scripts/bench_decision.sh` (B=64, K=20, embed 128, 3 layers, obs 11, act 3; 2 vCPUs; torch %s, %d threads)." % (t["torch"], t["threads"]), "",
     "Training step (forward, masked MSE, backward, AdamW), ms:", "",
     "| model | minrl pure Go | minrl openblas | PyTorch | PyTorch / minrl openblas |", "|---|---:|---:|---:|---:|"]
for k in ["dt", "mingru", "minlstm"]:
    p, b, tt = pure["TrainStep/" + k], blas["TrainStep/" + k], t["train_ms"][k]
    L.append(f"| {k} | {p:.1f} | {b:.1f} | {tt:.1f} | {tt/b:.1f}x |")
L += ["", "Acting, ms per env step for n episodes in lockstep (window: re-run the last K steps; episode: carried state, O(1)):", "",
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
