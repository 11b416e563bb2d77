package planar

import (
	"fmt"
	"math"
	"strings"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/envs/locomotion"
)

func init() {
	// The reference returns, measured by minrl collect: each the mean of
	// 100 episodes of the uniform-random policy and of the PPO expert
	// behaviour policy (docs/datasets.md says how they were measured and
	// why a new collection may differ; a dataset file's own references
	// take precedence when it has them).
	const cmd = "minrl collect --env minrl/%s-v0 --ppo-steps 3000000 --transitions 1000000 --seed 1 (docs/data/%s-collect.json)"
	for _, r := range []struct {
		task           func() *locomotion.Task
		model          func() *Model
		threshold      float64
		random, expert float64
		desc           string
	}{
		{locomotion.Hopper, HopperModel, math.NaN(), 18.20381872481083, 4977.023001203203,
			"Hopper on minrl's pure-Go planar engine (Box2D hinges, MuJoCo-style armature, damping and soft contacts): Gymnasium's Hopper model and task (v2-v4 reward rule); 11-d observation, 3 torques. Its own benchmark: not comparable with MuJoCo's Hopper"},
		{locomotion.Walker2d, Walker2dModel, math.NaN(), 1.9493802441549422, 4399.490375380343,
			"Walker2d on minrl's pure-Go planar engine: Gymnasium's Walker2d model (v4 foot frictions) and task (v2-v4 reward rule); 17-d observation, 6 torques. Its own benchmark: not comparable with MuJoCo's Walker2d"},
		{locomotion.HalfCheetah, HalfCheetahModel, math.NaN(), -299.80775722839144, 6116.876044596871,
			"HalfCheetah on minrl's pure-Go planar engine: Gymnasium's HalfCheetah model and task; 17-d observation, 6 torques, never terminates. Its own benchmark: not comparable with MuJoCo's HalfCheetah"},
	} {
		task := r.task()
		envs.Register(envs.Spec{
			ID:              "minrl/" + task.Name + "-v0",
			Description:     r.desc,
			MaxEpisodeSteps: task.MaxEpisodeSteps,
			RewardThreshold: r.threshold,
			RandomReturn:    r.random,
			ExpertReturn:    r.expert,
			RefSource:       fmt.Sprintf(cmd, task.Name, strings.ToLower(task.Name)),
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
