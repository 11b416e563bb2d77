#!/usr/bin/env bash
# The GPU checks of the CUDA path, in one run on a machine with an NVIDIA GPU
# and driver (no Go needed: scripts/gpu_build.sh makes the binaries in .gpu/).
# Every kernel and layer against the CPU engine, a Decision-minGRU training
# step and 200 steps against the CPU, train --device cuda end to end (and a
# run stopped on the GPU resumed on the CPU), the scan's bandwidth against a
# device-to-device copy, the layer sweep against PyTorch (cuDNN GRU and the
# paper's log-space minGRU/minLSTM), training throughput GPU vs CPU, and a
# time-bounded hopper-medium-mingru run. Everything goes to $OUT (default
# out/gpu): log.txt, torch.json, speed.md/json, the hopper run's files.
#
#   OUT=out/gpu HOPPER_SECONDS=180 bash scripts/gpu_check.sh
#
# SKIP_TORCH=1, SKIP_THROUGHPUT=1 and HOPPER_SECONDS=0 leave parts out.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
OUT=${OUT:-out/gpu}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
HOPPER_SECONDS=${HOPPER_SECONDS:-180}
bin=$root/.gpu
for f in "$bin"/*.gz; do [ -f "$f" ] && gunzip -f "$f"; done
chmod +x "$bin"/*
# Our binaries find the driver's libcuda here; PyTorch must not (the system
# cuDNN in /usr/lib would shadow its own).
cudalib=/usr/local/nvidia/lib64:/usr/local/nvidia/lib:/usr/lib/x86_64-linux-gnu
go_bin() { LD_LIBRARY_PATH=$cudalib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$@"; }
exec > >(tee "$OUT/log.txt") 2>&1
status=0
step() { echo; echo "== $* ($(date +%T))"; }
run() { "$@" || { echo "FAILED ($?): $*"; status=1; }; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
nproc
ldconfig -p | grep -m2 libcuda || echo "libcuda not in the ldconfig cache"

step "kernels and layers against the CPU engine"
(cd nn/cuda && run go_bin timeout 300 "$bin/nn_cuda.test" -test.v -test.count=1) | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|error|cuda'
step "Decision model: one step against the CPU"
(cd policy && run go_bin timeout 120 "$bin/policy.test" -test.run 'GPU' -test.v -test.count=1)
step "200 training steps against the CPU"
(cd agents/decision && run go_bin timeout 180 "$bin/agents_decision.test" -test.run 'Device' -test.v -test.count=1)
step "train --device cuda end to end, resume on the CPU"
(cd runners && run go_bin timeout 180 "$bin/runners.test" -test.run 'TrainDevice|TrainOnDevice' -test.v -test.count=1)

step "scan bandwidth vs device-to-device copy"
run go_bin timeout 90 "$bin/minrl" bench scan --device cuda --elems $((128 << 20)) --repeats 10
step "layer step, minrl on the GPU"
run go_bin timeout 120 "$bin/minrl" bench speed --device cuda --T 512,4096,16384 --repeats 10 --out "$OUT"
if [ -z "${SKIP_TORCH:-}" ]; then
step "layer step, PyTorch on the same GPU"
run timeout 240 python3 scripts/gpu_bench_torch.py --T 512,4096,16384 --repeats 10 > "$OUT/torch.json"
python3 - "$OUT/torch.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(d["device"], "torch", d["torch"], "copy %.0f GB/s" % d["copy_GBps"])
for r in d["results"]:
    print("%-12s T=%-6d %s" % (r["model"], r["T"], "%.2f ms" % r["median_ms"] if "median_ms" in r else r.get("error")))
PY
fi

export MINRL_DATA_DIR=$root/.gpu/data
if [ -z "${SKIP_THROUGHPUT:-}" ]; then
step "training throughput, hopper-medium-mingru (embed 128, 3 layers, K 20, batch 64)"
run go_bin timeout 120 "$bin/minrl" train hopper-medium-mingru --device cuda --steps 2000 --eval-every 0 --episodes 1 --out /tmp/tp-gpu
run go_bin timeout 120 "$bin/minrl" train hopper-medium-mingru --steps 100 --eval-every 0 --episodes 1 --out /tmp/tp-cpu
grep -h -o '"steps_per_second": [0-9.]*\|"device": "[^"]*"' /tmp/tp-gpu/summary.json /tmp/tp-cpu/summary.json
fi

if [ "$HOPPER_SECONDS" -gt 0 ]; then
step "hopper-medium-mingru on the GPU, stopped after ${HOPPER_SECONDS}s (resumable)"
go_bin timeout -s INT "$HOPPER_SECONDS" "$bin/minrl" train hopper-medium-mingru --device cuda --eval-every 5000 --out "$OUT/hopper"
echo "exit $?"
cp "$OUT/hopper/evals.jsonl" "$OUT/hopper_evals.jsonl" 2>/dev/null
cp "$OUT/hopper/metrics.csv" "$OUT/hopper_metrics.csv" 2>/dev/null
cp "$OUT/hopper/summary.json" "$OUT/hopper_summary.json" 2>/dev/null
rm -rf "$OUT/hopper"
fi
echo; echo "gpu_check status $status"
exit $status
