#!/usr/bin/env bash
# Act latency per step, one env, for every policy kind and export mode: Go
# (package infer) next to ONNX Runtime (onnxruntime-node, one intra-op
# thread) on the same exported models, in the same run. Needs
# (cd scripts/onnxcheck && npm ci --ignore-scripts). docs/export.md quotes it.
set -euo pipefail
cd "$(dirname "$0")/.."
MINRL_EXPORT_BENCH=1 GOMAXPROCS=${GOMAXPROCS:-1} go test -count=1 -run TestLatencyReport -v ./export | grep -E '^\s*\||^(ok|FAIL|---)'
