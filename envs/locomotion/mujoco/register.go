//go:build mujoco

package mujoco

import (
	"math"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/envs/locomotion"
)

func init() {
	for _, r := range []struct {
		task      func() *locomotion.Task
		threshold float64
		desc      string
	}{
		{locomotion.Hopper, 3800, "Hopper on MuJoCo 2.2.2: Gymnasium's Hopper-v4 model and task (v2-v4 reward rule); 11-d observation, 3 torques"},
		{locomotion.Walker2d, math.NaN(), "Walker2d on MuJoCo 2.2.2: Gymnasium's Walker2d-v4 model and task (v2-v4 reward rule, v4 foot frictions); 17-d observation, 6 torques"},
		{locomotion.HalfCheetah, 4800, "HalfCheetah on MuJoCo 2.2.2: Gymnasium's HalfCheetah-v4 model and task; 17-d observation, 6 torques, never terminates"},
	} {
		task := r.task()
		envs.Register(envs.Spec{
			ID:              "minrl/" + task.Name + "-mujoco-v0",
			Description:     r.desc,
			MaxEpisodeSteps: task.MaxEpisodeSteps,
			RewardThreshold: r.threshold,
			RandomReturn:    math.NaN(),
			ExpertReturn:    math.NaN(),
			New: func(*envs.Params) (envs.Env, error) {
				return NewEnv(r.task(), 0)
			},
		})
	}
}
