package nn

import (
	"fmt"
	"testing"
)

// BenchmarkMinRNN times one training step (forward + backward) of a
// minGRU/minLSTM layer at the paper's runtime-figure shape, B=64, d=128.
//
//	go test ./nn -run XXX -bench MinRNN [-tags openblas]
func BenchmarkMinRNN(b *testing.B) {
	const B, D = 64, 128
	for _, T := range []int{256, 1024} {
		for _, lstm := range []bool{false, true} {
			for _, logSpace := range []bool{false, true} {
				kind := "minGRU"
				if lstm {
					kind = "minLSTM"
				}
				mode := "linear"
				if logSpace {
					mode = "log"
				}
				b.Run(fmt.Sprintf("%s/%s/T=%d", kind, mode, T), func(b *testing.B) {
					rng := NewRNG(1)
					l, _ := newMin(minSpec{lstm: lstm, dim: D, inner: D}, logSpace, rng)
					x := randTensor(rng, 1, B, T, D)
					dy := randTensor(rng, 1, B, T, D)
					l.Forward(x, nil)
					l.Backward(dy)
					b.ResetTimer()
					for b.Loop() {
						l.Forward(x, nil)
						l.Backward(dy)
					}
				})
			}
		}
	}
}
