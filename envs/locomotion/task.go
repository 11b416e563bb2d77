package locomotion

import (
	"math"
	"math/rand/v2"
)

// Task is a locomotion task, independent of the engine.
type Task struct {
	Name           string // "Hopper", "Walker2d", "HalfCheetah"
	NQ, NV, ActDim int
	ObsDim         int
	// InitQPos is the model's qpos0 (InitQVel is zero).
	InitQPos []float64
	// Reward = ForwardWeight·Δx/dt + HealthyReward − CtrlCost·Σa².
	ForwardWeight, CtrlCost, HealthyReward float64
	// TerminateWhenUnhealthy ends the episode when Healthy is false.
	TerminateWhenUnhealthy bool
	// ClipVel clips velocities in the observation to ±ClipVel (0: none).
	ClipVel float64
	// Healthy is the health rule; nil means always healthy.
	Healthy func(qpos, qvel []float64) bool
	// ResetNoise perturbs qpos0 and the zero velocity at reset.
	ResetNoise func(rng *rand.Rand, qpos, qvel []float64)
	// MaxEpisodeSteps is the time limit (1000 for all three).
	MaxEpisodeSteps int
}

// Obs writes the observation: qpos without the root x (so that policies do
// not depend on where the robot is), then qvel, clipped if ClipVel > 0.
func (t *Task) Obs(dst, qpos, qvel []float64) {
	n := copy(dst, qpos[1:])
	for i, v := range qvel {
		if t.ClipVel > 0 {
			v = min(max(v, -t.ClipVel), t.ClipVel)
		}
		dst[n+i] = v
	}
}

func uniformNoise(scale float64) func(rng *rand.Rand, qpos, qvel []float64) {
	return func(rng *rand.Rand, qpos, qvel []float64) {
		for i := range qpos {
			qpos[i] += scale * (2*rng.Float64() - 1)
		}
		for i := range qvel {
			qvel[i] += scale * (2*rng.Float64() - 1)
		}
	}
}

// inRange reports lo < x < hi (false for NaN).
func inRange(x, lo, hi float64) bool { return x > lo && x < hi }

// Hopper: Gymnasium's Hopper (v2-v4 reward rule), 11-d observation, 3
// torques. Healthy while every state entry after (rootx, rootz) is within
// (−100, 100), the height z > 0.7 and the torso angle within (−0.2, 0.2).
func Hopper() *Task {
	return &Task{
		Name: "Hopper", NQ: 6, NV: 6, ActDim: 3, ObsDim: 11,
		InitQPos:      []float64{0, 1.25, 0, 0, 0, 0},
		ForwardWeight: 1, CtrlCost: 1e-3, HealthyReward: 1,
		TerminateWhenUnhealthy: true, ClipVel: 10, MaxEpisodeSteps: 1000,
		Healthy: func(qpos, qvel []float64) bool {
			for _, v := range qpos[2:] {
				if !inRange(v, -100, 100) {
					return false
				}
			}
			for _, v := range qvel {
				if !inRange(v, -100, 100) {
					return false
				}
			}
			return qpos[1] > 0.7 && inRange(qpos[2], -0.2, 0.2)
		},
		ResetNoise: uniformNoise(5e-3),
	}
}

// Walker2d: Gymnasium's Walker2d (v2-v4 reward rule), 17-d observation, 6
// torques. Healthy while 0.8 < z < 2 and −1 < angle < 1.
func Walker2d() *Task {
	return &Task{
		Name: "Walker2d", NQ: 9, NV: 9, ActDim: 6, ObsDim: 17,
		InitQPos:      []float64{0, 1.25, 0, 0, 0, 0, 0, 0, 0},
		ForwardWeight: 1, CtrlCost: 1e-3, HealthyReward: 1,
		TerminateWhenUnhealthy: true, ClipVel: 10, MaxEpisodeSteps: 1000,
		Healthy: func(qpos, qvel []float64) bool {
			return inRange(qpos[1], 0.8, 2) && inRange(qpos[2], -1, 1)
		},
		ResetNoise: uniformNoise(5e-3),
	}
}

// HalfCheetah: Gymnasium's HalfCheetah, 17-d observation, 6 torques, no
// health rule (it never terminates), control cost 0.1. Reset noise:
// U(±0.1) on qpos, 0.1·N(0,1) on qvel. Its rootz has no offset: qpos[1] is
// the height change from the start, ≈ 0 at reset.
func HalfCheetah() *Task {
	return &Task{
		Name: "HalfCheetah", NQ: 9, NV: 9, ActDim: 6, ObsDim: 17,
		InitQPos:      make([]float64, 9),
		ForwardWeight: 1, CtrlCost: 0.1, MaxEpisodeSteps: 1000,
		ResetNoise: func(rng *rand.Rand, qpos, qvel []float64) {
			for i := range qpos {
				qpos[i] += 0.1 * (2*rng.Float64() - 1)
			}
			for i := range qvel {
				qvel[i] += 0.1 * rng.NormFloat64()
			}
		},
	}
}

// finite reports whether every value is finite.
func finite(xs []float64) bool {
	for _, v := range xs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
