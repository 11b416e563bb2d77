package cuda_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/nn/cuda/cudatest"
	"github.com/minrl/minrl/scan"
)

var relErr = cudatest.RelErr

func randn(rng *rand.Rand, n int, scale float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64() * scale)
	}
	return s
}

func uniform(rng *rand.Rand, n int, lo, hi float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return s
}

func up(c *cuda.Ctx, data []float32) cuda.Buf {
	b := c.Floats(len(data))
	c.Upload(b, data)
	return b
}

func down(t *testing.T, c *cuda.Ctx, b cuda.Buf) []float32 {
	t.Helper()
	out := make([]float32, b.N)
	c.Download(out, b)
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	return out
}

func newCtx(t *testing.T) *cuda.Ctx {
	c := cuda.NewCtx(cudatest.Open(t))
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func check(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if e := relErr(got, want); !(e <= tol) {
		t.Errorf("%s: relative error %.3g > %.3g", what, e, tol)
	}
}

// scanDims are the shapes every scan test runs: T from 1, odd sizes, T not
// a multiple of the chunk, and (on a GPU) T up to 65536.
func scanDims() []cuda.Dims {
	ds := []cuda.Dims{{1, 1, 1}, {2, 1, 3}, {3, 7, 5}, {2, 63, 33}, {1, 64, 1}, {2, 65, 17}, {3, 200, 40}, {1, 1000, 3}, {4, 130, 130}}
	if cudatest.OnGPU {
		ds = append(ds, cuda.Dims{B: 64, T: 512, D: 128}, cuda.Dims{B: 2, T: 4097, D: 129}, cuda.Dims{B: 1, T: 65536, D: 7}, cuda.Dims{B: 8, T: 65536, D: 64})
	}
	return ds
}

func TestScanMatchesCPU(t *testing.T) {
	c := newCtx(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range scanDims() {
		for _, lb := range []bool{true, false} {
			for _, withH0 := range []bool{false, true} {
				c.SetLookback(lb)
				t.Run(fmt.Sprintf("%v/h0=%v/lookback=%v", d, withH0, lb), func(t *testing.T) {
					n := d.Len()
					sd := scan.Dims{B: d.B, T: d.T, D: d.D}
					a, b := uniform(rng, n, 0.5, 1), randn(rng, n, 1)
					var h0 []float32
					var h0d, dh0d cuda.Buf
					if withH0 {
						h0 = randn(rng, d.B*d.D, 1)
						h0d, dh0d = up(c, h0), c.Floats(d.B*d.D)
					}
					want := make([]float32, n)
					scan.Forward(want, a, b, h0, sd)
					ad, bd, hd := up(c, a), up(c, b), c.Floats(n)
					c.ScanForward(hd, ad, bd, h0d, d)
					check(t, "h", down(t, c, hd), want, 1e-5)

					dh := randn(rng, n, 1)
					wda, wdb := make([]float32, n), make([]float32, n)
					var wdh0 []float32
					if withH0 {
						wdh0 = make([]float32, d.B*d.D)
					}
					scan.Backward(wda, wdb, wdh0, dh, a, want, h0, sd)
					dhd, dad, dbd := up(c, dh), c.Floats(n), c.Floats(n)
					c.ScanBackward(dad, dbd, dh0d, dhd, ad, hd, h0d, d)
					check(t, "da", down(t, c, dad), wda, 1e-5)
					check(t, "db", down(t, c, dbd), wdb, 1e-5)
					if withH0 {
						check(t, "dh0", down(t, c, dh0d), wdh0, 1e-5)
					}
					// db may alias dh.
					c.ScanBackward(dad, dhd, dh0d, dhd, ad, hd, h0d, d)
					check(t, "db aliasing dh", down(t, c, dhd), wdb, 1e-5)
				})
			}
		}
	}
}

func TestLogScanMatchesCPU(t *testing.T) {
	c := newCtx(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, d := range []cuda.Dims{{1, 1, 1}, {2, 9, 3}, {3, 130, 17}} {
		for _, withH0 := range []bool{false, true} {
			n := d.Len()
			sd := scan.Dims{B: d.B, T: d.T, D: d.D}
			la, lb := uniform(rng, n, -1, -0.01), randn(rng, n, 1)
			var lh0 []float32
			var lh0d, dlh0d cuda.Buf
			if withH0 {
				lh0 = randn(rng, d.B*d.D, 1)
				lh0d, dlh0d = up(c, lh0), c.Floats(d.B*d.D)
			}
			want := make([]float32, n)
			scan.LogForward(want, la, lb, lh0, sd)
			lad, lbd, lhd := up(c, la), up(c, lb), c.Floats(n)
			c.LogScanForward(lhd, lad, lbd, lh0d, d)
			check(t, fmt.Sprintf("%v logh", d), down(t, c, lhd), want, 1e-5)
			dlh := randn(rng, n, 1)
			wa, wb := make([]float32, n), make([]float32, n)
			var wh0 []float32
			if withH0 {
				wh0 = make([]float32, d.B*d.D)
			}
			scan.LogBackward(wa, wb, wh0, dlh, la, lb, want, lh0, sd)
			dad, dbd := c.Floats(n), c.Floats(n)
			c.LogScanBackward(dad, dbd, dlh0d, up(c, dlh), lad, lbd, lhd, lh0d, d)
			check(t, fmt.Sprintf("%v dloga", d), down(t, c, dad), wa, 1e-4)
			check(t, fmt.Sprintf("%v dlogb", d), down(t, c, dbd), wb, 1e-4)
			if withH0 {
				check(t, fmt.Sprintf("%v dlogh0", d), down(t, c, dlh0d), wh0, 1e-4)
			}
		}
	}
}

func TestGemmMatchesCPU(t *testing.T) {
	c := newCtx(t)
	rng := rand.New(rand.NewPCG(5, 6))
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {64, 64, 16}, {65, 63, 17}, {130, 7, 200}, {5, 9, 3000}, {70, 129, 1030}} // the last two split k
	if cudatest.OnGPU {
		shapes = append(shapes, [3]int{4096, 384, 128}, [3]int{128, 384, 4096})
	}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}} {
			for _, beta := range []float32{0, 0.5} {
				tA, tB := tr[0], tr[1]
				lda, ldb := k, n
				if tA {
					lda = m
				}
				if tB {
					ldb = k
				}
				a, b, cc := randn(rng, m*k, 1), randn(rng, k*n, 1), randn(rng, m*n, 1)
				want := slices.Clone(cc)
				nn.MatMul(tA, tB, m, n, k, 1.5, a, lda, b, ldb, beta, want, n)
				cd := up(c, cc)
				c.Gemm(tA, tB, m, n, k, 1.5, up(c, a), lda, up(c, b), ldb, beta, cd, n)
				check(t, fmt.Sprintf("gemm %v tA=%v tB=%v beta=%v", s, tA, tB, beta), down(t, c, cd), want, 1e-5)
			}
		}
	}
	// A NaN in C must not leak when beta is 0.
	cd := up(c, []float32{float32(math.NaN())})
	c.Gemm(false, false, 1, 1, 1, 1, up(c, []float32{2}), 1, up(c, []float32{3}), 1, 0, cd, 1)
	if got := down(t, c, cd); got[0] != 6 {
		t.Errorf("beta 0 over NaN: got %v, want 6", got[0])
	}
}

// hostParams gives the device copies of a host module's parameters, with
// random gradients already there so that accumulation is tested too.
func hostParams(t *testing.T, c *cuda.Ctx, rng *rand.Rand, ms ...nn.Module) *cuda.Params {
	var ps []*nn.Param
	for _, m := range ms {
		ps = append(ps, m.Params()...)
	}
	for _, p := range ps {
		copy(p.Grad.Data, randn(rng, p.Grad.Len(), 1))
	}
	dp := c.NewParams(ps)
	for _, q := range dp.List {
		c.Upload(q.Grad, q.Host.Grad.Data)
	}
	return dp
}

func checkGrads(t *testing.T, c *cuda.Ctx, p *cuda.Params, tol float64) {
	t.Helper()
	for _, q := range p.List {
		check(t, q.Host.Name+" grad", down(t, c, q.Grad), q.Host.Grad.Data, tol)
	}
}

func TestLayersMatchCPU(t *testing.T) {
	c := newCtx(t)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, rows := range []int{1, 5, 130} {
		for _, dims := range [][2]int{{1, 1}, {7, 3}, {128, 130}} {
			in, out := dims[0], dims[1]
			name := fmt.Sprintf("rows=%d %d->%d", rows, in, out)
			l := nn.NewLinear("lin", in, out, true, rng)
			ln := nn.NewLayerNorm("ln", in)
			copy(ln.G.Value.Data, randn(rng, in, 1))
			copy(ln.B.Value.Data, randn(rng, in, 1))
			p := hostParams(t, c, rng, l, ln)
			x := randn(rng, rows*in, 2)
			xt := nn.FromData(slices.Clone(x), rows, in)
			xd := up(c, x)

			y := ln.Forward(xt)
			dl := cuda.NewLayerNorm(ln, p)
			yd := dl.Forward(c, xd, rows)
			check(t, name+" layernorm y", down(t, c, yd), y.Data, 1e-5)
			dy := randn(rng, rows*in, 1)
			dx := ln.Backward(nn.FromData(slices.Clone(dy), rows, in))
			dxd := dl.Backward(c, up(c, dy))
			check(t, name+" layernorm dx", down(t, c, dxd), dx.Data, 1e-5)

			y = l.Forward(xt)
			dlin := cuda.NewLinear(l, p)
			yd = dlin.Forward(c, xd, rows)
			check(t, name+" linear y", down(t, c, yd), y.Data, 1e-5)
			dy = randn(rng, rows*out, 1)
			dx = l.Backward(nn.FromData(slices.Clone(dy), rows, out))
			dxd = dlin.Backward(c, up(c, dy))
			check(t, name+" linear dx", down(t, c, dxd), dx.Data, 1e-5)
			checkGrads(t, c, p, 1e-5)
		}
	}
}

func TestActivationsMatchCPU(t *testing.T) {
	c := newCtx(t)
	rng := rand.New(rand.NewPCG(9, 10))
	x := randn(rng, 1001, 3)
	dy := randn(rng, 1001, 1)
	for _, k := range []nn.ActKind{nn.ActReLU, nn.ActTanh, nn.ActGELU} {
		a := nn.NewActivation(k)
		y := a.Forward(nn.FromData(slices.Clone(x), len(x)))
		dx := a.Backward(nn.FromData(slices.Clone(dy), len(dy)))
		kind, err := cuda.ActOf(k)
		if err != nil {
			t.Fatal(err)
		}
		da := cuda.Activation{Kind: kind}
		yd := da.Forward(c, up(c, x))
		check(t, k.String()+" y", down(t, c, yd), y.Data, 1e-6)
		check(t, k.String()+" dx", down(t, c, da.Backward(c, up(c, dy))), dx.Data, 1e-6)
	}
}

func TestDropoutSameMasksAsCPU(t *testing.T) {
	c := newCtx(t)
	rng := rand.New(rand.NewPCG(11, 12))
	host, twin := nn.NewDropout(0.3, rng), nn.NewDropout(0.3, rng)
	twin.Seed = host.Seed
	d := cuda.Dropout{Host: twin}
	for call := 0; call < 3; call++ {
		x := randn(rng, 777, 1)
		y := host.Forward(nn.FromData(slices.Clone(x), len(x)))
		got := down(t, c, d.Forward(c, up(c, x)))
		if !slices.Equal(got, y.Data) {
			t.Fatalf("call %d: device dropout differs from the CPU's", call)
		}
		dy := randn(rng, 777, 1)
		dx := host.Backward(nn.FromData(slices.Clone(dy), len(dy)))
		if got := down(t, c, d.Backward(c, up(c, dy))); !slices.Equal(got, dx.Data) {
			t.Fatalf("call %d: device dropout backward differs", call)
		}
	}
	if host.Calls != twin.Calls {
		t.Errorf("call counters %d (CPU) and %d (device)", host.Calls, twin.Calls)
	}
}

func TestMinRNNMatchesCPU(t *testing.T) {
	c := newCtx(t)
	rng := rand.New(rand.NewPCG(13, 14))
	type layer interface {
		nn.Module
		ForwardMasked(x *nn.Tensor, h0, keep []float32) *nn.Tensor
		Backward(dy *nn.Tensor) *nn.Tensor
	}
	shapes := [][3]int{{1, 1, 3}, {2, 9, 5}, {3, 70, 16}}
	if cudatest.OnGPU {
		shapes = append(shapes, [3]int{64, 512, 128}, [3]int{2, 4100, 33})
	}
	for _, s := range shapes {
		B, T, dim := s[0], s[1], s[2]
		for _, kind := range []string{"mingru", "minlstm", "minlstm-nonorm"} {
			for _, exp := range []float64{1, 1.5} {
				for _, masked := range []bool{false, true} {
					lb := masked == (exp == 1) // both scan algorithms, over the cases
					c.SetLookback(lb)
					name := fmt.Sprintf("%s B=%d T=%d d=%d α=%g masked=%v lookback=%v", kind, B, T, dim, exp, masked, lb)
					cfg := nn.MinRNNConfig{Dim: dim, Expansion: exp, NoNorm: kind == "minlstm-nonorm"}
					var l layer
					var cell cuda.Cell
					var inner int
					var proj, out *nn.Linear
					if kind == "mingru" {
						g := nn.NewMinGRU("rnn", cfg, rng)
						l, cell, inner, proj, out = g, cuda.CellMinGRU, g.Inner, g.Proj, g.Out
					} else {
						g := nn.NewMinLSTM("rnn", cfg, rng)
						l, inner, proj, out = g, g.Inner, g.Proj, g.Out
						cell = cuda.CellMinLSTM
						if cfg.NoNorm {
							cell = cuda.CellMinLSTMNoNorm
						}
					}
					p := hostParams(t, c, rng, l)
					x := randn(rng, B*T*dim, 1)
					var keep []float32
					var keepd cuda.Buf
					if masked {
						keep = make([]float32, B*T)
						for i := range keep {
							if rng.Float64() < 0.7 {
								keep[i] = 1
							}
						}
						keepd = up(c, keep)
					}
					y := l.ForwardMasked(nn.FromData(slices.Clone(x), B, T, dim), nil, keep)
					dl := cuda.NewMinRNN(cell, inner, proj, out, p)
					yd := dl.Forward(c, up(c, x), B, T, keepd)
					check(t, name+" y", down(t, c, yd), y.Data, 1e-5)
					dy := randn(rng, B*T*dim, 1)
					dx := l.Backward(nn.FromData(slices.Clone(dy), B, T, dim))
					dxd := dl.Backward(c, up(c, dy))
					check(t, name+" dx", down(t, c, dxd), dx.Data, 1e-5)
					checkGrads(t, c, p, 1e-5)
				}
			}
		}
	}
}

func TestMLPAndEmbeddingMatchCPU(t *testing.T) {
	c := newCtx(t)
	rng := rand.New(rand.NewPCG(15, 16))
	rows, in := 37, 12
	m := nn.NewMLP("mlp", in, 4*in, in, nn.ActGELU, 0.2, rng)
	e := nn.NewEmbedding("emb", 50, in, rng)
	p := hostParams(t, c, rng, m, e)
	dm, err := cuda.NewMLP(m, p)
	if err != nil {
		t.Fatal(err)
	}
	// The device MLP drives its own twins of the host dropouts.
	twin := *m.OutDrop
	dm.OutDrop.Host = &twin
	x := randn(rng, rows*in, 1)
	y := m.Forward(nn.FromData(slices.Clone(x), rows, in))
	check(t, "mlp y", down(t, c, dm.Forward(c, up(c, x), rows)), y.Data, 1e-5)
	dy := randn(rng, rows*in, 1)
	dx := m.Backward(nn.FromData(slices.Clone(dy), rows, in))
	check(t, "mlp dx", down(t, c, dm.Backward(c, up(c, dy))), dx.Data, 1e-5)

	idx := make([]int32, 200)
	for i := range idx {
		idx[i] = int32(rng.IntN(e.Num))
	}
	idx[3], idx[4] = 49, 0
	e.Forward(idx)
	dy = randn(rng, len(idx)*in, 1)
	e.Backward(nn.FromData(slices.Clone(dy), len(idx), in))
	de := cuda.NewEmbedding(e, p)
	de.Backward(c, up(c, dy), idx)
	checkGrads(t, c, p, 1e-5)
}

func TestAdamWAndNormMatchCPU(t *testing.T) {
	c := newCtx(t)
	rng := rand.New(rand.NewPCG(17, 18))
	l := nn.NewLinear("lin", 300, 301, true, rng)
	ln := nn.NewLayerNorm("ln", 300)
	cfg := nn.AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}
	ps := append(l.Params(), ln.Params()...)
	opt := nn.NewAdamW(ps, cfg)
	dp := c.NewParams(ps)
	c.UploadMoments(dp, opt)
	for step := 1; step <= 3; step++ {
		for _, q := range dp.List {
			g := randn(rng, q.Host.Grad.Len(), 0.1+float64(step))
			copy(q.Host.Grad.Data, g)
			c.Upload(q.Grad, g)
		}
		maxNorm := 5.0
		norm := nn.ClipGradNorm(ps, maxNorm)
		got := math.Sqrt(c.SumSquares(dp.G))
		if math.Abs(got-norm) > 1e-9*norm {
			t.Fatalf("step %d: device norm %.12g, CPU %.12g", step, got, norm)
		}
		opt.Step(1e-3 * float64(step))
		c.AdamWStep(dp, cfg, step, 1e-3*float64(step), nn.ClipScale(got, maxNorm))
	}
	for _, q := range dp.List {
		check(t, q.Host.Name+" value", down(t, c, q.Value), q.Host.Value.Data, 1e-6)
	}
	m, v := opt.Moments()
	wm, wv := slices.Clone(m), slices.Clone(v)
	c.DownloadMoments(dp, opt, 3)
	check(t, "m", m, wm, 1e-6)
	check(t, "v", v, wv, 1e-6)
}

// The device's minLSTM gates match the CPU's with both gate
// pre-activations past the ±80 clamp (where f/(f+i) must be computed in
// its exact form), forward and backward: a layer whose projection is its
// bias alone feeds the chosen pre-activations to every step.
func TestMinLSTMPastTheClampMatchesCPU(t *testing.T) {
	c := newCtx(t)
	rng := rand.New(rand.NewPCG(19, 20))
	pairs := [][3]float32{{-90, -100, 0.7}, {-100, -90, -2}, {-1000, -999, 1}, {-85, -81, -0.3}, {100, -100, 2}, {-95, 3, 0.1}, {2, -1, -1}}
	I := len(pairs)
	l := nn.NewMinLSTM("rnn", nn.MinRNNConfig{Dim: I}, rng)
	clear(l.Proj.W.Value.Data)
	for j, p := range pairs {
		l.Proj.B.Value.Data[j], l.Proj.B.Value.Data[I+j], l.Proj.B.Value.Data[2*I+j] = p[0], p[1], p[2]
	}
	p := hostParams(t, c, rng, l)
	B, T := 2, 5
	x := randn(rng, B*T*I, 1)
	for _, lb := range []bool{true, false} {
		c.SetLookback(lb)
		y := l.Forward(nn.FromData(slices.Clone(x), B, T, I), nil)
		dl := cuda.NewMinRNN(cuda.CellMinLSTM, l.Inner, l.Proj, l.Out, p)
		check(t, "y", down(t, c, dl.Forward(c, up(c, x), B, T, cuda.Buf{})), y.Data, 1e-5)
		dy := randn(rng, B*T*I, 1)
		l.Backward(nn.FromData(slices.Clone(dy), B, T, I))
		dl.Backward(c, up(c, dy))
		checkGrads(t, c, p, 1e-5)
	}
}
