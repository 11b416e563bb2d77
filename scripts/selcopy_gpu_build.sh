#!/usr/bin/env bash
# Builds, on a machine with Go, what scripts/selcopy_gpu.sh runs on a GPU
# machine without Go, gzipped into .gpu/ (emptied first; git-ignored; ~30 MB,
# under the 64 MiB a device call carries):
#   minrl.gz                 the -tags cuda binary (links the driver's libcuda)
#   tasks_selcopy.test.gz    the selective-copying GPU tests (-tags cuda)
#   minrl-selcopy.gz         the pure-Go binary of scripts/selcopy_device.sh
#                            (the CPU sweep that runs beside the GPU runs)
#
#   bash scripts/selcopy_gpu_build.sh      # then carry .gpu, run scripts/selcopy_gpu.sh
#
# DRY_RUN=1 builds a -tags emulate binary instead of the -tags cuda one:
# --device cuda then runs on the CPU emulator, for a local try of the script.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu && mkdir -p .gpu
flags=(-trimpath -ldflags='-s -w')
if [ -n "${DRY_RUN:-}" ]; then
	CGO_ENABLED=1 go build "${flags[@]}" -tags emulate -o .gpu/minrl ./cmd/minrl
	CGO_ENABLED=1 go test -c "${flags[@]}" -o .gpu/tasks_selcopy.test ./tasks/selcopy # tests on the emulator
else
	bash scripts/cuda_toolchain.sh >/dev/null
	source <(bash scripts/cuda_toolchain.sh --env)
	go build "${flags[@]}" -tags cuda -o .gpu/minrl ./cmd/minrl
	go test -c "${flags[@]}" -tags cuda -o .gpu/tasks_selcopy.test ./tasks/selcopy
fi
CGO_ENABLED=0 go build "${flags[@]}" -o .gpu/minrl-selcopy ./cmd/minrl
gzip -9 .gpu/*
ls -la .gpu
du -sh .gpu
