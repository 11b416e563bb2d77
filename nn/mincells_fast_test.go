package nn

import (
	"fmt"
	"math"
	"testing"
)

// The fast gate kernels (vectorised Go, and C under -tags openblas) agree
// with the per-row cells, which the float64 tests check, on ordinary and
// extreme pre-activations, NaN included, for widths below, at and above one
// vector block.
func TestFastGatesMatchCells(t *testing.T) {
	kernels := map[string]func(c cell, grad bool, pre, a, b, dpre []float32, I int){"go": goGates}
	if nativeGates != nil {
		kernels["c"] = func(c cell, grad bool, pre, a, b, dpre []float32, I int) {
			nativeGates(c.kind(), grad, pre, a, b, dpre, I)
		}
	}
	rng := NewRNG(40)
	for name, kernel := range kernels {
		for _, I := range []int{3, 128, vblock, 700} {
			for _, c := range []cell{minGRUCell{}, minLSTMCell{}, minLSTMCell{noNorm: true}} {
				t.Run(fmt.Sprintf("%s/I=%d/%T/%v", name, I, c, c.kind()), func(t *testing.T) {
					const rows = 9
					W := c.width() * I
					pre := make([]float32, rows*W)
					for i := range pre {
						pre[i] = float32(rng.NormFloat64() * 3)
						if i%37 == 0 {
							pre[i] = float32(rng.NormFloat64() * 200)
						}
					}
					pre[W+5] = float32(math.NaN()) // row 1
					pre[len(pre)-1] = float32(math.Inf(1))
					da, db := randSlice(rng, rows*I), randSlice(rng, rows*I)
					wantA, wantB, wantD := make([]float32, rows*I), make([]float32, rows*I), make([]float32, rows*W)
					for r := 0; r < rows; r++ {
						c.linear(pre[r*W:(r+1)*W], wantA[r*I:(r+1)*I], wantB[r*I:(r+1)*I])
						c.linearGrad(pre[r*W:(r+1)*W], da[r*I:(r+1)*I], db[r*I:(r+1)*I], wantD[r*W:(r+1)*W])
					}
					gotA, gotB, gotD := make([]float32, rows*I), make([]float32, rows*I), make([]float32, rows*W)
					kernel(c, false, pre, gotA, gotB, nil, I)
					kernel(c, true, pre, da, db, gotD, I)
					for _, v := range []struct {
						name      string
						got, want []float32
					}{{"a", gotA, wantA}, {"b", gotB, wantB}, {"dpre", gotD, wantD}} {
						for i := range v.want {
							g, w := float64(v.got[i]), float64(v.want[i])
							if math.IsNaN(w) != math.IsNaN(g) {
								t.Fatalf("%s[%d]: fast %g, cell %g", v.name, i, g, w)
							}
							if !math.IsNaN(w) && math.Abs(g-w) > 2e-6*math.Abs(w)+1e-8 {
								t.Fatalf("%s[%d]: fast %.9g, cell %.9g", v.name, i, g, w)
							}
						}
					}
				})
			}
		}
	}
}
