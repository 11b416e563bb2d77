//go:build !cuda && !cgo

package cudatest

import (
	"testing"

	"github.com/minrl/minrl/nn/cuda"
)

// OnGPU reports whether Open returns a real GPU.
const OnGPU = false

// Open skips the test: the emulator needs cgo.
func Open(t testing.TB) cuda.Device {
	t.Helper()
	t.Skip("the CUDA emulator needs cgo (CGO_ENABLED=1)")
	return nil
}
