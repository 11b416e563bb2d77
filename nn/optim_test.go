package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// refAdamW is torch.optim.AdamW written from its documented algorithm in
// float64, in the textbook form (bias-corrected m̂ and v̂), independently of
// AdamW's fused float32 coefficients.
type refAdamW struct {
	cfg     AdamWConfig
	noDecay []bool
	p, m, v [][]float64
	t       int
}

func newRefAdamW(params []*Param, cfg AdamWConfig) *refAdamW {
	r := &refAdamW{cfg: cfg}
	for _, p := range params {
		r.noDecay = append(r.noDecay, p.NoDecay)
		r.p = append(r.p, to64(p.Value.Data))
		r.m = append(r.m, make([]float64, p.Value.Len()))
		r.v = append(r.v, make([]float64, p.Value.Len()))
	}
	return r
}

func (r *refAdamW) step(grads [][]float64, lr float64) {
	r.t++
	b1, b2 := r.cfg.Beta1, r.cfg.Beta2
	for i := range r.p {
		wd := r.cfg.WeightDecay
		if r.noDecay[i] {
			wd = 0
		}
		for k, g := range grads[i] {
			r.p[i][k] -= lr * wd * r.p[i][k]
			r.m[i][k] = b1*r.m[i][k] + (1-b1)*g
			r.v[i][k] = b2*r.v[i][k] + (1-b2)*g*g
			mHat := r.m[i][k] / (1 - math.Pow(b1, float64(r.t)))
			vHat := r.v[i][k] / (1 - math.Pow(b2, float64(r.t)))
			r.p[i][k] -= lr * mHat / (math.Sqrt(vHat) + r.cfg.Eps)
		}
	}
}

// optimParams returns parameters of mixed sizes: an empty one, small ones,
// and large ones so that parallel ranges start and end inside parameters.
func optimParams(rng *rand.Rand) []*Param {
	ps := []*Param{
		NewParam("a.weight", false, 3, 5),
		NewParam("a.bias", true, 5),
		NewParam("empty", false, 0),
		NewParam("big.weight", false, 200, 170),
		NewParam("big.bias", true, 17000),
		NewParam("c", false, 2, 2, 3),
	}
	for _, p := range ps {
		InitNormal(p, rng, 1)
	}
	return ps
}

// setGrads fills the gradients with normals whose scale varies per
// parameter (including tiny ones, where ε matters) and returns them in
// float64.
func setGrads(rng *rand.Rand, ps []*Param) [][]float64 {
	g := make([][]float64, len(ps))
	for i, p := range ps {
		scale := math.Pow(10, -float64(i%4)*2) // 1, 1e-2, 1e-4, 1e-6
		for k := range p.Grad.Data {
			p.Grad.Data[k] = float32(rng.NormFloat64() * scale)
		}
		g[i] = to64(p.Grad.Data)
	}
	return g
}

func TestAdamWMatchesReference(t *testing.T) {
	sched, err := WarmupCosine(3e-2, 3, 10, 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	cfgs := map[string]AdamWConfig{
		"default": DefaultAdamWConfig(3e-2),
		"custom":  {LR: 3e-2, Beta1: 0.8, Beta2: 0.95, Eps: 1e-5, WeightDecay: 0.5},
	}
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			rng := NewRNG(31)
			ps := optimParams(rng)
			p0 := make([][]float64, len(ps))
			for i, p := range ps {
				p0[i] = to64(p.Value.Data)
			}
			o := NewAdamW(ps, cfg)
			ref := newRefAdamW(ps, cfg)
			for step := range 10 {
				g := setGrads(rng, ps)
				o.Step(sched.LR(step))
				ref.step(g, sched.LR(step))
			}
			if o.StepCount() != 10 {
				t.Errorf("StepCount %d, want 10", o.StepCount())
			}
			st := o.State()
			for i, p := range ps {
				// Parameters to 1e-6 relative, element by element.
				for k, v := range p.Value.Data {
					want := ref.p[i][k]
					if d := math.Abs(float64(v) - want); d > 1e-6*max(1, math.Abs(want)) {
						t.Fatalf("%s[%d] = %.9g, want %.9g", p.Name, k, v, want)
					}
				}
				// The total update, which the check above barely sees when
				// it is small next to the parameter.
				delta, want := make([]float32, p.Value.Len()), make([]float64, p.Value.Len())
				for k := range delta {
					delta[k] = float32(float64(p.Value.Data[k]) - p0[i][k])
					want[k] = ref.p[i][k] - p0[i][k]
				}
				if e := relL2(delta, want); e > 2e-5 {
					t.Errorf("%s: update rel err %.3g", p.Name, e)
				}
				if e := relL2(st.Tensors[2*i].Tensor.Data, ref.m[i]); e > 1e-6 {
					t.Errorf("%s: m rel err %.3g", p.Name, e)
				}
				if e := relL2(st.Tensors[2*i+1].Tensor.Data, ref.v[i]); e > 1e-6 {
					t.Errorf("%s: v rel err %.3g", p.Name, e)
				}
			}
		})
	}
}

// The first bias-corrected step is lr·g/(|g| + ε) ≈ lr·sign(g), after the
// decoupled decay p·(1 − lr·λ).
func TestAdamWFirstStepIsSignStep(t *testing.T) {
	rng := NewRNG(32)
	const lr, wd = 0.01, 0.1
	ps := []*Param{NewParam("w", false, 50), NewParam("b", true, 50)}
	for _, p := range ps {
		InitNormal(p, rng, 1)
		for k := range p.Grad.Data {
			p.Grad.Data[k] = float32(rng.NormFloat64())
			for math.Abs(float64(p.Grad.Data[k])) < 1e-3 {
				p.Grad.Data[k] = float32(rng.NormFloat64())
			}
		}
	}
	before := [][]float32{slices.Clone(ps[0].Value.Data), slices.Clone(ps[1].Value.Data)}
	cfg := DefaultAdamWConfig(lr)
	cfg.WeightDecay = wd
	NewAdamW(ps, cfg).Step(lr)
	for i, p := range ps {
		decay := 1 - lr*wd
		if p.NoDecay {
			decay = 1
		}
		for k, v := range p.Value.Data {
			sign := math.Copysign(1, float64(p.Grad.Data[k]))
			want := float64(before[i][k])*decay - lr*sign
			if d := math.Abs(float64(v) - want); d > 1e-6 {
				t.Fatalf("%s[%d]: %.8g -> %.8g, want %.8g", p.Name, k, before[i][k], v, want)
			}
		}
	}
}

func cloneParams(ps []*Param) []*Param {
	out := make([]*Param, len(ps))
	for i, p := range ps {
		out[i] = &Param{Name: p.Name, Value: *p.Value.Clone(), Grad: *p.Grad.Clone(), NoDecay: p.NoDecay}
	}
	return out
}

func TestAdamWStateRoundTrip(t *testing.T) {
	rng := NewRNG(33)
	ps := optimParams(rng)
	cfg := DefaultAdamWConfig(1e-2)
	a := NewAdamW(ps, cfg)
	for range 3 {
		setGrads(rng, ps)
		a.Step(1e-2)
	}
	st := a.State()
	if len(st.Tensors) != 2*len(ps) || st.Step != 3 {
		t.Fatalf("State: %d tensors at step %d", len(st.Tensors), st.Step)
	}
	if st.Tensors[0].Name != "a.weight.exp_avg" || st.Tensors[1].Name != "a.weight.exp_avg_sq" {
		t.Errorf("state names %q, %q", st.Tensors[0].Name, st.Tensors[1].Name)
	}
	for i, nt := range st.Tensors {
		if !slices.Equal(nt.Tensor.Shape, ps[i/2].Value.Shape) {
			t.Errorf("%s has shape %v, want %v", nt.Name, nt.Tensor.Shape, ps[i/2].Value.Shape)
		}
	}

	// A fresh optimiser over a copy of the parameters, loaded from the state
	// in reversed order, must then step identically.
	qs := cloneParams(ps)
	b := NewAdamW(qs, cfg)
	slices.Reverse(st.Tensors)
	if err := b.LoadState(st); err != nil {
		t.Fatal(err)
	}
	// State is a copy: scribbling on it changes neither optimiser.
	for _, nt := range st.Tensors {
		for k := range nt.Tensor.Data {
			nt.Tensor.Data[k] = 7
		}
	}
	for step := range 3 {
		setGrads(rng, ps)
		for i := range ps {
			copy(qs[i].Grad.Data, ps[i].Grad.Data)
		}
		a.Step(1e-2 / float64(step+1))
		b.Step(1e-2 / float64(step+1))
	}
	for i := range ps {
		if !slices.Equal(ps[i].Value.Data, qs[i].Value.Data) {
			t.Errorf("%s differs after resuming", ps[i].Name)
		}
	}
	if b.StepCount() != 6 {
		t.Errorf("resumed StepCount %d, want 6", b.StepCount())
	}
}

func TestAdamWLoadStateRejectsMismatch(t *testing.T) {
	rng := NewRNG(34)
	ps := optimParams(rng)
	o := NewAdamW(ps, DefaultAdamWConfig(1e-3))
	setGrads(rng, ps)
	o.Step(1e-3)
	good := o.State()
	cases := map[string]func(s *AdamWState){
		"wrong shape": func(s *AdamWState) { s.Tensors[0].Tensor = New(5, 3) },
		"wrong size":  func(s *AdamWState) { s.Tensors[1].Tensor = New(3, 6) },
		"missing":     func(s *AdamWState) { s.Tensors = s.Tensors[1:] },
		"unknown":     func(s *AdamWState) { s.Tensors[0].Name = "nope.exp_avg" },
		"duplicate":   func(s *AdamWState) { s.Tensors[1] = s.Tensors[0] },
		"nil":         func(s *AdamWState) { s.Tensors[2].Tensor = nil },
		"step":        func(s *AdamWState) { s.Step = -1 },
	}
	for name, spoil := range cases {
		s := o.State()
		for i := range s.Tensors {
			for k := range s.Tensors[i].Tensor.Data {
				s.Tensors[i].Tensor.Data[k] = 42
			}
		}
		s.Step = 99
		spoil(&s)
		if err := o.LoadState(s); err == nil {
			t.Errorf("%s: LoadState accepted a bad state", name)
		} else if !strings.Contains(err.Error(), "LoadState") {
			t.Errorf("%s: error %q does not name LoadState", name, err)
		}
		// A rejected state changes nothing.
		now := o.State()
		if now.Step != good.Step {
			t.Fatalf("%s: step changed to %d", name, now.Step)
		}
		for i := range now.Tensors {
			if !slices.Equal(now.Tensors[i].Tensor.Data, good.Tensors[i].Tensor.Data) {
				t.Fatalf("%s: %s changed by a rejected load", name, now.Tensors[i].Name)
			}
		}
	}
}

func TestAdamWPanicsOnMisuse(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	p, q := NewParam("x", false, 4), NewParam("x", false, 2)
	mustPanic("duplicate name", func() { NewAdamW([]*Param{p, q}, DefaultAdamWConfig(1e-3)) })
	mustPanic("param twice", func() { NewAdamW([]*Param{p, p}, DefaultAdamWConfig(1e-3)) })
	for _, bad := range []AdamWConfig{
		{LR: -1, Beta1: 0.9, Beta2: 0.999},
		{LR: 1e-3, Beta1: 1, Beta2: 0.999},
		{LR: 1e-3, Beta1: 0.9, Beta2: -0.1},
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: math.NaN()},
		{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, WeightDecay: -0.01},
	} {
		mustPanic("bad config", func() { NewAdamW([]*Param{p}, bad) })
	}
	o := NewAdamW([]*Param{p}, DefaultAdamWConfig(1e-3))
	mustPanic("negative lr", func() { o.Step(-1e-3) })
	mustPanic("NaN lr", func() { o.Step(math.NaN()) })
	p.Value.Resize(5)
	p.Grad.Resize(5)
	mustPanic("resized param", func() { o.Step(1e-3) })
}

func TestAdamWIndependentOfGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	run := func(procs int) [][]float32 {
		runtime.GOMAXPROCS(procs)
		rng := NewRNG(35)
		ps := optimParams(rng)
		o := NewAdamW(ps, DefaultAdamWConfig(1e-2))
		for range 3 {
			setGrads(rng, ps)
			o.Step(1e-2)
		}
		var out [][]float32
		for _, p := range ps {
			out = append(out, p.Value.Data)
		}
		return out
	}
	a, b := run(1), run(4)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Errorf("parameter %d depends on GOMAXPROCS", i)
		}
	}
}

func TestAdamWAndClipDoNotAllocate(t *testing.T) {
	rng := NewRNG(36)
	ps := optimParams(rng)
	setGrads(rng, ps)
	o := NewAdamW(ps, DefaultAdamWConfig(1e-3))
	assertNoAllocs(t, "AdamW.Step", func() { o.Step(1e-3) })
	assertNoAllocs(t, "ClipGradNorm", func() { ClipGradNorm(ps, 1e-3) })
	assertNoAllocs(t, "GradNorm", func() { GradNorm(ps) })
}

// refNorm is the global gradient norm in float64, straight.
func refNorm(ps []*Param) float64 {
	var s float64
	for _, p := range ps {
		for _, g := range p.Grad.Data {
			s += float64(g) * float64(g)
		}
	}
	return math.Sqrt(s)
}

func gradsOf(ps []*Param) [][]float32 {
	var out [][]float32
	for _, p := range ps {
		out = append(out, slices.Clone(p.Grad.Data))
	}
	return out
}

// sameBits compares float32 slices bit by bit, so NaNs compare equal.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func TestClipGradNorm(t *testing.T) {
	rng := NewRNG(37)
	ps := optimParams(rng)
	for _, p := range ps {
		for k := range p.Grad.Data {
			p.Grad.Data[k] = float32(rng.NormFloat64())
		}
	}
	want := refNorm(ps)
	if got := GradNorm(ps); math.Abs(got-want) > 1e-12*want {
		t.Fatalf("GradNorm %.15g, want %.15g", got, want)
	}

	// At or below maxNorm nothing changes.
	g0 := gradsOf(ps)
	for _, maxNorm := range []float64{want * 1.01, math.Inf(1)} {
		if got := ClipGradNorm(ps, maxNorm); math.Abs(got-want) > 1e-12*want {
			t.Fatalf("ClipGradNorm returned %.15g, want %.15g", got, want)
		}
		for i, p := range ps {
			if !slices.Equal(p.Grad.Data, g0[i]) {
				t.Fatalf("maxNorm %g > norm %g: %s changed", maxNorm, want, p.Name)
			}
		}
	}

	// Above it every gradient is scaled by maxNorm/(norm + 1e-6).
	maxNorm := want / 3
	if got := ClipGradNorm(ps, maxNorm); math.Abs(got-want) > 1e-12*want {
		t.Fatalf("ClipGradNorm returned %.15g, want %.15g", got, want)
	}
	scale := maxNorm / (want + 1e-6)
	for i, p := range ps {
		for k, g := range p.Grad.Data {
			if w := float64(g0[i][k]) * scale; math.Abs(float64(g)-w) > 3e-7*math.Abs(w) {
				t.Fatalf("%s[%d] clipped to %g, want %g", p.Name, k, g, w)
			}
		}
	}
	if n := refNorm(ps); math.Abs(n-maxNorm) > 1e-6*maxNorm {
		t.Errorf("norm after clipping %g, want %g", n, maxNorm)
	}

	// The 1e-6 in the denominator matters for small norms.
	for _, p := range ps {
		for k := range p.Grad.Data {
			p.Grad.Data[k] = float32(rng.NormFloat64() * 1e-7)
		}
	}
	small := refNorm(ps)
	g0 = gradsOf(ps)
	ClipGradNorm(ps, small/2)
	scale = small / 2 / (small + 1e-6)
	for i, p := range ps {
		for k, g := range p.Grad.Data {
			if w := float64(g0[i][k]) * scale; math.Abs(float64(g)-w) > 3e-7*math.Abs(w) {
				t.Fatalf("small norm %g: %s[%d] clipped to %g, want %g", small, p.Name, k, g, w)
			}
		}
	}

	// A non-finite norm is reported and the gradients are left alone.
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		ps[3].Grad.Data[123] = bad
		g1 := gradsOf(ps)
		got := ClipGradNorm(ps, 1)
		if !math.IsNaN(got) && !math.IsInf(got, 1) {
			t.Errorf("gradient %v: norm %g, want NaN or +Inf", bad, got)
		}
		for i, p := range ps {
			if !sameBits(p.Grad.Data, g1[i]) {
				t.Errorf("gradient %v: %s changed", bad, p.Name)
			}
		}
	}

	if got := GradNorm(nil); got != 0 {
		t.Errorf("GradNorm(nil) = %g", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("ClipGradNorm with maxNorm 0 did not panic")
		}
	}()
	ClipGradNorm(ps, 0)
}

func TestClipGradNormIndependentOfGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	run := func(procs int) (float64, [][]float32) {
		runtime.GOMAXPROCS(procs)
		rng := NewRNG(38)
		var ps []*Param
		for i := range 12 {
			p := NewParam(string(rune('a'+i)), false, 1+rng.IntN(60000))
			for k := range p.Grad.Data {
				p.Grad.Data[k] = float32(rng.NormFloat64() * 1e3)
			}
			ps = append(ps, p)
		}
		return ClipGradNorm(ps, 1), gradsOf(ps)
	}
	n1, g1 := run(1)
	n4, g4 := run(4)
	if math.Float64bits(n1) != math.Float64bits(n4) {
		t.Errorf("norm %v with 1 proc, %v with 4", n1, n4)
	}
	for i := range g1 {
		if !slices.Equal(g1[i], g4[i]) {
			t.Errorf("clipped gradient %d depends on GOMAXPROCS", i)
		}
	}
}

func TestSegmentAtSkipsEmptyParams(t *testing.T) {
	offsets := []int{0, 0, 3, 3, 3, 7, 8}
	for k, want := range []int{1, 1, 1, 4, 4, 4, 4, 5} {
		if got := segmentAt(offsets, k); got != want {
			t.Errorf("segmentAt(%v, %d) = %d, want %d", offsets, k, got, want)
		}
	}
}
