package nn

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// refMinMasked is the sequential float64 model with a step mask, straight
// from the definition: a masked step leaves the state as it was and outputs
// it; x at masked steps is never read. Parameters as refMin.
func refMinMasked(s minSpec, x []float64, B, T int, p [][]float64, h0 []float64, keep []float32) []float64 {
	I, W := s.inner, s.width()*s.inner
	next := 2
	var wo, bo []float64
	if s.inner != s.dim {
		wo, bo = p[2], p[3]
		next = 4
	}
	h := make([]float64, B*T*I)
	for b := 0; b < B; b++ {
		state := make([]float64, I)
		switch {
		case h0 != nil:
			copy(state, h0[b*I:(b+1)*I])
		case s.learnedH0:
			for j := range state {
				state[j] = g64(p[next][j])
			}
		}
		for t := 0; t < T; t++ {
			r := b*T + t
			if keep[r] != 0 {
				pre := refLinear(x[r*s.dim:(r+1)*s.dim], p[0], p[1], s.dim, W)
				for j := 0; j < I; j++ {
					var a, bb float64
					if s.lstm {
						f, i, cand := sig64(pre[j]), sig64(pre[I+j]), g64(pre[2*I+j])
						if s.noNorm {
							a, bb = f, i*cand
						} else {
							a, bb = f/(f+i), i/(f+i)*cand
						}
					} else {
						z := sig64(pre[j])
						a, bb = 1-z, z*g64(pre[I+j])
					}
					state[j] = a*state[j] + bb
				}
			}
			copy(h[r*I:(r+1)*I], state)
		}
	}
	if wo != nil {
		return refLinear(h, wo, bo, I, s.dim)
	}
	return h
}

// stepMasks are the patterns a decision model meets: left padding (with a
// fully padded sequence), right padding, and holes in the middle.
func stepMasks(B, T int) map[string][]float32 {
	left := make([]float32, B*T)
	right := make([]float32, B*T)
	holes := make([]float32, B*T)
	for b := 0; b < B; b++ {
		real := T - 2*b // sequence 0 is full; later ones shorter, possibly empty
		for t := 0; t < T; t++ {
			if t >= T-real {
				left[b*T+t] = 1
			}
			if t < real {
				right[b*T+t] = 1
			}
			if (t+b)%3 != 1 {
				holes[b*T+t] = 1
			}
		}
	}
	return map[string][]float32{"left": left, "right": right, "holes": holes}
}

func TestMinRNNMaskedGradients(t *testing.T) {
	rng := NewRNG(131)
	const B, T = 3, 6
	for _, s := range minSpecs {
		for name, keep := range stepMasks(B, T) {
			for _, carried := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/%s/carried=%v", s, name, carried), func(t *testing.T) {
					l, _ := newMin(s, false, rng)
					ml := l.(*minRNN)
					x := randTensor(rng, 1, B, T, s.dim)
					var h0 []float32
					if carried {
						h0 = positiveState(rng, B*s.inner)
					}
					var dx *Tensor
					checkLayer(t, rng, layerUnderTest{
						params:   l.Params(),
						forward:  func(x *Tensor) *Tensor { return ml.ForwardMasked(x, h0, keep) },
						backward: func(dy *Tensor) *Tensor { dx = l.Backward(dy); return dx },
						ref: func(x []float64, p [][]float64) []float64 {
							return refMinMasked(s, x, B, T, p, to64nil(h0), keep)
						},
					}, x, defaultTol)
					for r, k := range keep {
						if k == 0 && slices.ContainsFunc(dx.Data[r*s.dim:(r+1)*s.dim], func(v float32) bool { return v != 0 }) {
							t.Fatalf("dx at masked step %d is not zero: %v", r, dx.Data[r*s.dim:(r+1)*s.dim])
						}
					}
					if carried {
						// ∂L/∂h0 passes through the masked steps unchanged.
						checkMaskedStateGrad(t, rng, s, ml, x, h0, keep)
					}
				})
			}
		}
	}
}

func checkMaskedStateGrad(t *testing.T, rng *rand.Rand, s minSpec, l *minRNN, x *Tensor, h0, keep []float32) {
	t.Helper()
	B, T := x.Shape[0], x.Shape[1]
	y := l.ForwardMasked(x, h0, keep)
	w := randTensor(rng, 1, y.Shape...)
	ZeroGrads(l)
	l.Backward(w)
	got := l.StateGrad()
	var ps [][]float64
	for _, p := range l.Params() {
		ps = append(ps, to64(p.Value.Data))
	}
	x64, w64, h064 := to64(x.Data), to64(w.Data), to64(h0)
	want := make([]float64, len(h064))
	for i := range h064 {
		loss := func(v float64) float64 {
			old := h064[i]
			h064[i] = v
			defer func() { h064[i] = old }()
			var sum float64
			for k, yv := range refMinMasked(s, x64, B, T, ps, h064, keep) {
				sum += w64[k] * yv
			}
			return sum
		}
		const e = 1e-6
		want[i] = (loss(h064[i]+e) - loss(h064[i]-e)) / (2 * e)
	}
	if err := relL2(got, want); err > defaultTol.grad {
		t.Errorf("dh0: rel err %.3g", err)
	}
}

// The values at masked steps reach nothing: changing them leaves every
// output, dx at real steps and every parameter gradient bit-identical.
func TestMinRNNMaskedStepsAreInert(t *testing.T) {
	rng := NewRNG(132)
	const B, T = 3, 9
	for _, s := range minSpecs {
		for name, keep := range stepMasks(B, T) {
			seed := rng.Uint64()
			x := randTensor(rng, 1, B, T, s.dim)
			dy := randTensor(rng, 1, B, T, s.dim)
			run := func(x *Tensor) [][]float32 {
				l, _ := newMin(s, false, NewRNG(seed))
				ml := l.(*minRNN)
				y := ml.ForwardMasked(x, nil, keep)
				out := [][]float32{slices.Clone(y.Data)}
				dx := l.Backward(dy)
				out = append(out, slices.Clone(dx.Data))
				for _, p := range l.Params() {
					out = append(out, p.Grad.Data)
				}
				return out
			}
			a := run(x)
			x2 := x.Clone()
			for r, k := range keep {
				if k == 0 {
					for j := range s.dim {
						x2.Data[r*s.dim+j] = float32(100 * rng.NormFloat64())
					}
				}
			}
			b := run(x2)
			for i := range a {
				if !slices.Equal(a[i], b[i]) {
					t.Errorf("%v/%s: output %d changed with the padded values", s, name, i)
				}
			}
		}
	}
}

func TestMinRNNMaskedStepMatchesUnpadded(t *testing.T) {
	// A left-padded sequence gives, at its real steps, what the unpadded
	// sequence gives: the real steps start from h0. (To rounding: the
	// vectorised gate kernels round by an element's place in its block.)
	rng := NewRNG(133)
	s := minSpec{lstm: true, dim: 4, inner: 6, learnedH0: true}
	l, _ := newMin(s, false, rng)
	ml := l.(*minRNN)
	const T, pad = 7, 3
	x := randTensor(rng, 1, 1, T, s.dim)
	keep := make([]float32, T)
	for t := pad; t < T; t++ {
		keep[t] = 1
	}
	y := slices.Clone(ml.ForwardMasked(x, nil, keep).Data)
	short := FromData(slices.Clone(x.Data[pad*s.dim:]), 1, T-pad, s.dim)
	ys := l.Forward(short, nil).Data
	if e := relL2(y[pad*s.dim:], to64(ys)); e > 1e-6 {
		t.Errorf("real steps of the padded sequence differ from the unpadded sequence: rel err %.3g", e)
	}
}

func TestMinRNNMaskedNoAllocationsAndDeterminism(t *testing.T) {
	rng := NewRNG(134)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	const B, T, D = 4, 64, 32
	x := randTensor(rng, 1, B, T, D)
	dy := randTensor(rng, 1, B, T, D)
	keep := stepMasks(B, T)["left"]
	run := func(procs int) [][]float32 {
		runtime.GOMAXPROCS(procs)
		l := NewMinLSTM("l", MinRNNConfig{Dim: D, Expansion: 1.5}, NewRNG(7))
		l.ForwardMasked(x, nil, keep)
		dx := l.Backward(dy)
		out := [][]float32{slices.Clone(dx.Data)}
		for _, p := range l.Params() {
			out = append(out, p.Grad.Data)
		}
		assertNoAllocs(t, "masked minLSTM", func() { l.ForwardMasked(x, nil, keep); l.Backward(dy) })
		return out
	}
	one, four := run(1), run(4)
	for i := range one {
		if !slices.Equal(one[i], four[i]) {
			t.Errorf("output %d differs between GOMAXPROCS 1 and 4", i)
		}
	}
}

func TestMinRNNMaskedBadInputsPanic(t *testing.T) {
	rng := NewRNG(135)
	for _, tc := range []struct {
		name, want string
		f          func()
	}{
		{"mask-length", "step mask has 5 elements, want B·T = 6", func() {
			NewMinGRU("g", MinRNNConfig{Dim: 4}, rng).ForwardMasked(New(2, 3, 4), nil, make([]float32, 5))
		}},
		{"log-space", "step masks need the linear-space scan", func() {
			NewMinGRU("g", MinRNNConfig{Dim: 4, LogSpace: true}, rng).ForwardMasked(New(2, 3, 4), nil, make([]float32, 6))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tc.want) {
					t.Errorf("want panic with %q, got %v", tc.want, r)
				}
			}()
			tc.f()
		})
	}
}
