package selcopy

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/nn/cuda/cudatest"
)

// relDiff is |a − b| / |b| (|a − b| when b is 0).
func relDiff(a, b float64) float64 {
	if b == 0 {
		return math.Abs(a - b)
	}
	return math.Abs(a-b) / math.Abs(b)
}

// TestGPUStepMatchesCPU runs one training forward/backward of twin models
// (same seed, same weights) on the CPU and on the device (the emulator
// without -tags cuda) and compares the logits, the loss and every
// parameter's gradient.
func TestGPUStepMatchesCPU(t *testing.T) {
	dev := cudatest.Open(t)
	type tc struct {
		kind              string
		layers, dim       int
		exp               float64
		seqLen, tokens, b int
		tol               float64 // on gradients
	}
	cases := []tc{
		{ModelMinGRU, 2, 8, 1.5, 21, 4, 3, 1e-5},  // output projection, odd T
		{ModelMinLSTM, 1, 8, 1, 9, 3, 2, 1e-5},    // no output projection
		{ModelMinLSTM, 3, 6, 2, 14, 5, 2, 1e-5},   // the paper's depth
		{ModelMinGRU, 1, 4, 1.25, 70, 2, 2, 1e-5}, // T > the scan's 64-step chunk
	}
	if cudatest.OnGPU {
		// The paper's shapes: weight gradients are sums over B·T = 16448
		// rows, added in another order on each side (float32 rounding
		// grows as √(B·T)·2⁻²⁴ ≈ 8e-6), hence 1e-4.
		cases = append(cases, tc{ModelMinGRU, 3, 64, 6, 4096, 16, 4, 1e-4}, tc{ModelMinLSTM, 3, 64, 6, 4096, 16, 4, 1e-4})
	}
	for _, k := range cases {
		t.Run(fmt.Sprintf("%s-%dl-d%d-x%v-L%d", k.kind, k.layers, k.dim, k.exp, k.seqLen), func(t *testing.T) {
			mc := ModelConfig{Kind: k.kind, Layers: k.layers, Dim: k.dim, Expansion: k.exp}
			task := Task{SeqLen: k.seqLen, Tokens: k.tokens}
			cpu, err := NewModel(mc, nn.NewRNG(5))
			if err != nil {
				t.Fatal(err)
			}
			twin, _ := NewModel(mc, nn.NewRNG(5))
			batch := NewSampler(task, 3).Sample(nil, k.b)
			T, K := task.Steps(), task.Tokens

			logits := cpu.Forward(batch.X, k.b, T, K)
			dl := make([]float32, logits.Len())
			loss, _, err := CrossEntropy(dl, logits.Data, batch.Y, Vocab)
			if err != nil {
				t.Fatal(err)
			}
			nn.ZeroGrads(cpu)
			cpu.Backward(&nn.Tensor{Shape: logits.Shape, Data: dl})

			c := cuda.NewCtx(dev)
			defer c.Close()
			g, err := NewModelGPU(twin, c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := g.Forward(batch.X, k.b, T, K)
			if err != nil {
				t.Fatal(err)
			}
			gdl := make([]float32, len(got))
			gloss, _, err := CrossEntropy(gdl, got, batch.Y, Vocab)
			if err != nil {
				t.Fatal(err)
			}
			c.ZeroBuf(g.Params().G)
			if err := g.Backward(gdl); err != nil {
				t.Fatal(err)
			}
			c.DownloadGrads(g.Params())
			if err := c.Sync(); err != nil {
				t.Fatal(err)
			}
			if e := cudatest.RelErr(got, logits.Data); e > 1e-5 {
				t.Errorf("logits: relative error %.3g", e)
			}
			if e := relDiff(gloss, loss); e > 1e-6 {
				t.Errorf("loss %.9g on the device, %.9g on the CPU (relative %.3g)", gloss, loss, e)
			}
			worst := 0.0
			for i, p := range twin.Params() {
				q := cpu.Params()[i]
				e := cudatest.RelErr(p.Grad.Data, q.Grad.Data)
				worst = max(worst, e)
				if e > k.tol {
					t.Errorf("%s: gradient relative error %.3g", p.Name, e)
				}
			}
			t.Logf("loss %.6f, relative loss difference %.2g, worst gradient relative error %.2g", loss, relDiff(gloss, loss), worst)
		})
	}
}

// TestTrainOnGPUMatchesCPU trains twin runs on the CPU and on the device
// and compares their learning curves, best step and test score. The
// training loop does not depend on the cell, so the emulator (slow: ~15 s a
// run) tries minGRU only; TestGPUStepMatchesCPU covers minLSTM's step.
func TestTrainOnGPUMatchesCPU(t *testing.T) {
	dev := cudatest.Open(t)
	kinds := []string{ModelMinGRU}
	if cudatest.OnGPU {
		kinds = append(kinds, ModelMinLSTM)
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Task = Task{SeqLen: 10, Tokens: 3}
			cfg.Model = ModelConfig{Kind: kind, Layers: 2, Dim: 8, Expansion: 1.5}
			// The device evaluates in batches of at most Batch: EvalBatch 8
			// checks that the sets (and so the scores) do not change.
			cfg.Batch, cfg.Steps, cfg.EvalEvery, cfg.EvalSize, cfg.EvalBatch = 4, 24, 8, 8, 8
			cfg.Clip = 0.5 // binding: the device's clip path is exercised
			want, err := Train(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TrainOn(context.Background(), cfg, dev, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.Device == "cpu" || want.Device != "cpu" {
				t.Errorf("devices %q (GPU run) and %q (CPU run)", got.Device, want.Device)
			}
			if len(got.Curve) != len(want.Curve) || got.StepsDone != cfg.Steps {
				t.Fatalf("%d points, %d steps on the device; %d points on the CPU", len(got.Curve), got.StepsDone, len(want.Curve))
			}
			worst := 0.0
			for i, p := range got.Curve {
				q := want.Curve[i]
				e := relDiff(p.ValLoss, q.ValLoss)
				if i > 0 {
					e = max(e, relDiff(p.TrainLoss, q.TrainLoss))
				}
				worst = max(worst, e)
				if e > 1e-4 || math.Abs(p.ValAcc-q.ValAcc) > 1.01/float64(cfg.EvalSize*cfg.Task.Tokens) {
					t.Errorf("step %d: device train loss %.7f val %.7f acc %.4f, CPU %.7f %.7f %.4f", p.Step, p.TrainLoss, p.ValLoss, p.ValAcc, q.TrainLoss, q.ValLoss, q.ValAcc)
				}
			}
			if got.BestStep != want.BestStep || relDiff(got.TestLoss, want.TestLoss) > 1e-4 {
				t.Errorf("device: best step %d, test loss %.7f; CPU: %d, %.7f", got.BestStep, got.TestLoss, want.BestStep, want.TestLoss)
			}
			if want.Curve[len(want.Curve)-1].TrainLoss >= want.Curve[1].TrainLoss {
				t.Errorf("the CPU run did not learn: train loss %.4f at step %d, %.4f at the end", want.Curve[1].TrainLoss, want.Curve[1].Step, want.Curve[len(want.Curve)-1].TrainLoss)
			}
			t.Logf("%d steps: worst relative loss difference %.2g; test acc %.4f (device) %.4f (CPU)", cfg.Steps, worst, got.TestAcc, want.TestAcc)
		})
	}
}

func TestGPURefusesWhatItCannotRun(t *testing.T) {
	dev := cudatest.Open(t)
	c := cuda.NewCtx(dev)
	defer c.Close()
	for _, kind := range []string{ModelGRU, ModelLSTM} {
		m, err := NewModel(ModelConfig{Kind: kind, Layers: 1, Dim: 4, Expansion: 1}, nn.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewModelGPU(m, c); err == nil {
			t.Errorf("%s: no error", kind)
		}
	}
	m, _ := NewModel(ModelConfig{Kind: ModelMinGRU, Layers: 1, Dim: 4, Expansion: 1}, nn.NewRNG(1))
	g, err := NewModelGPU(m, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range [][]int32{{1, 2, Vocab, 0}, {1, -1, 3, 0}} {
		if _, err := g.Forward(x, 1, 4, 2); err == nil {
			t.Errorf("tokens %v: no error", x)
		}
	}
	if _, err := g.Forward([]int32{1, 2, 3}, 1, 4, 2); err == nil {
		t.Error("3 tokens for T=4: no error")
	}
	if _, err := g.Forward([]int32{1, 2, 3, 0}, 1, 4, 2); err != nil {
		t.Fatal(err)
	}
	if err := g.Backward(make([]float32, 3)); err == nil {
		t.Error("3 logit gradients for 2 positions: no error")
	}
}

// TestGPUWeightsEvaluateOnTheCPU trains a few steps on the device, copies
// the weights back and checks that the host model (the CPU code that
// evaluates and saves models) computes the device's logits from them.
func TestGPUWeightsEvaluateOnTheCPU(t *testing.T) {
	dev := cudatest.Open(t)
	task := Task{SeqLen: 10, Tokens: 3}
	m, err := NewModel(ModelConfig{Kind: ModelMinLSTM, Layers: 2, Dim: 6, Expansion: 1.5}, nn.NewRNG(2))
	if err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), m.Head.W.Value.Data...)
	tr, err := newGPUTrainer(dev, m, nn.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.close()
	s := NewTrainSampler(task, 1)
	var b Batch
	for range 3 {
		s.Sample(&b, 3)
		if _, _, err := tr.step(&b, task.Steps(), task.Tokens, 1e-2, 1); err != nil {
			t.Fatal(err)
		}
	}
	s.Sample(&b, 3)
	got, err := tr.g.Forward(b.X, 3, task.Steps(), task.Tokens)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.g.CopyWeightsToHost(); err != nil {
		t.Fatal(err)
	}
	if cudatest.RelErr(m.Head.W.Value.Data, before) == 0 {
		t.Fatal("the host weights did not change: nothing was trained or copied back")
	}
	want := m.Forward(b.X, 3, task.Steps(), task.Tokens)
	if e := cudatest.RelErr(got, want.Data); e > 1e-5 {
		t.Errorf("logits of the device-trained weights: device and CPU differ by %.3g relative", e)
	}
}
