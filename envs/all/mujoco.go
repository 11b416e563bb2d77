//go:build mujoco

package all

import _ "github.com/minrl/minrl/envs/locomotion/mujoco" // minrl/*-mujoco-v0
