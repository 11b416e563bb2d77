package nn

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
)

// The references below follow PyTorch's documentation of nn.GRU and
// nn.LSTM literally, in PyTorch's parameter layout (weight_ih [G·H, In],
// gates stacked by rows), in float64 with naive loops. The layer's own
// layout (Wx [In, G·H]) is converted by torchLayout, an index map written
// here independently of the layer's transposeInto.

// torchLayout converts the layer's params [Wx, Wh, Bx, Bh] (float64) to
// PyTorch's weight_ih, weight_hh, bias_ih, bias_hh.
func torchLayout(p [][]float64, in, h, gates int) (wih, whh, bih, bhh []float64) {
	gh := gates * h
	wih, whh = make([]float64, gh*in), make([]float64, gh*h)
	for j := 0; j < gh; j++ {
		for i := 0; i < in; i++ {
			wih[j*in+i] = p[0][i*gh+j]
		}
		for i := 0; i < h; i++ {
			whh[j*h+i] = p[1][i*gh+j]
		}
	}
	return wih, whh, p[2], p[3]
}

func sigmoid64(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

// affine64 returns W[j,:]·v + b[j] for rows j0..j0+n of W (PyTorch layout).
func affine64(w, b, v []float64, j0, n, cols int) []float64 {
	out := make([]float64, n)
	for j := 0; j < n; j++ {
		s := b[j0+j]
		for i := 0; i < cols; i++ {
			s += w[(j0+j)*cols+i] * v[i]
		}
		out[j] = s
	}
	return out
}

// refGRU is PyTorch's nn.GRU (batch_first, one layer) in float64:
//
//	r = σ(W_ir x + b_ir + W_hr h + b_hr)
//	z = σ(W_iz x + b_iz + W_hz h + b_hz)
//	n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//	h' = (1 − z) ⊙ n + z ⊙ h
func refGRU(x, wih, whh, bih, bhh, h0 []float64, B, T, In, H int) []float64 {
	y := make([]float64, B*T*H)
	for b := 0; b < B; b++ {
		h := make([]float64, H)
		if h0 != nil {
			copy(h, h0[b*H:(b+1)*H])
		}
		for t := 0; t < T; t++ {
			xt := x[(b*T+t)*In : (b*T+t+1)*In]
			ir, iz, in := affine64(wih, bih, xt, 0, H, In), affine64(wih, bih, xt, H, H, In), affine64(wih, bih, xt, 2*H, H, In)
			hr, hz, hn := affine64(whh, bhh, h, 0, H, H), affine64(whh, bhh, h, H, H, H), affine64(whh, bhh, h, 2*H, H, H)
			next := make([]float64, H)
			for k := 0; k < H; k++ {
				r := sigmoid64(ir[k] + hr[k])
				z := sigmoid64(iz[k] + hz[k])
				n := math.Tanh(in[k] + r*hn[k])
				next[k] = (1-z)*n + z*h[k]
			}
			h = next
			copy(y[(b*T+t)*H:], h)
		}
	}
	return y
}

// stateFD checks a state gradient (∂L/∂h0 or ∂L/∂c0 of L = Σ w·y) against
// central differences of loss(state) in float64.
func stateFD(t *testing.T, what string, got []float32, state []float64, loss func([]float64) float64) {
	t.Helper()
	want := make([]float64, len(state))
	for i := range state {
		old := state[i]
		h := 1e-6 * max(1, math.Abs(old))
		state[i] = old + h
		lp := loss(state)
		state[i] = old - h
		lm := loss(state)
		state[i] = old
		want[i] = (lp - lm) / (2 * h)
	}
	if e := relL2(got, want); e > defaultTol.grad {
		t.Errorf("%s: rel err %.3g > %.1g", what, e, defaultTol.grad)
	}
}

func dot64(w []float32, y []float64) float64 {
	s := 0.0
	for i, v := range y {
		s += float64(w[i]) * v
	}
	return s
}

func TestGRUGradients(t *testing.T) {
	const In, H = 3, 5
	// B = 9 spans several parallel ranges of batch rows (seqGrain).
	for _, bt := range [][2]int{{2, 4}, {2, 1}, {9, 3}} {
		B, T := bt[0], bt[1]
		for _, withH0 := range []bool{false, true} {
			t.Run(fmt.Sprintf("B=%d/T=%d/h0=%v", B, T, withH0), func(t *testing.T) {
				rng := NewRNG(31)
				g := NewGRU("gru", In, H, rng)
				var h0 []float32
				if withH0 {
					h0 = randTensor(rng, 1, B, H).Data
				}
				checkLayer(t, rng, layerUnderTest{
					params:   g.Params(),
					forward:  func(x *Tensor) *Tensor { return g.Forward(x, h0) },
					backward: g.Backward,
					ref: func(x []float64, p [][]float64) []float64 {
						wih, whh, bih, bhh := torchLayout(p, In, H, 3)
						var h064 []float64
						if h0 != nil {
							h064 = to64(h0)
						}
						return refGRU(x, wih, whh, bih, bhh, h064, B, T, In, H)
					},
				}, randTensor(rng, 1, B, T, In), defaultTol)
			})
		}
	}
}

func TestGRUStateGrad(t *testing.T) {
	const B, T, In, H = 2, 4, 3, 5
	rng := NewRNG(32)
	g := NewGRU("gru", In, H, rng)
	x := randTensor(rng, 1, B, T, In)
	h0 := randTensor(rng, 1, B, H)
	w := randTensor(rng, 1, B, T, H)
	g.Forward(x, h0.Data)
	dx := g.Backward(w).Clone()
	dh0 := slices.Clone(g.StateGrad())
	// A second step must give the same gradients: no state leaks between steps.
	g.Forward(x, h0.Data)
	if !slices.Equal(g.Backward(w).Data, dx.Data) || !slices.Equal(g.StateGrad(), dh0) {
		t.Error("a second Forward+Backward gives different dx or dh0")
	}
	wih, whh, bih, bhh := torchLayout([][]float64{to64(g.Wx.Value.Data), to64(g.Wh.Value.Data), to64(g.Bx.Value.Data), to64(g.Bh.Value.Data)}, In, H, 3)
	x64 := to64(x.Data)
	stateFD(t, "dh0", g.StateGrad(), to64(h0.Data), func(h0 []float64) float64 {
		return dot64(w.Data, refGRU(x64, wih, whh, bih, bhh, h0, B, T, In, H))
	})
}

// TestGRUStepMatchesForward runs Step over the sequence and compares with
// Forward bit for bit (the products see the same rows in the same order).
func TestGRUStepMatchesForward(t *testing.T) {
	const B, T, In, H = 9, 5, 4, 6 // several ranges of batch rows
	rng := NewRNG(33)
	g := NewGRU("gru", In, H, rng)
	x := randTensor(rng, 1, B, T, In)
	h0 := randTensor(rng, 1, B, H)
	withGemm(VekGemm{}, func() {
		y := g.Forward(x, h0.Data).Clone()
		h := slices.Clone(h0.Data)
		xt := New(B, In)
		for s := 0; s < T; s++ {
			for b := 0; b < B; b++ {
				copy(xt.Data[b*In:(b+1)*In], x.Data[(b*T+s)*In:])
			}
			g.Step(xt, h)
			for b := 0; b < B; b++ {
				if !slices.Equal(h[b*H:(b+1)*H], y.Data[(b*T+s)*H:(b*T+s+1)*H]) {
					t.Fatalf("step %d, row %d: Step %v, Forward %v", s, b, h[b*H:(b+1)*H], y.Data[(b*T+s)*H:(b*T+s+1)*H])
				}
			}
		}
		if !slices.Equal(h, g.FinalState()) {
			t.Errorf("FinalState %v, Step gives %v", g.FinalState(), h)
		}
	})
}

func TestGRUPyTorchLayout(t *testing.T) {
	const B, T, In, H = 2, 3, 4, 5
	rng := NewRNG(34)
	g := NewGRU("gru", In, H, rng)
	r := func(n int) []float32 { return randTensor(rng, 0.5, n).Data }
	wih, whh, bih, bhh := r(3*H*In), r(3*H*H), r(3*H), r(3*H)
	g.SetFromPyTorch(wih, whh, bih, bhh)
	a, b, c, d := g.ToPyTorch()
	if !slices.Equal(a, wih) || !slices.Equal(b, whh) || !slices.Equal(c, bih) || !slices.Equal(d, bhh) {
		t.Fatal("ToPyTorch does not return what SetFromPyTorch loaded")
	}
	// Forward must be nn.GRU with those PyTorch-layout weights.
	x := randTensor(rng, 1, B, T, In)
	want := refGRU(to64(x.Data), to64(wih), to64(whh), to64(bih), to64(bhh), nil, B, T, In, H)
	if e := relL2(g.Forward(x, nil).Data, want); e > defaultTol.fwd {
		t.Errorf("forward with PyTorch weights: rel err %.3g", e)
	}
	ZeroGrads(g)
	g.Backward(randTensor(rng, 1, B, T, H))
	gw, gwh, _, _ := g.GradToPyTorch()
	for j := 0; j < 3*H; j++ {
		for i := 0; i < In; i++ {
			if gw[j*In+i] != g.Wx.Grad.Data[i*3*H+j] {
				t.Fatalf("GradToPyTorch weight_ih[%d,%d] is not Wx.Grad[%d,%d]", j, i, i, j)
			}
		}
		for i := 0; i < H; i++ {
			if gwh[j*H+i] != g.Wh.Grad.Data[i*3*H+j] {
				t.Fatalf("GradToPyTorch weight_hh[%d,%d] is not Wh.Grad[%d,%d]", j, i, i, j)
			}
		}
	}
}

func TestGRUDoesNotAllocate(t *testing.T) {
	rng := NewRNG(35)
	g := NewGRU("gru", 16, 32, rng)
	x := randTensor(rng, 1, 64, 6, 16)
	h0 := randTensor(rng, 1, 64, 32).Data
	dy := randTensor(rng, 1, 64, 6, 32)
	xs := randTensor(rng, 1, 64, 16)
	h := slices.Clone(h0)
	assertNoAllocs(t, "GRU", func() {
		g.Forward(x, h0)
		g.Backward(dy)
		g.FinalState()
		g.Step(xs, h)
	})
}

// rnnRun is the observable result of one training step of an RNN layer.
type rnnRun [][]float32

func (r rnnRun) equal(s rnnRun) bool {
	for i := range r {
		if !slices.Equal(r[i], s[i]) {
			return false
		}
	}
	return true
}

func TestGRUIndependentOfGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := NewRNG(36)
	const B, T, In, H = 64, 6, 24, 64 // several row ranges per step
	x := randTensor(rng, 1, B, T, In)
	h0 := randTensor(rng, 1, B, H).Data
	dy := randTensor(rng, 1, B, T, H)
	run := func(procs int) rnnRun {
		runtime.GOMAXPROCS(procs)
		g := NewGRU("gru", In, H, NewRNG(37))
		y := g.Forward(x, h0)
		out := rnnRun{slices.Clone(y.Data), slices.Clone(g.Backward(dy).Data), slices.Clone(g.StateGrad())}
		for _, p := range g.Params() {
			out = append(out, p.Grad.Data)
		}
		return out
	}
	if B/seqGrain(B) < 2 {
		t.Fatalf("test does not split the batch: grain %d for B=%d", seqGrain(B), B)
	}
	if !run(1).equal(run(4)) {
		t.Error("GRU results depend on GOMAXPROCS")
	}
}

// mustPanic runs f and checks that it panics with a message containing sub.
func mustPanic(t *testing.T, sub string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r == nil || !contains(fmt.Sprint(r), sub) {
			t.Errorf("want a panic containing %q, got %v", sub, r)
		}
	}()
	f()
}

func TestGRUBadShapesPanic(t *testing.T) {
	rng := NewRNG(38)
	g := NewGRU("gru", 3, 5, rng)
	mustPanic(t, "GRU: input shape [2 4 4]", func() { g.Forward(New(2, 4, 4), nil) })
	mustPanic(t, "GRU: input shape [8 3]", func() { g.Forward(New(8, 3), nil) })
	mustPanic(t, "GRU: h0 has 5 elements", func() { g.Forward(New(2, 4, 3), make([]float32, 5)) })
	g.Forward(New(2, 4, 3), nil)
	mustPanic(t, "GRU: dy has shape [2 4 4]", func() { g.Backward(New(2, 4, 4)) })
	g.Backward(New(2, 4, 5))
	mustPanic(t, "GRU.Backward without a Forward since the last Backward", func() { g.Backward(New(2, 4, 5)) })
	mustPanic(t, "GRU.Step: h has 4 elements", func() { g.Step(New(2, 3), make([]float32, 4)) })
	mustPanic(t, "GRU.Step: input shape [2 4]", func() { g.Step(New(2, 4), make([]float32, 10)) })
	mustPanic(t, "NewGRU g: sizes in=0", func() { NewGRU("g", 0, 5, rng) })
	mustPanic(t, "SetFromPyTorch", func() { g.SetFromPyTorch(nil, nil, nil, nil) })
}

// benchRNN times forward+backward (and forward alone) at the paper's
// speed-comparison shape.
func benchRNN(b *testing.B, forward func(x *Tensor) *Tensor, backward func(dy *Tensor) *Tensor) {
	const B, T, D = 64, 256, 128
	rng := NewRNG(39)
	x := randTensor(rng, 1, B, T, D)
	dy := randTensor(rng, 1, B, T, D)
	b.Run("fwd", func(b *testing.B) {
		for b.Loop() {
			forward(x)
		}
	})
	b.Run("fwd+bwd", func(b *testing.B) {
		for b.Loop() {
			forward(x)
			backward(dy)
		}
	})
}

func BenchmarkGRU(b *testing.B) {
	g := NewGRU("gru", 128, 128, NewRNG(40))
	benchRNN(b, func(x *Tensor) *Tensor { return g.Forward(x, nil) }, g.Backward)
}
