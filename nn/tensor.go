package nn

import (
	"fmt"
	"slices"
)

// Tensor is a dense, row-major float32 array with a shape. Layers own the
// tensors they return and reuse their storage: Resize keeps capacity, so a
// training loop of fixed shapes allocates nothing after its first step.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero tensor of the given shape.
func New(shape ...int) *Tensor {
	t := &Tensor{}
	t.Resize(shape...)
	return t
}

// FromData wraps data (not copied) with a shape; it panics if the sizes differ.
func FromData(data []float32, shape ...int) *Tensor {
	if n := numel(shape); n != len(data) {
		panic(fmt.Sprintf("nn: FromData: shape %v needs %d elements, got %d", shape, n, len(data)))
	}
	return &Tensor{Shape: slices.Clone(shape), Data: data}
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		if s < 0 {
			// Clone so that shape does not escape: callers' variadic
			// arguments stay on the stack.
			panic(fmt.Sprintf("nn: negative dimension in shape %v", slices.Clone(shape)))
		}
		n *= s
	}
	return n
}

// Resize sets the shape, reusing the storage when it is large enough. The
// contents are unspecified afterwards (callers overwrite or Zero them).
func (t *Tensor) Resize(shape ...int) *Tensor {
	n := numel(shape)
	t.Shape = append(t.Shape[:0], shape...)
	if cap(t.Data) < n {
		t.Data = make([]float32, n)
	}
	t.Data = t.Data[:n]
	return t
}

// resizeLastDim resizes t to shape with the last dimension replaced by last.
func (t *Tensor) resizeLastDim(shape []int, last int) {
	t.Shape = append(t.Shape[:0], shape...)
	t.Shape[len(t.Shape)-1] = last
	t.Resize(t.Shape...)
}

// Len is the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Cols is the size of the last dimension (1 for a scalar).
func (t *Tensor) Cols() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[len(t.Shape)-1]
}

// Rows is the number of elements divided by Cols: the leading dimensions
// flattened, as a Linear layer sees them.
func (t *Tensor) Rows() int {
	if c := t.Cols(); c > 0 {
		return len(t.Data) / c
	}
	return 0
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.Data) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: slices.Clone(t.Shape), Data: slices.Clone(t.Data)}
}

// CapBytes is the memory held by the tensor's storage.
func (t *Tensor) CapBytes() int { return 4 * cap(t.Data) }

func (t *Tensor) String() string { return fmt.Sprintf("Tensor%v", t.Shape) }

// mustCols panics unless x's last dimension is want: a programmer error.
func mustCols(layer string, x *Tensor, want int) {
	if x.Cols() != want {
		panic(fmt.Sprintf("nn: %s: input shape %v, want last dimension %d", layer, x.Shape, want))
	}
}

// mustShape panics unless x has exactly the given shape.
func mustShape(layer, what string, x *Tensor, shape ...int) {
	if !slices.Equal(x.Shape, shape) {
		panic(fmt.Sprintf("nn: %s: %s has shape %v, want %v", layer, what, x.Shape, slices.Clone(shape)))
	}
}

// Param is a trainable tensor with its gradient. Backward passes add to
// Grad; the optimiser reads it and the training loop zeroes it.
type Param struct {
	Name  string
	Value Tensor
	Grad  Tensor
	// NoDecay exempts the parameter from weight decay (biases, norms,
	// embeddings, as minGPT and the Atari Decision Transformer do; the gym
	// Decision Transformer code decays every parameter, which at minrl's
	// lr 1e-3 and decay 1e-4 differs by a factor 1−1e-7 per step).
	NoDecay bool
}

// NewParam returns a zero parameter of the given shape.
func NewParam(name string, noDecay bool, shape ...int) *Param {
	p := &Param{Name: name, NoDecay: noDecay}
	p.Value.Resize(shape...)
	p.Grad.Resize(shape...)
	return p
}

// Module is anything with parameters.
type Module interface {
	Params() []*Param
}

// ZeroGrads zeroes the gradients of every parameter of the modules.
func ZeroGrads(ms ...Module) {
	for _, m := range ms {
		for _, p := range m.Params() {
			p.Grad.Zero()
		}
	}
}

// NumParams counts the scalar parameters of the modules.
func NumParams(ms ...Module) int {
	n := 0
	for _, m := range ms {
		for _, p := range m.Params() {
			n += p.Value.Len()
		}
	}
	return n
}
