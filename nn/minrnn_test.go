package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// ---- float64 reference, straight from the paper's sequential equations ----

func sig64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func g64(u float64) float64 {
	if u >= 0 {
		return u + 0.5
	}
	return sig64(u)
}

type minSpec struct {
	lstm, noNorm bool
	dim, inner   int
	learnedH0    bool
}

func (s minSpec) width() int {
	if s.lstm {
		return 3
	}
	return 2
}

// refMin runs the sequential float64 model. p holds the layer's params in
// Params() order: proj.W, proj.b, [out.W, out.b], [h0 vector v]. h0 is a
// carried state or nil.
func refMin(s minSpec, x []float64, B, T int, p [][]float64, h0 []float64) []float64 {
	I, W := s.inner, s.width()*s.inner
	pre := refLinear(x, p[0], p[1], s.dim, W)
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
			r := pre[(b*T+t)*W : (b*T+t+1)*W]
			for j := 0; j < I; j++ {
				var a, bb float64
				if s.lstm {
					f, i, cand := sig64(r[j]), sig64(r[I+j]), g64(r[2*I+j])
					if s.noNorm {
						a, bb = f, i*cand
					} else {
						a, bb = f/(f+i), i/(f+i)*cand
					}
				} else {
					z := sig64(r[j])
					a, bb = 1-z, z*g64(r[I+j])
				}
				state[j] = a*state[j] + bb
				h[(b*T+t)*I+j] = state[j]
			}
		}
	}
	if wo != nil {
		return refLinear(h, wo, bo, I, s.dim)
	}
	return h
}

type minLayer interface {
	Params() []*Param
	Forward(x *Tensor, h0 []float32) *Tensor
	Backward(dy *Tensor) *Tensor
	StateGrad() []float32
	FinalState(dst []float32)
	InitialState(dst []float32)
	Step(y, x, state []float32)
	Config() MinRNNConfig
}

func newMin(s minSpec, logSpace bool, rng *rand.Rand) (minLayer, MinRNNConfig) {
	cfg := MinRNNConfig{Dim: s.dim, Expansion: float64(s.inner) / float64(s.dim), LogSpace: logSpace, LearnedH0: s.learnedH0, NoNorm: s.noNorm}
	if s.lstm {
		return NewMinLSTM("minlstm", cfg, rng).minRNN, cfg
	}
	return NewMinGRU("mingru", cfg, rng).minRNN, cfg
}

func (s minSpec) String() string {
	k := "minGRU"
	if s.lstm {
		k = "minLSTM"
		if s.noNorm {
			k += "-nonorm"
		}
	}
	return fmt.Sprintf("%s/d%d_inner%d/learnedH0=%v", k, s.dim, s.inner, s.learnedH0)
}

var minSpecs = []minSpec{
	{lstm: false, dim: 3, inner: 3},
	{lstm: false, dim: 3, inner: 5, learnedH0: true},
	{lstm: true, dim: 3, inner: 3},
	{lstm: true, dim: 4, inner: 6, learnedH0: true},
	{lstm: true, noNorm: true, dim: 3, inner: 3, learnedH0: true},
}

func positiveState(rng *rand.Rand, n int) []float32 {
	h := make([]float32, n)
	for i := range h {
		h[i] = float32(0.1 + 2*rng.Float64())
	}
	return h
}

// ---- gradient checks against finite differences of the reference ----

func TestMinRNNGradients(t *testing.T) {
	rng := NewRNG(31)
	for _, s := range minSpecs {
		for _, logSpace := range []bool{false, true} {
			for _, carried := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/log=%v/carried=%v", s, logSpace, carried), func(t *testing.T) {
					l, _ := newMin(s, logSpace, rng)
					const B, T = 2, 5
					x := randTensor(rng, 1, B, T, s.dim)
					var h0 []float32
					if carried {
						h0 = positiveState(rng, B*s.inner)
					}
					checkLayer(t, rng, layerUnderTest{
						params:   l.Params(),
						forward:  func(x *Tensor) *Tensor { return l.Forward(x, h0) },
						backward: l.Backward,
						ref: func(x []float64, p [][]float64) []float64 {
							return refMin(s, x, B, T, p, to64nil(h0))
						},
					}, x, defaultTol)
					if carried {
						checkStateGrad(t, rng, s, l, x, h0)
					}
				})
			}
		}
	}
}

func to64nil(x []float32) []float64 {
	if x == nil {
		return nil
	}
	return to64(x)
}

// checkStateGrad compares StateGrad with finite differences in h0.
func checkStateGrad(t *testing.T, rng *rand.Rand, s minSpec, l minLayer, x *Tensor, h0 []float32) {
	t.Helper()
	B, T := x.Shape[0], x.Shape[1]
	y := l.Forward(x, h0)
	w := randTensor(rng, 1, y.Shape...)
	ZeroGrads(l)
	l.Backward(w)
	got := l.StateGrad()
	ps := make([][]float64, 0)
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
			for k, yv := range refMin(s, x64, B, T, ps, h064) {
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

// ---- long sequences: directional derivatives against the reference ----

// directionalCheck compares Σ grad·v with the float64 central difference of
// the reference loss along a random direction v, for the input and for
// every parameter; it is cheap enough for T = 4096.
func directionalCheck(t *testing.T, rng *rand.Rand, s minSpec, logSpace bool, B, T int, tol float64) {
	t.Helper()
	l, _ := newMin(s, logSpace, rng)
	x := randTensor(rng, 1, B, T, s.dim)
	h0 := positiveState(rng, B*s.inner)
	y := l.Forward(x, h0)
	pv := [][]float64{}
	for _, p := range l.Params() {
		pv = append(pv, to64(p.Value.Data))
	}
	x64, h064 := to64(x.Data), to64(h0)
	want := refMin(s, x64, B, T, pv, h064)
	fwdErr := relL2(y.Data, want)
	if fwdErr > tol {
		t.Errorf("forward: rel err %.3g > %.1g", fwdErr, tol)
	}
	report := fmt.Sprintf("y %.1e", fwdErr)
	defer func() { t.Logf("float32 vs float64 rel err: %s", report) }()
	w := randTensor(rng, 1, y.Shape...)
	w64 := to64(w.Data)
	ZeroGrads(l)
	dx := l.Backward(w)
	loss := func() float64 {
		var s64 float64
		for i, v := range refMin(s, x64, B, T, pv, h064) {
			s64 += w64[i] * v
		}
		return s64
	}
	check := func(name string, vals []float64, grad []float32) {
		dir := make([]float64, len(vals))
		var dot float64
		for i := range dir {
			dir[i] = rng.NormFloat64()
			dot += dir[i] * float64(grad[i])
		}
		// A small step: g has a kink at 0 (slope ¼ below, 1 above), and a
		// step of 1e-5 would move a few of the 10⁵ pre-activations across it.
		const e = 1e-8
		for i := range vals {
			vals[i] += e * dir[i]
		}
		lp := loss()
		for i := range vals {
			vals[i] -= 2 * e * dir[i]
		}
		lm := loss()
		for i := range vals {
			vals[i] += e * dir[i]
		}
		fd := (lp - lm) / (2 * e)
		report += fmt.Sprintf(", d%s %.1e", strings.TrimPrefix(strings.TrimPrefix(name, "mingru."), "minlstm."), math.Abs(dot-fd)/math.Max(1e-300, math.Abs(fd)))
		if math.Abs(dot-fd) > tol*math.Max(1, math.Abs(fd)) {
			t.Errorf("%s: directional derivative %.9g, finite difference %.9g", name, dot, fd)
		}
	}
	check("x", x64, dx.Data)
	check("h0", h064, l.StateGrad())
	for i, p := range l.Params() {
		check(p.Name, pv[i], p.Grad.Data)
	}
}

func TestMinRNNLongSequencesMatchFloat64(t *testing.T) {
	rng := NewRNG(32)
	for _, s := range []minSpec{{dim: 8, inner: 8}, {lstm: true, dim: 8, inner: 12}} {
		for _, logSpace := range []bool{false, true} {
			for _, T := range []int{1, 4096} {
				t.Run(fmt.Sprintf("%v/log=%v/T=%d", s, logSpace, T), func(t *testing.T) {
					directionalCheck(t, rng, s, logSpace, 2, T, 1e-4)
				})
			}
		}
	}
}

// T = 100000 in the log-space path: no overflow, no NaN, still accurate.
func TestMinRNNLogSpaceVeryLong(t *testing.T) {
	if testing.Short() {
		t.Skip("long sequence")
	}
	rng := NewRNG(33)
	for _, s := range []minSpec{{dim: 4, inner: 4}, {lstm: true, dim: 4, inner: 4}} {
		l, _ := newMin(s, true, rng)
		const B, T = 1, 100000
		x := randTensor(rng, 1, B, T, s.dim)
		y := l.Forward(x, nil)
		for i, v := range y.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%v: y[%d] = %g", s, i, v)
			}
		}
		pv := [][]float64{}
		for _, p := range l.Params() {
			pv = append(pv, to64(p.Value.Data))
		}
		if e := relL2(y.Data, refMin(s, to64(x.Data), B, T, pv, nil)); e > 1e-5 {
			t.Errorf("%v: rel err %.3g at T=%d", s, e, T)
		}
		dx := l.Backward(randTensor(rng, 1, y.Shape...))
		for i, v := range dx.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%v: dx[%d] = %g", s, i, v)
			}
		}
	}
}

// ---- modes agree: parallel vs sequential, linear vs log, chunked ----

func TestMinRNNStepMatchesForward(t *testing.T) {
	rng := NewRNG(34)
	for _, s := range minSpecs {
		for _, logSpace := range []bool{false, true} {
			for _, carried := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/log=%v/carried=%v", s, logSpace, carried), func(t *testing.T) {
					l, _ := newMin(s, logSpace, rng)
					const B, T = 3, 40
					x := randTensor(rng, 1, B, T, s.dim)
					state := make([]float32, B*s.inner)
					var h0 []float32
					if carried {
						h0 = positiveState(rng, B*s.inner)
						copy(state, h0)
					} else {
						l.InitialState(state)
					}
					y := l.Forward(x, h0).Clone()
					xt, yt := make([]float32, B*s.dim), make([]float32, B*s.dim)
					for step := 0; step < T; step++ {
						for b := 0; b < B; b++ {
							copy(xt[b*s.dim:], x.Data[(b*T+step)*s.dim:(b*T+step+1)*s.dim])
						}
						l.Step(yt, xt, state)
						for b := 0; b < B; b++ {
							want := y.Data[(b*T+step)*s.dim : (b*T+step+1)*s.dim]
							for k := range want {
								if d := math.Abs(float64(yt[b*s.dim+k] - want[k])); d > 2e-6*(1+math.Abs(float64(want[k]))) {
									t.Fatalf("step %d seq %d unit %d: Step %g, Forward %g", step, b, k, yt[b*s.dim+k], want[k])
								}
							}
						}
					}
					final := make([]float32, B*s.inner)
					l.FinalState(final)
					for i := range final {
						if d := math.Abs(float64(final[i] - state[i])); d > 2e-6*(1+math.Abs(float64(state[i]))) {
							t.Fatalf("final state %d: Forward %g, Step %g", i, final[i], state[i])
						}
					}
				})
			}
		}
	}
}

// Splitting a sequence in two and carrying the state gives the same
// outputs as one pass: the property stateful acting relies on.
func TestMinRNNCarriedStateContinuesSequence(t *testing.T) {
	rng := NewRNG(35)
	for _, s := range minSpecs {
		for _, logSpace := range []bool{false, true} {
			l, _ := newMin(s, logSpace, rng)
			const B, T, T1 = 2, 30, 13
			x := randTensor(rng, 1, B, T, s.dim)
			whole := l.Forward(x, nil).Clone()
			first, second := New(B, T1, s.dim), New(B, T-T1, s.dim)
			for b := 0; b < B; b++ {
				copy(first.Data[b*T1*s.dim:], x.Data[b*T*s.dim:(b*T+T1)*s.dim])
				copy(second.Data[b*(T-T1)*s.dim:], x.Data[(b*T+T1)*s.dim:(b+1)*T*s.dim])
			}
			y1 := l.Forward(first, nil).Clone()
			state := make([]float32, B*s.inner)
			l.FinalState(state)
			y2 := l.Forward(second, state)
			for b := 0; b < B; b++ {
				for tt := 0; tt < T; tt++ {
					var got []float32
					if tt < T1 {
						got = y1.Data[(b*T1+tt)*s.dim : (b*T1+tt+1)*s.dim]
					} else {
						got = y2.Data[(b*(T-T1)+tt-T1)*s.dim : (b*(T-T1)+tt-T1+1)*s.dim]
					}
					want := whole.Data[(b*T+tt)*s.dim : (b*T+tt+1)*s.dim]
					for k := range want {
						if d := math.Abs(float64(got[k] - want[k])); d > 2e-6*(1+math.Abs(float64(want[k]))) {
							t.Fatalf("%v log=%v: seq %d t %d: split %g, whole %g", s, logSpace, b, tt, got[k], want[k])
						}
					}
				}
			}
		}
	}
}

// Gate algebra: f' + i' = 1, and the log forms are the logs of the direct
// coefficients, also for pre-activations far in the tails.
func TestMinCellGateAlgebra(t *testing.T) {
	rng := NewRNG(36)
	const I = 700 // more than one vector block
	for _, c := range []cell{minGRUCell{}, minLSTMCell{}, minLSTMCell{noNorm: true}} {
		pre := make([]float32, c.width()*I)
		for i := range pre {
			pre[i] = float32(rng.NormFloat64() * 3)
			if i%50 == 0 { // tails, inside the ±80 where gates are not saturated
				pre[i] = float32(rng.Float64()*150 - 75)
			}
		}
		a, b, la, lb := make([]float32, I), make([]float32, I), make([]float32, I), make([]float32, I)
		c.linear(pre, a, b)
		c.log(pre, la, lb)
		for j := 0; j < I; j++ {
			if a[j] < 1e-30 || b[j] < 1e-30 {
				continue // underflows float32's linear range; only the log form holds it
			}
			if e := math.Abs(math.Log(float64(a[j])) - float64(la[j])); e > 2e-6*(1+math.Abs(float64(la[j]))) {
				t.Fatalf("%T: log a %g vs %g (pre %v)", c, la[j], math.Log(float64(a[j])), pre[j])
			}
			if e := math.Abs(math.Log(float64(b[j])) - float64(lb[j])); e > 2e-6*(1+math.Abs(float64(lb[j]))) {
				t.Fatalf("%T: log b %g vs %g", c, lb[j], math.Log(float64(b[j])))
			}
			if lc, ok := c.(minLSTMCell); ok && !lc.noNorm {
				g := g64(float64(pre[2*I+j]))
				if s := float64(a[j]) + float64(b[j])/g; math.Abs(s-1) > 1e-6 {
					t.Fatalf("f' + i' = %.9g", s)
				}
			}
		}
	}
}

// Saturated gates (|pre-activation| far beyond float32's reach of σ) give
// finite coefficients in [0, 1] and finite logs, never NaN.
func TestMinCellSaturation(t *testing.T) {
	for _, c := range []cell{minGRUCell{}, minLSTMCell{}, minLSTMCell{noNorm: true}} {
		for _, v := range []float32{-1e4, -200, -88, 88, 200, 1e4} {
			pre := slices.Repeat([]float32{v}, c.width())
			if lc, ok := c.(minLSTMCell); ok {
				pre[1] = -v // forget and input gates pull opposite ways
				_ = lc
			}
			a, b, la, lb, dpre := make([]float32, 1), make([]float32, 1), make([]float32, 1), make([]float32, 1), make([]float32, c.width())
			c.linear(pre, a, b)
			c.log(pre, la, lb)
			bad := func(x float32) bool { return math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) }
			if bad(a[0]) || bad(b[0]) || a[0] < 0 || a[0] > 1 || bad(la[0]) || bad(lb[0]) {
				t.Errorf("%T pre=%v: a=%g b=%g log a=%g log b=%g", c, pre, a[0], b[0], la[0], lb[0])
			}
			c.linearGrad(pre, []float32{1}, []float32{1}, dpre)
			for _, d := range dpre {
				if bad(d) {
					t.Errorf("%T pre=%v: linear gradient %v", c, pre, dpre)
				}
			}
			c.logGrad(pre, []float32{1}, []float32{1}, dpre)
			for _, d := range dpre {
				if bad(d) {
					t.Errorf("%T pre=%v: log gradient %v", c, pre, dpre)
				}
			}
		}
	}
}

func TestMinRNNParameterCounts(t *testing.T) {
	rng := NewRNG(37)
	for _, alpha := range []float64{1, 2, 3} {
		d := 16
		h := int(alpha) * d
		gru := NewMinGRU("g", MinRNNConfig{Dim: d, Expansion: alpha}, rng)
		lstm := NewMinLSTM("l", MinRNNConfig{Dim: d, Expansion: alpha}, rng)
		out := 0
		if h != d {
			out = h*d + d
		}
		// Paper: 2·d_h·d_x and 3·d_h·d_x weights, plus biases and the projection back.
		if got, want := NumParams(gru), 2*h*d+2*h+out; got != want {
			t.Errorf("minGRU α=%g: %d params, want %d", alpha, got, want)
		}
		if got, want := NumParams(lstm), 3*h*d+3*h+out; got != want {
			t.Errorf("minLSTM α=%g: %d params, want %d", alpha, got, want)
		}
	}
}

func TestMinRNNNoAllocationsAndDeterminism(t *testing.T) {
	rng := NewRNG(38)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, s := range minSpecs {
		for _, logSpace := range []bool{false, true} {
			const B, T = 4, 64
			s := s
			s.dim, s.inner = s.dim*8, s.inner*8
			x := randTensor(rng, 1, B, T, s.dim)
			dy := randTensor(rng, 1, B, T, s.dim)
			h0 := positiveState(rng, B*s.inner)
			seed := rng.Uint64()
			run := func(procs int) [][]float32 {
				runtime.GOMAXPROCS(procs)
				l, _ := newMin(s, logSpace, NewRNG(seed))
				l.Forward(x, h0)
				dx := l.Backward(dy)
				out := [][]float32{slices.Clone(dx.Data), slices.Clone(l.StateGrad())}
				for _, p := range l.Params() {
					out = append(out, p.Grad.Data)
				}
				step := func() { l.Forward(x, h0); l.Backward(dy) }
				assertNoAllocs(t, fmt.Sprintf("%v/log=%v", s, logSpace), step)
				return out
			}
			one, four := run(1), run(4)
			for i := range one {
				if !slices.Equal(one[i], four[i]) {
					t.Errorf("%v log=%v: output %d differs between GOMAXPROCS 1 and 4", s, logSpace, i)
				}
			}
		}
	}
}

func TestMinRNNBadInputsPanic(t *testing.T) {
	rng := NewRNG(39)
	for _, tc := range []struct {
		name, want string
		f          func()
	}{
		{"shape", "want [B, T, 4]", func() { NewMinGRU("g", MinRNNConfig{Dim: 4}, rng).Forward(New(2, 3, 5), nil) }},
		{"state", "initial state has 3 elements", func() {
			NewMinGRU("g", MinRNNConfig{Dim: 4}, rng).Forward(New(2, 3, 4), make([]float32, 3))
		}},
		{"log-state", "non-positive initial state", func() {
			NewMinLSTM("l", MinRNNConfig{Dim: 2, LogSpace: true}, rng).Forward(New(1, 3, 2), []float32{1, -1})
		}},
		{"nonorm-gru", "NoNorm applies to MinLSTM only", func() { NewMinGRU("g", MinRNNConfig{Dim: 4, NoNorm: true}, rng) }},
		{"expansion", "expansion -1", func() { NewMinGRU("g", MinRNNConfig{Dim: 4, Expansion: -1}, rng) }},
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

// A learned h0 wider than one 512-value block, in log space: its output
// and every gradient (dh0 included) match the linear-space layer built from
// the same seed.
func TestMinRNNLogSpaceWideLearnedH0(t *testing.T) {
	s := minSpec{dim: 2, inner: 700, learnedH0: true}
	rng := NewRNG(5)
	x := randTensor(rng, 1, 2, 3, s.dim)
	dy := randTensor(rng, 1, 2, 3, s.dim)
	var outs [2][]float32
	var grads [2][][]float32
	for i, logSpace := range []bool{false, true} {
		l, _ := newMin(s, logSpace, NewRNG(9))
		outs[i] = slices.Clone(l.Forward(x, nil).Data)
		l.Backward(dy)
		for _, p := range l.Params() {
			grads[i] = append(grads[i], slices.Clone(p.Grad.Data))
		}
	}
	near := func(what string, a, b []float32) {
		for j := range a {
			if d := math.Abs(float64(a[j] - b[j])); d > 1e-4*(1+math.Abs(float64(a[j]))) {
				t.Fatalf("%s[%d]: linear %g, log %g", what, j, a[j], b[j])
			}
		}
	}
	near("y", outs[0], outs[1])
	for p := range grads[0] {
		near(fmt.Sprint("grad ", p), grads[0][p], grads[1][p])
	}
}
