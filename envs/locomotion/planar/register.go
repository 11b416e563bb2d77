package planar

import (
	"math"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/envs/locomotion"
)

func init() {
	for _, r := range []struct {
		task      func() *locomotion.Task
		model     func() *Model
		threshold float64
		desc      string
	}{
		{locomotion.Hopper, HopperModel, math.NaN(),
			"Hopper on minrl's pure-Go planar engine (Box2D hinges, MuJoCo-style armature, damping and soft contacts): Gymnasium's Hopper model and task (v2-v4 reward rule); 11-d observation, 3 torques. Its own benchmark: not comparable with MuJoCo's Hopper"},
		{locomotion.Walker2d, Walker2dModel, math.NaN(),
			"Walker2d on minrl's pure-Go planar engine: Gymnasium's Walker2d model (v4 foot frictions) and task (v2-v4 reward rule); 17-d observation, 6 torques. Its own benchmark: not comparable with MuJoCo's Walker2d"},
		{locomotion.HalfCheetah, HalfCheetahModel, math.NaN(),
			"HalfCheetah on minrl's pure-Go planar engine: Gymnasium's HalfCheetah model and task; 17-d observation, 6 torques, never terminates. Its own benchmark: not comparable with MuJoCo's HalfCheetah"},
	} {
		task := r.task()
		envs.Register(envs.Spec{
			ID:              "minrl/" + task.Name + "-v0",
			Description:     r.desc,
			MaxEpisodeSteps: task.MaxEpisodeSteps,
			RewardThreshold: r.threshold,
			RandomReturn:    math.NaN(),
			ExpertReturn:    math.NaN(),
			New: func(*envs.Params) (envs.Env, error) {
				return NewEnv(r.task(), r.model())
			},
		})
	}
}

// NewEnv puts a locomotion task on a planar model: locomotion.New(task,
// physics, 0). Reset with a seed to choose the reset noise.
func NewEnv(task *locomotion.Task, m *Model) (*locomotion.Env, error) {
	p, err := New(m)
	if err != nil {
		return nil, err
	}
	return locomotion.New(task, p, 0), nil
}
