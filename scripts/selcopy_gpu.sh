#!/usr/bin/env bash
# The paper's selective-copying setting on one GPU (issue 19), in one device
# call of about 7.5 minutes on a machine without Go: minGRU and minLSTM at 1, 2
# and 3 layers, L=4096, 16 tokens, each run its own process on the one GPU,
# all at once, each with the same training-time budget; beside them on the
# CPU cores, scripts/selcopy_device.sh's sweep at L=256 (with the sequential
# GRU/LSTM, which have no GPU kernels). Needs .gpu/ from
# scripts/selcopy_gpu_build.sh. Everything goes to $OUT (default
# out/selcopy-gpu):
#   check.txt            the GPU tests (one step against the CPU at L=4096, twin runs)
#   gpu/L4096-k16/...    each GPU run's curve.csv and result.json; gpu-*.log
#   cpu/                 the CPU sweep (its runs, log, table)
#   selcopy.md           the depth table of every run, the paper's numbers beside
#   equal-steps.md       validation accuracy of the GPU runs at the step all reached
#   selcopy-L*-k16.png   learning curves (validation accuracy against steps)
#   log.txt, machine.txt
#
#   OUT=out/selcopy-gpu bash scripts/selcopy_gpu.sh
#
# Setup. paper.md §13.2 (unconfirmed): L=4096, 16 tokens, vocabulary 16, 3
# layers, expansion 6, 400k steps. Width, batch and learning rate are not
# known there; the Mamba paper's selective copying, which the paper says it
# follows, used d_model 64, batch 64, a constant lr 1e-4 (recalled, not
# checked). Here: d=64, expansion 6 (state 384), batch 64, AdamW, constant
# lr 3e-3 (not 1e-4: these runs get a few thousand steps, not 400k), weight
# decay 0.01 (not on the recurrent input projections, as the official code),
# clip 1, LayerNorm where the official code has BatchNorm/RMSNorm, one seed.
# So this measures accuracy after equal training time (and, in
# equal-steps.md, equal steps), far short of the paper's 400k steps.
#
# Sizing, from first principles and docs/gpu.md. n = B·(L+16) = 64·4112 =
# 263k positions. A minGRU layer's products: the input projection 64 -> 768
# (2·n·64·768 = 25.9 GFLOP forward, the same twice backward) and the output
# projection 384 -> 64 (12.9 GFLOP, x3): 116 GFLOP per step; minLSTM (64 ->
# 1152): 155 GFLOP. minrl's SGEMM runs at ~12 TFLOP/s on the H200 (docs/gpu.md:
# 51 GFLOP in the 4.2 ms layer step at T=4096): 9.7 and 12.9 ms, plus the
# scans (101M states: 1.2 GB forward, 2 GB backward at ~2.2-2.6 TB/s, ~1.5 ms),
# norms and adds (~0.5 ms), and the one-hot upload (16.8 MB, ~1-2 ms): about
# 12 ms per minGRU layer and 15 ms per minLSTM layer, so steps of ~14/26/38 ms
# (minGRU 1/2/3 layers) and ~17/32/47 ms (minLSTM). All six share the GPU by
# time slices: ~174 ms per step of each; in GPU_BUDGET=390 s, ~1/6 of the GPU
# each: roughly 4800/2600/1750 steps (minGRU) and 3900/2100/1400 (minLSTM),
# less the switching overhead. Validation (512 examples: 8 forward passes, ~3
# steps' worth) every 100 steps costs ~3%. Memory: ~2.5 GB (minGRU) and ~3.5 GB
# (minLSTM) of activations per layer, ~36 GB for the six, of 141 GB.
# Wall time: ~10 s to unpack and start (the driver compiles the 1.1 MB of PTX
# in each process), GPU_BUDGET of training, the test passes (seconds), the
# report: ~7 minutes at the default budget, within a 540 s device call.
#
# The CPU sweep (L=256, 1000 steps, 8 runs of one thread each, the same
# budget) uses 8 of the 16 cores; each GPU process keeps one core busy (the
# driver spins while it waits for the GPU). A run that fails does not stop
# the others; the tables are made from whatever finished.
#
# Overrides: GPU_BUDGET, GPU_STEPS, SEEDS, LAYERS, MODELS, GPU_LEN, TOKENS,
# DIM, EXPANSION, BATCH, LR, EVAL_EVERY, EVAL_SIZE, CPU=0 (no CPU sweep),
# CPU_STEPS, CHECK=0 (no GPU tests). DRY_RUN=1 (with scripts/selcopy_gpu_build.sh
# built the same way) runs everything tiny on the CPU emulator.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
OUT=${OUT:-out/selcopy-gpu}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
GPU_BUDGET=${GPU_BUDGET:-390}
GPU_STEPS=${GPU_STEPS:-400000}
SEEDS=${SEEDS:-1}
LAYERS=${LAYERS:-1 2 3}
MODELS=${MODELS:-mingru minlstm}
GPU_LEN=${GPU_LEN:-4096}
TOKENS=${TOKENS:-16}
DIM=${DIM:-64}
EXPANSION=${EXPANSION:-6}
BATCH=${BATCH:-64}
LR=${LR:-0.003}
EVAL_EVERY=${EVAL_EVERY:-100}
EVAL_SIZE=${EVAL_SIZE:-512}
CPU=${CPU:-1}
CPU_STEPS=${CPU_STEPS:-1000}
CHECK=${CHECK:-1}
if [ -n "${DRY_RUN:-}" ]; then
	GPU_LEN=${GPU_LEN_DRY:-24} TOKENS=4 DIM=8 EXPANSION=1.5 BATCH=4 EVAL_EVERY=2 EVAL_SIZE=8
	GPU_STEPS=6 GPU_BUDGET=60 CPU_STEPS=3
fi

bin=$(mktemp -d)
for f in .gpu/*.gz; do
	[ -f "$f" ] && gunzip -c "$f" > "$bin/$(basename "$f" .gz)" && chmod +x "$bin/$(basename "$f" .gz)"
done
[ -x "$bin/minrl" ] || { echo "no .gpu/minrl.gz: run scripts/selcopy_gpu_build.sh first"; exit 2; }
# The driver's libcuda, wherever the machine has it (as scripts/gpu_check.sh).
cudalib=/usr/local/nvidia/lib64:/usr/local/nvidia/lib:/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$cudalib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

exec > >(tee "$OUT/log.txt") 2>&1
{
	nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 || echo "no nvidia-smi"
	nproc
	free -g | head -2
	"$bin/minrl" --version
} > "$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
start=$(date +%s)
stamp() { echo "== $* (+$(($(date +%s) - start))s, $(date +%T))"; }

pids=()
names=()
if [ "$CHECK" = 1 ] && [ -x "$bin/tasks_selcopy.test" ]; then
	stamp "GPU tests: one step against the CPU (L=4096 included), twin training runs"
	(cd tasks/selcopy && timeout 240 "$bin/tasks_selcopy.test" -test.run 'GPU' -test.v -test.count=1 > "$OUT/check.txt" 2>&1) &
	pids+=($!)
	names+=("GPU tests")
fi

stamp "GPU runs: $MODELS x layers $LAYERS, L=$GPU_LEN, $TOKENS tokens, d=$DIM x$EXPANSION, batch $BATCH, lr $LR, budget ${GPU_BUDGET}s each"
mkdir -p "$OUT/gpu"
for s in $SEEDS; do
	for m in $MODELS; do
		for n in $LAYERS; do
			name="$m-${n}l-seed$s"
			# The budget bounds training; the timeout (SIGTERM: the run stops
			# as on an interrupt and still writes its best checkpoint's score)
			# bounds a run that hangs or whose evaluation overruns.
			GOMAXPROCS=2 timeout -k 20 $((GPU_BUDGET + 60)) "$bin/minrl" bench selective-copy --device cuda --model "$m" --layers "$n" --seeds "$s" \
				--len "$GPU_LEN" --tokens "$TOKENS" --dim "$DIM" --expansion "$EXPANSION" --batch "$BATCH" \
				--lr "$LR" --steps "$GPU_STEPS" --eval-every "$EVAL_EVERY" --eval-size "$EVAL_SIZE" \
				--max-seconds "$GPU_BUDGET" --out "$OUT/gpu/$name" > "$OUT/gpu-$name.log" 2>&1 &
			pids+=($!)
			names+=("GPU $name")
		done
	done
done

if [ "$CPU" = 1 ]; then
	stamp "CPU sweep beside them: L=256, $CPU_STEPS steps, one thread per run"
	mkdir -p "$OUT/cpu"
	OUT="$OUT/cpu" LENS=256 STEPS_256="$CPU_STEPS" SEEDS="$SEEDS" BUDGET="$GPU_BUDGET" MAX_THREADS=1 \
		bash scripts/selcopy_device.sh > "$OUT/cpu-sweep.log" 2>&1 &
	pids+=($!)
	names+=("CPU sweep")
fi

status=0
for i in "${!pids[@]}"; do
	if wait "${pids[$i]}"; then
		echo "${names[$i]}: done (+$(($(date +%s) - start))s)"
	else
		echo "${names[$i]}: FAILED, exit $? (+$(($(date +%s) - start))s)"
		status=1
	fi
done
stamp "all finished"
[ -f "$OUT/check.txt" ] && grep -E '^(--- |PASS|FAIL|ok)|gpu_test.go' "$OUT/check.txt"
grep -h -E '^minrl:|: [0-9]+ steps \(|Error|error|panic' "$OUT"/gpu-*.log
grep -h -m3 'training on' "$OUT"/gpu-*.log | sort -u

stamp "report"
# Every run that wrote a result.json (GPU and CPU) in one table and one plot
# per length.
(cd "$OUT" && "$bin/minrl" bench selective-copy --report --out "$OUT") || status=1

# The GPU runs' validation accuracy at the last evaluated step that all of
# them reached: the depth comparison at equal steps (the main table is at
# equal time, where shallower runs took more steps).
{
	curves=$(find "$OUT/gpu" -name curve.csv | sort)
	if [ -n "$curves" ]; then
		common=$(for c in $curves; do tail -n1 "$c" | cut -d, -f1; done | sort -n | head -n1)
		echo "# GPU runs at equal steps"
		echo
		echo "Validation accuracy (per token, $EVAL_SIZE examples) at each run's last evaluation at or before step $common (where the shortest GPU run stopped; evaluations every $EVAL_EVERY steps), and at its end."
		echo
		echo "| run | val acc @ ≤ step $common | steps done | val acc at the end | best val acc |"
		echo "|---|---:|---:|---:|---:|"
		for c in $curves; do
			run=$(basename "$(dirname "$c")")
			awk -F, -v s="$common" -v run="$run" 'NR > 1 { if ($1 <= s) at = $6; last = $6; step = $1; if ($6 > best) best = $6 }
				END { printf "| %s | %.4f | %d | %.4f | %.4f |\n", run, at, step, last, best }' "$c"
		done
	else
		echo "no GPU run wrote a curve"
	fi
} > "$OUT/equal-steps.md"
cat "$OUT/equal-steps.md"
stamp "selcopy_gpu status $status"
exit $status
