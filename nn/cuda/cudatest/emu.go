//go:build !cuda && cgo

package cudatest

import (
	"testing"

	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/nn/cuda/kernels"
)

// OnGPU reports whether Open returns a real GPU.
const OnGPU = false

// Open returns a fresh CPU emulator, closed when the test ends.
func Open(t testing.TB) cuda.Device {
	t.Helper()
	e := kernels.NewEmulator()
	t.Cleanup(func() { e.Close() })
	return e
}
