package nn

import (
	"fmt"

	"github.com/viterin/vek/vek32"

	"github.com/minrl/minrl/internal/par"
)

// ActKind names an elementwise activation.
type ActKind int

const (
	ActReLU ActKind = iota
	ActTanh
	ActGELU // GPT-2's tanh approximation
)

// ParseAct maps "relu", "tanh" or "gelu" to an ActKind.
func ParseAct(s string) (ActKind, error) {
	switch s {
	case "relu":
		return ActReLU, nil
	case "tanh":
		return ActTanh, nil
	case "gelu":
		return ActGELU, nil
	}
	return 0, fmt.Errorf("unknown activation %q (want relu, tanh or gelu)", s)
}

func (k ActKind) String() string {
	switch k {
	case ActReLU:
		return "relu"
	case ActTanh:
		return "tanh"
	case ActGELU:
		return "gelu"
	}
	return fmt.Sprintf("ActKind(%d)", int(k))
}

// Activation applies an elementwise nonlinearity:
//
//	relu: y = max(x, 0),             dx = dy·[x > 0]
//	tanh: y = tanh(x),               dx = dy·(1 − y²)
//	gelu: y = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³),
//	      dx = dy·(½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²))
type Activation struct {
	Kind ActKind

	x, dy    *Tensor
	y, dx    Tensor
	fwd, bwd par.Func
}

// NewActivation returns an activation layer.
func NewActivation(kind ActKind) *Activation {
	a := &Activation{Kind: kind}
	a.fwd, a.bwd = a.forwardRange, a.backwardRange
	return a
}

// Params implements Module: none.
func (a *Activation) Params() []*Param { return nil }

const elemGrain = 1 << 14

// Forward returns the activation of x; the result is owned by a.
func (a *Activation) Forward(x *Tensor) *Tensor {
	a.x = x
	a.y.Resize(x.Shape...)
	par.For(x.Len(), elemGrain, a.fwd)
	return &a.y
}

// Backward returns dx for dy.
func (a *Activation) Backward(dy *Tensor) *Tensor {
	mustShape("Activation", "dy", dy, a.y.Shape...)
	a.dy = dy
	a.dx.Resize(dy.Shape...)
	par.For(dy.Len(), elemGrain, a.bwd)
	a.dy = nil
	return &a.dx
}

const geluC, geluA = 0.7978845608028654, 0.044715

func (a *Activation) forwardRange(lo, hi int) {
	x, y := a.x.Data[lo:hi], a.y.Data[lo:hi]
	switch a.Kind {
	case ActReLU:
		for i, v := range x {
			y[i] = max(v, 0)
		}
	case ActTanh:
		Tanh(y, x)
	case ActGELU:
		for i0 := 0; i0 < len(x); i0 += vblock {
			xs, ys := x[i0:min(i0+vblock, len(x))], y[i0:min(i0+vblock, len(x))]
			geluInner(ys, xs)
			Tanh(ys, ys)
			vek32.AddNumber_Inplace(ys, 1)
			vek32.Mul_Inplace(ys, xs)
			vek32.MulNumber_Inplace(ys, 0.5)
		}
	}
}

// geluInner sets u = √(2/π)·(x + 0.044715·x³) = √(2/π)·x·(1 + 0.044715·x²)
// in vector passes (x must not alias u).
func geluInner(u, x []float32) {
	vek32.Mul_Into(u, x, x)
	vek32.MulNumber_Inplace(u, geluA)
	vek32.AddNumber_Inplace(u, 1)
	vek32.Mul_Inplace(u, x)
	vek32.MulNumber_Inplace(u, geluC)
}

func (a *Activation) backwardRange(lo, hi int) {
	dy, dx := a.dy.Data[lo:hi], a.dx.Data[lo:hi]
	switch a.Kind {
	case ActReLU:
		x := a.x.Data[lo:hi]
		for i, v := range x {
			if v > 0 {
				dx[i] = dy[i]
			} else {
				dx[i] = 0
			}
		}
	case ActTanh:
		y := a.y.Data[lo:hi]
		for i, v := range y {
			dx[i] = dy[i] * (1 - v*v)
		}
	case ActGELU:
		// d = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²), t = tanh u.
		x := a.x.Data[lo:hi]
		var tb, wb [vblock]float32
		for i0 := 0; i0 < len(x); i0 += vblock {
			xs := x[i0:min(i0+vblock, len(x))]
			n := len(xs)
			t, w, d := tb[:n], wb[:n], dx[i0:i0+n]
			geluInner(t, xs)
			Tanh(t, t)
			vek32.Mul_Into(w, xs, xs) // w = ½x·√(2/π)(1 + 3a x²)
			vek32.MulNumber_Inplace(w, 3*geluA)
			vek32.AddNumber_Inplace(w, 1)
			vek32.Mul_Inplace(w, xs)
			vek32.MulNumber_Inplace(w, 0.5*geluC)
			vek32.Mul_Into(d, t, t) // d = (1 − t²)·w + ½(1 + t)
			vek32.Neg_Inplace(d)
			vek32.AddNumber_Inplace(d, 1)
			vek32.Mul_Inplace(d, w)
			vek32.AddNumber_Inplace(t, 1)
			vek32.MulNumber_Inplace(t, 0.5)
			vek32.Add_Inplace(d, t)
			vek32.Mul_Inplace(d, dy[i0:i0+n])
		}
	}
}

// ScratchBytes is the memory a holds for activations and gradients.
func (a *Activation) ScratchBytes() int { return a.y.CapBytes() + a.dx.CapBytes() }
