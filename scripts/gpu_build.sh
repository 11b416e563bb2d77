#!/usr/bin/env bash
# Builds, on a CPU machine, what scripts/gpu_check.sh runs on a GPU machine
# that has no Go: the -tags cuda minrl binary and test binaries, stripped and
# gzipped into .gpu/ (git-ignored). They link libcuda.so.1 dynamically (the
# driver's; the build links Debian's stub) and nothing else of CUDA: the
# kernels travel as embedded PTX, compiled by the driver at run time.
#
#   bash scripts/gpu_build.sh          # then carry .gpu to the GPU machine
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/cuda_toolchain.sh >/dev/null
source <(bash scripts/cuda_toolchain.sh --env)
rm -rf .gpu && mkdir -p .gpu
flags=(-tags cuda -trimpath -ldflags='-s -w')
go build "${flags[@]}" -o .gpu/minrl ./cmd/minrl
for p in nn/cuda policy agents/decision runners; do
	go test -c "${flags[@]}" -o ".gpu/$(echo "$p" | tr / _).test" "./$p"
done
gzip -9 .gpu/*
ls -la .gpu
