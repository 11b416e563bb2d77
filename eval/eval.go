// Package eval scores policies in environments: it plays many episodes in
// lockstep, each from a seeded reset, and reports returns and normalised
// scores. It depends only on envs and a small Policy interface, so that a
// program can score its own policy without linking the rest of minrl.
package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/internal/nanjson"
	"github.com/minrl/minrl/internal/par"
)

// Policy acts for n episodes played in lockstep. policy.Policy (minrl's
// actors) satisfies it.
type Policy interface {
	ObsDim() int
	ActDim() int
	// Reset starts n new episodes.
	Reset(n int)
	// Act writes actions [n·ActDim] for observations [n·ObsDim] and the
	// rewards [n] received after the previous actions (0 at the start).
	Act(obs, rewards, actions []float64) error
}

// MaxEpisodes bounds the episodes per target of one evaluation (the
// config key eval.episodes has the same bound).
const MaxEpisodes = 1 << 16

// Config configures an evaluation.
type Config struct {
	Env      string // environment id
	Episodes int    // played in parallel
	// Seed: episode i is reset with seed Seed+i, so a report is
	// reproducible and every policy meets the same start states.
	Seed uint64
	// MaxSteps overrides the environment's time limit (0: the spec's).
	MaxSteps int
	// References, when set, are the returns scores are normalised by
	// instead of the environment's registered ones (those stored with a
	// dataset, say).
	References *References
	// Observe, when set, sees every episode's environment after its reset
	// (step 0; r holds only the first observation) and after each of its
	// steps (r the step's result): to render frames, say. Calls for one episode come in order; calls
	// for different episodes may run at the same time. An error ends the
	// evaluation.
	Observe func(ep, step int, env envs.Env, r envs.StepResult) error
}

// References are the two returns a normalised score is relative to:
// 100·(R − Random)/(Expert − Random).
type References struct {
	Random float64 `json:"random"`
	Expert float64 `json:"expert"`
	Source string  `json:"source"` // where they come from, for reports
}

type referencesJSON struct {
	Random nanjson.Float `json:"random"`
	Expert nanjson.Float `json:"expert"`
	Source string        `json:"source"`
}

// MarshalJSON writes missing (NaN) references as null.
func (r References) MarshalJSON() ([]byte, error) {
	return json.Marshal(referencesJSON{nanjson.Float(r.Random), nanjson.Float(r.Expert), r.Source})
}

// UnmarshalJSON reads null references as NaN.
func (r *References) UnmarshalJSON(b []byte) error {
	var v referencesJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = References{float64(v.Random), float64(v.Expert), v.Source}
	return nil
}

// Of returns the registered references of an environment.
func Of(spec envs.Spec) References {
	return References{Random: spec.RandomReturn, Expert: spec.ExpertReturn, Source: spec.RefSource}
}

// Valid reports whether the references define a score: both finite and
// distinct.
func (r References) Valid() bool {
	ok := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	return ok(r.Random) && ok(r.Expert) && r.Random != r.Expert
}

// Score is the normalised score of a return (NaN without valid references).
func (r References) Score(ret float64) float64 {
	if !r.Valid() {
		return math.NaN()
	}
	return 100 * (ret - r.Random) / (r.Expert - r.Random)
}

// EpisodeResult is one evaluated episode.
type EpisodeResult struct {
	Episode    int     `json:"episode"`
	Seed       uint64  `json:"seed"`
	Return     float64 `json:"return"`
	Length     int     `json:"length"`
	Normalized float64 `json:"normalized"` // NaN without reference returns
	Terminated bool    `json:"terminated"`
	Error      string  `json:"error,omitempty"` // a simulator failure that ended the episode
}

// Report summarises the episodes of one policy (one target return).
type Report struct {
	Env            string          `json:"env"`
	Target         float64         `json:"target"`
	Episodes       int             `json:"episodes"`
	MeanReturn     float64         `json:"mean_return"`
	StdReturn      float64         `json:"std_return"`
	MeanNormalized float64         `json:"mean_normalized"`
	StdNormalized  float64         `json:"std_normalized"`
	MeanLength     float64         `json:"mean_length"`
	ScoreNote      string          `json:"score_note"`
	Results        []EpisodeResult `json:"results"`
}

// Evaluate plays cfg.Episodes episodes with pol, all in lockstep: each
// step, the envs still running step in parallel goroutines, then the
// policy acts for all of them at once.
func Evaluate(ctx context.Context, pol Policy, cfg Config) (Report, error) {
	if cfg.Episodes < 1 || cfg.Episodes > MaxEpisodes {
		return Report{}, fmt.Errorf("evaluate: %d episodes, want 1 to %d", cfg.Episodes, MaxEpisodes)
	}
	// Episode i plays seed Seed+i: the seeds must not wrap past 2^64 (two
	// episodes would share one).
	if cfg.Seed > math.MaxUint64-uint64(cfg.Episodes-1) {
		return Report{}, fmt.Errorf("evaluate: seeds %d..%d+%d wrap past 2^64-1: use a smaller seed", cfg.Seed, cfg.Seed, cfg.Episodes-1)
	}
	spec, err := envs.Lookup(cfg.Env)
	if err != nil {
		return Report{}, err
	}
	var opts []envs.Option
	if cfg.MaxSteps > 0 {
		opts = append(opts, envs.WithMaxEpisodeSteps(cfg.MaxSteps))
	}
	n := cfg.Episodes
	ev := &episodes{envs: make([]envs.Env, n)}
	defer ev.close()
	// Thousands of episodes take seconds to set up: the context is checked
	// while they are, so that Ctrl-C ends an evaluation at once.
	for i := range ev.envs {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		if ev.envs[i], err = envs.Make(cfg.Env, opts...); err != nil {
			return Report{}, err
		}
	}
	od, ad := ev.envs[0].ObservationSpace().Dim(), ev.envs[0].ActionSpace().Dim()
	if pol.ObsDim() != od || pol.ActDim() != ad {
		return Report{}, fmt.Errorf("evaluate: policy is for %d-d observations and %d-d actions, %s has %d and %d",
			pol.ObsDim(), pol.ActDim(), cfg.Env, od, ad)
	}
	ev.init(n, od, ad)
	ev.observe = cfg.Observe
	for i, e := range ev.envs {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		obs, _, err := e.Reset(envs.WithSeed(cfg.Seed + uint64(i)))
		if err != nil {
			return Report{}, fmt.Errorf("episode %d: %w", i, err)
		}
		copy(ev.obs[i*od:], obs)
		ev.res[i] = EpisodeResult{Episode: i, Seed: cfg.Seed + uint64(i)}
		if cfg.Observe != nil {
			if err := cfg.Observe(i, 0, e, envs.StepResult{Obs: obs}); err != nil {
				return Report{}, fmt.Errorf("episode %d: %w", i, err)
			}
		}
	}
	pol.Reset(n)
	for ev.running > 0 {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		if err := pol.Act(ev.obs, ev.rewards, ev.actions); err != nil {
			return Report{}, err
		}
		for i, v := range ev.actions {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return Report{}, fmt.Errorf("policy produced action %g for episode %d", v, i/ad)
			}
		}
		par.For(n, 1, ev.stepK)
		ev.running = 0
		for i, err := range ev.errs {
			if err != nil {
				return Report{}, fmt.Errorf("episode %d: %w", i, err)
			}
			if !ev.done[i] {
				ev.running++
			}
		}
	}
	refs := Of(spec)
	if cfg.References != nil {
		refs = *cfg.References
	}
	return summarize(spec.ID, refs, ev.res), nil
}

// episodes is the lockstep state of an evaluation.
type episodes struct {
	envs         []envs.Env
	od, ad       int
	obs, rewards []float64
	actions      []float64
	done         []bool
	running      int
	res          []EpisodeResult
	errs         []error
	stepK        par.Func
	observe      func(ep, step int, env envs.Env, r envs.StepResult) error
}

func (ev *episodes) init(n, od, ad int) {
	ev.od, ev.ad = od, ad
	ev.obs, ev.rewards, ev.actions = make([]float64, n*od), make([]float64, n), make([]float64, n*ad)
	ev.done, ev.res, ev.errs = make([]bool, n), make([]EpisodeResult, n), make([]error, n)
	ev.running = n
	ev.stepK = ev.step
}

func (ev *episodes) step(lo, hi int) {
	for i := lo; i < hi; i++ {
		if ev.done[i] {
			ev.rewards[i] = 0
			continue
		}
		r, err := ev.envs[i].Step(ev.actions[i*ev.ad : (i+1)*ev.ad])
		if err != nil {
			ev.errs[i] = err
			continue
		}
		// A finished episode's last observation goes nowhere (its row is
		// acted on but the action discarded), and after a simulator
		// failure it may be NaN, which the policy would refuse.
		if !r.Done() {
			copy(ev.obs[i*ev.od:(i+1)*ev.od], r.Obs)
		}
		ev.rewards[i] = r.Reward
		ev.res[i].Return += r.Reward
		ev.res[i].Length++
		if r.Done() {
			ev.done[i] = true
			ev.res[i].Terminated = r.Terminated
			if r.Info != nil && r.Info.Err != nil {
				ev.res[i].Error = r.Info.Err.Error()
			}
		}
		if ev.observe != nil {
			ev.errs[i] = ev.observe(i, ev.res[i].Length, ev.envs[i], r)
		}
	}
}

func (ev *episodes) close() {
	for _, e := range ev.envs {
		if e != nil {
			e.Close()
		}
	}
}

func summarize(env string, refs References, res []EpisodeResult) Report {
	rep := Report{Env: env, Episodes: len(res), Results: res}
	rets, norms := make([]float64, len(res)), make([]float64, len(res))
	var length float64
	for i := range res {
		res[i].Normalized = refs.Score(res[i].Return)
		rets[i], norms[i] = res[i].Return, res[i].Normalized
		length += float64(res[i].Length)
	}
	rep.MeanReturn, rep.StdReturn = MeanStd(rets)
	rep.MeanNormalized, rep.StdNormalized = MeanStd(norms)
	rep.MeanLength = length / float64(len(res))
	if !refs.Valid() {
		rep.ScoreNote = "no reference returns for " + env + ": no normalised score"
	} else {
		rep.ScoreNote = fmt.Sprintf("minrl-normalised: 100·(R − %.1f)/(%.1f − %.1f), references from %s",
			refs.Random, refs.Expert, refs.Random, refs.Source)
	}
	return rep
}

// MeanStd returns the mean and the population standard deviation (the
// statistics of a Report).
func MeanStd(xs []float64) (float64, float64) {
	var m, v float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)))
}
