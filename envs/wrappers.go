package envs

import (
	"fmt"
	"math"
)

// Wrapper forwards everything to the wrapped env; embed it and override
// what changes.
type Wrapper struct{ Env }

// Unwrap implements Unwrapper.
func (w Wrapper) Unwrap() Env { return w.Env }

// TimeLimit truncates episodes after a number of steps. Unlike Gymnasium's
// TimeLimit, a step that terminates is not also marked truncated, so the
// two flags never overlap (as in D4RL's terminals and timeouts).
type TimeLimit struct {
	Wrapper
	Max   int
	steps int
}

// NewTimeLimit wraps e with a limit of max steps per episode.
func NewTimeLimit(e Env, max int) *TimeLimit { return &TimeLimit{Wrapper: Wrapper{e}, Max: max} }

// Reset implements Env.
func (t *TimeLimit) Reset(seed Seed) ([]float64, *Info, error) {
	t.steps = 0
	return t.Env.Reset(seed)
}

// Step implements Env.
func (t *TimeLimit) Step(a []float64) (StepResult, error) {
	if t.steps >= t.Max { // truncated: the wrapped env never learnt the episode ended
		return StepResult{}, ErrEpisodeOver
	}
	r, err := t.Env.Step(a)
	if err != nil {
		return r, err
	}
	t.steps++
	if t.steps >= t.Max && !r.Terminated {
		r.Truncated = true
	}
	return r, nil
}

// Elapsed is the number of steps in the current episode.
func (t *TimeLimit) Elapsed() int { return t.steps }

// ClipAction clips Box actions into the action space's bounds before they
// reach the env.
type ClipAction struct {
	Wrapper
	box   Box
	space Space // box, converted once
	buf   []float64
}

// NewClipAction wraps e, whose action space must be a Box.
func NewClipAction(e Env) (*ClipAction, error) {
	b, ok := e.ActionSpace().(Box)
	if !ok {
		return nil, fmt.Errorf("%w: ClipAction needs a Box action space, got %v", ErrUnsupported, e.ActionSpace())
	}
	return &ClipAction{Wrapper: Wrapper{e}, box: b, space: b, buf: make([]float64, b.Dim())}, nil
}

// Step implements Env.
func (c *ClipAction) Step(a []float64) (StepResult, error) {
	if err := CheckAction(c.space, a); err != nil {
		return StepResult{}, err
	}
	for i, v := range a {
		c.buf[i] = min(max(v, c.box.Low[i]), c.box.High[i])
	}
	return c.Env.Step(c.buf)
}

// RescaleAction lets an agent act in [Low, High] (usually [-1, 1]) on an
// env whose Box bounds differ: a = lo + (x − Low)·(hi − lo)/(High − Low).
type RescaleAction struct {
	Wrapper
	inner     Box
	Low, High float64
	space     Space
	buf       []float64
}

// NewRescaleAction wraps e, whose action space must be a bounded Box.
func NewRescaleAction(e Env, low, high float64) (*RescaleAction, error) {
	b, ok := e.ActionSpace().(Box)
	if !ok || !b.Bounded() {
		return nil, fmt.Errorf("%w: RescaleAction needs a bounded Box action space, got %v", ErrUnsupported, e.ActionSpace())
	}
	if !(low < high) {
		return nil, fmt.Errorf("%w: RescaleAction range [%g, %g]", ErrBadOption, low, high)
	}
	return &RescaleAction{Wrapper: Wrapper{e}, inner: b, Low: low, High: high,
		space: NewBox(b.Dim(), low, high), buf: make([]float64, b.Dim())}, nil
}

// ActionSpace implements Env.
func (r *RescaleAction) ActionSpace() Space { return r.space }

// Step implements Env.
func (r *RescaleAction) Step(a []float64) (StepResult, error) {
	if err := CheckAction(r.space, a); err != nil {
		return StepResult{}, err
	}
	for i, v := range a {
		lo, hi := r.inner.Low[i], r.inner.High[i]
		r.buf[i] = lo + (v-r.Low)*(hi-lo)/(r.High-r.Low)
	}
	return r.Env.Step(r.buf)
}

// EpisodeStats records each episode's return and length; at the end of an
// episode it puts them in the step's Info as "episode_return" and
// "episode_length", and keeps them in Last.
type EpisodeStats struct {
	Wrapper
	ret    float64
	length int
	// Last is the most recent finished episode (zero before the first).
	Last struct {
		Return float64
		Length int
	}
}

// NewEpisodeStats wraps e.
func NewEpisodeStats(e Env) *EpisodeStats { return &EpisodeStats{Wrapper: Wrapper{e}} }

// Reset implements Env.
func (s *EpisodeStats) Reset(seed Seed) ([]float64, *Info, error) {
	s.ret, s.length = 0, 0
	return s.Env.Reset(seed)
}

// Step implements Env.
func (s *EpisodeStats) Step(a []float64) (StepResult, error) {
	r, err := s.Env.Step(a)
	if err != nil {
		return r, err
	}
	s.ret += r.Reward
	s.length++
	if r.Done() {
		s.Last.Return, s.Last.Length = s.ret, s.length
		if r.Info != nil {
			r.Info.Set("episode_return", s.ret)
			r.Info.Set("episode_length", float64(s.length))
		}
	}
	return r, nil
}

// RunningStats is a running mean and variance (Welford, in float64) of
// vectors, as used by NormalizeObservation and the datasets' normaliser.
type RunningStats struct {
	Count    float64
	Mean, M2 []float64
}

// NewRunningStats returns empty statistics for vectors of length dim.
func NewRunningStats(dim int) *RunningStats {
	return &RunningStats{Mean: make([]float64, dim), M2: make([]float64, dim)}
}

// Add folds one vector in.
func (s *RunningStats) Add(x []float64) {
	s.Count++
	for i, v := range x {
		d := v - s.Mean[i]
		s.Mean[i] += d / s.Count
		s.M2[i] += d * (v - s.Mean[i])
	}
}

// Var returns the population variance of dimension i (0 before two samples).
func (s *RunningStats) Var(i int) float64 {
	if s.Count < 2 {
		return 0
	}
	return s.M2[i] / s.Count
}

// NormalizeObservation standardises observations with running statistics:
// (obs − mean)/sqrt(var + Eps), updated on every observation while Update is
// true (freeze it for evaluation).
type NormalizeObservation struct {
	Wrapper
	Stats  *RunningStats
	Update bool
	Eps    float64
	out    []float64
}

// NewNormalizeObservation wraps e, whose observation space must be a Box.
func NewNormalizeObservation(e Env) (*NormalizeObservation, error) {
	if _, ok := e.ObservationSpace().(Box); !ok {
		return nil, fmt.Errorf("%w: NormalizeObservation needs a Box observation space", ErrUnsupported)
	}
	d := e.ObservationSpace().Dim()
	return &NormalizeObservation{Wrapper: Wrapper{e}, Stats: NewRunningStats(d), Update: true, Eps: 1e-8,
		out: make([]float64, d)}, nil
}

// ObservationSpace implements Env: normalised observations are unbounded.
func (n *NormalizeObservation) ObservationSpace() Space {
	return NewBox(n.Env.ObservationSpace().Dim(), math.Inf(-1), math.Inf(1))
}

func (n *NormalizeObservation) normalize(obs []float64) []float64 {
	if n.Update {
		n.Stats.Add(obs)
	}
	for i, v := range obs {
		n.out[i] = (v - n.Stats.Mean[i]) / math.Sqrt(n.Stats.Var(i)+n.Eps)
	}
	return n.out
}

// Reset implements Env.
func (n *NormalizeObservation) Reset(seed Seed) ([]float64, *Info, error) {
	obs, info, err := n.Env.Reset(seed)
	if err != nil {
		return nil, info, err
	}
	return n.normalize(obs), info, nil
}

// Step implements Env.
func (n *NormalizeObservation) Step(a []float64) (StepResult, error) {
	r, err := n.Env.Step(a)
	if err != nil {
		return r, err
	}
	r.Obs = n.normalize(r.Obs)
	return r, nil
}
