package infer_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/minrl/minrl/infer"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/policy"
)

// A policy plays two episodes in lockstep: act, step the envs, report the
// rewards. Here the policy is a fresh BC network written to memory; a
// service would infer.Load a checkpoint or a safetensors export.
func Example() {
	net, err := policy.NewMLP(policy.MLPConfig{ObsDim: 3, ActDim: 1, Hidden: []int{16}, Act: "relu"}, nn.NewRNG(1))
	if err != nil {
		log.Fatal(err)
	}
	var file bytes.Buffer
	bounds := &policy.ActionBounds{Low: []float64{-2}, High: []float64{2}} // Pendulum's torque
	if err := policy.Encode(&file, net, policy.Info{EnvID: "Pendulum-v1", Bounds: bounds}, nil); err != nil {
		log.Fatal(err)
	}

	m, err := infer.Decode(file.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	a, err := m.NewActor(infer.Options{Envs: 2})
	if err != nil {
		log.Fatal(err)
	}
	obs := []float64{1, 0, 0.5, 0, 1, -0.5} // two observations of 3 values
	for step := 0; step < 3; step++ {
		act, err := a.Act(obs)
		if err != nil {
			log.Fatal(err)
		}
		for i := range obs { // a stand-in for env.Step
			obs[i] += 0.1 * act[i/3]
		}
		a.Observe([]float64{-1, -1})
	}
	fmt.Println(m.Kind(), m.EnvID(), m.ObsDim(), "->", m.ActDim())
	// Output: bc Pendulum-v1 3 -> 1
}
