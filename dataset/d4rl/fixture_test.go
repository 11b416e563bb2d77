package d4rl

import (
	"math/rand/v2"

	"github.com/minrl/minrl/dataset"
)

// synth builds a dataset (the same fixture as package dataset's tests) whose episodes have the given lengths; ends[i]
// says how episode i ends: 't' terminal, 'o' timeout, '-' no flag (only
// sensible for the last). Values are random but finite.
func synth(seed uint64, obsDim, actDim int, lens []int, ends string) *dataset.Dataset {
	n := 0
	for _, l := range lens {
		n += l
	}
	d := dataset.New(n, obsDim, actDim)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range d.Observations {
		d.Observations[i] = float32(rng.NormFloat64()*2 + 1)
		d.NextObservations[i] = float32(rng.NormFloat64())
	}
	for i := range d.Actions {
		d.Actions[i] = float32(rng.Float64()*2 - 1)
	}
	for i := range d.Rewards {
		d.Rewards[i] = float32(rng.Float64()*3 - 0.5)
	}
	r := 0
	for i, l := range lens {
		r += l
		switch ends[i] {
		case 't':
			d.Terminals[r-1] = true
		case 'o':
			d.Timeouts[r-1] = true
		}
	}
	return d
}

func ptr[T any](v T) *T { return &v }
