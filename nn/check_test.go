package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// This file holds the gradient-check harness every layer test uses.
//
// A layer is checked against a float64 reference forward written
// independently in the test (straight from the equations, no shared code):
//  1. the layer's float32 forward must match the reference forward;
//  2. the layer's float32 backward (input and parameter gradients of
//     L = Σ w·y for random w) must match central finite differences of the
//     reference in float64.
// Finite differences of the float64 reference are accurate to ~1e-9, so any
// disagreement beyond float32 rounding points at the hand-written backward.

// layerUnderTest adapts a layer to the harness.
type layerUnderTest struct {
	params   []*Param
	forward  func(x *Tensor) *Tensor
	backward func(dy *Tensor) *Tensor
	// ref computes the layer's output in float64 from the input and the
	// parameter values (in the order of params).
	ref func(x []float64, p [][]float64) []float64
	// noInputGrad skips dx (inputs that are indices, say).
	noInputGrad bool
}

type gradTol struct{ fwd, grad float64 }

var defaultTol = gradTol{fwd: 2e-6, grad: 2e-5}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// relL2 is ||got−want|| / ||want|| (absolute if want is 0).
func relL2(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// checkLayer runs the two checks on input x.
func checkLayer(t *testing.T, rng *rand.Rand, l layerUnderTest, x *Tensor, tol gradTol) {
	t.Helper()
	for _, p := range l.params {
		p.Grad.Zero()
	}
	y := l.forward(x)
	pv := make([][]float64, len(l.params))
	for i, p := range l.params {
		pv[i] = to64(p.Value.Data)
	}
	x64 := to64(x.Data)
	want := l.ref(x64, pv)
	if len(want) != y.Len() {
		t.Fatalf("reference gives %d outputs, layer %d", len(want), y.Len())
	}
	if e := relL2(y.Data, want); e > tol.fwd {
		t.Errorf("forward: rel err %.3g > %.1g", e, tol.fwd)
	}

	w := New(y.Shape...)
	for i := range w.Data {
		w.Data[i] = float32(rng.NormFloat64())
	}
	w64 := to64(w.Data)
	dx := l.backward(w)

	loss := func() float64 {
		var s float64
		for i, v := range l.ref(x64, pv) {
			s += w64[i] * v
		}
		return s
	}
	fd := func(v []float64) []float64 {
		g := make([]float64, len(v))
		for i := range v {
			old := v[i]
			h := 1e-6 * max(1, math.Abs(old))
			v[i] = old + h
			lp := loss()
			v[i] = old - h
			lm := loss()
			v[i] = old
			g[i] = (lp - lm) / (2 * h)
		}
		return g
	}
	if !l.noInputGrad {
		if e := relL2(dx.Data, fd(x64)); e > tol.grad {
			t.Errorf("dx: rel err %.3g > %.1g", e, tol.grad)
		}
	}
	for i, p := range l.params {
		if e := relL2(p.Grad.Data, fd(pv[i])); e > tol.grad {
			t.Errorf("d%s: rel err %.3g > %.1g", p.Name, e, tol.grad)
		}
	}
}

func randTensor(rng *rand.Rand, scale float64, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64() * scale)
	}
	return t
}

// refLinear is y = x W + b in float64 for x rows×in.
func refLinear(x, w, b []float64, in, out int) []float64 {
	rows := len(x) / in
	y := make([]float64, rows*out)
	for r := 0; r < rows; r++ {
		for o := 0; o < out; o++ {
			s := 0.0
			if b != nil {
				s = b[o]
			}
			for i := 0; i < in; i++ {
				s += x[r*in+i] * w[i*out+o]
			}
			y[r*out+o] = s
		}
	}
	return y
}

func TestLinearGradients(t *testing.T) {
	rng := NewRNG(21)
	for _, bias := range []bool{true, false} {
		l := NewLinear("lin", 5, 7, bias, rng)
		checkLayer(t, rng, layerUnderTest{
			params: l.Params(), forward: l.Forward, backward: l.Backward,
			ref: func(x []float64, p [][]float64) []float64 {
				var b []float64
				if bias {
					b = p[1]
				}
				return refLinear(x, p[0], b, 5, 7)
			},
		}, randTensor(rng, 1, 2, 3, 5), defaultTol)
	}
}

func TestActivationGradients(t *testing.T) {
	rng := NewRNG(22)
	refs := map[ActKind]func(float64) float64{
		ActReLU: func(x float64) float64 { return math.Max(x, 0) },
		ActTanh: math.Tanh,
		ActGELU: func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(geluC*(x+geluA*x*x*x))) },
	}
	for kind, f := range refs {
		t.Run(kind.String(), func(t *testing.T) {
			a := NewActivation(kind)
			x := randTensor(rng, 2, 3, 700) // spans more than one vector block
			checkLayer(t, rng, layerUnderTest{
				forward: a.Forward, backward: a.Backward,
				ref: func(x []float64, _ [][]float64) []float64 {
					y := make([]float64, len(x))
					for i, v := range x {
						y[i] = f(v)
					}
					return y
				},
			}, x, defaultTol)
		})
	}
}

// assertNoAllocs checks that step allocates nothing after a warm-up call.
func assertNoAllocs(t *testing.T, name string, step func()) {
	t.Helper()
	step()
	if a := testing.AllocsPerRun(5, step); a != 0 {
		t.Errorf("%s: %v allocations per forward+backward in steady state", name, a)
	}
}

func TestLinearAndActivationDoNotAllocate(t *testing.T) {
	rng := NewRNG(23)
	l := NewLinear("lin", 64, 96, true, rng)
	a := NewActivation(ActGELU)
	x := randTensor(rng, 1, 4, 50, 64)
	dy := randTensor(rng, 1, 4, 50, 96)
	assertNoAllocs(t, "Linear+GELU", func() {
		l.Forward(x)
		a.Forward(&l.y)
		l.Backward(a.Backward(dy))
	})
}

func TestInitOrthogonal(t *testing.T) {
	rng := NewRNG(24)
	for _, shape := range [][2]int{{6, 4}, {4, 6}, {5, 5}} {
		p := NewParam("w", false, shape[0], shape[1])
		InitOrthogonal(p, rng, 2)
		r, c := shape[0], shape[1]
		// The smaller Gram matrix must be gain²·I.
		small := min(r, c)
		for i := 0; i < small; i++ {
			for j := 0; j < small; j++ {
				var s float64
				for k := 0; k < max(r, c); k++ {
					var a, b float32
					if r >= c {
						a, b = p.Value.Data[k*c+i], p.Value.Data[k*c+j]
					} else {
						a, b = p.Value.Data[i*c+k], p.Value.Data[j*c+k]
					}
					s += float64(a) * float64(b)
				}
				want := 0.0
				if i == j {
					want = 4
				}
				if math.Abs(s-want) > 1e-5 {
					t.Fatalf("%v: Gram[%d,%d] = %g, want %g", shape, i, j, s, want)
				}
			}
		}
	}
}
