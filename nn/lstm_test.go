package nn

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
)

// refLSTM is PyTorch's nn.LSTM (batch_first, one layer) in float64, from
// its documentation:
//
//	i = σ(W_ii x + b_ii + W_hi h + b_hi)
//	f = σ(W_if x + b_if + W_hf h + b_hf)
//	g = tanh(W_ig x + b_ig + W_hg h + b_hg)
//	o = σ(W_io x + b_io + W_ho h + b_ho)
//	c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')
//
// It returns every h_t [B, T, H] and every c_t.
func refLSTM(x, wih, whh, bih, bhh, h0, c0 []float64, B, T, In, H int) (ys, cs []float64) {
	ys, cs = make([]float64, B*T*H), make([]float64, B*T*H)
	for b := 0; b < B; b++ {
		h, c := make([]float64, H), make([]float64, H)
		if h0 != nil {
			copy(h, h0[b*H:(b+1)*H])
		}
		if c0 != nil {
			copy(c, c0[b*H:(b+1)*H])
		}
		for t := 0; t < T; t++ {
			xt := x[(b*T+t)*In : (b*T+t+1)*In]
			pre := make([][]float64, 4)
			for q := range pre {
				xi, hi := affine64(wih, bih, xt, q*H, H, In), affine64(whh, bhh, h, q*H, H, H)
				pre[q] = make([]float64, H)
				for k := range pre[q] {
					pre[q][k] = xi[k] + hi[k]
				}
			}
			nh, nc := make([]float64, H), make([]float64, H)
			for k := 0; k < H; k++ {
				i, f, g, o := sigmoid64(pre[0][k]), sigmoid64(pre[1][k]), math.Tanh(pre[2][k]), sigmoid64(pre[3][k])
				nc[k] = f*c[k] + i*g
				nh[k] = o * math.Tanh(nc[k])
			}
			h, c = nh, nc
			copy(ys[(b*T+t)*H:], h)
			copy(cs[(b*T+t)*H:], c)
		}
	}
	return ys, cs
}

func TestLSTMGradients(t *testing.T) {
	const In, H = 3, 5
	// B = 9 spans several parallel ranges of batch rows (seqGrain).
	for _, bt := range [][2]int{{2, 4}, {2, 1}, {9, 3}} {
		B, T := bt[0], bt[1]
		for _, withState := range []bool{false, true} {
			t.Run(fmt.Sprintf("B=%d/T=%d/state=%v", B, T, withState), func(t *testing.T) {
				rng := NewRNG(41)
				l := NewLSTM("lstm", In, H, rng)
				var h0, c0 []float32
				if withState {
					h0, c0 = randTensor(rng, 1, B, H).Data, randTensor(rng, 1, B, H).Data
				}
				checkLayer(t, rng, layerUnderTest{
					params:   l.Params(),
					forward:  func(x *Tensor) *Tensor { return l.Forward(x, h0, c0) },
					backward: l.Backward,
					ref: func(x []float64, p [][]float64) []float64 {
						wih, whh, bih, bhh := torchLayout(p, In, H, 4)
						var h064, c064 []float64
						if withState {
							h064, c064 = to64(h0), to64(c0)
						}
						y, _ := refLSTM(x, wih, whh, bih, bhh, h064, c064, B, T, In, H)
						return y
					},
				}, randTensor(rng, 1, B, T, In), defaultTol)
			})
		}
	}
}

func TestLSTMStateGrad(t *testing.T) {
	const B, T, In, H = 2, 4, 3, 5
	rng := NewRNG(42)
	l := NewLSTM("lstm", In, H, rng)
	x := randTensor(rng, 1, B, T, In)
	h0, c0 := randTensor(rng, 1, B, H), randTensor(rng, 1, B, H)
	w := randTensor(rng, 1, B, T, H)
	l.Forward(x, h0.Data, c0.Data)
	dx := l.Backward(w).Clone()
	dh0, dc0 := l.StateGrad()
	dh0, dc0 = slices.Clone(dh0), slices.Clone(dc0)
	// A second step must give the same gradients: no state leaks between steps.
	l.Forward(x, h0.Data, c0.Data)
	dx2 := l.Backward(w)
	dh0b, dc0b := l.StateGrad()
	if !slices.Equal(dx2.Data, dx.Data) || !slices.Equal(dh0b, dh0) || !slices.Equal(dc0b, dc0) {
		t.Error("a second Forward+Backward gives different dx, dh0 or dc0")
	}
	wih, whh, bih, bhh := torchLayout([][]float64{to64(l.Wx.Value.Data), to64(l.Wh.Value.Data), to64(l.Bx.Value.Data), to64(l.Bh.Value.Data)}, In, H, 4)
	x64, h064, c064 := to64(x.Data), to64(h0.Data), to64(c0.Data)
	stateFD(t, "dh0", dh0, h064, func(h0 []float64) float64 {
		y, _ := refLSTM(x64, wih, whh, bih, bhh, h0, c064, B, T, In, H)
		return dot64(w.Data, y)
	})
	stateFD(t, "dc0", dc0, c064, func(c0 []float64) float64 {
		y, _ := refLSTM(x64, wih, whh, bih, bhh, h064, c0, B, T, In, H)
		return dot64(w.Data, y)
	})
}

// TestLSTMStepMatchesForward runs Step over the sequence and compares h and
// c with Forward bit for bit; the final state must match the reference.
func TestLSTMStepMatchesForward(t *testing.T) {
	const B, T, In, H = 9, 5, 4, 6 // several ranges of batch rows
	rng := NewRNG(43)
	l := NewLSTM("lstm", In, H, rng)
	x := randTensor(rng, 1, B, T, In)
	h0, c0 := randTensor(rng, 1, B, H), randTensor(rng, 1, B, H)
	withGemm(VekGemm{}, func() {
		y := l.Forward(x, h0.Data, c0.Data).Clone()
		fh, fc := l.FinalState()
		h, c := slices.Clone(h0.Data), slices.Clone(c0.Data)
		xt := New(B, In)
		for s := 0; s < T; s++ {
			for b := 0; b < B; b++ {
				copy(xt.Data[b*In:(b+1)*In], x.Data[(b*T+s)*In:])
			}
			l.Step(xt, h, c)
			for b := 0; b < B; b++ {
				if !slices.Equal(h[b*H:(b+1)*H], y.Data[(b*T+s)*H:(b*T+s+1)*H]) {
					t.Fatalf("step %d, row %d: Step %v, Forward %v", s, b, h[b*H:(b+1)*H], y.Data[(b*T+s)*H:(b*T+s+1)*H])
				}
			}
		}
		if !slices.Equal(h, fh) || !slices.Equal(c, fc) {
			t.Errorf("FinalState (%v, %v), Step gives (%v, %v)", fh, fc, h, c)
		}
		wih, whh, bih, bhh := l.ToPyTorch()
		_, cs := refLSTM(to64(x.Data), to64(wih), to64(whh), to64(bih), to64(bhh), to64(h0.Data), to64(c0.Data), B, T, In, H)
		wantC := make([]float64, 0, B*H)
		for b := 0; b < B; b++ {
			wantC = append(wantC, cs[(b*T+T-1)*H:(b*T+T)*H]...)
		}
		if e := relL2(fc, wantC); e > defaultTol.fwd {
			t.Errorf("final c: rel err %.3g", e)
		}
	})
}

func TestLSTMPyTorchLayout(t *testing.T) {
	const B, T, In, H = 2, 3, 4, 5
	rng := NewRNG(44)
	l := NewLSTM("lstm", In, H, rng)
	r := func(n int) []float32 { return randTensor(rng, 0.5, n).Data }
	wih, whh, bih, bhh := r(4*H*In), r(4*H*H), r(4*H), r(4*H)
	l.SetFromPyTorch(wih, whh, bih, bhh)
	a, b, c, d := l.ToPyTorch()
	if !slices.Equal(a, wih) || !slices.Equal(b, whh) || !slices.Equal(c, bih) || !slices.Equal(d, bhh) {
		t.Fatal("ToPyTorch does not return what SetFromPyTorch loaded")
	}
	x := randTensor(rng, 1, B, T, In)
	want, _ := refLSTM(to64(x.Data), to64(wih), to64(whh), to64(bih), to64(bhh), nil, nil, B, T, In, H)
	if e := relL2(l.Forward(x, nil, nil).Data, want); e > defaultTol.fwd {
		t.Errorf("forward with PyTorch weights: rel err %.3g", e)
	}
	ZeroGrads(l)
	l.Backward(randTensor(rng, 1, B, T, H))
	_, _, gbi, gbh := l.GradToPyTorch()
	if !slices.Equal(gbi, l.Bx.Grad.Data) || !slices.Equal(gbh, l.Bh.Grad.Data) {
		t.Error("GradToPyTorch biases differ from Bx.Grad, Bh.Grad")
	}
}

func TestLSTMDoesNotAllocate(t *testing.T) {
	rng := NewRNG(45)
	l := NewLSTM("lstm", 16, 32, rng)
	x := randTensor(rng, 1, 64, 6, 16)
	h0, c0 := randTensor(rng, 1, 64, 32).Data, randTensor(rng, 1, 64, 32).Data
	dy := randTensor(rng, 1, 64, 6, 32)
	xs := randTensor(rng, 1, 64, 16)
	h, c := slices.Clone(h0), slices.Clone(c0)
	assertNoAllocs(t, "LSTM", func() {
		l.Forward(x, h0, c0)
		l.Backward(dy)
		l.FinalState()
		l.Step(xs, h, c)
	})
}

func TestLSTMIndependentOfGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := NewRNG(46)
	const B, T, In, H = 64, 6, 24, 64
	x := randTensor(rng, 1, B, T, In)
	h0, c0 := randTensor(rng, 1, B, H).Data, randTensor(rng, 1, B, H).Data
	dy := randTensor(rng, 1, B, T, H)
	run := func(procs int) rnnRun {
		runtime.GOMAXPROCS(procs)
		l := NewLSTM("lstm", In, H, NewRNG(47))
		y := l.Forward(x, h0, c0)
		out := rnnRun{slices.Clone(y.Data), slices.Clone(l.Backward(dy).Data)}
		dh0, dc0 := l.StateGrad()
		out = append(out, slices.Clone(dh0), slices.Clone(dc0))
		for _, p := range l.Params() {
			out = append(out, p.Grad.Data)
		}
		return out
	}
	if B/seqGrain(B) < 2 {
		t.Fatalf("test does not split the batch: grain %d for B=%d", seqGrain(B), B)
	}
	if !run(1).equal(run(4)) {
		t.Error("LSTM results depend on GOMAXPROCS")
	}
}

func TestLSTMBadShapesPanic(t *testing.T) {
	rng := NewRNG(48)
	l := NewLSTM("lstm", 3, 5, rng)
	mustPanic(t, "LSTM: input shape [2 4 4]", func() { l.Forward(New(2, 4, 4), nil, nil) })
	mustPanic(t, "LSTM: input shape [2 0 3]", func() { l.Forward(New(2, 0, 3), nil, nil) })
	mustPanic(t, "LSTM: c0 has 5 elements", func() { l.Forward(New(2, 4, 3), nil, make([]float32, 5)) })
	l.Forward(New(2, 4, 3), nil, nil)
	mustPanic(t, "LSTM: dy has shape [2 3 5]", func() { l.Backward(New(2, 3, 5)) })
	mustPanic(t, "LSTM.Step: h, c have 10, 4 elements", func() { l.Step(New(2, 3), make([]float32, 10), make([]float32, 4)) })
	mustPanic(t, "NewLSTM l: sizes in=3 hidden=-1", func() { NewLSTM("l", 3, -1, rng) })
	mustPanic(t, "LSTM.Backward without a Forward", func() { NewLSTM("l", 3, 5, rng).Backward(New(2, 4, 5)) })
	l.Backward(New(2, 4, 5))
	mustPanic(t, "LSTM.Backward without a Forward since the last Backward", func() { l.Backward(New(2, 4, 5)) })
}

func BenchmarkLSTM(b *testing.B) {
	l := NewLSTM("lstm", 128, 128, NewRNG(49))
	benchRNN(b, func(x *Tensor) *Tensor { return l.Forward(x, nil, nil) }, l.Backward)
}
