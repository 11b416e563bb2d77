//go:build openblas

package nn

import (
	"math"
	"testing"
)

// The C gate kernels agree with the Go cells (which the float64 tests
// check) on ordinary and extreme pre-activations, NaN included.
func TestNativeGatesMatchGoCells(t *testing.T) {
	rng := NewRNG(40)
	const rows, I = 7, 300
	for _, c := range []cell{minGRUCell{}, minLSTMCell{}, minLSTMCell{noNorm: true}} {
		W := c.width() * I
		pre := make([]float32, rows*W)
		for i := range pre {
			pre[i] = float32(rng.NormFloat64() * 3)
			if i%37 == 0 {
				pre[i] = float32(rng.NormFloat64() * 200)
			}
		}
		pre[5] = float32(math.NaN())
		da, db := randSlice(rng, rows*I), randSlice(rng, rows*I)
		goA, goB, goD := make([]float32, rows*I), make([]float32, rows*I), make([]float32, rows*W)
		for r := 0; r < rows; r++ {
			c.linear(pre[r*W:(r+1)*W], goA[r*I:(r+1)*I], goB[r*I:(r+1)*I])
			c.linearGrad(pre[r*W:(r+1)*W], da[r*I:(r+1)*I], db[r*I:(r+1)*I], goD[r*W:(r+1)*W])
		}
		cA, cB, cD := make([]float32, rows*I), make([]float32, rows*I), make([]float32, rows*W)
		cGates(c.kind(), false, pre, cA, cB, nil, I)
		cGates(c.kind(), true, pre, da, db, cD, I)
		for _, v := range []struct {
			name      string
			got, want []float32
		}{{"a", cA, goA}, {"b", cB, goB}, {"dpre", cD, goD}} {
			for i := range v.want {
				g, w := float64(v.got[i]), float64(v.want[i])
				if math.IsNaN(w) != math.IsNaN(g) {
					t.Fatalf("%T %s[%d]: C %g, Go %g", c, v.name, i, g, w)
				}
				if !math.IsNaN(w) && math.Abs(g-w) > 2e-6*math.Abs(w)+1e-8 {
					t.Fatalf("%T %s[%d]: C %.9g, Go %.9g", c, v.name, i, g, w)
				}
			}
		}
	}
}
