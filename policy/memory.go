package policy

import "math"

// Memory estimates, from a config alone (nothing is allocated), so that a
// run too large for the machine is refused before it starts instead of
// dying of an out-of-memory kill. The per-token coefficients are fitted to
// what the layers actually hold (ScratchBytes after a training step) and
// rounded up; TestMemoryEstimates keeps them within a small factor above
// the measurement.

// paramBytes is what each weight costs while training: its value and
// gradient and AdamW's two moments, float32 each.
const paramBytes = 16

// TrainBytes estimates the memory a Decision model holds while training on
// batches of B sequences of K steps: weights, gradients, optimiser state
// and one step's activations, gradients and scratch.
func (c Config) TrainBytes(B int) int64 {
	K := c.K
	if c.Context == ContextEpisode { // whole episodes, up to the longest
		K = c.MaxEpLen
	}
	return paramBytes*decisionParamCount(c) + c.activationBytes(int64(B)*3*int64(K))
}

// ActBytes estimates the memory of acting in B episodes at once: the
// weights and one forward pass over the context (K steps in window mode,
// one step in episode mode).
func (c Config) ActBytes(B int) int64 {
	tokens := int64(B) * 3 * int64(c.K)
	if c.Context == ContextEpisode {
		tokens = int64(B) * 3
	}
	return 4*decisionParamCount(c) + c.activationBytes(tokens)*6/10
}

// activationBytes is one training step's activations and gradients for the
// given number of tokens.
func (c Config) activationBytes(tokens int64) int64 {
	h := int64(c.Embed)
	perLayer := 44 * h // the block's norms, MLP, residuals and their gradients
	if c.Recurrent() {
		inner := int64(math.Round(c.Expansion * float64(c.Embed)))
		width := int64(2)
		if c.Model == ModelMinLSTM {
			width = 3
		}
		perLayer += 4 * width * inner // pre-activations, states and their gradients
		if c.Conv {
			perLayer += 4 * h
		}
	} else {
		perLayer += 6 * int64(c.Heads) * 3 * int64(c.K) // attention weights and their gradients
	}
	perToken := int64(c.Layers)*perLayer + 16*h // + embeddings, the final norm and the head
	return 4 * tokens * perToken
}

// TrainBytes estimates the memory the BC MLP holds while training on
// batches of B·K states.
func (c MLPConfig) TrainBytes(rows int) int64 {
	return paramBytes*mlpParamCount(c) + c.activationBytes(int64(rows))
}

// ActBytes estimates the memory of acting in B episodes at once.
func (c MLPConfig) ActBytes(B int) int64 {
	return 4*mlpParamCount(c) + c.activationBytes(int64(B))
}

func (c MLPConfig) activationBytes(rows int64) int64 {
	width := int64(c.ObsDim + 2*c.ActDim)
	for _, h := range c.Hidden {
		width += 8 * int64(h) // linear out, activation, dropout, their gradients, scratch
	}
	return 4 * rows * width
}
