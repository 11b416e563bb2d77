package nn

import (
	"fmt"

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
		for i, v := range x {
			y[i] = geluC * (v + geluA*v*v*v)
		}
		Tanh(y, y)
		for i, v := range x {
			y[i] = 0.5 * v * (1 + y[i])
		}
	}
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
		x := a.x.Data[lo:hi]
		var tb [vblock]float32
		for i0 := 0; i0 < len(x); i0 += vblock {
			xs := x[i0:min(i0+vblock, len(x))]
			t := tb[:len(xs)]
			for i, v := range xs {
				t[i] = geluC * (v + geluA*v*v*v)
			}
			Tanh(t, t)
			for i, v := range xs {
				th := t[i]
				d := 0.5*(1+th) + 0.5*v*(1-th*th)*geluC*(1+3*geluA*v*v)
				dx[i0+i] = dy[i0+i] * d
			}
		}
	}
}

// ScratchBytes is the memory a holds for activations and gradients.
func (a *Activation) ScratchBytes() int { return a.y.CapBytes() + a.dx.CapBytes() }
