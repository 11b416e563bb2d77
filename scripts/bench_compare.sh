#!/usr/bin/env bash
# Side-by-side speed comparison on this machine, in one run:
#   minrl (pure Go), minrl (-tags openblas) and PyTorch (Debian python3-torch)
# on one layer's training step (forward + backward), B=64, d=128.
#
#   bash scripts/bench_compare.sh [T ...]              # default T: 256 1024
#   OUT=docs/bench bash scripts/bench_compare.sh      # replace the committed tables
#
# Writes compare.md and each tool's raw results to $OUT, by default a new
# scratch directory (the committed docs/bench only when asked for). Without
# PyTorch the table has no PyTorch column: an old torch.json is never used.
set -euo pipefail
cd "$(dirname "$0")/.."
Ts=("${@:-256}")
[ $# -gt 0 ] || Ts=(256 1024)
csv=$(IFS=,; echo "${Ts[*]}")
out=${OUT:-$(mktemp -d /tmp/minrl-compare.XXXXXX)}
mkdir -p "$out" /tmp/minrl-bench
rm -f "$out/torch.json" # a stale one would pass for this run's
go build -o /tmp/minrl-bench/minrl-purego ./cmd/minrl
go build -tags openblas -o /tmp/minrl-bench/minrl-openblas ./cmd/minrl
/tmp/minrl-bench/minrl-purego bench speed --T "$csv" --repeats 3 --out "$out/purego"
/tmp/minrl-bench/minrl-openblas bench speed --T "$csv" --repeats 3 --out "$out/openblas"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	/usr/bin/python3 scripts/bench_torch.py --T "${Ts[@]}" --repeats 3 --json "$out/torch.json"
else
	echo "PyTorch not installed (apt-get install python3-torch): skipping the reference" >&2
fi
/usr/bin/python3 - "$out" "${Ts[*]}" <<'PY'
import json, os, sys, platform
out = sys.argv[1]
def go(name):
    d = json.load(open(f"{out}/{name}/speed.json"))
    res = {}
    for r in d["results"]:
        s = sorted(r["Seconds"]); n = len(s)
        res[(r["Model"], r["T"])] = 1000 * (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2)
    return d["gemm"], res
g1, pure = go("purego"); g2, blas = go("openblas")
torch = json.load(open(f"{out}/torch.json")) if os.path.exists(f"{out}/torch.json") else None
Ts = sorted({t for (_, t) in pure})
lines = ["| T | model | minrl pure Go (%s) ms | minrl -tags openblas (%s) ms | PyTorch %s ms | PyTorch / minrl openblas |" % (g1, g2, torch["torch"] if torch else "-"),
         "|---:|---|---:|---:|---:|---:|"]
pairs = [("mingru", "mingru-log"), ("mingru", "mingru-seq"), ("minlstm", "minlstm-log"), ("gru", "gru"), ("lstm", "lstm")]
for t in Ts:
    for m, tm in pairs:
        tv = torch["ms"].get(tm, {}).get(str(t)) if torch else None
        ratio = f"{tv / blas[(m, t)]:.1f}x" if tv else "-"
        lines.append(f"| {t} | {m} vs torch {tm} | {pure[(m, t)]:.1f} | {blas[(m, t)]:.1f} | {tv:.1f} | {ratio} |" if tv else
                     f"| {t} | {m} | {pure[(m, t)]:.1f} | {blas[(m, t)]:.1f} | - | - |")
    if torch and "gru" in torch["ms"]:
        lines.append(f"| {t} | **minrl mingru vs torch nn.GRU** | | {blas[('mingru', t)]:.1f} | {torch['ms']['gru'][str(t)]:.1f} | **{torch['ms']['gru'][str(t)] / blas[('mingru', t)]:.1f}x** |")
text = "\n".join(lines) + "\n"
with open(f"{out}/compare.md", "w") as f:
    f.write("Command: `bash scripts/bench_compare.sh %s`, %s, %d CPUs. Medians of 3 steps after a warm-up.\n\n" % (sys.argv[2], platform.processor() or platform.machine(), os.cpu_count()) + text)
print(text)
PY
echo "wrote $out/compare.md" >&2
