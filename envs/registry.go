package envs

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Spec describes a registered environment.
type Spec struct {
	// ID names the environment with a version, e.g. "Pendulum-v1" or
	// "minrl/Hopper-v0". A change in dynamics means a new version.
	ID          string
	Description string
	// New builds the environment without a time limit; Make adds one.
	New func(p *Params) (Env, error)
	// MaxEpisodeSteps is the time limit Make applies (0: none).
	MaxEpisodeSteps int
	// RewardThreshold is the return at which the task counts as solved
	// (NaN: none).
	RewardThreshold float64
	// RandomReturn and ExpertReturn are the reference returns of the
	// normalised score (a uniform-random policy and the expert behaviour
	// policy, each the mean of 100 episodes); NaN until measured.
	RandomReturn, ExpertReturn float64
	// RefSource says where the reference returns come from.
	RefSource string
}

// NormalizedScore maps a return to 100·(R − random)/(expert − random): 0 is
// the random policy, 100 the expert. Scores of minrl's own environments are
// minrl-normalised, never D4RL scores.
func (s Spec) NormalizedScore(ret float64) (float64, error) {
	if math.IsNaN(s.RandomReturn) || math.IsNaN(s.ExpertReturn) || s.ExpertReturn == s.RandomReturn {
		return math.NaN(), fmt.Errorf("%s has no reference returns: no normalised score", s.ID)
	}
	return 100 * (ret - s.RandomReturn) / (s.ExpertReturn - s.RandomReturn), nil
}

var (
	regMu    sync.RWMutex
	registry = map[string]Spec{}
)

// Register adds a spec; it panics on a duplicate or incomplete spec (a
// programming error at init time).
func Register(s Spec) {
	regMu.Lock()
	defer regMu.Unlock()
	if s.ID == "" || s.New == nil {
		panic("envs: Register: spec needs an ID and a constructor")
	}
	if _, dup := registry[s.ID]; dup {
		panic("envs: Register: duplicate id " + s.ID)
	}
	registry[s.ID] = s
}

// SetReferenceReturns records measured reference returns for id.
func SetReferenceReturns(id string, random, expert float64, source string) error {
	regMu.Lock()
	defer regMu.Unlock()
	s, ok := registry[id]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownEnv, id)
	}
	s.RandomReturn, s.ExpertReturn, s.RefSource = random, expert, source
	registry[id] = s
	return nil
}

// Lookup returns the spec of id.
func Lookup(id string) (Spec, error) {
	regMu.RLock()
	defer regMu.RUnlock()
	s, ok := registry[id]
	if !ok {
		return Spec{}, fmt.Errorf("%w %q (registered: %s)", ErrUnknownEnv, id, strings.Join(idsLocked(), ", "))
	}
	return s, nil
}

// Specs returns every registered spec, sorted by id.
func Specs() []Spec {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]Spec, 0, len(registry))
	for _, id := range idsLocked() {
		out = append(out, registry[id])
	}
	return out
}

func idsLocked() []string {
	ids := make([]string, 0, len(registry))
	for id := range registry {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Option configures Make.
type Option func(*makeConfig)

type makeConfig struct {
	maxSteps    int
	maxStepsSet bool
	params      map[string]float64
}

// WithMaxEpisodeSteps overrides the spec's time limit (0: no limit).
func WithMaxEpisodeSteps(n int) Option {
	return func(c *makeConfig) { c.maxSteps, c.maxStepsSet = n, true }
}

// WithParam sets an environment-specific parameter (e.g. "g" for
// Pendulum-v1). Make fails on a parameter the environment does not know.
func WithParam(key string, v float64) Option {
	return func(c *makeConfig) {
		if c.params == nil {
			c.params = map[string]float64{}
		}
		c.params[key] = v
	}
}

// Params are the parameters given to a constructor. Constructors read them
// with Float; Make rejects any parameter left unread.
type Params struct {
	values map[string]float64
	used   map[string]bool
}

// NewParams wraps a parameter map (for tests and direct construction).
func NewParams(values map[string]float64) *Params {
	return &Params{values: values, used: map[string]bool{}}
}

// Float returns parameter key, or def when it was not given.
func (p *Params) Float(key string, def float64) float64 {
	if p == nil {
		return def
	}
	p.used[key] = true
	if v, ok := p.values[key]; ok {
		return v
	}
	return def
}

// unused lists parameters no constructor read.
func (p *Params) unused() []string {
	var out []string
	for k := range p.values {
		if !p.used[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// Make builds a registered environment, wrapped in a TimeLimit of the
// spec's MaxEpisodeSteps (or the one given by WithMaxEpisodeSteps).
func Make(id string, opts ...Option) (Env, error) {
	s, err := Lookup(id)
	if err != nil {
		return nil, err
	}
	var c makeConfig
	for _, o := range opts {
		o(&c)
	}
	if c.maxStepsSet && c.maxSteps < 0 {
		return nil, fmt.Errorf("%s: %w: max episode steps %d < 0", id, ErrBadOption, c.maxSteps)
	}
	p := NewParams(c.params)
	e, err := s.New(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", id, err)
	}
	if bad := p.unused(); len(bad) > 0 {
		e.Close()
		return nil, fmt.Errorf("%s: %w: unknown parameter(s) %s", id, ErrBadOption, strings.Join(bad, ", "))
	}
	limit := s.MaxEpisodeSteps
	if c.maxStepsSet {
		limit = c.maxSteps
	}
	if limit > 0 {
		e = NewTimeLimit(e, limit)
	}
	return e, nil
}
