package runners

import (
	"context"
	"testing"

	"github.com/minrl/minrl/nn/cuda/cudatest"
)

// The GPU benchmarks run on the emulator too (tiny sizes): the code paths
// that time the device are tested without one.
func TestGPUBenchmarksRun(t *testing.T) {
	dev := cudatest.Open(t)
	cfg := SpeedConfig{Models: GPUSpeedModels, Ts: []int{3, 70}, B: 2, D: 5, Repeats: 2, Seed: 1}
	res, err := GPUSpeed(context.Background(), dev, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("%d results, want 4", len(res))
	}
	for _, r := range res {
		if len(r.Seconds) != 2 || !(r.Median() > 0) || r.ScratchBytes <= 0 {
			t.Errorf("%s T=%d: %v s, %d bytes", r.Model, r.T, r.Seconds, r.ScratchBytes)
		}
	}
	cfg.Models = []string{"gru"}
	if _, err := GPUSpeed(context.Background(), dev, cfg, nil); err == nil {
		t.Error("gru on the GPU: no error")
	}
	for _, lb := range []bool{true, false} {
		f, b, c, err := GPUScanBandwidth(dev, 2*64*128, 1, lb)
		if err != nil {
			t.Fatal(err)
		}
		if !(f > 0 && b > 0 && c > 0) {
			t.Errorf("lookback %v: bandwidths %g %g %g", lb, f, b, c)
		}
	}
}
