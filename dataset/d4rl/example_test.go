package d4rl_test

import (
	"fmt"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/dataset/d4rl"
)

// Load a D4RL-layout HDF5 file (one of the datasets shipped in data/),
// then sample the Decision Transformer's K-step windows from it with
// normalised states.
func Example() {
	d, err := d4rl.Load("../../data/pendulum-medium.hdf5")
	if err != nil {
		panic(err)
	}
	fmt.Println(d.Meta.EnvID, d.N, "transitions,", len(d.Episodes()), "episodes")

	norm := d.Norm // statistics stored with the data (nil: fit them)
	if norm == nil {
		if norm, err = d.FitNormalizer(); err != nil {
			panic(err)
		}
	}
	cfg := dataset.DefaultWindowConfig()
	cfg.K, cfg.RTGScale, cfg.Seed = 20, 1000, 1
	s, err := dataset.NewWindowSampler(d, norm, cfg)
	if err != nil {
		panic(err)
	}
	var b dataset.Batch // grown by the first Sample, reused after
	s.Sample(&b, 64)
	fmt.Printf("batch: %d windows of %d steps, states %d, actions %d\n", b.B, b.K, len(b.States), len(b.Actions))
	// Output:
	// Pendulum-v1 20000 transitions, 100 episodes
	// batch: 64 windows of 20 steps, states 3840, actions 1280
}
