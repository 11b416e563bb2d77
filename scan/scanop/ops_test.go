//go:build !cuda

// gorgonia has a build tag cuda of its own that switches on its cuDNN
// backend (cudnn.h, which Debian does not ship): -tags cuda builds leave
// gorgonia out.

package scanop_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/minrl/minrl/scan/scanop"
)

// problem is one random recurrence with a loss L = Σ w ⊙ h.
type problem struct {
	B, T, D int
	a, b, w []float64 // [B, T, D]
	h0      []float64 // [B, D] or nil
}

func newProblem(rng *rand.Rand, B, T, D int, withH0 bool) problem {
	p := problem{B: B, T: T, D: D}
	n := B * T * D
	p.a, p.b, p.w = make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range p.a {
		p.a[i] = 0.2 + 0.9*rng.Float64() // some |a| > 1 too: no contraction hides errors
		if rng.IntN(4) == 0 {
			p.a[i] = -p.a[i]
		}
		p.b[i] = rng.NormFloat64()
		p.w[i] = rng.NormFloat64()
	}
	if withH0 {
		p.h0 = make([]float64, B*D)
		for i := range p.h0 {
			p.h0[i] = rng.NormFloat64()
		}
	}
	return p
}

// ref is the recurrence and loss in plain float64 Go.
func (p problem) ref() (h []float64, loss float64) {
	h = make([]float64, len(p.a))
	for bi := 0; bi < p.B; bi++ {
		for k := 0; k < p.D; k++ {
			var prev float64
			if p.h0 != nil {
				prev = p.h0[bi*p.D+k]
			}
			for t := 0; t < p.T; t++ {
				i := (bi*p.T+t)*p.D + k
				prev = p.a[i]*prev + p.b[i]
				h[i] = prev
				loss += p.w[i] * prev
			}
		}
	}
	return h, loss
}

func value(dt tensor.Dtype, v []float64, shape ...int) *tensor.Dense {
	if dt == tensor.Float32 {
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(f))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), v...)))
}

func input(g *gorgonia.ExprGraph, dt tensor.Dtype, name string, v []float64, shape ...int) *gorgonia.Node {
	return gorgonia.NewTensor(g, dt, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name),
		gorgonia.WithValue(value(dt, v, shape...)))
}

func floats(t *testing.T, n *gorgonia.Node) []float64 {
	t.Helper()
	v := n.Value()
	if v == nil {
		t.Fatalf("%v has no value", n)
	}
	d := v.(*tensor.Dense)
	if d.IsMaterializable() {
		d = d.Materialize().(*tensor.Dense)
	}
	switch s := d.Data().(type) {
	case []float64:
		return append([]float64(nil), s[:d.Shape().TotalSize()]...)
	case []float32:
		out := make([]float64, d.Shape().TotalSize())
		for i := range out {
			out[i] = float64(s[i])
		}
		return out
	}
	t.Fatalf("%v holds %T", n, d.Data())
	return nil
}

func run(t *testing.T, g *gorgonia.ExprGraph) {
	t.Helper()
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
}

// result is the forward output and the gradients of L = Σ w ⊙ h.
type result struct{ h, da, db, dh0 []float64 }

// viaOp computes the result with one Scan node and gorgonia.Grad.
func (p problem) viaOp(t *testing.T, dt tensor.Dtype) result {
	t.Helper()
	g := gorgonia.NewGraph()
	a := input(g, dt, "a", p.a, p.B, p.T, p.D)
	b := input(g, dt, "b", p.b, p.B, p.T, p.D)
	w := input(g, dt, "w", p.w, p.B, p.T, p.D)
	wrt := gorgonia.Nodes{a, b}
	var h *gorgonia.Node
	var err error
	if p.h0 != nil {
		h0 := input(g, dt, "h0", p.h0, p.B, p.D)
		wrt = append(wrt, h0)
		h, err = scanop.ScanFrom(a, b, h0)
	} else {
		h, err = scanop.Scan(a, b)
	}
	if err != nil {
		t.Fatal(err)
	}
	loss := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(w, h))))
	grads, err := gorgonia.Grad(loss, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	run(t, g)
	r := result{h: floats(t, h), da: floats(t, grads[0]), db: floats(t, grads[1])}
	if p.h0 != nil {
		r.dh0 = floats(t, grads[2])
	}
	return r
}

// viaUnrolled computes the result with the recurrence unrolled over time in
// gorgonia primitives, one [B, D] node per step, and gorgonia.Grad.
func (p problem) viaUnrolled(t *testing.T, dt tensor.Dtype) result {
	t.Helper()
	B, T, D := p.B, p.T, p.D
	step := func(v []float64, tt int) []float64 { // [B, D] slice of a [B, T, D] array at time tt
		out := make([]float64, 0, B*D)
		for bi := 0; bi < B; bi++ {
			out = append(out, v[(bi*T+tt)*D:(bi*T+tt+1)*D]...)
		}
		return out
	}
	g := gorgonia.NewGraph()
	var prev *gorgonia.Node
	var wrt gorgonia.Nodes
	if p.h0 != nil {
		prev = input(g, dt, "h0", p.h0, B, D)
	} else {
		// a zero state, so that a_0 is in the graph (with gradient 0)
		prev = input(g, dt, "zero", make([]float64, B*D), B, D)
	}
	as, bs, hs := make(gorgonia.Nodes, T), make(gorgonia.Nodes, T), make(gorgonia.Nodes, T)
	var loss *gorgonia.Node
	for tt := 0; tt < T; tt++ {
		as[tt] = input(g, dt, fmt.Sprintf("a%d", tt), step(p.a, tt), B, D)
		bs[tt] = input(g, dt, fmt.Sprintf("b%d", tt), step(p.b, tt), B, D)
		w := input(g, dt, fmt.Sprintf("w%d", tt), step(p.w, tt), B, D)
		hs[tt] = gorgonia.Must(gorgonia.Add(gorgonia.Must(gorgonia.HadamardProd(as[tt], prev)), bs[tt]))
		prev = hs[tt]
		l := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(w, hs[tt]))))
		if loss == nil {
			loss = l
		} else {
			loss = gorgonia.Must(gorgonia.Add(loss, l))
		}
	}
	wrt = append(append(wrt, as...), bs...)
	var h0 *gorgonia.Node
	if p.h0 != nil {
		h0 = g.ByName("h0")[0]
		wrt = append(wrt, h0)
	}
	grads, err := gorgonia.Grad(loss, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	run(t, g)
	n := B * T * D
	r := result{h: make([]float64, n), da: make([]float64, n), db: make([]float64, n)}
	for tt := 0; tt < T; tt++ {
		h, da, db := floats(t, hs[tt]), floats(t, grads[tt]), floats(t, grads[T+tt])
		for bi := 0; bi < B; bi++ {
			o := (bi*T + tt) * D
			copy(r.h[o:o+D], h[bi*D:])
			copy(r.da[o:o+D], da[bi*D:])
			copy(r.db[o:o+D], db[bi*D:])
		}
	}
	if p.h0 != nil {
		r.dh0 = floats(t, grads[2*T])
	}
	return r
}

// finiteDiff is the result with gradients from central differences of the
// float64 reference.
func (p problem) finiteDiff() result {
	h, _ := p.ref()
	fd := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i := range v {
			old := v[i]
			const e = 1e-6
			v[i] = old + e
			_, lp := p.ref()
			v[i] = old - e
			_, lm := p.ref()
			v[i] = old
			out[i] = (lp - lm) / (2 * e)
		}
		return out
	}
	r := result{h: h, da: fd(p.a), db: fd(p.b)}
	if p.h0 != nil {
		r.dh0 = fd(p.h0)
	}
	return r
}

func relL2(got, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := got[i] - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func compare(t *testing.T, what string, got, want result, tol float64) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want []float64
	}{{"h", got.h, want.h}, {"da", got.da, want.da}, {"db", got.db, want.db}, {"dh0", got.dh0, want.dh0}} {
		if len(c.got) != len(c.want) {
			t.Errorf("%s: %s has %d elements, want %d", what, c.name, len(c.got), len(c.want))
			continue
		}
		e := relL2(c.got, c.want)
		if e > tol || math.IsNaN(e) {
			t.Errorf("%s: %s rel err %.3g > %.1g", what, c.name, e, tol)
		}
		if testing.Verbose() && c.got != nil {
			t.Logf("%s: %s rel err %.3g", what, c.name, e)
		}
	}
}

var dtypes = []struct {
	dt       tensor.Dtype
	unrolled float64 // op vs unrolled graph, same dtype
	fd       float64 // op vs float64 finite differences
}{
	{tensor.Float64, 1e-13, 1e-8},
	{tensor.Float32, 2e-6, 1e-5},
}

func TestScanMatchesUnrolledGraph(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dt := range dtypes {
		for _, withH0 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/h0=%v", dt.dt, withH0), func(t *testing.T) {
				p := newProblem(rng, 2, 7, 3, withH0)
				compare(t, "op vs unrolled", p.viaOp(t, dt.dt), p.viaUnrolled(t, dt.dt), dt.unrolled)
			})
		}
	}
}

func TestScanMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dt := range dtypes {
		for _, withH0 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/h0=%v", dt.dt, withH0), func(t *testing.T) {
				p := newProblem(rng, 3, 6, 4, withH0)
				compare(t, "op vs finite differences", p.viaOp(t, dt.dt), p.finiteDiff(), dt.fd)
			})
		}
	}
}

// The comparisons can fail: a wrong h0 or a wrong a shows up in every check.
func TestScanChecksDetectErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	p := newProblem(rng, 2, 5, 3, true)
	got := p.viaOp(t, tensor.Float64)
	q := p
	q.a = append([]float64(nil), p.a...)
	q.a[7] += 1e-4
	want := q.finiteDiff()
	for _, c := range [][2][]float64{{got.h, want.h}, {got.da, want.da}, {got.dh0, want.dh0}} {
		if e := relL2(c[0], c[1]); e < 1e-7 {
			t.Errorf("a perturbation of 1e-4 in one a gave rel err %.3g only", e)
		}
	}
}

// Inputs that are views (a slice along T, a transpose) give the same
// result as the same values laid out row-major.
func TestScanViewInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const B, T, D = 2, 5, 3
	for _, dt := range dtypes {
		p := newProblem(rng, B, T, D, true)
		want := p.viaOp(t, dt.dt)

		// a is rows 1..T of a [B, T+2, D] tensor; b is the transpose of a [B, D, T] one.
		big := make([]float64, B*(T+2)*D)
		bt := make([]float64, B*D*T)
		for bi := 0; bi < B; bi++ {
			for tt := 0; tt < T; tt++ {
				for k := 0; k < D; k++ {
					big[(bi*(T+2)+tt+1)*D+k] = p.a[(bi*T+tt)*D+k]
					bt[(bi*D+k)*T+tt] = p.b[(bi*T+tt)*D+k]
				}
			}
		}
		g := gorgonia.NewGraph()
		aBig := input(g, dt.dt, "aBig", big, B, T+2, D)
		bT := input(g, dt.dt, "bT", bt, B, D, T)
		h0 := input(g, dt.dt, "h0", p.h0, B, D)
		w := input(g, dt.dt, "w", p.w, B, T, D)
		a := gorgonia.Must(gorgonia.Slice(aBig, nil, gorgonia.S(1, T+1), nil))
		b := gorgonia.Must(gorgonia.Transpose(bT, 0, 2, 1))
		h, err := scanop.ScanFrom(a, b, h0)
		if err != nil {
			t.Fatal(err)
		}
		loss := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(w, h))))
		grads, err := gorgonia.Grad(loss, aBig, bT, h0)
		if err != nil {
			t.Fatal(err)
		}
		run(t, g)
		got := result{h: floats(t, h), dh0: floats(t, grads[2])}
		// Map the gradients of the big and transposed inputs back.
		dBig, dbT := floats(t, grads[0]), floats(t, grads[1])
		got.da, got.db = make([]float64, B*T*D), make([]float64, B*T*D)
		for bi := 0; bi < B; bi++ {
			for tt := 0; tt < T; tt++ {
				for k := 0; k < D; k++ {
					got.da[(bi*T+tt)*D+k] = dBig[(bi*(T+2)+tt+1)*D+k]
					got.db[(bi*T+tt)*D+k] = dbT[(bi*D+k)*T+tt]
				}
			}
		}
		compare(t, fmt.Sprintf("%v view nodes", dt.dt), got, want, 1e-6)

		// Gorgonia's Slice and Transpose ops materialise their results, but
		// a view bound to an input with Let reaches the op as it is.
		g = gorgonia.NewGraph()
		aIn := gorgonia.NewTensor(g, dt.dt, 3, gorgonia.WithShape(B, T, D), gorgonia.WithName("a"))
		bIn := gorgonia.NewTensor(g, dt.dt, 3, gorgonia.WithShape(B, T, D), gorgonia.WithName("b"))
		h0 = input(g, dt.dt, "h0", p.h0, B, D)
		w = input(g, dt.dt, "w", p.w, B, T, D)
		aView, err := value(dt.dt, big, B, T+2, D).Slice(nil, tensor.S(1, T+1))
		if err != nil {
			t.Fatal(err)
		}
		bView := value(dt.dt, bt, B, D, T)
		if err := bView.T(0, 2, 1); err != nil {
			t.Fatal(err)
		}
		if err := gorgonia.Let(aIn, aView); err != nil {
			t.Fatal(err)
		}
		if err := gorgonia.Let(bIn, bView); err != nil {
			t.Fatal(err)
		}
		if h, err = scanop.ScanFrom(aIn, bIn, h0); err != nil {
			t.Fatal(err)
		}
		loss = gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(w, h))))
		if grads, err = gorgonia.Grad(loss, aIn, bIn, h0); err != nil {
			t.Fatal(err)
		}
		run(t, g)
		got = result{h: floats(t, h), da: floats(t, grads[0]), db: floats(t, grads[1]), dh0: floats(t, grads[2])}
		compare(t, fmt.Sprintf("%v bound views", dt.dt), got, want, 1e-6)
	}
}

func TestScanBadInputs(t *testing.T) {
	g := gorgonia.NewGraph()
	f32 := func(name string, shape ...int) *gorgonia.Node {
		return gorgonia.NewTensor(g, tensor.Float32, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name))
	}
	a, b := f32("a", 2, 3, 4), f32("b", 2, 3, 4)
	b5 := f32("b5", 2, 3, 5)
	b64 := gorgonia.NewTensor(g, tensor.Float64, 3, gorgonia.WithShape(2, 3, 4), gorgonia.WithName("b64"))
	m := f32("m", 6, 4)
	for _, c := range []struct {
		name, want string
		f          func() (*gorgonia.Node, error)
	}{
		{"shape", "but b", func() (*gorgonia.Node, error) { return scanop.Scan(a, b5) }},
		{"dtype", "but b is float64", func() (*gorgonia.Node, error) { return scanop.Scan(a, b64) }},
		{"rank", "want [B, T, D]", func() (*gorgonia.Node, error) { return scanop.Scan(m, m) }},
		{"h0", "h0 has shape", func() (*gorgonia.Node, error) { return scanop.ScanFrom(a, b, f32("h0", 2, 3)) }},
	} {
		if _, err := c.f(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func ExampleScan() {
	// h_t = a_t ⊙ h_{t-1} + b_t for one sequence of 3 steps and 2 channels,
	// and the gradient of Σ h.
	g := gorgonia.NewGraph()
	a := gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(1, 3, 2), gorgonia.WithName("a"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 3, 2), tensor.WithBacking([]float32{0.5, 0.5, 0.5, 0.5, 0.5, 0.5}))))
	b := gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(1, 3, 2), gorgonia.WithName("b"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 3, 2), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))))
	h, err := scanop.Scan(a, b)
	if err != nil {
		fmt.Println(err)
		return
	}
	loss := gorgonia.Must(gorgonia.Sum(h))
	grads, err := gorgonia.Grad(loss, a, b)
	if err != nil {
		fmt.Println(err)
		return
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("h    ", h.Value().Data())
	fmt.Println("dL/da", grads[0].Value().Data())
	fmt.Println("dL/db", grads[1].Value().Data())
	// Output:
	// h     [1 2 3.5 5 6.75 8.5]
	// dL/da [0 0 1.5 3 3.5 5]
	// dL/db [1.75 1.75 1.5 1.5 1 1]
}
