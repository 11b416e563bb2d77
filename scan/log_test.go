package scan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// positive draws a in (aLo, aHi) and b = exp(N(0,1)) > 0, the inputs the
// log-space scan is defined for, plus a positive h0 when asked.
func positive(rng *rand.Rand, d Dims, aLo, aHi float64, withH0 bool) *inputs {
	in := newInputs(rng, d, aLo, aHi, withH0)
	for i := range in.b {
		in.b[i] = float32(math.Exp(float64(in.b[i])))
	}
	for i := range in.h0 {
		in.h0[i] = float32(math.Exp(float64(in.h0[i])))
	}
	in.b64, in.h064 = widen(in.b), widen(in.h0)
	return in
}

func logs(x []float32) []float32 {
	if x == nil {
		return nil
	}
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(math.Log(float64(v)))
	}
	return y
}

// maxRelErrExp is max_i |exp(logGot_i) - want_i| / want_i for want > 0.
func maxRelErrExp(logGot []float32, want []float64) float64 {
	var e float64
	for i, w := range want {
		g := math.Exp(float64(logGot[i]))
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1)
		}
		e = max(e, math.Abs(g-w)/w)
	}
	return e
}

func TestLogForwardMatchesLinearReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct {
		d        Dims
		aLo, aHi float64
		tol      float64
	}{
		{Dims{3, 1, 5}, 0, 1, 1e-6},
		{Dims{2, 300, 70}, 0, 1, 2e-6},
		{Dims{2, 4096, 16}, 0, 1, 5e-6},
		{Dims{2, 4096, 16}, 0.99, 1, 5e-6},
		// T = 100000: a* would reach about -70000 without restarts.
		{Dims{1, 100000, 4}, 0.3, 0.7, 5e-6},
		{Dims{1, 100000, 4}, 1e-6, 1e-3, 5e-6}, // gates near 0: log a ≈ -10
	} {
		for _, withH0 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/a=(%g,%g)/h0=%v", tc.d, tc.aLo, tc.aHi, withH0), func(t *testing.T) {
				in := positive(rng, tc.d, tc.aLo, tc.aHi, withH0)
				logh := make([]float32, tc.d.Len())
				LogForward(logh, logs(in.a), logs(in.b), logs(in.h0), tc.d)
				want := refForward(in.a64, in.b64, in.h064, tc.d)
				if e := maxRelErrExp(logh, want); e > tc.tol {
					t.Errorf("max rel err of exp(logh) %.3g > %.1g", e, tc.tol)
				}
			})
		}
	}
}

// The log-space gradients equal the linear ones by the chain rule:
// ∂L/∂log a = a ∂L/∂a, ∂L/∂log b = b ∂L/∂b, ∂L/∂log h0 = h0 ∂L/∂h0, with
// ∂L/∂h = ∂L/∂log h / h.
func TestLogBackwardMatchesChainRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for _, d := range []Dims{{2, 1, 3}, {2, 37, 70}, {1, 2000, 8}} {
		in := positive(rng, d, 0.05, 1, true)
		la, lb, lh0 := logs(in.a), logs(in.b), logs(in.h0)
		logh := make([]float32, d.Len())
		LogForward(logh, la, lb, lh0, d)
		n := d.Len()
		dla, dlb, dlh0 := make([]float32, n), make([]float32, n), make([]float32, d.State())
		LogBackward(dla, dlb, dlh0, in.dh, la, lb, logh, lh0, d)

		h := refForward(in.a64, in.b64, in.h064, d)
		dh := make([]float64, n)
		for i := range dh {
			dh[i] = in.dh64[i] / h[i]
		}
		da, db, dh0 := refBackward(dh, in.a64, h, in.h064, d)
		for i := range da {
			da[i] *= in.a64[i]
			db[i] *= in.b64[i]
		}
		for i := range dh0 {
			dh0[i] *= in.h064[i]
		}
		for _, c := range []struct {
			name string
			got  []float32
			want []float64
		}{{"dloga", dla, da}, {"dlogb", dlb, db}, {"dlogh0", dlh0, dh0}} {
			if e := relErr(c.got, c.want); e > 2e-5 {
				t.Errorf("%v %s: rel err %.3g", d, c.name, e)
			}
		}
	}
}

func TestLogStepMatchesLogForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	d := Dims{1, 600, 5}
	in := positive(rng, d, 0, 1, false)
	la, lb := logs(in.a), logs(in.b)
	logh := make([]float32, d.Len())
	LogForward(logh, la, lb, nil, d)
	state := slices.Repeat([]float32{float32(math.Inf(-1))}, d.D)
	for t0 := 0; t0 < d.T; t0++ {
		o := t0 * d.D
		LogStep(state, la[o:o+d.D], lb[o:o+d.D])
		for k, v := range state {
			if math.Abs(float64(v-logh[o+k])) > 1e-5*(1+math.Abs(float64(v))) {
				t.Fatalf("step %d channel %d: LogStep %g, LogForward %g", t0, k, v, logh[o+k])
			}
		}
	}
}

// The linear scan and the log-space scan, run by the package on the same
// positive inputs, agree: the log form is an oracle for the linear one.
func TestLinearAndLogFormsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	d := Dims{4, 1024, 64}
	in := positive(rng, d, 0, 1, true)
	h, logh := make([]float32, d.Len()), make([]float32, d.Len())
	Forward(h, in.a, in.b, in.h0, d)
	LogForward(logh, logs(in.a), logs(in.b), logs(in.h0), d)
	if e := maxRelErrExp(logh, widen(h)); e > 5e-6 {
		t.Errorf("linear vs log form: max rel err %.3g", e)
	}
}
