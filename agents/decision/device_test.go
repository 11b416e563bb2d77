package decision

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/nn/cuda/cudatest"
	"github.com/minrl/minrl/policy"
)

// toyDataset is episodes of random states and actions with a reward that
// depends on both, so the model has something to fit.
func toyDataset(rng *rand.Rand, eps, length, obs, act int) *dataset.Dataset {
	n := eps * length
	d := &dataset.Dataset{N: n, ObsDim: obs, ActDim: act,
		Observations: make([]float32, n*obs), Actions: make([]float32, n*act), Rewards: make([]float32, n),
		Terminals: make([]bool, n), Timeouts: make([]bool, n)}
	for i := range n {
		var s float32
		for j := range obs {
			v := float32(rng.NormFloat64())
			d.Observations[i*obs+j] = v
			s += v
		}
		for j := range act {
			d.Actions[i*act+j] = float32(math.Tanh(float64(s) / float64(j+1)))
		}
		d.Rewards[i] = s
		if i%length == length-1 {
			d.Timeouts[i] = true
		}
	}
	return d
}

func newToyTrainer(t *testing.T, model policy.ModelKind, steps int) *Trainer {
	t.Helper()
	cfg := policy.DefaultConfig(model, 4, 2)
	cfg.Embed, cfg.Layers, cfg.K, cfg.MaxEpLen = 16, 2, 6, 64
	m, err := policy.NewDecision(cfg, nn.NewRNG(3))
	if err != nil {
		t.Fatal(err)
	}
	d := toyDataset(rand.New(rand.NewPCG(5, 6)), 8, 40, 4, 2)
	s, err := dataset.NewWindowSampler(d, nil, dataset.WindowConfig{K: cfg.K, RTGScale: 10, MaxEpLen: cfg.MaxEpLen, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(m, s, Config{Steps: steps, Batch: 8, LR: 1e-3, WeightDecay: 1e-4, Warmup: 5, Schedule: "cosine", GradClip: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestDeviceTrainingMatchesCPU trains twin models from the same seed on the
// CPU and on the device: losses and final weights must agree to float32
// noise (the two engines sum in different orders), and the synced
// optimiser state must be what the CPU's is.
func TestDeviceTrainingMatchesCPU(t *testing.T) {
	steps := 4 // the emulator runs ~2 s a step
	if cudatest.OnGPU {
		steps = 200
	}
	for _, model := range []policy.ModelKind{policy.ModelMinGRU, policy.ModelMinLSTM} {
		t.Run(string(model), func(t *testing.T) {
			cpu, gpu := newToyTrainer(t, model, steps), newToyTrainer(t, model, steps)
			if err := gpu.UseDevice(cudatest.Open(t)); err != nil {
				t.Fatal(err)
			}
			defer gpu.Close()
			var worst float64
			for i := range steps {
				a, err := cpu.TrainStep()
				if err != nil {
					t.Fatal(err)
				}
				b, err := gpu.TrainStep()
				if err != nil {
					t.Fatal(err)
				}
				rel := math.Abs(a.Loss-b.Loss) / a.Loss
				worst = max(worst, rel)
				if rel > 1e-3 || math.Abs(a.GradNorm-b.GradNorm) > 1e-3*a.GradNorm || a.LR != b.LR {
					t.Fatalf("step %d: CPU loss %.7g norm %.7g lr %g; device loss %.7g norm %.7g lr %g", i, a.Loss, a.GradNorm, a.LR, b.Loss, b.GradNorm, b.LR)
				}
			}
			t.Logf("%d steps: worst relative loss difference %.2g", steps, worst)
			if err := gpu.SyncHost(); err != nil {
				t.Fatal(err)
			}
			if gpu.Opt.StepCount() != cpu.Opt.StepCount() {
				t.Errorf("optimiser steps %d (device) and %d (CPU)", gpu.Opt.StepCount(), cpu.Opt.StepCount())
			}
			for i, p := range gpu.Model.Params() {
				q := cpu.Model.Params()[i]
				var d, n float64
				for k := range p.Value.Data {
					e := float64(p.Value.Data[k] - q.Value.Data[k])
					d += e * e
					n += float64(q.Value.Data[k]) * float64(q.Value.Data[k])
				}
				if math.Sqrt(d/n) > 1e-3 {
					t.Errorf("%s: weights differ by %.3g (relative)", p.Name, math.Sqrt(d/n))
				}
			}
		})
	}
}

func TestUseDeviceRefusesBC(t *testing.T) {
	m, err := policy.NewMLP(policy.DefaultMLPConfig(3, 1), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(m, nil, Config{Steps: 1, Batch: 1, LR: 1, Schedule: "constant", GradClip: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.UseDevice(cudatest.Open(t)); err == nil {
		t.Error("BC on a device: no error")
	}
	if _, err := cuda.Open(); !cudatest.OnGPU && err == nil {
		t.Error("cuda.Open in a build without -tags cuda: no error")
	}
}
