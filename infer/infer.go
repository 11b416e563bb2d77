// Package infer runs a trained minrl policy: load a checkpoint or a
// safetensors export (minrl export --format safetensors), then act in n
// episodes in lockstep, in the env's units, with the recurrent state
// carried between steps. It is what a Go service embeds: it links the
// model code and nothing of training, configuration, plotting, datasets'
// HDF5 or the CLI.
//
//	m, err := infer.Load("policy.safetensors")
//	a, err := m.NewActor(infer.Options{Envs: 1})
//	a.Reset()
//	for !done {
//		act, err := a.Act(obs)      // obs [Envs·ObsDim] -> act [Envs·ActDim]
//		obs, reward, done = env.Step(act)
//		a.Observe(reward)           // rewards [Envs]: the return-to-go drops by them
//	}
//
// Act allocates nothing in steady state. An Actor is not safe for
// concurrent use; make one Actor per goroutine (each holds its own copy of
// the network's buffers), from one shared Model.
package infer

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/minrl/minrl/internal/safefile"
	"github.com/minrl/minrl/policy"
)

// Model is a loaded policy file, immutable and safe to share.
type Model struct {
	data []byte
	ck   *policy.Checkpoint
}

// Load reads and validates a checkpoint or a safetensors export.
func Load(path string) (*Model, error) {
	data, err := safefile.ReadFile(path, policy.MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Decode validates a policy file held in data (a hostile file is an
// error, never a panic).
func Decode(data []byte) (*Model, error) {
	ck, err := policy.Decode(data)
	if err != nil {
		return nil, err
	}
	return &Model{data: data, ck: ck}, nil
}

// ObsDim and ActDim are the observation and action sizes.
func (m *Model) ObsDim() int { return m.ck.Model.ObsDim() }
func (m *Model) ActDim() int { return m.ck.Model.ActDim() }

// EnvID names the environment the policy was trained for.
func (m *Model) EnvID() string { return m.ck.EnvID }

// Kind is the policy's model: mingru, minlstm, dt or bc.
func (m *Model) Kind() policy.ModelKind {
	if d, ok := m.ck.Model.(*policy.Decision); ok {
		return d.Config().Model
	}
	return policy.ModelBC
}

// Target is the return a Decision policy is conditioned on by default:
// the export's target return, else the checkpoint's first target (NaN for
// BC or when none is recorded).
func (m *Model) Target() float64 {
	if s, ok := m.ck.Meta["export.target_return"]; ok {
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			return v
		}
	}
	if _, ok := m.ck.Model.(*policy.Decision); ok && len(m.ck.Targets) > 0 {
		return m.ck.Targets[0]
	}
	return math.NaN()
}

// Options configure an Actor.
type Options struct {
	// Envs is the number of episodes played in lockstep (default 1).
	Envs int
	// Target is the return to condition a Decision policy on (0: the
	// model's Target; Actor.SetTarget sets any value, 0 included).
	Target float64
	// Context is "episode" (stateful, O(1) per step; recurrent models) or
	// "window" (re-run the last K steps); "" is the context it was trained in.
	Context string
}

// Actor plays one Model in Envs episodes. Not safe for concurrent use.
type Actor struct {
	p        policy.Policy
	decision bool
	dec      *policy.DecisionActor
	n        int
	obsDim   int
	rewards  []float64
	actions  []float64
	observed bool
	started  bool
}

// ErrNoReward is returned by a Decision policy's Act when the rewards of
// the previous actions were not given with Observe.
var ErrNoReward = errors.New("infer: Act without Observe: a Decision policy needs the rewards of the previous actions")

// NewActor returns an actor with its own copy of the network.
func (m *Model) NewActor(opt Options) (*Actor, error) {
	if opt.Envs == 0 {
		opt.Envs = 1
	}
	if opt.Envs < 0 {
		return nil, fmt.Errorf("infer: %d envs", opt.Envs)
	}
	ck, err := policy.Decode(m.data) // an own network: its layers hold scratch
	if err != nil {
		return nil, err
	}
	a := &Actor{n: opt.Envs, obsDim: ck.Model.ObsDim(),
		rewards: make([]float64, opt.Envs), actions: make([]float64, opt.Envs*ck.Model.ActDim())}
	var p policy.Policy
	switch mm := ck.Model.(type) {
	case *policy.Decision:
		target := opt.Target
		if target == 0 {
			target = m.Target()
		}
		if math.IsNaN(target) {
			return nil, errors.New("infer: the policy records no target return: set Options.Target")
		}
		a.dec, err = policy.NewDecisionActor(mm, ck.Norm, target, opt.Context)
		p, a.decision = a.dec, true
	case *policy.MLP:
		p, err = policy.NewMLPActor(mm, ck.Norm)
	default:
		err = fmt.Errorf("infer: no actor for a %T", ck.Model)
	}
	if err != nil {
		return nil, err
	}
	a.p = ck.Bounds.Bounded(p)
	a.Reset()
	return a, nil
}

// Envs is the number of episodes played in lockstep.
func (a *Actor) Envs() int { return a.n }

// SetTarget changes a Decision policy's target return for the episodes
// started from now on (BC: an error).
func (a *Actor) SetTarget(target float64) error {
	if a.dec == nil {
		return errors.New("infer: a BC policy takes no target return")
	}
	return a.dec.SetTarget(target)
}

// Reset starts fresh episodes in every env.
func (a *Actor) Reset() {
	a.p.Reset(a.n)
	clear(a.rewards)
	a.started, a.observed = false, false
}

// ResetEnv starts a fresh episode in env i (say, after it terminated)
// while the others continue.
func (a *Actor) ResetEnv(i int) error {
	if i < 0 || i >= a.n {
		return fmt.Errorf("infer: ResetEnv(%d) with %d envs", i, a.n)
	}
	a.p.ResetEnv(i)
	a.rewards[i] = 0
	return nil
}

// Act takes the observations of every env [Envs·ObsDim] and returns their
// actions [Envs·ActDim], in the env's units. The slice is the actor's,
// valid until the next Act.
func (a *Actor) Act(obs []float64) ([]float64, error) {
	if a.decision && a.started && !a.observed {
		return nil, ErrNoReward
	}
	if err := a.p.Act(obs, a.rewards, a.actions); err != nil {
		return nil, err
	}
	a.started, a.observed = true, false
	return a.actions, nil
}

// Observe records the rewards [Envs] received for the last actions; a
// Decision policy's return-to-go drops by them.
func (a *Actor) Observe(rewards []float64) error {
	if len(rewards) != a.n {
		return fmt.Errorf("infer: %d rewards for %d envs", len(rewards), a.n)
	}
	copy(a.rewards, rewards)
	a.observed = true
	return nil
}
