package selcopy

import (
	"fmt"
	"testing"

	"github.com/minrl/minrl/nn"
)

// BenchmarkStep times one training step (sample, forward, loss, backward,
// AdamW) at the default width and batch (d=64, expansion 2, B=32), one and
// three layers:
//
//	go test ./tasks/selcopy -run '^$' -bench Step -benchtime 3x
func BenchmarkStep(b *testing.B) {
	for _, L := range []int{256, 1024} {
		for _, kind := range Models {
			for _, layers := range []int{1, 3} {
				b.Run(fmt.Sprintf("%s/%dl/L=%d", kind, layers, L), func(b *testing.B) {
					cfg := DefaultConfig()
					cfg.Task.SeqLen = L
					cfg.Model.Kind, cfg.Model.Layers = kind, layers
					m, err := NewModel(cfg.Model, nn.NewRNG(1))
					if err != nil {
						b.Fatal(err)
					}
					opt := nn.NewAdamW(m.Params(), nn.AdamWConfig{LR: cfg.LR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: cfg.WeightDecay})
					s := NewTrainSampler(cfg.Task, 1)
					var batch Batch
					var d nn.Tensor
					for b.Loop() {
						s.Sample(&batch, cfg.Batch)
						logits := m.Forward(batch.X, cfg.Batch, cfg.Task.Steps(), cfg.Task.Tokens)
						d.Resize(logits.Shape...)
						if _, _, err := CrossEntropy(d.Data, logits.Data, batch.Y, Vocab); err != nil {
							b.Fatal(err)
						}
						nn.ZeroGrads(m)
						m.Backward(&d)
						opt.Step(cfg.LR)
					}
				})
			}
		}
	}
}
