// Package all registers every built-in environment: import it for its side
// effect (import _ "github.com/minrl/minrl/envs/all"). With build tag
// mujoco it also registers the MuJoCo-engine locomotion tasks.
package all

import (
	_ "github.com/minrl/minrl/envs/classic"           // Pendulum-v1, CartPole-v1, MountainCarContinuous-v0, Acrobot-v1
	_ "github.com/minrl/minrl/envs/locomotion/planar" // minrl/Hopper-v0, minrl/Walker2d-v0, minrl/HalfCheetah-v0
)
