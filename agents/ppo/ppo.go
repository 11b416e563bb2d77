// Package ppo is proximal policy optimisation for continuous actions
// (Schulman et al. 2017), following CleanRL's ppo_continuous_action: a
// Gaussian MLP policy with a state-independent log-std, a separate MLP
// critic, GAE, the clipped surrogate and clipped value loss, observation
// and reward normalisation, and vector environments. minrl uses it to make
// the behaviour policies its offline datasets are collected with.
//
// The algorithm reads top to bottom in Train: collect a rollout, compute
// advantages, then several epochs of minibatch updates.
package ppo

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/nn"
)

// Config holds PPO's hyperparameters, CleanRL's defaults unless noted.
type Config struct {
	Env        string // environment id (envs.Make)
	NumEnvs    int    // parallel environments (8)
	NumSteps   int    // steps per environment per rollout (256: 2048 per update)
	TotalSteps int    // environment steps in all (1e6)

	LR          float64 // Adam learning rate (3e-4), annealed linearly to 0 when AnnealLR
	AnnealLR    bool
	Gamma       float64 // discount (0.99)
	Lambda      float64 // GAE λ (0.95)
	Minibatches int     // per epoch (32)
	Epochs      int     // per update (10)
	ClipCoef    float64 // surrogate clip ε (0.2)
	ClipVLoss   bool    // clip the value loss too (true)
	EntCoef     float64 // entropy bonus (0)
	VfCoef      float64 // value-loss weight (0.5)
	MaxGradNorm float64 // global gradient-norm clip (0.5)
	TargetKL    float64 // stop the epochs early above this approximate KL (0: never)

	Hidden     []int   // hidden layer sizes of both networks (64, 64)
	InitLogStd float64 // initial log σ (0)
	NormObs    bool    // running observation normalisation (true)
	NormReward bool    // scale rewards by the running std of the discounted return (true)
	ObsClip    float64 // clip normalised observations (10)
	RewardClip float64 // clip normalised rewards (10)
	Seed       uint64
}

// DefaultConfig returns CleanRL's defaults for env id, with 8 environments.
func DefaultConfig(env string) Config {
	return Config{
		Env: env, NumEnvs: 8, NumSteps: 256, TotalSteps: 1_000_000,
		LR: 3e-4, AnnealLR: true, Gamma: 0.99, Lambda: 0.95, Minibatches: 32, Epochs: 10,
		ClipCoef: 0.2, ClipVLoss: true, EntCoef: 0, VfCoef: 0.5, MaxGradNorm: 0.5,
		Hidden: []int{64, 64}, NormObs: true, NormReward: true, ObsClip: 10, RewardClip: 10, Seed: 1,
	}
}

// Validate reports every bad field.
func (c Config) Validate() error {
	var errs []error
	bad := func(name string, v any, want string) {
		errs = append(errs, fmt.Errorf("ppo: %s = %v, want %s", name, v, want))
	}
	if c.Env == "" {
		bad("env", `""`, "an environment id")
	}
	if c.NumEnvs < 1 {
		bad("num_envs", c.NumEnvs, ">= 1")
	}
	if c.NumSteps < 1 {
		bad("num_steps", c.NumSteps, ">= 1")
	}
	if c.TotalSteps < c.NumEnvs*c.NumSteps {
		bad("total_steps", c.TotalSteps, fmt.Sprintf(">= num_envs*num_steps = %d", c.NumEnvs*c.NumSteps))
	}
	if !(c.LR > 0) {
		bad("lr", c.LR, "> 0")
	}
	if !(c.Gamma > 0 && c.Gamma <= 1) {
		bad("gamma", c.Gamma, "in (0, 1]")
	}
	if !(c.Lambda >= 0 && c.Lambda <= 1) {
		bad("lambda", c.Lambda, "in [0, 1]")
	}
	if c.Minibatches < 1 || c.NumEnvs*c.NumSteps%max(c.Minibatches, 1) != 0 {
		bad("minibatches", c.Minibatches, fmt.Sprintf("a divisor of num_envs*num_steps = %d", c.NumEnvs*c.NumSteps))
	}
	if c.Epochs < 1 {
		bad("epochs", c.Epochs, ">= 1")
	}
	if !(c.ClipCoef > 0) {
		bad("clip_coef", c.ClipCoef, "> 0")
	}
	if !(c.MaxGradNorm > 0) {
		bad("max_grad_norm", c.MaxGradNorm, "> 0")
	}
	if len(c.Hidden) == 0 {
		bad("hidden", c.Hidden, "at least one layer")
	}
	for _, h := range c.Hidden {
		if h < 1 {
			bad("hidden", c.Hidden, "positive sizes")
		}
	}
	if !(c.ObsClip > 0) || !(c.RewardClip > 0) {
		bad("obs_clip/reward_clip", [2]float64{c.ObsClip, c.RewardClip}, "> 0")
	}
	return errors.Join(errs...)
}

// Agent is a trained (or training) Gaussian policy with its critic and the
// observation statistics it normalises with.
type Agent struct {
	ObsDim, ActDim int
	Actor, Critic  *nn.Stack
	LogStd         *nn.Param
	// ObsStats are the running observation statistics (nil without NormObs).
	ObsStats *envs.RunningStats
	ObsClip  float64

	in  nn.Tensor // normalised observations, [rows, ObsDim]
	buf []float64
}

func newAgent(cfg Config, obsDim, actDim int, rng *rand.Rand) *Agent {
	a := &Agent{
		ObsDim: obsDim, ActDim: actDim, ObsClip: cfg.ObsClip,
		Actor:  newMLP("actor", obsDim, cfg.Hidden, actDim, 0.01, rng),
		Critic: newMLP("critic", obsDim, cfg.Hidden, 1, 1, rng),
		LogStd: nn.NewParam("actor_logstd", true, actDim),
		buf:    make([]float64, obsDim),
	}
	nn.InitConst(a.LogStd, float32(cfg.InitLogStd))
	if cfg.NormObs {
		a.ObsStats = envs.NewRunningStats(obsDim)
	}
	return a
}

// Params lists every trainable parameter.
func (a *Agent) Params() []*nn.Param {
	return append(append(a.Actor.Params(), a.Critic.Params()...), a.LogStd)
}

// normalize writes rows of raw observations into a.in.
func (a *Agent) normalize(raw []float64, rows int) *nn.Tensor {
	a.in.Resize(rows, a.ObsDim)
	for r := 0; r < rows; r++ {
		for j := 0; j < a.ObsDim; j++ {
			v := raw[r*a.ObsDim+j]
			if a.ObsStats != nil {
				v = (v - a.ObsStats.Mean[j]) / math.Sqrt(a.ObsStats.Var(j)+1e-8)
				v = min(max(v, -a.ObsClip), a.ObsClip)
			}
			a.in.Data[r*a.ObsDim+j] = float32(v)
		}
	}
	return &a.in
}

// Act writes actions for rows of raw observations: the Gaussian mean when
// rng is nil, a sample from the policy otherwise. Observation statistics are
// not updated.
func (a *Agent) Act(obs []float64, actions []float64, rng *rand.Rand) {
	rows := len(obs) / a.ObsDim
	mu := a.Actor.Forward(a.normalize(obs, rows))
	for i, m := range mu.Data {
		v := float64(m)
		if rng != nil {
			v += math.Exp(float64(a.LogStd.Value.Data[i%a.ActDim])) * rng.NormFloat64()
		}
		actions[i] = v
	}
}

// Update records one PPO update in the training history.
type Update struct {
	Step          int     // environment steps so far
	EpisodeReturn float64 // mean return of the episodes finished in this rollout (NaN if none)
	Episodes      int
	PolicyLoss    float64
	ValueLoss     float64
	Entropy       float64
	ApproxKL      float64
	ClipFrac      float64
	ExplainedVar  float64
	LR            float64
	StepsPerSec   float64
}

// Rollout is one rollout's raw experience, given to hooks (for example to
// record a replay dataset). Slices are [NumSteps, NumEnvs, ...] flattened
// and owned by Train: copy what you keep.
type Rollout struct {
	NumSteps, NumEnvs     int
	ObsDim, ActDim        int
	Obs                   []float64 // raw observations s_t
	Actions               []float64 // actions as sent to the env (sampled, before the env clips)
	Rewards               []float64 // raw rewards
	Terminated, Truncated []bool
	NextObs               []float64 // raw s_{t+1} (the final observation where an episode ended)
}

// Hook is called after every update with the agent, the update's record
// and the rollout it learned from. Returning an error stops training.
type Hook func(a *Agent, u Update, r *Rollout) error

// Train runs PPO and returns the agent and the history of updates.
func Train(ctx context.Context, cfg Config, hook Hook) (*Agent, []Update, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	vec, err := envs.NewVector(cfg.NumEnvs, func(i int) (envs.Env, error) {
		e, err := envs.Make(cfg.Env)
		if err != nil {
			return nil, err
		}
		c, err := envs.NewClipAction(e)
		if err != nil {
			return nil, err
		}
		return envs.NewEpisodeStats(c), nil
	})
	if err != nil {
		return nil, nil, err
	}
	defer vec.Close()
	if _, ok := vec.ActionSpace().(envs.Box); !ok {
		return nil, nil, fmt.Errorf("ppo: %s has a %v action space; this PPO is for Box actions", cfg.Env, vec.ActionSpace())
	}
	obsDim, actDim := vec.ObservationSpace().Dim(), vec.ActionSpace().Dim()
	rng := nn.NewRNG(cfg.Seed)
	agent := newAgent(cfg, obsDim, actDim, rng)
	opt := nn.NewAdamW(agent.Params(), nn.AdamWConfig{LR: cfg.LR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-5})
	t := newTrainer(cfg, agent, opt, rng)

	obs, err := vec.Reset(envs.WithSeed(cfg.Seed))
	if err != nil {
		return nil, nil, err
	}
	copy(t.roll.nextObsRaw, obs)
	t.observe(obs)
	numUpdates := cfg.TotalSteps / (cfg.NumEnvs * cfg.NumSteps)
	var history []Update
	step := 0
	for update := 1; update <= numUpdates; update++ {
		if err := ctx.Err(); err != nil {
			return agent, history, err
		}
		start := time.Now()
		lr := cfg.LR
		if cfg.AnnealLR {
			lr *= 1 - float64(update-1)/float64(numUpdates)
		}
		u, err := t.collect(vec)
		if err != nil {
			return agent, history, err
		}
		step += cfg.NumEnvs * cfg.NumSteps
		t.advantages()
		t.learn(lr, &u)
		u.Step, u.LR = step, lr
		u.StepsPerSec = float64(cfg.NumEnvs*cfg.NumSteps) / time.Since(start).Seconds()
		history = append(history, u)
		if hook != nil {
			if err := hook(agent, u, &t.roll.Rollout); err != nil {
				return agent, history, err
			}
		}
	}
	return agent, history, nil
}
