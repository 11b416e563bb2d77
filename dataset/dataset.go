package dataset

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

var (
	// ErrMissingKey reports a required array absent from a file.
	ErrMissingKey = errors.New("missing key")
	// ErrShape reports arrays whose shapes disagree with each other or
	// with the environment.
	ErrShape = errors.New("shape mismatch")
	// ErrNonFinite reports a NaN or ±Inf value.
	ErrNonFinite = errors.New("non-finite value")
	// ErrImplausible reports a finite value too large to be real data
	// (beyond ±MaxAbsValue): a corrupt or unscaled file, which would
	// otherwise surface late as a diverged training run.
	ErrImplausible = errors.New("implausible value")
)

// Dataset is offline RL data in the D4RL layout: N transitions stored as
// flat row-major float32 arrays with their row widths. Row i is the
// transition (s_i, a_i, r_i, s'_i, terminal_i, timeout_i).
type Dataset struct {
	N, ObsDim, ActDim int

	Observations []float32 // [N, ObsDim]
	Actions      []float32 // [N, ActDim]
	Rewards      []float32 // [N]; (N, 1) files are squeezed on load
	// NextObservations is [N, ObsDim], or nil when the file has none
	// (some D4RL files do not; s_{i+1} within an episode replaces it).
	NextObservations []float32
	// Terminals marks true terminations: no value follows.
	Terminals []bool // [N]
	// Timeouts marks episodes cut by the step limit: they split episodes
	// but are not terminal states.
	Timeouts []bool // [N]
	// TimeoutsMissing records that the file had no timeouts array (v0-era
	// D4RL files); Timeouts is then all false until FillTimeouts.
	TimeoutsMissing bool

	// QPos and QVel are the optional simulator states before each step
	// (D4RL infos/qpos and infos/qvel): [N, QPosDim] and [N, QVelDim], or
	// nil.
	QPos, QVel       []float32
	QPosDim, QVelDim int

	Meta Metadata
	// Norm holds state-normalisation statistics saved with the data, or
	// nil.
	Norm *Normalizer
}

// Metadata says where a dataset came from.
type Metadata struct {
	EnvID   string  // environment id with its version, e.g. "Hopper-v3"
	Policy  string  // behaviour policy, e.g. "SAC medium" or a checkpoint path
	Command string  // command line that produced the data
	Seed    *uint64 // nil when the file records none
	// Extra holds free-form key/value pairs (D4RL's metadata/algorithm
	// lands here on load).
	Extra map[string]string
}

// New returns an empty dataset of n transitions with the given widths and
// every array allocated (NextObservations included; QPos/QVel not).
func New(n, obsDim, actDim int) *Dataset {
	if n < 0 || obsDim < 0 || actDim < 0 {
		panic(fmt.Sprintf("dataset: New(%d, %d, %d)", n, obsDim, actDim))
	}
	return &Dataset{
		N: n, ObsDim: obsDim, ActDim: actDim,
		Observations:     make([]float32, n*obsDim),
		Actions:          make([]float32, n*actDim),
		Rewards:          make([]float32, n),
		NextObservations: make([]float32, n*obsDim),
		Terminals:        make([]bool, n),
		Timeouts:         make([]bool, n),
	}
}

// Obs returns row i of Observations (a view, not a copy).
func (d *Dataset) Obs(i int) []float32 { return d.Observations[i*d.ObsDim : (i+1)*d.ObsDim] }

// Action returns row i of Actions (a view, not a copy).
func (d *Dataset) Action(i int) []float32 { return d.Actions[i*d.ActDim : (i+1)*d.ActDim] }

// Check verifies that every array has the length its row width implies and
// that all values are finite. Errors name the key and, for values, the row
// and column.
func (d *Dataset) Check() error { return d.check(true) }

// CheckShapes is Check without the pass over the values: for loaders that
// checked each array with CheckFinite as they read it.
func (d *Dataset) CheckShapes() error { return d.check(false) }

// check is Check; with values false it checks sizes only.
func (d *Dataset) check(values bool) error {
	if d.N < 0 || d.ObsDim < 0 || d.ActDim < 0 || d.QPosDim < 0 || d.QVelDim < 0 {
		return fmt.Errorf("%w: negative size (N %d, obs %d, act %d)", ErrShape, d.N, d.ObsDim, d.ActDim)
	}
	type arr struct {
		key      string
		v        []float32
		width    int
		optional bool
	}
	arrs := []arr{
		{"observations", d.Observations, d.ObsDim, false},
		{"actions", d.Actions, d.ActDim, false},
		{"rewards", d.Rewards, 1, false},
		{"next_observations", d.NextObservations, d.ObsDim, true},
		{"infos/qpos", d.QPos, d.QPosDim, true},
		{"infos/qvel", d.QVel, d.QVelDim, true},
	}
	for _, a := range arrs {
		if a.optional && a.v == nil {
			continue
		}
		if len(a.v) != d.N*a.width {
			return fmt.Errorf("%w: key %q has %d values, want N×%d = %d", ErrShape, a.key, len(a.v), a.width, d.N*a.width)
		}
		if !values {
			continue
		}
		if err := CheckFinite(a.key, a.v, a.width); err != nil {
			return err
		}
	}
	if len(d.Terminals) != d.N {
		return fmt.Errorf("%w: key %q has %d rows, want %d", ErrShape, "terminals", len(d.Terminals), d.N)
	}
	if len(d.Timeouts) != d.N {
		return fmt.Errorf("%w: key %q has %d rows, want %d", ErrShape, "timeouts", len(d.Timeouts), d.N)
	}
	if d.Norm != nil && len(d.Norm.Mean) != d.ObsDim {
		return fmt.Errorf("%w: normaliser has %d features, observations %d", ErrShape, len(d.Norm.Mean), d.ObsDim)
	}
	return nil
}

// MaxAbsValue bounds every value of a dataset: far beyond any observation,
// action or reward of a control task, and far below where float32 sums of
// returns overflow.
const MaxAbsValue = 1e9

// CheckFinite reports the first NaN, Inf or value beyond ±MaxAbsValue in v
// (rows of width w), naming its row and column.
func CheckFinite(key string, v []float32, w int) error {
	for i, x := range v {
		err := ErrNonFinite
		switch {
		case math.IsNaN(float64(x)) || math.IsInf(float64(x), 0):
		case math.Abs(float64(x)) > MaxAbsValue:
			err = ErrImplausible
		default:
			continue
		}
		if w <= 1 {
			return fmt.Errorf("%w: key %q row %d: %v (values must be finite and within ±%g)", err, key, i, x, MaxAbsValue)
		}
		return fmt.Errorf("%w: key %q row %d column %d: %v (values must be finite and within ±%g)", err, key, i/w, i%w, x, MaxAbsValue)
	}
	return nil
}

// Validate checks the dataset against an environment's observation and
// action sizes, as D4RL's get_dataset asserts them.
func (d *Dataset) Validate(obsDim, actDim int) error {
	if d.ObsDim != obsDim {
		return fmt.Errorf("%w: key %q has %d columns, the environment observes %d", ErrShape, "observations", d.ObsDim, obsDim)
	}
	if d.ActDim != actDim {
		return fmt.Errorf("%w: key %q has %d columns, the environment acts with %d", ErrShape, "actions", d.ActDim, actDim)
	}
	return nil
}

// RecoverTimeouts marks the episode ends of a file without a timeouts
// array (TimeoutsMissing), where episodes cut by the step limit would
// otherwise be glued to the next (wrong returns-to-go). With
// next_observations stored, a non-terminal step whose next observation is
// not the following row's observation ends an episode: exact. Without
// them, every maxSteps steps without a terminal do, D4RL's own fallback
// (FillTimeouts); maxSteps 0 (no step limit known) cannot be recovered and
// is an error. It clears TimeoutsMissing and returns how many ends it set
// and by which rule.
func (d *Dataset) RecoverTimeouts(maxSteps int) (n int, rule string, err error) {
	if !d.TimeoutsMissing {
		return 0, "", nil
	}
	if d.NextObservations != nil {
		o := d.ObsDim
		for i := 0; i+1 < d.N; i++ {
			if d.Terminals[i] || d.Timeouts[i] {
				continue
			}
			if !slices.Equal(d.NextObservations[i*o:(i+1)*o], d.Observations[(i+1)*o:(i+2)*o]) {
				d.Timeouts[i] = true
				n++
			}
		}
		d.TimeoutsMissing = false
		return n, "where a step's next observation is not the next row's observation", nil
	}
	if maxSteps <= 0 {
		return 0, "", fmt.Errorf("dataset: no timeouts array, no next_observations and no step limit: the episode boundaries cannot be recovered")
	}
	return d.FillTimeouts(maxSteps), fmt.Sprintf("every %d steps without a terminal (the step limit, as D4RL does for v0 files)", maxSteps), nil
}

// FillTimeouts sets a timeout on every step that ends an episode of
// maxSteps steps without a terminal, the fallback D4RL applies to v0-era
// files that lack timeouts, and clears TimeoutsMissing. It returns the
// number of timeouts set.
func (d *Dataset) FillTimeouts(maxSteps int) int {
	if maxSteps <= 0 {
		panic(fmt.Sprintf("dataset: FillTimeouts(%d)", maxSteps))
	}
	d.TimeoutsMissing = false
	n, t := 0, 0
	for i := range d.N {
		t++
		switch {
		case d.Terminals[i] || d.Timeouts[i]:
			t = 0
		case t == maxSteps:
			d.Timeouts[i] = true
			n++
			t = 0
		}
	}
	return n
}
