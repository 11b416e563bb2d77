package policy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/nn/cuda/cudatest"
)

var gpuRelErr = cudatest.RelErr

// TestDecisionGPUMatchesCPU runs one training forward/backward of twin
// models (same seed: same weights and dropout seeds) on the CPU and on the
// device, in training mode so that dropout masks must agree too, and
// compares predictions, loss and every parameter's gradient.
func TestDecisionGPUMatchesCPU(t *testing.T) {
	dev := cudatest.Open(t)
	type tc struct {
		model    ModelKind
		context  string
		embed, K int
		exp      float64
		lens     []int
	}
	cases := []tc{
		{ModelMinGRU, ContextWindow, 16, 5, 1, []int{5, 3, 1}},
		{ModelMinLSTM, ContextWindow, 12, 4, 1.5, []int{4, 2}},
		{ModelMinGRU, ContextEpisode, 8, 9, 1, []int{9, 4}},
	}
	if cudatest.OnGPU {
		cases = append(cases, tc{ModelMinGRU, ContextWindow, 128, 20, 1, nil}, tc{ModelMinLSTM, ContextWindow, 128, 20, 1, nil})
	}
	for _, k := range cases {
		t.Run(fmt.Sprintf("%s-%s-h%d-K%d", k.model, k.context, k.embed, k.K), func(t *testing.T) {
			cfg := DefaultConfig(k.model, 5, 3)
			cfg.Embed, cfg.K, cfg.Expansion, cfg.Context, cfg.Layers, cfg.MaxEpLen = k.embed, k.K, k.exp, k.context, 2, 100
			lens := k.lens
			if lens == nil {
				lens = make([]int, 64)
				for i := range lens {
					lens[i] = 1 + i%k.K
				}
			}
			cpu := newTestModel(t, cfg, 7)
			twin := newTestModel(t, cfg, 7)
			cpu.SetTrain(true)
			twin.SetTrain(true)
			b := randomBatch(rand.New(rand.NewPCG(1, 1)), cfg, lens, k.K, k.context == ContextEpisode)

			pred := cpu.Forward(b)
			var dPred nn.Tensor
			loss := MaskedMSE(pred, b, &dPred)
			nn.ZeroGrads(cpu)
			cpu.Backward(&dPred)

			c := cuda.NewCtx(dev)
			defer c.Close()
			g, err := NewDecisionGPU(twin, c)
			if err != nil {
				t.Fatal(err)
			}
			c.ZeroBuf(g.Params().G)
			pd := g.Forward(b)
			gl, dpd, err := g.Loss(b)
			if err != nil {
				t.Fatal(err)
			}
			g.Backward(dpd)
			gotPred := make([]float32, pd.N)
			c.Download(gotPred, pd)
			c.DownloadGrads(g.Params())
			if err := c.Sync(); err != nil {
				t.Fatal(err)
			}
			if e := gpuRelErr(gotPred, pred.Data); e > 1e-5 {
				t.Errorf("predictions: relative error %.3g", e)
			}
			if math.Abs(gl-loss) > 1e-5*math.Abs(loss) {
				t.Errorf("loss %.9g on the device, %.9g on the CPU", gl, loss)
			}
			for i, p := range twin.Params() {
				q := cpu.Params()[i]
				if e := gpuRelErr(p.Grad.Data, q.Grad.Data); e > 1e-4 {
					t.Errorf("%s: gradient relative error %.3g", p.Name, e)
				}
			}
		})
	}
}

func TestDecisionGPURefusesWhatItCannotRun(t *testing.T) {
	dev := cudatest.Open(t)
	c := cuda.NewCtx(dev)
	defer c.Close()
	for _, cfg := range []Config{DefaultConfig(ModelDT, 3, 2), func() Config {
		c := DefaultConfig(ModelMinGRU, 3, 2)
		c.Conv = true
		return c
	}()} {
		cfg.Embed, cfg.Layers = 8, 1
		m := newTestModel(t, cfg, 1)
		if _, err := NewDecisionGPU(m, c); err == nil {
			t.Errorf("%s conv=%v: no error", cfg.Model, cfg.Conv)
		}
	}
}
