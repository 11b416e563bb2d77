package nn

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
)

// refCausalAttention is the layer's forward in float64, straight from the
// equations: p = [Wqkv, bqkv, Wo, bo]. am (B·H·T·T) and rm (B·T·D), when
// not nil, are dropout masks multiplied into the probabilities and the
// output.
func refCausalAttention(x []float64, p [][]float64, B, T, D, H int, am, rm []float64) []float64 {
	qkv := refLinear(x, p[0], p[1], D, 3*D)
	dh := D / H
	o := make([]float64, B*T*D)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			at := func(t, part, c int) float64 { return qkv[(b*T+t)*3*D+part*D+h*dh+c] }
			for i := 0; i < T; i++ {
				s := make([]float64, i+1)
				m := math.Inf(-1)
				for j := 0; j <= i; j++ {
					for c := 0; c < dh; c++ {
						s[j] += at(i, 0, c) * at(j, 1, c)
					}
					s[j] /= math.Sqrt(float64(dh))
					m = math.Max(m, s[j])
				}
				z := 0.0
				for j := range s {
					s[j] = math.Exp(s[j] - m)
					z += s[j]
				}
				for j := range s {
					s[j] /= z
					if am != nil {
						s[j] *= am[((b*H+h)*T+i)*T+j]
					}
				}
				for c := 0; c < dh; c++ {
					acc := 0.0
					for j := range s {
						acc += s[j] * at(j, 2, c)
					}
					o[(b*T+i)*D+h*dh+c] = acc
				}
			}
		}
	}
	y := refLinear(o, p[2], p[3], D, D)
	if rm != nil {
		for i := range y {
			y[i] *= rm[i]
		}
	}
	return y
}

// newTestAttention returns a layer with weights large enough that the
// softmax is far from uniform and biases that are not zero, so that the
// gradient check exercises every term.
func newTestAttention(dim, heads int, pa, pr float64, seed uint64) *CausalSelfAttention {
	rng := NewRNG(seed)
	a := NewCausalSelfAttention("attn", dim, heads, pa, pr, rng)
	for _, p := range a.Params() {
		InitNormal(p, rng, 0.5)
	}
	return a
}

func TestCausalSelfAttentionGradients(t *testing.T) {
	rng := NewRNG(41)
	const B, T, D = 2, 5, 8
	for _, H := range []int{1, 2} {
		t.Run(fmt.Sprintf("heads=%d", H), func(t *testing.T) {
			a := newTestAttention(D, H, 0, 0, uint64(40+H))
			checkLayer(t, rng, layerUnderTest{
				params: a.Params(), forward: a.Forward, backward: a.Backward,
				ref: func(x []float64, p [][]float64) []float64 {
					return refCausalAttention(x, p, B, T, D, H, nil, nil)
				},
			}, randTensor(rng, 1, B, T, D), defaultTol)
		})
	}
}

// With dropout on, the reference multiplies in the masks the layer drew in
// its Forward, which checks the backward through both dropouts.
func TestCausalSelfAttentionGradientsWithDropout(t *testing.T) {
	rng := NewRNG(42)
	const B, T, D, H = 2, 6, 8, 2
	a := newTestAttention(D, H, 0.3, 0.2, 43)
	a.Train = true
	checkLayer(t, rng, layerUnderTest{
		params: a.Params(), forward: a.Forward, backward: a.Backward,
		ref: func(x []float64, p [][]float64) []float64 {
			return refCausalAttention(x, p, B, T, D, H, to64(a.am.Data), to64(a.rm.Data))
		},
	}, randTensor(rng, 1, B, T, D), defaultTol)
	var dropped int
	for _, v := range a.am.Data {
		if v == 0 {
			dropped++
		}
	}
	if dropped <= B*H*T*(T-1)/2 { // the T(T−1)/2 masked entries per pair are 0 too
		t.Errorf("no attention dropout happened")
	}
}

func TestCausalSelfAttentionIsCausal(t *testing.T) {
	rng := NewRNG(44)
	const B, T, D, H = 2, 7, 8, 2
	for _, train := range []bool{false, true} {
		a := newTestAttention(D, H, 0.2, 0.2, 45)
		a.Train = train
		x := randTensor(rng, 1, B, T, D)
		for tc := 0; tc < T; tc++ {
			a.SetDropoutSeed(7)
			y0 := a.Forward(x).Clone()
			x2 := x.Clone()
			for b := 0; b < B; b++ {
				for c := 0; c < D; c++ {
					x2.Data[(b*T+tc)*D+c] += 3
				}
			}
			a.SetDropoutSeed(7)
			y1 := a.Forward(x2)
			for b := 0; b < B; b++ {
				lo, hi := b*T*D, (b*T+tc)*D
				if !slices.Equal(y0.Data[lo:hi], y1.Data[lo:hi]) {
					t.Fatalf("train=%v: changing x at t=%d changed outputs before it (batch %d)", train, tc, b)
				}
				if slices.Equal(y0.Data[hi:hi+D], y1.Data[hi:hi+D]) {
					t.Fatalf("train=%v: changing x at t=%d left its own output unchanged", train, tc)
				}
			}
		}
	}
}

func TestCausalSelfAttentionDropout(t *testing.T) {
	rng := NewRNG(46)
	const B, T, D, H = 4, 20, 16, 2
	x := randTensor(rng, 1, B, T, D)
	fwd := func(a *CausalSelfAttention) []float32 { return slices.Clone(a.Forward(x).Data) }

	a1 := NewCausalSelfAttention("attn", D, H, 0.1, 0.1, NewRNG(47))
	a2 := NewCausalSelfAttention("attn", D, H, 0.1, 0.1, NewRNG(47))
	off := NewCausalSelfAttention("attn", D, H, 0, 0, NewRNG(47))
	eval := fwd(a1)
	if !slices.Equal(eval, fwd(off)) {
		t.Errorf("eval mode output differs from the same layer without dropout")
	}
	a1.Train, a2.Train = true, true
	tr1, tr2 := fwd(a1), fwd(a2)
	if !slices.Equal(tr1, tr2) {
		t.Errorf("same seed, different training outputs")
	}
	if slices.Equal(tr1, eval) {
		t.Errorf("training output equals eval output: no dropout")
	}
	if slices.Equal(tr1, fwd(a1)) {
		t.Errorf("two training calls drew the same masks")
	}
	a1.SetDropoutSeed(99)
	a2.SetDropoutSeed(99)
	if !slices.Equal(fwd(a1), fwd(a2)) {
		t.Errorf("SetDropoutSeed does not fix the masks")
	}
	a1.Train = false
	if !slices.Equal(fwd(a1), eval) {
		t.Errorf("back in eval mode, output differs from before training")
	}
}

// The masks keep a 1−p fraction of elements, scaled by 1/(1−p).
func TestCausalSelfAttentionDropoutRate(t *testing.T) {
	rng := NewRNG(48)
	const B, T, D, H, p = 16, 30, 32, 2, 0.25
	a := NewCausalSelfAttention("attn", D, H, p, p, rng)
	a.Train = true
	a.Forward(randTensor(rng, 1, B, T, D))
	scale := float32(1 / (1 - p))
	var keptA, keptR int
	for i, v := range a.am.Data {
		if i%T > (i/T)%T && v != 0 {
			t.Fatalf("mask nonzero above the diagonal")
		}
		if i%T <= (i/T)%T && v != 0 {
			if v != scale {
				t.Fatalf("kept attention mask value %g, want %g", v, scale)
			}
			keptA++
		}
	}
	for _, v := range a.rm.Data {
		if v != 0 {
			if v != scale {
				t.Fatalf("kept residual mask value %g, want %g", v, scale)
			}
			keptR++
		}
	}
	nA, nR := float64(B*H*T*(T+1)/2), float64(B*T*D)
	for _, c := range []struct {
		what string
		kept int
		n    float64
	}{{"attention", keptA, nA}, {"residual", keptR, nR}} {
		frac := float64(c.kept) / c.n
		if sd := math.Sqrt(p * (1 - p) / c.n); math.Abs(frac-(1-p)) > 5*sd {
			t.Errorf("%s dropout kept %.4f of %v, want %.2f", c.what, frac, c.n, 1-p)
		}
	}
}

func TestCausalSelfAttentionDoesNotAllocate(t *testing.T) {
	rng := NewRNG(49)
	const B, T, D, H = 4, 24, 32, 2
	a := NewCausalSelfAttention("attn", D, H, 0.1, 0.1, rng)
	x, dy := randTensor(rng, 1, B, T, D), randTensor(rng, 1, B, T, D)
	for _, train := range []bool{false, true} {
		a.Train = train
		assertNoAllocs(t, fmt.Sprintf("CausalSelfAttention train=%v", train), func() {
			a.Forward(x)
			a.Backward(dy)
		})
	}
}

func TestCausalSelfAttentionIndependentOfGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := NewRNG(50)
	const B, T, D, H = 8, 24, 64, 4 // several parallel ranges of pairs
	x, dy := randTensor(rng, 1, B, T, D), randTensor(rng, 1, B, T, D)
	run := func(procs int) [][]float32 {
		runtime.GOMAXPROCS(procs)
		a := newTestAttention(D, H, 0.1, 0.1, 51)
		a.Train = true
		out := [][]float32{slices.Clone(a.Forward(x).Data), slices.Clone(a.Backward(dy).Data)}
		for _, p := range a.Params() {
			out = append(out, slices.Clone(p.Grad.Data))
		}
		return out
	}
	r1, r4 := run(1), run(4)
	for i := range r1 {
		if !slices.Equal(r1[i], r4[i]) {
			t.Errorf("result %d depends on GOMAXPROCS", i)
		}
	}
}

func TestCausalSelfAttentionShapeErrorsPanic(t *testing.T) {
	mustPanic := func(what, want string, f func()) {
		t.Helper()
		defer func() {
			t.Helper()
			if r := recover(); r == nil || !contains(fmt.Sprint(r), want) {
				t.Errorf("%s: want a panic containing %q, got %v", what, want, r)
			}
		}()
		f()
	}
	rng := NewRNG(52)
	a := NewCausalSelfAttention("attn", 8, 2, 0, 0, rng)
	mustPanic("backward first", "before Forward", func() { a.Backward(New(1, 2, 8)) })
	mustPanic("wrong dim", "input shape [2 3 6]", func() { a.Forward(New(2, 3, 6)) })
	mustPanic("2-D input", "input shape [6 8]", func() { a.Forward(New(6, 8)) })
	a.Forward(New(2, 3, 8))
	mustPanic("wrong dy", "dy has shape [2 4 8]", func() { a.Backward(New(2, 4, 8)) })
	mustPanic("heads", "heads must divide dim", func() { NewCausalSelfAttention("attn", 8, 3, 0, 0, rng) })
	mustPanic("dropout", "outside [0, 1)", func() { NewCausalSelfAttention("attn", 8, 2, 1, 0, rng) })
}

// BenchmarkAttention is one forward+backward at the Decision Transformer's
// shape: batch 64, K=20 steps of 3 tokens, n_embd=128, one head.
func BenchmarkAttention(b *testing.B) {
	rng := NewRNG(53)
	const B, T, D, H = 64, 60, 128, 1
	a := NewCausalSelfAttention("attn", D, H, 0.1, 0.1, rng)
	a.Train = true
	x, dy := randTensor(rng, 1, B, T, D), randTensor(rng, 1, B, T, D)
	a.Forward(x)
	a.Backward(dy)
	b.ReportAllocs()
	for b.Loop() {
		a.Forward(x)
		a.Backward(dy)
	}
}
