//go:build !cuda

// gorgonia has a build tag cuda of its own that switches on its cuDNN
// backend (cudnn.h, which Debian does not ship): -tags cuda builds leave
// gorgonia out.

package nn

import (
	"fmt"
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// An independent autodiff oracle for MinGRU and MinLSTM: the same model
// built from gorgonia primitives, unrolled over time in float64, and
// differentiated by gorgonia.Grad. It shares nothing with the layers (nor
// with refMin) but the parameter values, so an error in the hand-written
// backward or in the finite-difference reference would show up here.
// Gorgonia is test-only in this package (see its licence in scan/scanop).

type oracleState int

const (
	zeroH0 oracleState = iota
	learnedH0
	carriedH0
)

func (o oracleState) String() string { return [...]string{"zeroH0", "learnedH0", "carriedH0"}[o] }

// oracleResult is y [B, T, Dim] and the gradients of L = Σ w ⊙ y: dx,
// the parameters in Params() order, and the carried state's dh0.
type oracleResult struct {
	y, dx  []float64
	dParam [][]float64
	dh0    []float64
}

// gorgoniaMinRNN runs the oracle. params are the layer's parameter values
// in Params() order; h0 is the carried state or nil.
func gorgoniaMinRNN(t *testing.T, s minSpec, B, T int, x []float64, params [][]float64, h0, w []float64) oracleResult {
	t.Helper()
	must := G.Must
	I, W, Dm := s.inner, s.width(), s.dim
	g := G.NewGraph()
	mat := func(name string, rows, cols int, data []float64) *G.Node {
		return G.NewMatrix(g, tensor.Float64, G.WithShape(rows, cols), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(append([]float64(nil), data...)))))
	}
	// rows of a [B, T, n] array at time tt, as a [B, n] matrix
	at := func(v []float64, tt, n int) []float64 {
		out := make([]float64, 0, B*n)
		for b := 0; b < B; b++ {
			out = append(out, v[(b*T+tt)*n:(b*T+tt+1)*n]...)
		}
		return out
	}
	ones := make([]float64, B)
	for i := range ones {
		ones[i] = 1
	}
	onesB := mat("ones", B, 1, ones)
	one := G.NewConstant(1.0)
	// x W + 1 bᵀ: the bias row is broadcast by a product with a ones column.
	affine := func(x, w, b *G.Node) *G.Node {
		return must(G.Add(must(G.Mul(x, w)), must(G.Mul(onesB, b))))
	}
	// g(u) = relu(u) + σ(−relu(−u)): u + ½ for u ≥ 0, σ(u) for u < 0, no branch.
	gpos := func(u *G.Node) *G.Node {
		return must(G.Add(must(G.Rectify(u)), must(G.Sigmoid(must(G.Neg(must(G.Rectify(must(G.Neg(u))))))))))
	}

	// The projection's column blocks [k | u] or [k_f | k_i | u] as separate matrices.
	wBlk, bBlk := make(G.Nodes, W), make(G.Nodes, W)
	for c := 0; c < W; c++ {
		wc := make([]float64, Dm*I)
		for i := 0; i < Dm; i++ {
			copy(wc[i*I:(i+1)*I], params[0][i*W*I+c*I:i*W*I+(c+1)*I])
		}
		wBlk[c] = mat(fmt.Sprintf("W%d", c), Dm, I, wc)
		bBlk[c] = mat(fmt.Sprintf("b%d", c), 1, I, params[1][c*I:(c+1)*I])
	}
	next := 2
	var wo, bo *G.Node
	if I != Dm {
		wo, bo = mat("Wo", I, Dm, params[2]), mat("bo", 1, Dm, params[3])
		next = 4
	}

	var prev, v, h0n *G.Node // prev nil: zero state
	switch {
	case h0 != nil:
		h0n = mat("h0", B, I, h0)
		prev = h0n
	case s.learnedH0:
		v = mat("v", 1, I, params[next])
		prev = must(G.Mul(onesB, gpos(v)))
	}

	xs, ys := make(G.Nodes, T), make(G.Nodes, T)
	var loss *G.Node
	for tt := 0; tt < T; tt++ {
		xs[tt] = mat(fmt.Sprintf("x%d", tt), B, Dm, at(x, tt, Dm))
		k := make(G.Nodes, W)
		for c := range k {
			k[c] = affine(xs[tt], wBlk[c], bBlk[c])
		}
		var a, b *G.Node
		if s.lstm {
			f, i := must(G.Sigmoid(k[0])), must(G.Sigmoid(k[1]))
			if s.noNorm {
				a, b = f, must(G.HadamardProd(i, gpos(k[2])))
			} else {
				sum := must(G.Add(f, i))
				a = must(G.HadamardDiv(f, sum))
				b = must(G.HadamardProd(must(G.HadamardDiv(i, sum)), gpos(k[2])))
			}
		} else {
			z := must(G.Sigmoid(k[0]))
			a, b = must(G.Sub(one, z)), must(G.HadamardProd(z, gpos(k[1])))
		}
		h := b
		if prev != nil {
			h = must(G.Add(must(G.HadamardProd(a, prev)), b))
		}
		prev = h
		ys[tt] = h
		if wo != nil {
			ys[tt] = affine(h, wo, bo)
		}
		l := must(G.Sum(must(G.HadamardProd(mat(fmt.Sprintf("w%d", tt), B, Dm, at(w, tt, Dm)), ys[tt]))))
		if loss == nil {
			loss = l
		} else {
			loss = must(G.Add(loss, l))
		}
	}

	wrt := append(append(append(G.Nodes{}, xs...), wBlk...), bBlk...)
	if wo != nil {
		wrt = append(wrt, wo, bo)
	}
	if v != nil {
		wrt = append(wrt, v)
	}
	if h0n != nil {
		wrt = append(wrt, h0n)
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		t.Fatal(err)
	}
	m := G.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	val := func(n *G.Node) []float64 {
		d := n.Value().(*tensor.Dense)
		return append([]float64(nil), d.Data().([]float64)[:d.Shape().TotalSize()]...)
	}

	r := oracleResult{y: make([]float64, B*T*Dm), dx: make([]float64, B*T*Dm)}
	for tt := 0; tt < T; tt++ {
		y, dx := val(ys[tt]), val(grads[tt])
		for b := 0; b < B; b++ {
			copy(r.y[(b*T+tt)*Dm:(b*T+tt+1)*Dm], y[b*Dm:])
			copy(r.dx[(b*T+tt)*Dm:(b*T+tt+1)*Dm], dx[b*Dm:])
		}
	}
	gi := T
	dW, dB := make([]float64, Dm*W*I), make([]float64, W*I)
	for c := 0; c < W; c++ {
		dwc, dbc := val(grads[gi+c]), val(grads[gi+W+c])
		for i := 0; i < Dm; i++ {
			copy(dW[i*W*I+c*I:i*W*I+(c+1)*I], dwc[i*I:])
		}
		copy(dB[c*I:], dbc)
	}
	gi += 2 * W
	r.dParam = [][]float64{dW, dB}
	if wo != nil {
		r.dParam = append(r.dParam, val(grads[gi]), val(grads[gi+1]))
		gi += 2
	}
	if s.learnedH0 {
		if v != nil {
			r.dParam = append(r.dParam, val(grads[gi]))
			gi++
		} else { // a carried state replaces the learned one: no gradient
			r.dParam = append(r.dParam, make([]float64, I))
		}
	}
	if h0n != nil {
		r.dh0 = val(grads[gi])
	}
	return r
}

// oracleErrors runs layer l forward and backward (dy = w) and returns the
// relative L2 error of every output against the oracle.
func oracleErrors(l minLayer, x *Tensor, h0 []float32, w *Tensor, want oracleResult) map[string]float64 {
	ZeroGrads(l)
	y := l.Forward(x, h0)
	errs := map[string]float64{"y": relL2(y.Data, want.y)}
	dx := l.Backward(w)
	errs["dx"] = relL2(dx.Data, want.dx)
	for i, p := range l.Params() {
		errs["d"+p.Name] = relL2(p.Grad.Data, want.dParam[i])
	}
	if h0 != nil {
		errs["dh0"] = relL2(l.StateGrad(), want.dh0)
	}
	return errs
}

var oracleSpecs = []minSpec{
	{lstm: false, dim: 3, inner: 3},
	{lstm: false, dim: 3, inner: 5, learnedH0: true},
	{lstm: false, dim: 4, inner: 8},
	{lstm: true, dim: 3, inner: 3},
	{lstm: true, dim: 4, inner: 6, learnedH0: true},
	{lstm: true, noNorm: true, dim: 3, inner: 3, learnedH0: true},
	{lstm: true, noNorm: true, dim: 4, inner: 2},
}

// oracleInputs makes a layer's parameters, input, carried state and dy.
func oracleInputs(s minSpec, carried bool, seed uint64) (params [][]float64, x *Tensor, h0 []float32, w *Tensor) {
	rng := NewRNG(seed)
	l, _ := newMin(s, false, rng)
	for _, p := range l.Params() {
		params = append(params, to64(p.Value.Data))
	}
	const B, T = 2, 6
	x = randTensor(rng, 1.5, B, T, s.dim)
	if carried {
		h0 = positiveState(rng, B*s.inner)
	}
	w = randTensor(rng, 1, B, T, s.dim)
	return params, x, h0, w
}

// layerWith returns a layer of spec s holding the given parameter values.
func layerWith(s minSpec, logSpace bool, params [][]float64) minLayer {
	l, _ := newMin(s, logSpace, NewRNG(0))
	for i, p := range l.Params() {
		for j, v := range params[i] {
			p.Value.Data[j] = float32(v)
		}
	}
	return l
}

func TestMinRNNMatchesGorgoniaAutodiff(t *testing.T) {
	const tol = 1e-5
	worst := map[bool]float64{}
	for si, s := range oracleSpecs {
		for _, carried := range []bool{false, true} {
			state := zeroH0
			switch {
			case carried:
				state = carriedH0
			case s.learnedH0:
				state = learnedH0
			}
			seed := uint64(100 + 2*si)
			if carried {
				seed++
			}
			params, x, h0, w := oracleInputs(s, carried, seed)
			B, T := x.Shape[0], x.Shape[1]
			want := gorgoniaMinRNN(t, s, B, T, to64(x.Data), params, to64nil(h0), to64(w.Data))
			for _, logSpace := range []bool{false, true} {
				t.Run(fmt.Sprintf("%v/%v/log=%v", s, state, logSpace), func(t *testing.T) {
					errs := oracleErrors(layerWith(s, logSpace, params), x, h0, w, want)
					for name, e := range errs {
						if !(e <= tol) {
							t.Errorf("%s: rel err %.3g > %.0g", name, e, tol)
						}
						worst[logSpace] = math.Max(worst[logSpace], e)
					}
					if testing.Verbose() {
						t.Logf("rel errors: %v", fmtErrs(errs))
					}
				})
			}
		}
	}
	t.Logf("largest rel error: linear space %.3g, log space %.3g", worst[false], worst[true])
}

func fmtErrs(errs map[string]float64) string {
	var s string
	for _, k := range []string{"y", "dx", "dh0"} {
		if e, ok := errs[k]; ok {
			s += fmt.Sprintf("%s %.2g ", k, e)
		}
	}
	for k, e := range errs {
		if k != "y" && k != "dx" && k != "dh0" {
			s += fmt.Sprintf("%s %.2g ", k, e)
		}
	}
	return s
}

// The comparison can fail: one parameter off by 1% in the
// oracle, or a different dy, is caught.
func TestGorgoniaOracleDetectsPerturbations(t *testing.T) {
	const tol = 1e-5
	s := minSpec{lstm: true, dim: 4, inner: 6, learnedH0: true}
	params, x, h0, w := oracleInputs(s, true, 7)
	B, T := x.Shape[0], x.Shape[1]
	maxErr := func(errs map[string]float64) (worst float64) {
		for _, e := range errs {
			worst = math.Max(worst, e)
		}
		return worst
	}
	for i := range params {
		bad := make([][]float64, len(params))
		for j := range params {
			bad[j] = append([]float64(nil), params[j]...)
		}
		bad[i][len(bad[i])/2] *= 1 + 1e-2
		want := gorgoniaMinRNN(t, s, B, T, to64(x.Data), bad, to64(h0), to64(w.Data))
		errs := oracleErrors(layerWith(s, false, params), x, h0, w, want)
		if i < 4 && !(errs["y"] > tol) { // the learned h0 (i = 4) is unused with a carried state
			t.Errorf("param %d perturbed: y rel err %.3g not caught", i, errs["y"])
		}
		if i < 4 && !(maxErr(errs) > tol) {
			t.Errorf("param %d perturbed: largest rel err %.3g not caught", i, maxErr(errs))
		}
	}
	want := gorgoniaMinRNN(t, s, B, T, to64(x.Data), params, to64(h0), to64(w.Data))
	w2 := w.Clone()
	w2.Data[5] += 1e-3
	errs := oracleErrors(layerWith(s, true, params), x, h0, w2, want)
	if !(errs["dx"] > tol) || !(errs["dh0"] > tol) || errs["y"] > tol {
		t.Errorf("perturbed dy: errors %v", fmtErrs(errs))
	}
}
