package eval_test

import (
	"context"
	"fmt"
	"math"

	_ "github.com/minrl/minrl/envs/all" // registers the built-in environments
	"github.com/minrl/minrl/eval"
)

// swingUp is a hand-written Pendulum policy for n episodes at once: pump
// energy towards the upright's (θ̈ = 15 sin θ + 3u conserves
// E = θ̇²/2 + 15 cos θ; the torque changes it at 3uθ̇), then hold the top
// with a PD controller.
type swingUp struct{}

func (swingUp) ObsDim() int { return 3 }
func (swingUp) ActDim() int { return 1 }
func (swingUp) Reset(int)   {}
func (swingUp) Act(obs, _, actions []float64) error {
	for i := range actions {
		cos, sin, vel := obs[3*i], obs[3*i+1], obs[3*i+2]
		if cos > 0.9 { // near upright
			actions[i] = max(-2, min(2, -10*math.Atan2(sin, cos)-2*vel))
			continue
		}
		u := 2.0
		if vel < 0 {
			u = -u
		}
		if vel*vel/2+15*cos > 15 { // too much energy: brake
			u = -u
		}
		actions[i] = u
	}
	return nil
}

// Score any policy that implements eval.Policy: the episodes run in
// lockstep, episode i from seed Seed+i, and the report gives returns and
// minrl-normalised scores.
func Example() {
	rep, err := eval.Evaluate(context.Background(), swingUp{}, eval.Config{Env: "Pendulum-v1", Episodes: 10, Seed: 100})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d episodes of %.0f steps: mean return %.1f, normalised %.1f\n",
		rep.Episodes, rep.MeanLength, rep.MeanReturn, rep.MeanNormalized)
	// Output:
	// 10 episodes of 200 steps: mean return -178.0, normalised 100.2
}
