#!/usr/bin/env bash
# The project's full test run: the pure-Go build with the race detector,
# then every build tag. Keep in step with the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "not gofmt-formatted:"; echo "$unformatted"; exit 1; fi
CGO_ENABLED=0 go vet ./...
go vet -tags openblas ./...
go vet -tags mujoco ./...

echo "== pure Go (CGO_ENABLED=0)"
CGO_ENABLED=0 go build ./...
echo "== pure Go, race detector"
go test -race -count=1 ./...
# The exports run in ONNX Runtime (npm onnxruntime-node) and pass onnx's
# checker (Debian python3-onnx); .ci/run installs both and sets
# ONNXCHECK_REQUIRED, so that in CI a missing one fails.
echo "== ONNX exports: ONNX Runtime reproduces minrl's actions, onnx's checker accepts the files"
if [ -n "${ONNXCHECK_REQUIRED:-}" ] || { [ -d scripts/onnxcheck/node_modules/onnxruntime-node ] && /usr/bin/python3 -c 'import onnx' 2>/dev/null; }; then
	start=$SECONDS
	ONNXCHECK_REQUIRED=1 go test -count=1 -v -run 'ONNXRuntime|ONNXChecker' ./export | grep -E '^ +(ok|FAIL) |^(--- |ok|FAIL)'
	echo "($((SECONDS - start)) s)"
else
	echo "SKIPPED: needs (cd scripts/onnxcheck && npm ci --ignore-scripts) and apt-get install python3-onnx"
fi
echo "== build tag openblas"
go test -count=1 -tags openblas ./...
# Minimising each new interesting input may take a minute by default and
# starve the fuzzing itself: 1 s each keeps ~30k HDF5 and ~40k safetensors
# inputs in the 15 s.
echo "== fuzzers, 15 s each (hostile HDF5, checkpoint and safetensors files; the ONNX writer's round trip)"
# Go's fuzzing engine can end a run at its -fuzztime deadline with "context
# deadline exceeded" and no failing input (seen once in four runs here with
# an empty corpus, as on a fresh CI machine): that is a pass. A failing input written to
# testdata/fuzz is a failure.
fuzz() {
	local out
	if out=$(go test -run XXX -fuzz "$1" -fuzztime 15s -fuzzminimizetime 1s "$2" 2>&1); then
		echo "$out" | tail -2
		return 0
	fi
	echo "$out" | tail -20
	if grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
		echo "(the fuzzing engine's deadline race, no failing input: pass)"
		return 0
	fi
	return 1
}
fuzz FuzzLoad ./dataset/d4rl
fuzz FuzzDecode ./policy
fuzz FuzzRead ./safetensors
fuzz FuzzONNXRoundTrip ./internal/onnx

echo "== build tag mujoco (Debian libmujoco-dev)"
go test -count=1 -race -tags mujoco ./envs/...

# The CUDA path on a machine without a GPU: the host code compiles and vets
# with -tags cuda against Debian's CUDA 11.8 headers and libcuda stub, the
# committed PTX is what `go generate` makes from the kernels' source, and
# ptxas accepts it for Hopper (sm_90). The kernels themselves ran above, in
# the emulator (nn/cuda, policy, agents/decision, runners tests); the GPU
# runs are scripts/gpu_check.sh. Needs scripts/cuda_toolchain.sh (.ci/run
# installs it).
echo "== build tag cuda (host code, PTX)"
source <(bash scripts/cuda_toolchain.sh --env)
go vet -tags cuda ./...
go build -tags cuda -o /dev/null ./cmd/minrl
cp nn/cuda/kernels/minrl.ptx "${TMPDIR:-/tmp}/minrl.ptx.committed"
go generate ./nn/cuda/kernels
if ! cmp -s nn/cuda/kernels/minrl.ptx "${TMPDIR:-/tmp}/minrl.ptx.committed"; then
	echo "nn/cuda/kernels/minrl.ptx is not what go generate makes from minrl.cu: regenerate and commit it"
	exit 1
fi
ptxas -arch=sm_90 nn/cuda/kernels/minrl.ptx -o /dev/null
echo "PTX fresh, ptxas sm_90 ok"

# minrl sweep on a real one-node Slurm (Debian's slurmctld/slurmd/munge,
# installed by the script when absent): a job array, a cancelled and requeued
# task that resumes, and the same checkpoints as the local worker pool (~30 s).
# Skips with a message when not root or without apt-get.
echo "== Slurm sweep (scripts/slurm_test.sh)"
bash scripts/slurm_test.sh
