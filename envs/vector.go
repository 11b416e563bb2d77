package envs

import (
	"errors"
	"fmt"

	"github.com/minrl/minrl/internal/par"
)

// Vector steps N copies of an environment in parallel goroutines and resets
// each one automatically when its episode ends: the observation returned
// for that copy is then the first of its new episode, and the episode's
// last observation is in its Info.FinalObs (a learner bootstraps from it
// on truncation). Results do not depend on scheduling: each copy has its
// own generator, seeded seed+i by Reset.
type Vector struct {
	Envs           []Env
	obsDim, actDim int

	res      VectorStep
	infos    []Info // the Vector's copies of each env's step info
	finalObs [][]float64
	actions  []float64
	errs     []error
	stepK    par.Func
}

// VectorStep is the result of Vector.Step; its slices are owned by the
// Vector and reused.
type VectorStep struct {
	Obs                   []float64 // N·obsDim, row i for copy i
	Rewards               []float64
	Terminated, Truncated []bool
	Infos                 []*Info
}

// NewVector makes n copies with mk(i).
func NewVector(n int, mk func(i int) (Env, error)) (*Vector, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: vector of %d envs", ErrBadOption, n)
	}
	v := &Vector{Envs: make([]Env, n)}
	for i := range v.Envs {
		e, err := mk(i)
		if err != nil {
			v.Close()
			return nil, fmt.Errorf("env %d: %w", i, err)
		}
		v.Envs[i] = e
	}
	v.obsDim, v.actDim = v.Envs[0].ObservationSpace().Dim(), v.Envs[0].ActionSpace().Dim()
	for i, e := range v.Envs {
		if e.ObservationSpace().Dim() != v.obsDim || e.ActionSpace().Dim() != v.actDim {
			v.Close()
			return nil, fmt.Errorf("%w: env %d has other spaces than env 0", ErrBadOption, i)
		}
	}
	v.res = VectorStep{
		Obs: make([]float64, n*v.obsDim), Rewards: make([]float64, n),
		Terminated: make([]bool, n), Truncated: make([]bool, n), Infos: make([]*Info, n),
	}
	v.infos = make([]Info, n)
	v.finalObs = make([][]float64, n)
	for i := range v.finalObs {
		v.finalObs[i] = make([]float64, v.obsDim)
	}
	v.errs = make([]error, n)
	v.stepK = v.stepRange
	return v, nil
}

// Len is the number of copies.
func (v *Vector) Len() int { return len(v.Envs) }

// ObservationSpace and ActionSpace are those of one copy.
func (v *Vector) ObservationSpace() Space { return v.Envs[0].ObservationSpace() }

// ActionSpace is the action space of one copy.
func (v *Vector) ActionSpace() Space { return v.Envs[0].ActionSpace() }

// Reset resets every copy, copy i with seed+i when a seed is given, and
// returns the N·obsDim first observations (owned by the Vector).
func (v *Vector) Reset(seed Seed) ([]float64, error) {
	for i, e := range v.Envs {
		s := NoSeed
		if base, ok := seed.Value(); ok {
			s = WithSeed(base + uint64(i))
		}
		obs, _, err := e.Reset(s)
		if err != nil {
			return nil, fmt.Errorf("env %d: %w", i, err)
		}
		copy(v.res.Obs[i*v.obsDim:], obs)
	}
	return v.res.Obs, nil
}

// Step applies N·actDim actions (row i to copy i) in parallel.
func (v *Vector) Step(actions []float64) (VectorStep, error) {
	if len(actions) != len(v.Envs)*v.actDim {
		return VectorStep{}, fmt.Errorf("%w: %d action values for %d envs of %d", ErrBadAction, len(actions), len(v.Envs), v.actDim)
	}
	// Every row is checked first: a bad one after others had stepped (and
	// perhaps auto-reset) would lose their results.
	space := v.ActionSpace()
	for i := range v.Envs {
		if err := CheckAction(space, actions[i*v.actDim:(i+1)*v.actDim]); err != nil {
			return VectorStep{}, fmt.Errorf("env %d: %w", i, err)
		}
	}
	v.actions = actions
	par.For(len(v.Envs), 1, v.stepK)
	v.actions = nil
	for i, err := range v.errs {
		if err != nil {
			clear(v.errs)
			return VectorStep{}, fmt.Errorf("env %d: %w", i, err)
		}
	}
	return v.res, nil
}

func (v *Vector) stepRange(lo, hi int) {
	for i := lo; i < hi; i++ {
		e := v.Envs[i]
		r, err := e.Step(v.actions[i*v.actDim : (i+1)*v.actDim])
		if err != nil {
			v.errs[i] = err
			continue
		}
		v.res.Rewards[i], v.res.Terminated[i], v.res.Truncated[i] = r.Reward, r.Terminated, r.Truncated
		// Copy the step's info: an env may reuse one Info for Step and Reset.
		info := &v.infos[i]
		clear(info.Values)
		info.Err, info.FinalObs = nil, nil
		if r.Info != nil {
			for k, x := range r.Info.Values {
				info.Set(k, x)
			}
			info.Err = r.Info.Err
		}
		v.res.Infos[i] = info
		row := v.res.Obs[i*v.obsDim : (i+1)*v.obsDim]
		if !r.Done() {
			copy(row, r.Obs)
			continue
		}
		copy(v.finalObs[i], r.Obs)
		info.FinalObs = v.finalObs[i]
		obs, _, err := e.Reset(NoSeed)
		if err != nil {
			v.errs[i] = fmt.Errorf("auto-reset: %w", err)
			continue
		}
		copy(row, obs)
	}
}

// Close closes every copy.
func (v *Vector) Close() error {
	var errs []error
	for _, e := range v.Envs {
		if e != nil {
			errs = append(errs, e.Close())
		}
	}
	return errors.Join(errs...)
}
