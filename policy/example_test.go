package policy_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/policy"
)

// Save a Decision-minGRU policy, load it back, and act: the actor plays
// n episodes in lockstep, carrying each one's recurrent state, so one env
// step costs O(1) work in the episode context.
func Example() {
	cfg := policy.DefaultConfig(policy.ModelMinGRU, 3, 1) // Pendulum: 3 state, 1 action dimensions
	cfg.Embed, cfg.Layers, cfg.Context = 16, 2, policy.ContextEpisode
	m, err := policy.NewDecision(cfg, nn.NewRNG(1))
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "minrl-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "policy.safetensors")
	info := policy.Info{EnvID: "Pendulum-v1", Targets: []float64{-150},
		Bounds: &policy.ActionBounds{Low: []float64{-2}, High: []float64{2}}}
	if err := policy.Save(path, m, info, nil); err != nil {
		panic(err)
	}

	ck, err := policy.Load(path)
	if err != nil {
		panic(err)
	}
	actor, err := policy.NewActor(ck, ck.Targets[0])
	if err != nil {
		panic(err)
	}
	const n = 2 // episodes in lockstep
	actor.Reset(n)
	obs := []float64{1, 0, 0, 0, 1, 0.5} // n observations
	rewards := make([]float64, n)        // rewards of the previous actions
	actions := make([]float64, n*actor.ActDim())
	for range 3 {
		if err := actor.Act(obs, rewards, actions); err != nil {
			panic(err)
		}
	}
	inBounds := true
	for _, a := range actions {
		inBounds = inBounds && a >= -2 && a <= 2
	}
	fmt.Println(ck.EnvID, ck.Model.ObsDim(), ck.Model.ActDim(), "actions in [-2, 2]:", inBounds)
	// Output:
	// Pendulum-v1 3 1 actions in [-2, 2]: true
}
