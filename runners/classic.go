package runners

import (
	"math/rand/v2"
)

// classicLayers builds the sequential baselines (GRU, LSTM) by name.
var classicLayers = map[string]func(d int, rng *rand.Rand) SeqLayer{}
