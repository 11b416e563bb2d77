package envs

import (
	"errors"
	"fmt"
	"math"
)

// Env is an environment with Gymnasium's step semantics.
type Env interface {
	// Reset starts an episode. With a seed (see Seed) the environment's
	// generator is reseeded first, so the episode is reproducible; NoSeed
	// continues the generator. The observation is owned by the env.
	Reset(seed Seed) (obs []float64, info *Info, err error)
	// Step applies an action of ActionSpace().Dim() values. It returns an
	// error, and changes nothing, for a wrong length, a NaN or Inf, or a
	// call outside an episode (before Reset, after termination or
	// truncation).
	Step(action []float64) (StepResult, error)
	ObservationSpace() Space
	ActionSpace() Space
	// Close releases resources (a simulator); the env is unusable after.
	Close() error
}

// StepResult is what one Step returns.
type StepResult struct {
	// Obs is the next observation, owned by the env until its next call.
	Obs    []float64
	Reward float64
	// Terminated: the task ended (a fall, a goal); no value follows.
	Terminated bool
	// Truncated: the episode was cut short (a time limit); the state still
	// has a value.
	Truncated bool
	Info      *Info
}

// Done reports whether the episode is over.
func (r StepResult) Done() bool { return r.Terminated || r.Truncated }

// Info carries diagnostics with a step or reset. Its map is owned by the
// env and reused (the same keys every step), so steady-state steps do not
// allocate; copy values you keep.
type Info struct {
	// Values holds named scalars: reward terms ("reward_forward",
	// "reward_ctrl"), "x_position", episode statistics from EpisodeStats.
	Values map[string]float64
	// Err, when not nil, explains a termination the simulator forced (for
	// example MuJoCo's unstable-simulation warning). The episode is over.
	Err error
	// FinalObs, set by Vector on auto-reset, is the last observation of the
	// episode that just ended (Obs is then the new episode's first).
	FinalObs []float64
}

// Set records a named value, creating the map on first use.
func (i *Info) Set(key string, v float64) {
	if i.Values == nil {
		i.Values = make(map[string]float64, 8)
	}
	i.Values[key] = v
}

// Seed selects how Reset seeds: a value from WithSeed, or NoSeed.
type Seed struct {
	value uint64
	set   bool
}

// NoSeed continues the environment's random stream.
var NoSeed = Seed{}

// WithSeed reseeds the environment with s.
func WithSeed(s uint64) Seed { return Seed{value: s, set: true} }

// Value returns the seed and whether one was given.
func (s Seed) Value() (uint64, bool) { return s.value, s.set }

// Errors returned by environments; wrap-checked with errors.Is.
var (
	ErrNotReset    = errors.New("step before reset")
	ErrEpisodeOver = errors.New("step after the episode ended; call Reset")
	ErrBadAction   = errors.New("bad action")
	ErrUnknownEnv  = errors.New("unknown environment id")
	ErrUnsupported = errors.New("not supported by this environment")
	ErrBadOption   = errors.New("bad option")
	ErrClosed      = errors.New("environment closed")
)

// CheckAction validates an action against a space: the right length and
// finite values (Discrete actions must be valid indices). Box bounds are
// not enforced: like MuJoCo, environments clamp controls themselves, and
// the ClipAction wrapper clips explicitly. Keep spaces in Space-typed
// fields: converting a Box value to the interface on every Step allocates.
func CheckAction(space Space, action []float64) error {
	if len(action) != space.Dim() {
		return fmt.Errorf("%w: %d values, want %d for %v", ErrBadAction, len(action), space.Dim(), space)
	}
	for i, v := range action {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: action[%d] = %g", ErrBadAction, i, v)
		}
	}
	if d, ok := space.(Discrete); ok && !d.Contains(action) {
		return fmt.Errorf("%w: %g is not an action of %v", ErrBadAction, action[0], d)
	}
	return nil
}

// Episode tracks the phase of an episode for environments: a Step is only
// valid between a Reset and the end of the episode.
type Episode struct {
	started, over bool
	closed        bool
}

// Begin marks a Reset.
func (e *Episode) Begin() error {
	if e.closed {
		return ErrClosed
	}
	e.started, e.over = true, false
	return nil
}

// CanStep returns the error a Step must return now, or nil.
func (e *Episode) CanStep() error {
	switch {
	case e.closed:
		return ErrClosed
	case !e.started:
		return ErrNotReset
	case e.over:
		return ErrEpisodeOver
	}
	return nil
}

// End marks the end of the episode when r says it is over.
func (e *Episode) End(r StepResult) {
	if r.Done() {
		e.over = true
	}
}

// Close marks the environment closed.
func (e *Episode) Close() { e.closed = true }

// StateEnv is implemented by simulated environments whose full state can be
// read and restored (the D4RL datasets store qpos and qvel so that a state
// can be replayed).
type StateEnv interface {
	Env
	// State copies the generalised positions and velocities into new slices.
	State() (qpos, qvel []float64)
	// SetState restores a state; the next observation is that state's.
	SetState(qpos, qvel []float64) error
}

// Unwrapper is implemented by wrappers; Unwrap returns the wrapped env.
type Unwrapper interface{ Unwrap() Env }

// Base returns the innermost env under any wrappers.
func Base(e Env) Env {
	for {
		u, ok := e.(Unwrapper)
		if !ok {
			return e
		}
		e = u.Unwrap()
	}
}

// As finds the first env in the wrapper chain (from the outside) that
// implements T.
func As[T any](e Env) (T, bool) {
	for {
		if t, ok := e.(T); ok {
			return t, true
		}
		u, ok := e.(Unwrapper)
		if !ok {
			var zero T
			return zero, false
		}
		e = u.Unwrap()
	}
}
