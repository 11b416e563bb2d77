// Package all registers every built-in environment: import it for its side
// effect (import _ "github.com/minrl/minrl/envs/all"). With build tag
// mujoco it also registers the MuJoCo-engine locomotion tasks.
package all

import (
	_ "github.com/minrl/minrl/envs/classic" // Pendulum-v1, CartPole-v1, MountainCarContinuous-v0, Acrobot-v1
)
