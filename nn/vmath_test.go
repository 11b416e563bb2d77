package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestVectorMathMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	var xs []float32
	for i := 0; i < 20000; i++ {
		xs = append(xs, float32(rng.NormFloat64()*4), float32(rng.NormFloat64()*30), float32(rng.NormFloat64()*1e-3))
	}
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 0.624, 0.626, 20, -20, 80, -80, 87, -87, 88.5, -88.5, 89, -89, 100, -100, 1000, -1000,
		float32(math.Inf(1)), float32(math.Inf(-1))}
	xs = append(xs, special...)
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	sp := func(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }
	for _, f := range []struct {
		name   string
		vec    func(dst, x []float32)
		ref    func(float64) float64
		domain func(float64) bool
		relTol float64
		absTol float64
	}{
		{"Sigmoid", Sigmoid, sig, func(float64) bool { return true }, 4e-7, 1e-30},
		{"Tanh", Tanh, math.Tanh, func(float64) bool { return true }, 4e-7, 0},
		{"Softplus", Softplus, sp, func(float64) bool { return true }, 4e-7, 1e-30},
		{"Exp", Exp, math.Exp, func(x float64) bool { return x > -87 && x < 88.7 }, 4e-7, 0},
		{"Log", Log, math.Log, func(x float64) bool { return x > 0 }, 4e-7, 0},
	} {
		var in []float32
		for _, x := range xs {
			if f.domain(float64(x)) {
				in = append(in, x)
			}
			if f.name == "Log" && x != 0 {
				in = append(in, float32(math.Abs(float64(x))))
			}
		}
		out := make([]float32, len(in))
		f.vec(out, in)
		for i, x := range in {
			want := f.ref(float64(x))
			got := float64(out[i])
			if math.IsInf(want, 0) || math.IsInf(got, 0) {
				if float32(want) != out[i] {
					t.Errorf("%s(%g) = %g, want %g", f.name, x, got, want)
				}
				continue
			}
			if d := math.Abs(got - want); d > f.relTol*math.Abs(want)+f.absTol {
				t.Errorf("%s(%g) = %.9g, want %.9g (rel err %.2g)", f.name, x, got, want, d/math.Abs(want))
			}
		}
		// NaN propagates, in place works.
		nan := []float32{1, float32(math.NaN()), 2}
		f.vec(nan, nan)
		if !math.IsNaN(float64(nan[1])) {
			t.Errorf("%s(NaN) = %g, want NaN", f.name, nan[1])
		}
	}
	// Edge values of Exp and Log outside vek's range.
	e := []float32{89, -100, -1000}
	Exp(e, e)
	if !math.IsInf(float64(e[0]), 1) || e[1] < 0 || e[1] > 1e-40 || e[2] != 0 {
		t.Errorf("Exp edges: %v", e)
	}
	l := []float32{0, float32(math.Inf(1))}
	Log(l, l)
	if !math.IsInf(float64(l[0]), -1) || !math.IsInf(float64(l[1]), 1) {
		t.Errorf("Log edges: %v", l)
	}
}

func BenchmarkSigmoid(b *testing.B) {
	x := randSlice(rand.New(rand.NewPCG(1, 1)), 1<<16)
	y := make([]float32, len(x))
	b.SetBytes(4 << 16)
	for b.Loop() {
		Sigmoid(y, x)
	}
}
