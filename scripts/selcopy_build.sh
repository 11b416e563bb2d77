#!/usr/bin/env bash
# Builds, on a machine with Go, the pure-Go minrl binary that
# scripts/selcopy_device.sh runs on a machine without Go: stripped and
# gzipped into .gpu/minrl-selcopy.gz (git-ignored; ~11 MB). It leaves the
# rest of .gpu/ alone, so run it after scripts/gpu_build.sh (which empties
# .gpu/) when both are wanted.
#
#   bash scripts/selcopy_build.sh     # then carry .gpu and run scripts/selcopy_device.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu
CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o .gpu/minrl-selcopy ./cmd/minrl
gzip -9 -f .gpu/minrl-selcopy
ls -la .gpu/minrl-selcopy.gz
