//go:build !cuda

// gorgonia has a build tag cuda of its own that switches on its cuDNN
// backend (cudnn.h, which Debian does not ship): -tags cuda builds leave
// gorgonia out.

package scanop

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/minrl/minrl/scan"
)

// Scan returns the node h [B, T, D] with h_t = a_t ⊙ h_{t-1} + b_t from
// the zero state, for a and b of shape [B, T, D] and the same dtype
// (Float32 or Float64). Grad differentiates it with respect to a and b.
func Scan(a, b *gorgonia.Node) (*gorgonia.Node, error) {
	if err := check(a, b, nil); err != nil {
		return nil, err
	}
	return gorgonia.ApplyOp(scanOp{}, a, b)
}

// ScanFrom is Scan from the initial state h0 [B, D]: h_{-1} = h0. Grad
// differentiates it with respect to a, b and h0.
func ScanFrom(a, b, h0 *gorgonia.Node) (*gorgonia.Node, error) {
	if err := check(a, b, h0); err != nil {
		return nil, err
	}
	return gorgonia.ApplyOp(scanOp{h0: true}, a, b, h0)
}

// check reports wrong dtypes and shapes when the graph is built, with a
// clearer message than type unification gives.
func check(a, b, h0 *gorgonia.Node) error {
	dt := a.Dtype()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return fmt.Errorf("scanop: a has dtype %v, want Float32 or Float64", dt)
	}
	if b.Dtype() != dt {
		return fmt.Errorf("scanop: a is %v but b is %v", dt, b.Dtype())
	}
	if h0 != nil && h0.Dtype() != dt {
		return fmt.Errorf("scanop: a is %v but h0 is %v", dt, h0.Dtype())
	}
	shapes := []gorgonia.DimSizer{a.Shape(), b.Shape()}
	if h0 != nil {
		shapes = append(shapes, h0.Shape())
	}
	_, err := dimsOf(shapes)
	return err
}

// dimsOf checks the shapes of a, b [B, T, D] and, if present, h0 [B, D].
func dimsOf(in []gorgonia.DimSizer) (scan.Dims, error) {
	shapes, err := gorgonia.DimSizersToShapes(in)
	if err != nil {
		return scan.Dims{}, fmt.Errorf("scanop: %w", err)
	}
	s := shapes[0]
	if len(s) != 3 {
		return scan.Dims{}, fmt.Errorf("scanop: a has shape %v, want [B, T, D]", s)
	}
	d := scan.Dims{B: s[0], T: s[1], D: s[2]}
	if !shapes[1].Eq(s) {
		return d, fmt.Errorf("scanop: a has shape %v but b %v", s, shapes[1])
	}
	if len(shapes) > 2 {
		if h := shapes[2]; len(h) != 2 || h[0] != d.B || h[1] != d.D {
			return d, fmt.Errorf("scanop: h0 has shape %v, want [%d, %d] for a of shape %v", h, d.B, d.D, s)
		}
	}
	return d, nil
}

// Types: a, b, h, dh and gradients are rank-3 tensors and h0 rank-2, all of
// one dtype.
var (
	elt = hm.TypeVariable('a')
	seq = gorgonia.TensorType{Dims: 3, Of: elt}
	st  = gorgonia.TensorType{Dims: 2, Of: elt}
)

// base holds the Op methods the scan ops share. Every op has one output,
// a fresh tensor, and never overwrites an input.
type base struct{}

func (base) ReturnsPtr() bool     { return false }
func (base) CallsExtern() bool    { return false }
func (base) OverwritesInput() int { return -1 }

func hashOf(op fmt.Stringer) uint32 {
	h := fnv.New32a()
	h.Write([]byte(op.String()))
	return h.Sum32()
}

// scanOp: (a, b[, h0]) -> h. The string, and so the hash, names the op's
// only parameter: whether h0 is an input.
type scanOp struct {
	base
	h0 bool
}

func (op scanOp) Arity() int {
	if op.h0 {
		return 3
	}
	return 2
}

func (op scanOp) Type() hm.Type {
	if op.h0 {
		return hm.NewFnType(seq, seq, st, seq)
	}
	return hm.NewFnType(seq, seq, seq)
}

func (op scanOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("scanop: %v got %d inputs", op, len(in))
	}
	d, err := dimsOf(in)
	return tensor.Shape{d.B, d.T, d.D}, err
}

func (op scanOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("scanop: %v got %d inputs", op, len(in))
	}
	d, err := valueDims(in)
	if err != nil {
		return nil, err
	}
	switch in[0].Dtype() {
	case tensor.Float32:
		var v [3][]float32
		if err := floats(v[:len(in)], in); err != nil {
			return nil, err
		}
		h := make([]float32, d.Len())
		scan.Forward(h, v[0], v[1], v[2], d)
		return newDense(h, d.B, d.T, d.D), nil
	default:
		var v [3][]float64
		if err := floats(v[:len(in)], in); err != nil {
			return nil, err
		}
		h := make([]float64, d.Len())
		forward64(h, v[0], v[1], v[2], d)
		return newDense(h, d.B, d.T, d.D), nil
	}
}

// forward64 is the float64 recurrence, a plain sequential loop.
func forward64(h, a, b, h0 []float64, d scan.Dims) {
	for bi := 0; bi < d.B; bi++ {
		for t := 0; t < d.T; t++ {
			o := (bi*d.T + t) * d.D
			for k := 0; k < d.D; k++ {
				var prev float64
				switch {
				case t > 0:
					prev = h[o-d.D+k]
				case h0 != nil:
					prev = h0[bi*d.D+k]
				}
				h[o+k] = a[o+k]*prev + b[o+k]
			}
		}
	}
}

func (op scanOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op scanOp) Hashcode() uint32      { return hashOf(op) }
func (op scanOp) String() string        { return fmt.Sprintf("minrl.Scan{h0=%v}", op.h0) }

// DiffWRT implements gorgonia.SDOp: every input is differentiable.
func (op scanOp) DiffWRT(n int) []bool {
	w := make([]bool, n)
	for i := range w {
		w[i] = true
	}
	return w
}

// SymDiff implements gorgonia.SDOp. With g the adjoint of the recurrence,
//
//	g_t = dh_t + a_{t+1} ⊙ g_{t+1},  ∂L/∂b_t = g_t,  ∂L/∂a_t = g_t ⊙ h_{t-1},  ∂L/∂h0 = a_0 ⊙ g_0,
//
// built from three helper ops because a gorgonia op has one output: the
// reverse scan (scan.Backward) and two elementwise products.
func (op scanOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("scanop: %v got %d inputs", op, len(in))
	}
	a := in[0]
	g, err := gorgonia.ApplyOp(adjointOp{}, a, out, grad)
	if err != nil {
		return nil, err
	}
	prevArgs := gorgonia.Nodes{g, out}
	if op.h0 {
		prevArgs = append(prevArgs, in[2])
	}
	da, err := gorgonia.ApplyOp(gradAOp{h0: op.h0}, prevArgs...)
	if err != nil {
		return nil, err
	}
	if !op.h0 {
		return gorgonia.Nodes{da, g}, nil
	}
	dh0, err := gorgonia.ApplyOp(gradH0Op{}, a, g)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{da, g, dh0}, nil
}

// adjointOp: (a, h, dh) -> g = ∂L/∂b, the reverse recurrence
// g_t = dh_t + a_{t+1} ⊙ g_{t+1}. h is only there because scan.Backward
// also forms ∂L/∂a (which this op discards; gradAOp makes it).
type adjointOp struct{ base }

func (adjointOp) Arity() int    { return 3 }
func (adjointOp) Type() hm.Type { return hm.NewFnType(seq, seq, seq, seq) }

func (op adjointOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("scanop: %v got %d inputs", op, len(in))
	}
	d, err := dimsOf(in[:2])
	if err == nil {
		_, err = dimsOf(in[1:])
	}
	return tensor.Shape{d.B, d.T, d.D}, err
}

func (op adjointOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("scanop: %v got %d inputs", op, len(in))
	}
	d, err := valueDims(in[:2])
	if err == nil {
		_, err = valueDims(in[1:])
	}
	if err != nil {
		return nil, err
	}
	switch in[0].Dtype() {
	case tensor.Float32:
		var v [3][]float32
		if err := floats(v[:], in); err != nil {
			return nil, err
		}
		g, scratch := make([]float32, d.Len()), make([]float32, d.Len())
		scan.Backward(scratch, g, nil, v[2], v[0], v[1], nil, d)
		return newDense(g, d.B, d.T, d.D), nil
	default:
		var v [3][]float64
		if err := floats(v[:], in); err != nil {
			return nil, err
		}
		g := make([]float64, d.Len())
		adjoint64(g, v[2], v[0], d)
		return newDense(g, d.B, d.T, d.D), nil
	}
}

// adjoint64 is the float64 reverse recurrence, a plain sequential loop.
func adjoint64(g, dh, a []float64, d scan.Dims) {
	for bi := 0; bi < d.B; bi++ {
		for t := d.T - 1; t >= 0; t-- {
			o := (bi*d.T + t) * d.D
			for k := 0; k < d.D; k++ {
				g[o+k] = dh[o+k]
				if t+1 < d.T {
					g[o+k] += a[o+d.D+k] * g[o+d.D+k]
				}
			}
		}
	}
}

func (op adjointOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op adjointOp) Hashcode() uint32      { return hashOf(op) }
func (adjointOp) String() string           { return "minrl.ScanAdjoint" }

// gradAOp: (g, h[, h0]) -> ∂L/∂a_t = g_t ⊙ h_{t-1}, with h_{-1} = h0 or 0.
type gradAOp struct {
	base
	h0 bool
}

func (op gradAOp) Arity() int {
	if op.h0 {
		return 3
	}
	return 2
}

func (op gradAOp) Type() hm.Type {
	if op.h0 {
		return hm.NewFnType(seq, seq, st, seq)
	}
	return hm.NewFnType(seq, seq, seq)
}

func (op gradAOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("scanop: %v got %d inputs", op, len(in))
	}
	d, err := dimsOf(in)
	return tensor.Shape{d.B, d.T, d.D}, err
}

func (op gradAOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != op.Arity() {
		return nil, fmt.Errorf("scanop: %v got %d inputs", op, len(in))
	}
	d, err := valueDims(in)
	if err != nil {
		return nil, err
	}
	if in[0].Dtype() == tensor.Float32 {
		var v [3][]float32
		if err := floats(v[:len(in)], in); err != nil {
			return nil, err
		}
		return newDense(gradA(v[0], v[1], v[2], d), d.B, d.T, d.D), nil
	}
	var v [3][]float64
	if err := floats(v[:len(in)], in); err != nil {
		return nil, err
	}
	return newDense(gradA(v[0], v[1], v[2], d), d.B, d.T, d.D), nil
}

func gradA[F float32 | float64](g, h, h0 []F, d scan.Dims) []F {
	da := make([]F, d.Len())
	for bi := 0; bi < d.B; bi++ {
		for t := 0; t < d.T; t++ {
			o := (bi*d.T + t) * d.D
			switch {
			case t > 0:
				for k := 0; k < d.D; k++ {
					da[o+k] = g[o+k] * h[o-d.D+k]
				}
			case h0 != nil:
				for k := 0; k < d.D; k++ {
					da[o+k] = g[o+k] * h0[bi*d.D+k]
				}
			}
		}
	}
	return da
}

func (op gradAOp) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op gradAOp) Hashcode() uint32      { return hashOf(op) }
func (op gradAOp) String() string        { return fmt.Sprintf("minrl.ScanGradA{h0=%v}", op.h0) }

// gradH0Op: (a, g) -> ∂L/∂h0 = a_0 ⊙ g_0, of shape [B, D].
type gradH0Op struct{ base }

func (gradH0Op) Arity() int    { return 2 }
func (gradH0Op) Type() hm.Type { return hm.NewFnType(seq, seq, st) }

func (op gradH0Op) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("scanop: %v got %d inputs", op, len(in))
	}
	d, err := dimsOf(in)
	return tensor.Shape{d.B, d.D}, err
}

func (op gradH0Op) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("scanop: %v got %d inputs", op, len(in))
	}
	d, err := valueDims(in)
	if err != nil {
		return nil, err
	}
	if in[0].Dtype() == tensor.Float32 {
		var v [2][]float32
		if err := floats(v[:], in); err != nil {
			return nil, err
		}
		return newDense(gradH0(v[0], v[1], d), d.B, d.D), nil
	}
	var v [2][]float64
	if err := floats(v[:], in); err != nil {
		return nil, err
	}
	return newDense(gradH0(v[0], v[1], d), d.B, d.D), nil
}

func gradH0[F float32 | float64](a, g []F, d scan.Dims) []F {
	dh0 := make([]F, d.State())
	if d.T == 0 {
		return dh0
	}
	for bi := 0; bi < d.B; bi++ {
		o := bi * d.T * d.D
		for k := 0; k < d.D; k++ {
			dh0[bi*d.D+k] = a[o+k] * g[o+k]
		}
	}
	return dh0
}

func (op gradH0Op) WriteHash(h hash.Hash) { h.Write([]byte(op.String())) }
func (op gradH0Op) Hashcode() uint32      { return hashOf(op) }
func (gradH0Op) String() string           { return "minrl.ScanGradH0" }

// valueDims checks the runtime shapes and dtypes of the inputs, laid out as
// for dimsOf.
func valueDims(in []gorgonia.Value) (scan.Dims, error) {
	shapes := make([]gorgonia.DimSizer, len(in))
	for i, v := range in {
		if v.Dtype() != in[0].Dtype() {
			return scan.Dims{}, fmt.Errorf("scanop: inputs of dtypes %v and %v", in[0].Dtype(), v.Dtype())
		}
		shapes[i] = v.Shape()
	}
	if dt := in[0].Dtype(); dt != tensor.Float32 && dt != tensor.Float64 {
		return scan.Dims{}, fmt.Errorf("scanop: dtype %v, want Float32 or Float64", dt)
	}
	return dimsOf(shapes)
}

// floats sets dst[i] to the elements of in[i] in row-major order. Inputs
// may be views (a slice of a larger tensor, a transpose) whose backing
// array is not laid out row-major: those are materialised into a copy.
func floats[F float32 | float64](dst [][]F, in []gorgonia.Value) error {
	for i, v := range in {
		d, ok := v.(*tensor.Dense)
		if !ok {
			return fmt.Errorf("scanop: input %d is a %T, want a *tensor.Dense", i, v)
		}
		if d.IsMaterializable() || d.RequiresIterator() {
			m, ok := d.Materialize().(*tensor.Dense)
			if !ok {
				return fmt.Errorf("scanop: input %d does not materialise to a *tensor.Dense", i)
			}
			d = m
		}
		data, ok := d.Data().([]F)
		if !ok {
			return fmt.Errorf("scanop: input %d holds %T, want %T", i, d.Data(), dst[i])
		}
		n := d.Shape().TotalSize()
		if len(data) < n {
			return fmt.Errorf("scanop: input %d has %d elements for shape %v", i, len(data), d.Shape())
		}
		dst[i] = data[:n]
	}
	return nil
}

func newDense[F float32 | float64](data []F, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

var (
	_ gorgonia.SDOp = scanOp{}
	_ gorgonia.Op   = adjointOp{}
	_ gorgonia.Op   = gradAOp{}
	_ gorgonia.Op   = gradH0Op{}
)
