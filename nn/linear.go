package nn

import (
	"fmt"
	"math/rand/v2"
)

// Linear is the affine map y = x·W + b over the last dimension:
// x [..., In] -> y [..., Out], W [In, Out], b [Out].
//
//	forward:  y = x W + b
//	backward: dW += xᵀ dy,  db += Σ_rows dy,  dx = dy Wᵀ
type Linear struct {
	In, Out int
	W, B    *Param // B is nil without bias

	x     *Tensor // input of the last Forward
	y, dx Tensor
}

// NewLinear returns a Linear layer initialised as PyTorch's nn.Linear:
// W and b uniform in ±1/√In. It panics on non-positive sizes.
func NewLinear(name string, in, out int, bias bool, rng *rand.Rand) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: NewLinear %s: sizes %d -> %d", name, in, out))
	}
	l := &Linear{In: in, Out: out, W: NewParam(name+".weight", false, in, out)}
	InitUniform(l.W, rng, FanInBound(in))
	if bias {
		l.B = NewParam(name+".bias", true, out)
		InitUniform(l.B, rng, FanInBound(in))
	}
	return l
}

// Params implements Module.
func (l *Linear) Params() []*Param {
	if l.B == nil {
		return []*Param{l.W}
	}
	return []*Param{l.W, l.B}
}

// Forward returns y for x [..., In]; y is owned by l.
func (l *Linear) Forward(x *Tensor) *Tensor {
	mustCols("Linear", x, l.In)
	l.x = x
	l.y.resizeLastDim(x.Shape, l.Out)
	l.Apply(l.y.Data, x.Data, x.Rows())
	return &l.y
}

// Apply computes y = x·W + b for rows×In input x into dst (rows×Out) without
// touching the state Backward needs: the inference path.
func (l *Linear) Apply(dst, x []float32, rows int) {
	if len(x) != rows*l.In || len(dst) != rows*l.Out {
		panic(fmt.Sprintf("nn: Linear.Apply: %d input and %d output elements for %d rows of %d -> %d", len(x), len(dst), rows, l.In, l.Out))
	}
	beta := float32(0)
	if l.B != nil {
		for r := 0; r < rows; r++ {
			copy(dst[r*l.Out:(r+1)*l.Out], l.B.Value.Data)
		}
		beta = 1
	}
	MatMul(false, false, rows, l.Out, l.In, 1, x, l.In, l.W.Value.Data, l.Out, beta, dst, l.Out)
}

// Backward adds dW, db and returns dx for dy [..., Out].
func (l *Linear) Backward(dy *Tensor) *Tensor {
	if l.x == nil {
		panic("nn: Linear.Backward before Forward")
	}
	mustShape("Linear", "dy", dy, l.y.Shape...)
	rows := l.x.Rows()
	MatMul(true, false, l.In, l.Out, rows, 1, l.x.Data, l.In, dy.Data, l.Out, 1, l.W.Grad.Data, l.Out)
	if l.B != nil {
		AddColSums(l.B.Grad.Data, dy.Data, rows, l.Out)
	}
	l.dx.Resize(l.x.Shape...)
	MatMul(false, true, rows, l.In, l.Out, 1, dy.Data, l.Out, l.W.Value.Data, l.Out, 0, l.dx.Data, l.In)
	return &l.dx
}

// ScratchBytes is the memory l holds for activations and gradients.
func (l *Linear) ScratchBytes() int { return l.y.CapBytes() + l.dx.CapBytes() }
