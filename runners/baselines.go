package runners

import (
	"math/rand/v2"

	"github.com/minrl/minrl/nn"
)

// classicLayers builds the sequential baselines by name: PyTorch-style GRU
// and LSTM (input projections for all steps in one product, then one small
// product per step), always from a zero state.
var classicLayers = map[string]func(d int, rng *rand.Rand) SeqLayer{
	"gru":  func(d int, rng *rand.Rand) SeqLayer { return gruLayer{nn.NewGRU("gru", d, d, rng)} },
	"lstm": func(d int, rng *rand.Rand) SeqLayer { return lstmLayer{nn.NewLSTM("lstm", d, d, rng)} },
}

type gruLayer struct{ *nn.GRU }

func (g gruLayer) Forward(x *nn.Tensor) *nn.Tensor { return g.GRU.Forward(x, nil) }

type lstmLayer struct{ *nn.LSTM }

func (l lstmLayer) Forward(x *nn.Tensor) *nn.Tensor { return l.LSTM.Forward(x, nil, nil) }
