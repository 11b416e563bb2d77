package export

import (
	"fmt"

	"github.com/minrl/minrl/internal/onnx"
	"github.com/minrl/minrl/nn"
)

// builder appends named nodes and initializers to an ONNX graph. Every
// node gets a unique name and a unique output ("<op>_<n>").
type builder struct {
	g      onnx.Graph
	n      int
	params map[string]*nn.Tensor
	inits  map[string]bool
}

func newBuilder(params []*nn.Param) *builder {
	b := &builder{params: map[string]*nn.Tensor{}, inits: map[string]bool{}}
	for _, p := range params {
		b.params[p.Name] = &p.Value
	}
	return b
}

// op adds a node with one output and returns the output's name.
func (b *builder) op(op string, ins []string, attrs ...onnx.Attr) string {
	b.n++
	out := fmt.Sprintf("%s_%d", op, b.n)
	b.g.Nodes = append(b.g.Nodes, onnx.Node{Name: "node_" + out, Op: op, In: ins, Out: []string{out}, Attrs: attrs})
	return out
}

// opTo adds a node whose output is the given name (a graph output).
func (b *builder) opTo(out, op string, ins []string, attrs ...onnx.Attr) {
	b.n++
	b.g.Nodes = append(b.g.Nodes, onnx.Node{Name: fmt.Sprintf("node_%s_%d", op, b.n), Op: op, In: ins, Out: []string{out}, Attrs: attrs})
}

func (b *builder) opN(op string, nOut int, ins []string, attrs ...onnx.Attr) []string {
	b.n++
	outs := make([]string, nOut)
	for i := range outs {
		outs[i] = fmt.Sprintf("%s_%d_%d", op, b.n, i)
	}
	b.g.Nodes = append(b.g.Nodes, onnx.Node{Name: fmt.Sprintf("node_%s_%d", op, b.n), Op: op, In: ins, Out: outs, Attrs: attrs})
	return outs
}

// param adds the model parameter name as an initializer (once) and
// returns its name.
func (b *builder) param(name string) string {
	t, ok := b.params[name]
	if !ok {
		panic(fmt.Sprintf("export: the model has no parameter %q", name))
	}
	if !b.inits[name] {
		b.inits[name] = true
		b.g.Init = append(b.g.Init, onnx.Tensor{Name: name, Type: onnx.Float, Dims: dims64(t.Shape), Floats: t.Data})
	}
	return name
}

func (b *builder) hasParam(name string) bool { _, ok := b.params[name]; return ok }

// constF adds a float32 constant initializer (a scalar without dims).
func (b *builder) constF(name string, vals []float32, dims ...int64) string {
	b.g.Init = append(b.g.Init, onnx.Tensor{Name: b.unique(name), Type: onnx.Float, Dims: dims, Floats: vals})
	return b.g.Init[len(b.g.Init)-1].Name
}

// constI adds an int64 constant initializer.
func (b *builder) constI(name string, vals []int64, dims ...int64) string {
	b.g.Init = append(b.g.Init, onnx.Tensor{Name: b.unique(name), Type: onnx.Int64, Dims: dims, Floats: nil, Ints: vals})
	return b.g.Init[len(b.g.Init)-1].Name
}

func (b *builder) unique(name string) string {
	if !b.inits[name] {
		b.inits[name] = true
		return name
	}
	for i := 2; ; i++ {
		if n := fmt.Sprintf("%s_%d", name, i); !b.inits[n] {
			b.inits[n] = true
			return n
		}
	}
}

func (b *builder) scalarF(v float32) string {
	return b.constF(fmt.Sprintf("const_f_%g", v), []float32{v})
}
func (b *builder) ints(name string, v ...int64) string {
	return b.constI(name, v, int64(len(v)))
}

func dims64(s []int) []int64 {
	d := make([]int64, len(s))
	for i, v := range s {
		d[i] = int64(v)
	}
	return d
}

func attrI(name string, v int64) onnx.Attr { return onnx.Attr{Name: name, Type: onnx.AttrInt, I: v} }
func attrF(name string, v float32) onnx.Attr {
	return onnx.Attr{Name: name, Type: onnx.AttrFloat, F: v}
}
func attrInts(name string, v ...int64) onnx.Attr {
	return onnx.Attr{Name: name, Type: onnx.AttrInts, Ints: v}
}

// ---- layers, in nn's conventions ----

// linear is x·W + b over the last axis (nn.Linear, W [in, out]).
func (b *builder) linear(x, prefix string) string {
	y := b.op("MatMul", []string{x, b.param(prefix + ".weight")})
	if b.hasParam(prefix + ".bias") {
		y = b.op("Add", []string{y, b.param(prefix + ".bias")})
	}
	return y
}

// layerNorm is nn.LayerNorm (eps 1e-5) over the last axis.
func (b *builder) layerNorm(x, prefix string) string {
	return b.op("LayerNormalization", []string{x, b.param(prefix + ".weight"), b.param(prefix + ".bias")},
		attrI("axis", -1), attrF("epsilon", 1e-5))
}

// act is nn.Activation: relu, tanh, or GPT-2's tanh-approximated gelu
// ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
func (b *builder) act(x, kind string) string {
	switch kind {
	case "relu":
		return b.op("Relu", []string{x})
	case "tanh":
		return b.op("Tanh", []string{x})
	case "gelu":
		x3 := b.op("Mul", []string{b.op("Mul", []string{x, x}), x})
		inner := b.op("Add", []string{x, b.op("Mul", []string{x3, b.scalarF(0.044715)})})
		t := b.op("Tanh", []string{b.op("Mul", []string{inner, b.scalarF(0.7978845608028654)})})
		return b.op("Mul", []string{b.op("Mul", []string{x, b.op("Add", []string{t, b.scalarF(1)})}), b.scalarF(0.5)})
	}
	panic("export: activation " + kind)
}

// sigmoid is σ of x clamped to ±80, as nn's gates compute it.
func (b *builder) sigmoid(x string) string {
	return b.op("Sigmoid", []string{b.op("Clip", []string{x, b.scalarF(-80), b.scalarF(80)})})
}

// softplus is log(1 + eˣ) = relu(x) + log(1 + e^−|x|), finite for any x.
func (b *builder) softplus(x string) string {
	e := b.op("Exp", []string{b.op("Neg", []string{b.op("Abs", []string{x})})})
	return b.op("Add", []string{b.op("Relu", []string{x}), b.op("Log", []string{b.op("Add", []string{e, b.scalarF(1)})})})
}

// slice takes [start, end) along axis.
func (b *builder) slice(x string, axis, start, end int64) string {
	return b.op("Slice", []string{x, b.ints("slice_start", start), b.ints("slice_end", end), b.ints("slice_axis", axis)})
}
