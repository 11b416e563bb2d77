package envs_test

import (
	"fmt"

	"github.com/minrl/minrl/envs"
	_ "github.com/minrl/minrl/envs/all" // registers the built-in environments
)

// One episode of Pendulum with zero torque: Reset with a seed, then Step
// until the episode ends (Pendulum is only ever truncated, at 200 steps).
func Example() {
	env, err := envs.Make("Pendulum-v1")
	if err != nil {
		panic(err)
	}
	defer env.Close()
	obs, _, err := env.Reset(envs.WithSeed(42))
	if err != nil {
		panic(err)
	}
	fmt.Printf("obs %d values, action %d\n", len(obs), env.ActionSpace().Dim())
	var ret float64
	steps := 0
	for {
		r, err := env.Step([]float64{0})
		if err != nil {
			panic(err)
		}
		ret += r.Reward
		steps++
		if r.Terminated || r.Truncated {
			fmt.Printf("%d steps, truncated %v, return %.2f\n", steps, r.Truncated, ret)
			break
		}
	}
	// Output:
	// obs 3 values, action 1
	// 200 steps, truncated true, return -629.87
}

// A Vector plays copies in parallel and resets each one when its episode
// ends; copy i is seeded seed+i.
func ExampleVector() {
	v, err := envs.NewVector(4, func(int) (envs.Env, error) { return envs.Make("CartPole-v1") })
	if err != nil {
		panic(err)
	}
	defer v.Close()
	if _, err := v.Reset(envs.WithSeed(7)); err != nil {
		panic(err)
	}
	actions := make([]float64, v.Len()) // always push left
	ended := 0
	for range 50 {
		s, err := v.Step(actions)
		if err != nil {
			panic(err)
		}
		for i := range s.Terminated {
			if s.Terminated[i] {
				ended++
			}
		}
	}
	fmt.Println("episodes ended in 50 steps:", ended)
	// Output:
	// episodes ended in 50 steps: 20
}
