//go:build emulate && cgo && !cuda

package main

import (
	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/nn/cuda/kernels"
)

// With -tags emulate, --device cuda runs on nn/cuda's CPU emulator of the
// kernels (one CUDA thread at a time: very slow), so that a GPU script's
// every device code path can be tried on a machine without a GPU (see
// scripts/selcopy_gpu.sh, DRY_RUN).
func init() {
	cuda.RegisterDriver(func() (cuda.Device, error) { return kernels.NewEmulator(), nil })
}
