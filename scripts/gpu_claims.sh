#!/usr/bin/env bash
# Device checks for docs/paper-claims.md, in one call on the lent GPU
# machine (no Go there): needs .gpu/ from scripts/selcopy_gpu_build.sh.
#   1. The runtime shape (claim 5): one minGRU/minLSTM layer's training step
#      at batch 1, where the GPU is mostly idle, for T up to 65536: is the
#      step time flat in T, as the paper's figure? (~1 min)
#   2. Selective copying (claim 7): scripts/selcopy_gpu.sh with GPU_LEN
#      (default 1024: about four times the steps of L=4096 in the same
#      time, which a few-minute budget needs to get anywhere; the paper's
#      L=4096 is GPU_LEN=4096) and GPU_BUDGET seconds of training per run.
#
#   OUT=out/gpu-claims bash scripts/gpu_claims.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu-claims}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
bin=$(mktemp -d)
gunzip -c .gpu/minrl.gz > "$bin/minrl" && chmod +x "$bin/minrl" || { echo "no .gpu/minrl.gz: run scripts/selcopy_gpu_build.sh first"; exit 2; }
nvidia-smi -L > "$OUT/gpu.txt" 2>&1
echo "== 1. step time against T at batch 1 ($(date +%T))"
timeout -k 10 120 "$bin/minrl" bench speed --device cuda --batch 1 --dim 128 --T 512,4096,16384,65536 \
	--models mingru,minlstm --repeats 10 --max-seconds 10 --out "$OUT/speed-b1" 2>&1 | tee "$OUT/speed-b1.log"
echo "== 2. selective copying ($(date +%T))"
OUT=$OUT/selcopy GPU_LEN=${GPU_LEN:-1024} GPU_BUDGET=${GPU_BUDGET:-300} bash scripts/selcopy_gpu.sh
rc=$?
echo "== done ($(date +%T)), selective copying exit status $rc"
exit $rc
