package nn

import (
	"math"
	"testing"
)

// A Stack's backward matches central differences of its forward, with and
// without dropout (in training mode, the masks fixed by the call count),
// and it allocates nothing after the first step.
func TestStackGradients(t *testing.T) {
	for _, p := range []float64{0, 0.3} {
		rng := NewRNG(3)
		layers := []*Linear{NewLinear("l.0", 4, 6, true, rng), NewLinear("l.1", 6, 5, true, rng), NewLinear("l.2", 5, 2, true, rng)}
		drops := []*Dropout{NewDropout(p, rng), NewDropout(p, rng)}
		s := NewStack(layers, ActTanh, drops)
		s.SetTrain(true)
		x := New(3, 4)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64())
		}
		w := make([]float64, 3*2)
		for i := range w {
			w[i] = rng.NormFloat64()
		}
		loss := func() float64 { // L = Σ w ⊙ y, masks of the same call
			s.SetDropoutCalls(0)
			y := s.Forward(x)
			var l float64
			for i, v := range y.Data {
				l += w[i] * float64(v)
			}
			return l
		}
		loss()
		dy := New(3, 2)
		for i := range dy.Data {
			dy.Data[i] = float32(w[i])
		}
		ZeroGrads(s)
		dx := s.Backward(dy)
		check := func(name string, v []float32, g []float32) {
			for i := range v {
				old := v[i]
				v[i] = old + 1e-2
				lp := loss()
				v[i] = old - 1e-2
				lm := loss()
				v[i] = old
				fd := (lp - lm) / 2e-2
				if math.Abs(fd-float64(g[i])) > 2e-3*math.Max(1, math.Abs(fd)) {
					t.Errorf("dropout %g: %s[%d]: backward %g, differences %g", p, name, i, g[i], fd)
				}
			}
		}
		dxCopy := append([]float32(nil), dx.Data...)
		check("x", x.Data, dxCopy)
		for _, prm := range s.Params() {
			check(prm.Name, prm.Value.Data, append([]float32(nil), prm.Grad.Data...))
		}
		if n := testing.AllocsPerRun(5, func() { s.SetDropoutCalls(0); s.Backward(s.Forward(x)) }); n != 0 {
			t.Errorf("dropout %g: %v allocations per step", p, n)
		}
	}
}
