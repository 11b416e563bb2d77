package nn

import (
	"fmt"
	"math/rand/v2"
)

// MLP is the two-layer perceptron of a GPT-2 block, fc → act → proj →
// dropout: x [..., In] -> y [..., Out], hidden size Hidden.
//
//	y = OutDrop(Proj(HiddenDrop(Act(FC(x)))))
//
// GPT-2 drops only after Proj (resid_pdrop), so HiddenDrop starts with
// P = 0, an identity that costs nothing; set HiddenDrop.P for the
// timm-style MLP that also drops after the activation.
type MLP struct {
	In, Hidden, Out int

	FC         *Linear
	Act        *Activation
	HiddenDrop *Dropout
	Proj       *Linear
	OutDrop    *Dropout

	y *Tensor // output of the last Forward
}

// NewMLP returns an MLP whose Linear layers, named name.fc and name.proj,
// are initialised as PyTorch's nn.Linear and whose output dropout has
// probability dropout. It panics on non-positive sizes or a dropout outside
// [0, 1).
func NewMLP(name string, in, hidden, out int, act ActKind, dropout float64, rng *rand.Rand) *MLP {
	if in <= 0 || hidden <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: NewMLP %s: sizes %d -> %d -> %d", name, in, hidden, out))
	}
	return &MLP{
		In: in, Hidden: hidden, Out: out,
		FC:         NewLinear(name+".fc", in, hidden, true, rng),
		Act:        NewActivation(act),
		Proj:       NewLinear(name+".proj", hidden, out, true, rng),
		HiddenDrop: NewDropout(0, rng),
		OutDrop:    NewDropout(dropout, rng),
	}
}

// SetDropoutCalls sets both dropouts' training-call counters.
func (m *MLP) SetDropoutCalls(n uint64) {
	m.HiddenDrop.SetDropoutCalls(n)
	m.OutDrop.SetDropoutCalls(n)
}

// Params implements Module.
func (m *MLP) Params() []*Param { return append(m.FC.Params(), m.Proj.Params()...) }

// SetTrain switches both dropouts between training and evaluation.
func (m *MLP) SetTrain(train bool) {
	m.HiddenDrop.SetTrain(train)
	m.OutDrop.SetTrain(train)
}

// Forward returns y for x [..., In]; y is owned by m's layers.
func (m *MLP) Forward(x *Tensor) *Tensor {
	mustCols("MLP", x, m.In)
	h := m.FC.Forward(x)
	h = m.Act.Forward(h)
	h = m.HiddenDrop.Forward(h)
	h = m.Proj.Forward(h)
	m.y = m.OutDrop.Forward(h)
	return m.y
}

// Backward adds the gradients of both Linear layers and returns dx for
// dy [..., Out], running the layers in reverse.
func (m *MLP) Backward(dy *Tensor) *Tensor {
	if m.y == nil {
		panic("nn: MLP.Backward before Forward")
	}
	mustShape("MLP", "dy", dy, m.y.Shape...)
	d := m.OutDrop.Backward(dy)
	d = m.Proj.Backward(d)
	d = m.HiddenDrop.Backward(d)
	d = m.Act.Backward(d)
	return m.FC.Backward(d)
}

// ScratchBytes is the memory m's layers hold for activations and gradients.
func (m *MLP) ScratchBytes() int {
	return m.FC.ScratchBytes() + m.Act.ScratchBytes() + m.HiddenDrop.ScratchBytes() +
		m.Proj.ScratchBytes() + m.OutDrop.ScratchBytes()
}
