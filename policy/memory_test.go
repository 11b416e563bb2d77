package policy

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/minrl/minrl/nn"
)

// The estimates are at least what the models really hold after a training
// step (weights, gradients, optimiser moments, ScratchBytes) and at most
// twice that, over models, widths, depths and context lengths.
func TestMemoryEstimates(t *testing.T) {
	for _, model := range []ModelKind{ModelMinGRU, ModelMinLSTM, ModelDT} {
		for _, h := range []int{16, 64} {
			for _, K := range []int{5, 20} {
				for _, L := range []int{1, 3} {
					cfg := DefaultConfig(model, 11, 3)
					cfg.Embed, cfg.K, cfg.Layers = h, K, L
					if model == ModelMinLSTM && L == 3 {
						cfg.Expansion = 2
					}
					name := fmt.Sprintf("%s h=%d K=%d L=%d α=%g", model, h, K, L, cfg.Expansion)
					m, err := NewDecision(cfg, nn.NewRNG(1))
					if err != nil {
						t.Fatal(err)
					}
					m.SetTrain(true)
					B := 8
					lens := make([]int, B)
					for i := range lens {
						lens[i] = K
					}
					b := randomBatch(rand.New(rand.NewPCG(1, 1)), cfg, lens, K, false)
					var d nn.Tensor
					MaskedMSE(m.Forward(b), b, &d)
					m.Backward(&d)
					got := int64(m.ScratchBytes()) + paramBytes*int64(nn.NumParams(m))
					est := cfg.TrainBytes(B)
					if est < got || est > 2*got {
						t.Errorf("%s: estimate %d bytes, measured %d (%.2fx)", name, est, got, float64(est)/float64(got))
					}
				}
			}
		}
	}
	mc := MLPConfig{ObsDim: 11, ActDim: 3, Hidden: []int{64, 64}, Act: "relu", Dropout: 0.1}
	m, err := NewMLP(mc, nn.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	m.SetTrain(true)
	b := randomBatch(rand.New(rand.NewPCG(2, 1)), Config{ObsDim: 11, ActDim: 3, MaxEpLen: 100}, []int{5, 5, 5, 5}, 5, false)
	var d nn.Tensor
	MaskedMSE(m.Forward(b), b, &d)
	m.Backward(&d)
	got := int64(m.ScratchBytes()) + paramBytes*int64(nn.NumParams(m))
	if est := mc.TrainBytes(20); est < got || est > 2*got {
		t.Errorf("MLP: estimate %d bytes, measured %d", est, got)
	}
}
