package scan

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// inputs holds one random problem in float32 and its float64 copy.
type inputs struct {
	d          Dims
	a, b, h0   []float32
	dh         []float32
	a64, b64   []float64
	h064, dh64 []float64
}

// newInputs draws a in [aLo, aHi), b and dh normal, h0 normal (or nil).
func newInputs(rng *rand.Rand, d Dims, aLo, aHi float64, withH0 bool) *inputs {
	in := &inputs{d: d}
	n := d.Len()
	in.a, in.b, in.dh = make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range n {
		in.a[i] = float32(aLo + (aHi-aLo)*rng.Float64())
		in.b[i] = float32(rng.NormFloat64())
		in.dh[i] = float32(rng.NormFloat64())
	}
	if withH0 {
		in.h0 = make([]float32, d.State())
		for i := range in.h0 {
			in.h0[i] = float32(rng.NormFloat64())
		}
	}
	in.a64, in.b64, in.dh64, in.h064 = widen(in.a), widen(in.b), widen(in.dh), widen(in.h0)
	return in
}

func widen(x []float32) []float64 {
	if x == nil {
		return nil
	}
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// refForward is the float64 sequential reference, written independently of
// the kernels: one channel at a time, straight from the definition.
func refForward(a, b, h0 []float64, d Dims) []float64 {
	h := make([]float64, d.Len())
	for bi := 0; bi < d.B; bi++ {
		for k := 0; k < d.D; k++ {
			prev := 0.0
			if h0 != nil {
				prev = h0[bi*d.D+k]
			}
			for t := 0; t < d.T; t++ {
				i := (bi*d.T+t)*d.D + k
				h[i] = a[i]*prev + b[i]
				prev = h[i]
			}
		}
	}
	return h
}

// refBackward is the float64 reverse recurrence.
func refBackward(dh, a, h, h0 []float64, d Dims) (da, db, dh0 []float64) {
	n := d.Len()
	da, db, dh0 = make([]float64, n), make([]float64, n), make([]float64, d.State())
	for bi := 0; bi < d.B; bi++ {
		for k := 0; k < d.D; k++ {
			g := 0.0
			for t := d.T - 1; t >= 0; t-- {
				i := (bi*d.T+t)*d.D + k
				if t+1 < d.T {
					g = dh[i] + a[i+d.D]*g
				} else {
					g = dh[i]
				}
				db[i] = g
				switch {
				case t > 0:
					da[i] = g * h[i-d.D]
				case h0 != nil:
					da[i] = g * h0[bi*d.D+k]
				}
			}
			if d.T > 0 {
				dh0[bi*d.D+k] = a[bi*d.T*d.D+k] * g
			}
		}
	}
	return da, db, dh0
}

// relErr is ||got - want||_2 / ||want||_2 (absolute when want is zero).
func relErr(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		e := float64(got[i]) - want[i]
		num += e * e
		den += want[i] * want[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// maxRelErr is max_i |got_i - want_i| / max_i |want_i|.
func maxRelErr(got []float32, want []float64) float64 {
	var e, m float64
	for i := range want {
		e = max(e, math.Abs(float64(got[i])-want[i]))
		m = max(m, math.Abs(want[i]))
	}
	if m == 0 {
		return e
	}
	return e / m
}

var shapes = []struct {
	name     string
	d        Dims
	aLo, aHi float64
}{
	{"T1", Dims{3, 1, 5}, 0, 1},
	{"tiny", Dims{1, 2, 1}, 0, 1},
	{"odd-block", Dims{2, 33, 70}, 0, 1},
	{"signed-a", Dims{2, 50, 9}, -1.1, 1.1},
	{"long-memory", Dims{2, 4096, 8}, 0.99, 1},
	{"T4096-wide", Dims{4, 4096, 130}, 0, 1},
	{"chunked", Dims{1, 4*ChunkLen + 37, 100}, 0.9, 1},
	{"chunked-B3", Dims{3, 5 * ChunkLen, 3}, 0.5, 1},
}

func TestForwardBackwardMatchFloat64Reference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, uint64(len(shapes))))
	for _, sh := range shapes {
		for _, withH0 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/h0=%v", sh.name, withH0), func(t *testing.T) {
				in := newInputs(rng, sh.d, sh.aLo, sh.aHi, withH0)
				n := sh.d.Len()
				h := make([]float32, n)
				Forward(h, in.a, in.b, in.h0, sh.d)
				want := refForward(in.a64, in.b64, in.h064, sh.d)
				if e := maxRelErr(h, want); e > 2e-6 {
					t.Errorf("forward: max rel err %.3g", e)
				}
				da, db := make([]float32, n), make([]float32, n)
				var dh0 []float32
				if withH0 {
					dh0 = make([]float32, sh.d.State())
				}
				Backward(da, db, dh0, in.dh, in.a, h, in.h0, sh.d)
				wda, wdb, wdh0 := refBackward(in.dh64, in.a64, want, in.h064, sh.d)
				for _, c := range []struct {
					name string
					got  []float32
					want []float64
				}{{"da", da, wda}, {"db", db, wdb}, {"dh0", dh0, wdh0}} {
					if c.got == nil {
						continue
					}
					if e := relErr(c.got, c.want); e > 2e-6 {
						t.Errorf("%s: rel err %.3g", c.name, e)
					}
				}
			})
		}
	}
}

// The float64 references themselves are checked against central finite
// differences of L = Σ w·h, so the backward formula is not taken on trust.
func TestReferenceBackwardMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	d := Dims{2, 6, 3}
	in := newInputs(rng, d, -1, 1, true)
	w := in.dh64
	loss := func(a, b, h0 []float64) float64 {
		var s float64
		for i, v := range refForward(a, b, h0, d) {
			s += w[i] * v
		}
		return s
	}
	h := refForward(in.a64, in.b64, in.h064, d)
	da, db, dh0 := refBackward(w, in.a64, h, in.h064, d)
	const eps = 1e-6
	for _, c := range []struct {
		name string
		x    []float64
		g    []float64
	}{{"a", in.a64, da}, {"b", in.b64, db}, {"h0", in.h064, dh0}} {
		for i := range c.x {
			old := c.x[i]
			c.x[i] = old + eps
			lp := loss(in.a64, in.b64, in.h064)
			c.x[i] = old - eps
			lm := loss(in.a64, in.b64, in.h064)
			c.x[i] = old
			fd := (lp - lm) / (2 * eps)
			if math.Abs(fd-c.g[i]) > 1e-7*(1+math.Abs(fd)) {
				t.Fatalf("d%s[%d]: analytic %.10g, finite difference %.10g", c.name, i, c.g[i], fd)
			}
		}
	}
}

// Gates above 1 for a while overflow a chunk's float32 product of gates;
// with a zero carry that must not turn into NaN (Inf·0), since the plain
// scan of the same values is finite.
func TestChunkedSurvivesAnOverflowingProductOfGates(t *testing.T) {
	d := Dims{1, 4 * ChunkLen, 1}
	if !chunked(d) {
		t.Fatal("shape does not exercise the chunked scan")
	}
	n := d.Len()
	a, b, dh := make([]float32, n), make([]float32, n), make([]float32, n)
	a64, b64, dh64 := make([]float64, n), make([]float64, n), make([]float64, n)
	// Forward: the state is 0 while a = 2 (2^150 overflows float32), then
	// a = 0.5 brings the product back below 1.
	for i := range a {
		switch {
		case i < 150:
			a[i], b[i] = 2, 0
		case i < 300:
			a[i], b[i] = 0.5, 1
		default:
			a[i], b[i] = 0.9, 1
		}
	}
	// Backward: the adjoint is 0 after the first chunk, whose successor
	// ends with a = 2 for a while; its product of gates, taken from the
	// end, overflows too.
	bwdA := make([]float32, n)
	for i := range bwdA {
		switch {
		case i >= 2*ChunkLen-150 && i <= 2*ChunkLen:
			bwdA[i] = 2
		case i >= ChunkLen && i < 2*ChunkLen:
			bwdA[i] = 0.5
		default:
			bwdA[i] = 0.9
		}
		if i < ChunkLen {
			dh[i] = 1
		}
	}
	for i := range a {
		a64[i], b64[i], dh64[i] = float64(a[i]), float64(b[i]), float64(dh[i])
	}
	h := make([]float32, n)
	Forward(h, a, b, nil, d)
	if e := maxRelErr(h, refForward(a64, b64, nil, d)); !(e < 2e-6) {
		t.Errorf("forward: max rel err %.3g (h[%d] = %g)", e, ChunkLen, h[ChunkLen])
	}
	bwdA64 := make([]float64, n)
	for i, v := range bwdA {
		bwdA64[i] = float64(v)
	}
	zero := make([]float32, n) // b = 0: h stays 0, so da = 0 and db = g
	Forward(h, bwdA, zero, nil, d)
	da, db := make([]float32, n), make([]float32, n)
	Backward(da, db, nil, dh, bwdA, h, nil, d)
	_, wdb, _ := refBackward(dh64, bwdA64, make([]float64, n), nil, d)
	if e := relErr(db, wdb); !(e < 2e-6) {
		t.Errorf("backward: rel err %.3g (db[0] = %g)", e, db[0])
	}
}

func TestChunkedIsUsedForLongNarrowInputs(t *testing.T) {
	if !chunked(Dims{1, 100000, 128}) {
		t.Error("one long sequence of 128 channels should use the chunked scan")
	}
	if chunked(Dims{64, 100000, 128}) || chunked(Dims{1, 100, 128}) {
		t.Error("wide or short inputs should use the plain scan")
	}
	for _, sh := range shapes {
		if strings.HasPrefix(sh.name, "chunked") && !chunked(sh.d) {
			t.Errorf("shape %s does not exercise the chunked scan", sh.name)
		}
	}
}

func TestAliasing(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, d := range []Dims{{2, 40, 7}, {1, 4*ChunkLen + 1, 5}} {
		in := newInputs(rng, d, 0, 1, true)
		h := make([]float32, d.Len())
		Forward(h, in.a, in.b, in.h0, d)
		hb := slices.Clone(in.b)
		Forward(hb, in.a, hb, in.h0, d) // h aliases b
		if !slices.Equal(h, hb) {
			t.Errorf("%v: Forward with h aliasing b differs", d)
		}
		da, db := make([]float32, d.Len()), make([]float32, d.Len())
		Backward(da, db, nil, in.dh, in.a, h, in.h0, d)
		dhb := slices.Clone(in.dh)
		da2 := make([]float32, d.Len())
		Backward(da2, dhb, nil, dhb, in.a, h, in.h0, d) // db aliases dh
		if !slices.Equal(db, dhb) || !slices.Equal(da, da2) {
			t.Errorf("%v: Backward with db aliasing dh differs", d)
		}
	}
}

func TestStepMatchesForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	d := Dims{3, 200, 11}
	in := newInputs(rng, d, 0, 1, true)
	h := make([]float32, d.Len())
	Forward(h, in.a, in.b, in.h0, d)
	state := slices.Clone(in.h0)
	at, bt := make([]float32, d.State()), make([]float32, d.State())
	for t0 := 0; t0 < d.T; t0++ {
		for bi := 0; bi < d.B; bi++ {
			o := (bi*d.T + t0) * d.D
			copy(at[bi*d.D:], in.a[o:o+d.D])
			copy(bt[bi*d.D:], in.b[o:o+d.D])
		}
		Step(state, at, bt)
		for bi := 0; bi < d.B; bi++ {
			o := (bi*d.T + t0) * d.D
			if !slices.Equal(state[bi*d.D:(bi+1)*d.D], h[o:o+d.D]) {
				t.Fatalf("step %d, sequence %d: Step differs from Forward", t0, bi)
			}
		}
	}
}

func TestResultsIndependentOfGOMAXPROCS(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, d := range []Dims{{8, 300, 200}, {1, 6 * ChunkLen, 64}} {
		in := newInputs(rng, d, 0.5, 1, true)
		run := func(procs int) [][]float32 {
			runtime.GOMAXPROCS(procs)
			n := d.Len()
			h, da, db, dh0 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, d.State())
			Forward(h, in.a, in.b, in.h0, d)
			Backward(da, db, dh0, in.dh, in.a, h, in.h0, d)
			lh, dla, dlb := make([]float32, n), make([]float32, n), make([]float32, n)
			LogForward(lh, in.a, in.a, nil, d)
			LogBackward(dla, dlb, nil, in.dh, in.a, in.a, lh, nil, d)
			return [][]float32{h, da, db, dh0, lh, dla, dlb}
		}
		one, many := run(1), run(4)
		for i := range one {
			if !slices.Equal(one[i], many[i]) {
				t.Errorf("%v: output %d differs between GOMAXPROCS=1 and 4", d, i)
			}
		}
	}
}

func TestNoAllocationsInSteadyState(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for _, d := range []Dims{{16, 64, 128}, {1, 4 * ChunkLen, 32}} {
		in := newInputs(rng, d, 0.5, 1, true)
		n := d.Len()
		h, da, db, dh0 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, d.State())
		step := func() {
			Forward(h, in.a, in.b, in.h0, d)
			Backward(da, db, dh0, in.dh, in.a, h, in.h0, d)
		}
		step()
		if a := testing.AllocsPerRun(20, step); a != 0 {
			t.Errorf("%v: %v allocations per forward+backward", d, a)
		}
	}
}

func TestEmptyAndBadShapes(t *testing.T) {
	Forward(nil, nil, nil, nil, Dims{0, 5, 5}) // no work, no panic
	dh0 := []float32{1, 2}
	Backward(nil, nil, dh0, nil, nil, nil, nil, Dims{1, 0, 2})
	if dh0[0] != 0 || dh0[1] != 0 {
		t.Error("Backward with T=0 must zero dh0")
	}
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "b has 3 elements, want 4") {
			t.Errorf("want a panic naming the bad argument, got %v", r)
		}
	}()
	Forward(make([]float32, 4), make([]float32, 4), make([]float32, 3), nil, Dims{1, 2, 2})
}
