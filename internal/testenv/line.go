// Package testenv registers tiny deterministic environments for tests of
// the packages that play episodes (eval, runners): importing it registers
// test/Line-v0, test/LineBlowup-v0 and test/LineNoRef-v0.
package testenv

import (
	"errors"
	"math"

	"github.com/minrl/minrl/envs"
)

// line: the state is the step count; the episode terminates after
// 3 + (seed mod 3) steps; reward = the action; obs = [seed, step].
// With blowup, the episode of seed 0 ends at step 2 the way a locomotion
// env's simulator failure does: NaN observation, Info.Err, terminated.
type line struct {
	seed, steps, limit int
	blowup             bool
	obs                []float64
	info               envs.Info
	ep                 envs.Episode
	space              envs.Space
}

func init() {
	for id, blowup := range map[string]bool{"test/Line-v0": false, "test/LineBlowup-v0": true} {
		envs.Register(envs.Spec{ID: id, MaxEpisodeSteps: 100, RandomReturn: 0, ExpertReturn: 10, RefSource: "test",
			New: func(*envs.Params) (envs.Env, error) {
				return &line{obs: make([]float64, 2), space: envs.NewBox(1, -5, 5), blowup: blowup}, nil
			}})
	}
	// Without reference returns: scores are plain returns.
	envs.Register(envs.Spec{ID: "test/LineNoRef-v0", MaxEpisodeSteps: 100, RandomReturn: math.NaN(), ExpertReturn: math.NaN(),
		New: func(*envs.Params) (envs.Env, error) {
			return &line{obs: make([]float64, 2), space: envs.NewBox(1, -5, 5)}, nil
		}})
}

func (l *line) Reset(seed envs.Seed) ([]float64, *envs.Info, error) {
	l.ep.Begin()
	s, _ := seed.Value()
	l.seed, l.steps, l.limit = int(s), 0, 3+int(s%3)
	l.obs[0], l.obs[1] = float64(s), 0
	l.info.Err = nil
	return l.obs, &l.info, nil
}

func (l *line) Step(a []float64) (envs.StepResult, error) {
	if err := l.ep.CanStep(); err != nil {
		return envs.StepResult{}, err
	}
	l.steps++
	l.obs[1] = float64(l.steps)
	r := envs.StepResult{Obs: l.obs, Reward: a[0], Terminated: l.steps >= l.limit, Info: &l.info}
	if l.blowup && l.seed == 0 && l.steps == 2 {
		l.obs[0], l.obs[1] = math.NaN(), math.NaN()
		l.info.Err = errors.New("simulation unstable")
		r.Terminated = true
	}
	l.ep.End(r)
	return r, nil
}

func (l *line) ObservationSpace() envs.Space { return envs.NewBox(2, 0, math.Inf(1)) }
func (l *line) ActionSpace() envs.Space      { return l.space }
func (l *line) Close() error                 { return nil }
