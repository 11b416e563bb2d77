package nn

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
)

// refCausalConv1d is the definition in float64 for x [B, T, C]:
// y[b,t,c] = bias[c] + Σ_k w[c,k]·x[b, t−(K−1)+k, c], zero before t = 0.
func refCausalConv1d(x, w, bias []float64, B, T, C, K int) []float64 {
	y := make([]float64, B*T*C)
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			for c := 0; c < C; c++ {
				s := bias[c]
				for k := 0; k < K; k++ {
					if src := t - (K - 1) + k; src < 0 {
						continue
					}
					s += w[c*K+k] * x[(b*T+t-(K-1)+k)*C+c]
				}
				y[(b*T+t)*C+c] = s
			}
		}
	}
	return y
}

func TestCausalConv1dGradients(t *testing.T) {
	rng := NewRNG(81)
	for _, sz := range []struct{ B, T, C, K int }{
		{2, 6, 3, 4},
		{3, 5, 2, 1}, // a pointwise filter
		{2, 3, 4, 5}, // kernel longer than the sequence
	} {
		t.Run(fmt.Sprintf("B%d_T%d_C%d_K%d", sz.B, sz.T, sz.C, sz.K), func(t *testing.T) {
			l := NewCausalConv1d("conv", sz.C, sz.K, rng)
			checkLayer(t, rng, layerUnderTest{
				params: l.Params(), forward: l.Forward, backward: l.Backward,
				ref: func(x []float64, p [][]float64) []float64 {
					return refCausalConv1d(x, p[0], p[1], sz.B, sz.T, sz.C, sz.K)
				},
			}, randTensor(rng, 1, sz.B, sz.T, sz.C), defaultTol)
		})
	}
}

func TestCausalConv1dInit(t *testing.T) {
	l := NewCausalConv1d("conv", 64, 4, NewRNG(82))
	if l.W.Name != "conv.weight" || l.Bias.Name != "conv.bias" || l.W.NoDecay || !l.Bias.NoDecay {
		t.Errorf("params %q (NoDecay %v), %q (NoDecay %v)", l.W.Name, l.W.NoDecay, l.Bias.Name, l.Bias.NoDecay)
	}
	for _, p := range l.Params() {
		var hi float64
		for _, v := range p.Value.Data {
			hi = max(hi, math.Abs(float64(v)))
		}
		if hi > 0.5 || hi < 0.45 { // U(±1/√4) over 64 or 256 draws
			t.Errorf("%s: max |value| = %g, want just under 0.5", p.Name, hi)
		}
	}
}

// Stepping through sequences from a zero state reproduces Forward.
func TestCausalConv1dStepMatchesForward(t *testing.T) {
	rng := NewRNG(83)
	for _, K := range []int{1, 2, 4} {
		const B, T, C = 3, 9, 5
		l := NewCausalConv1d("conv", C, K, rng)
		x := randTensor(rng, 1, B, T, C)
		y := l.Forward(x)
		state := make([]float32, B*(K-1)*C)
		xt, yt := make([]float32, B*C), make([]float32, B*C)
		for step := 0; step < T; step++ {
			for b := 0; b < B; b++ {
				copy(xt[b*C:(b+1)*C], x.Data[(b*T+step)*C:(b*T+step+1)*C])
			}
			if step%2 == 1 {
				l.Step(xt, xt, state, B) // in place
				copy(yt, xt)
			} else {
				l.Step(yt, xt, state, B)
			}
			for b := 0; b < B; b++ {
				for c := 0; c < C; c++ {
					got, want := yt[b*C+c], y.Data[(b*T+step)*C+c]
					if math.Abs(float64(got-want)) > 1e-6*(1+math.Abs(float64(want))) {
						t.Fatalf("K=%d t=%d b=%d c=%d: Step %g, Forward %g", K, step, b, c, got, want)
					}
				}
			}
		}
		// The state holds the last K−1 inputs, oldest first.
		for b := 0; b < B; b++ {
			for k := 0; k < K-1; k++ {
				s := T - (K - 1) + k
				if !slices.Equal(state[(b*(K-1)+k)*C:(b*(K-1)+k+1)*C], x.Data[(b*T+s)*C:(b*T+s+1)*C]) {
					t.Errorf("K=%d: state row %d of batch %d is not input %d", K, k, b, s)
				}
			}
		}
	}
}

func TestCausalConv1dDoesNotAllocate(t *testing.T) {
	rng := NewRNG(84)
	l := NewCausalConv1d("conv", 64, 4, rng)
	x := randTensor(rng, 1, 4, 50, 64)
	dy := randTensor(rng, 1, 4, 50, 64)
	assertNoAllocs(t, "CausalConv1d", func() {
		l.Forward(x)
		l.Backward(dy)
	})
	state, xt := make([]float32, 4*3*64), make([]float32, 4*64)
	if a := testing.AllocsPerRun(5, func() { l.Step(xt, xt, state, 4) }); a != 0 {
		t.Errorf("Step: %v allocations", a)
	}
}

func TestCausalConv1dIndependentOfGOMAXPROCS(t *testing.T) {
	rng := NewRNG(85)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	x := randTensor(rng, 1, 8, 150, 32) // many row chunks
	dy := randCancelling(rng, 8, 150, 32)
	run := func(procs int) [][]float32 {
		runtime.GOMAXPROCS(procs)
		l := NewCausalConv1d("conv", 32, 4, NewRNG(86))
		y := l.Forward(x).Clone()
		dx := l.Backward(dy)
		return [][]float32{y.Data, dx.Data, l.W.Grad.Data, l.Bias.Grad.Data}
	}
	a, b := run(1), run(4)
	for i, what := range []string{"y", "dx", "dW", "dBias"} {
		if !slices.Equal(a[i], b[i]) {
			t.Errorf("%s differs between GOMAXPROCS=1 and 4", what)
		}
	}
}

func TestCausalConv1dBadShapePanics(t *testing.T) {
	l := NewCausalConv1d("conv", 4, 3, NewRNG(87))
	expectLayerPanic(t, "CausalConv1d: input shape [8 4], want [B, T, 4]", func() { l.Forward(New(8, 4)) })
	expectLayerPanic(t, "CausalConv1d: input shape [2 3 5]", func() { l.Forward(New(2, 3, 5)) })
	l.Forward(New(2, 3, 4))
	expectLayerPanic(t, "CausalConv1d: dy has shape [2 4 4]", func() { l.Backward(New(2, 4, 4)) })
	expectLayerPanic(t, "CausalConv1d.Step: 8 inputs, 8 outputs and 8 state values for batch 2",
		func() { l.Step(make([]float32, 8), make([]float32, 8), make([]float32, 8), 2) })
	expectLayerPanic(t, "NewCausalConv1d", func() { NewCausalConv1d("conv", 4, 0, NewRNG(1)) })
}
