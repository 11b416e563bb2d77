//go:build cuda

package cudatest

import (
	"testing"

	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/nn/cuda/driver"
)

// OnGPU reports whether Open returns a real GPU.
const OnGPU = true

var shared cuda.Device

// Open returns the GPU (one context shared by every test of the binary).
func Open(t testing.TB) cuda.Device {
	t.Helper()
	if shared == nil {
		d, err := driver.Open(0)
		if err != nil {
			t.Fatalf("opening the GPU: %v", err)
		}
		shared = d
	}
	return shared
}
