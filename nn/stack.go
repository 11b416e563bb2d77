package nn

import "fmt"

// Stack is a feed-forward network: Linear layers with an activation, and a
// dropout where given, after each but the last,
//
//	h_{i+1} = Drop_i(Act(h_i W_i + b_i)),  y = h_L W_L + b_L.
//
// The BC policy's MLP and PPO's actor and critic are Stacks; each builds
// its own layers (its initialisation, its order of random draws).
type Stack struct {
	Layers []*Linear
	Acts   []*Activation // len(Layers)−1
	Drops  []*Dropout    // len(Layers)−1, or nil: no dropout
}

// NewStack returns the stack of layers with activation act between them
// and drops (one per hidden layer, or nil) after the activations. It
// panics when the layers do not chain or drops has the wrong length.
func NewStack(layers []*Linear, act ActKind, drops []*Dropout) *Stack {
	if len(layers) == 0 || drops != nil && len(drops) != len(layers)-1 {
		panic(fmt.Sprintf("nn: NewStack: %d layers, %d dropouts", len(layers), len(drops)))
	}
	s := &Stack{Layers: layers, Drops: drops}
	for i, l := range layers[1:] {
		if l.In != layers[i].Out {
			panic(fmt.Sprintf("nn: NewStack: layer %d has %d inputs, layer %d %d outputs", i+1, l.In, i, layers[i].Out))
		}
		s.Acts = append(s.Acts, NewActivation(act))
	}
	return s
}

// Params implements Module: the layers' weights and biases in order.
func (s *Stack) Params() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Forward returns y for x [..., In] (a layer-owned tensor).
func (s *Stack) Forward(x *Tensor) *Tensor {
	for i, l := range s.Layers {
		x = l.Forward(x)
		if i < len(s.Acts) {
			x = s.Acts[i].Forward(x)
			if s.Drops != nil {
				x = s.Drops[i].Forward(x)
			}
		}
	}
	return x
}

// Backward adds the layers' gradients for ∂L/∂y and returns ∂L/∂x.
func (s *Stack) Backward(dy *Tensor) *Tensor {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		if i < len(s.Acts) {
			if s.Drops != nil {
				dy = s.Drops[i].Backward(dy)
			}
			dy = s.Acts[i].Backward(dy)
		}
		dy = s.Layers[i].Backward(dy)
	}
	return dy
}

// SetTrain switches the dropouts between training and evaluation.
func (s *Stack) SetTrain(train bool) {
	for _, d := range s.Drops {
		d.SetTrain(train)
	}
}

// SetDropoutCalls sets every dropout's count of training Forwards (to
// resume its masks exactly).
func (s *Stack) SetDropoutCalls(n uint64) {
	for _, d := range s.Drops {
		d.SetDropoutCalls(n)
	}
}

// ScratchBytes is the memory the stack holds for activations, gradients
// and scratch.
func (s *Stack) ScratchBytes() int {
	n := 0
	for _, l := range s.Layers {
		n += l.ScratchBytes()
	}
	for _, a := range s.Acts {
		n += a.ScratchBytes()
	}
	for _, d := range s.Drops {
		n += d.ScratchBytes()
	}
	return n
}
