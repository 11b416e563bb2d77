package envs

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// walk is a toy env for testing the API: the state is a position x that
// moves by the action plus noise from the env's generator; the episode
// terminates when |x| > 3. Reward = action.
type walk struct {
	rng   *rand.Rand
	x     float64
	obs   []float64
	info  Info
	ep    Episode
	space Space // interface-typed: converting a Box value per step would allocate
}

func newWalk() *walk {
	return &walk{rng: rand.New(rand.NewPCG(0, 0)), obs: make([]float64, 1), space: NewBox(1, -1, 1)}
}

func (w *walk) Reset(seed Seed) ([]float64, *Info, error) {
	if err := w.ep.Begin(); err != nil {
		return nil, nil, err
	}
	if s, ok := seed.Value(); ok {
		w.rng = rand.New(rand.NewPCG(s, 0))
	}
	w.x = w.rng.Float64() - 0.5
	w.obs[0] = w.x
	return w.obs, &w.info, nil
}

func (w *walk) Step(a []float64) (StepResult, error) {
	if err := w.ep.CanStep(); err != nil {
		return StepResult{}, err
	}
	if err := CheckAction(w.space, a); err != nil {
		return StepResult{}, err
	}
	w.x += a[0] + 0.1*w.rng.NormFloat64()
	w.obs[0] = w.x
	w.info.Set("x", w.x)
	r := StepResult{Obs: w.obs, Reward: a[0], Terminated: math.Abs(w.x) > 3, Info: &w.info}
	w.ep.End(r)
	return r, nil
}

func (w *walk) ObservationSpace() Space { return NewBox(1, math.Inf(-1), math.Inf(1)) }
func (w *walk) ActionSpace() Space      { return w.space }
func (w *walk) Close() error            { w.ep.Close(); return nil }

func init() {
	Register(Spec{ID: "test/Walk-v0", New: func(p *Params) (Env, error) {
		w := newWalk()
		w.x = p.Float("start", 0)
		return w, nil
	}, MaxEpisodeSteps: 5, RandomReturn: math.NaN(), ExpertReturn: math.NaN()})
}

func TestEpisodePhasesAndActionChecks(t *testing.T) {
	w := newWalk()
	if _, err := w.Step([]float64{0}); !errors.Is(err, ErrNotReset) {
		t.Errorf("step before reset: %v", err)
	}
	w.Reset(WithSeed(1))
	for _, a := range [][]float64{{}, {1, 2}, {math.NaN()}, {math.Inf(1)}} {
		if _, err := w.Step(a); !errors.Is(err, ErrBadAction) {
			t.Errorf("action %v: %v", a, err)
		}
	}
	for {
		r, err := w.Step([]float64{1})
		if err != nil {
			t.Fatal(err)
		}
		if r.Done() {
			break
		}
	}
	if _, err := w.Step([]float64{0}); !errors.Is(err, ErrEpisodeOver) {
		t.Errorf("step after termination: %v", err)
	}
	w.Close()
	if _, _, err := w.Reset(NoSeed); !errors.Is(err, ErrClosed) {
		t.Errorf("reset after close: %v", err)
	}
	if err := CheckAction(Discrete{N: 3}, []float64{1.5}); !errors.Is(err, ErrBadAction) {
		t.Errorf("fractional discrete action: %v", err)
	}
	if err := CheckAction(Discrete{N: 3}, []float64{2}); err != nil {
		t.Errorf("valid discrete action: %v", err)
	}
}

func TestMakeAppliesTimeLimitAndChecksParams(t *testing.T) {
	e, err := Make("test/Walk-v0")
	if err != nil {
		t.Fatal(err)
	}
	e.Reset(WithSeed(3))
	var r StepResult
	steps := 0
	for !r.Done() {
		r, err = e.Step([]float64{0})
		if err != nil {
			t.Fatal(err)
		}
		steps++
	}
	if steps != 5 || !r.Truncated || r.Terminated {
		t.Errorf("after %d steps: truncated %v terminated %v, want truncation at 5", steps, r.Truncated, r.Terminated)
	}
	if _, err := e.Step([]float64{0}); !errors.Is(err, ErrEpisodeOver) {
		t.Errorf("step after truncation: %v", err)
	}
	if _, _, err := e.Reset(WithSeed(4)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Step([]float64{0}); err != nil {
		t.Errorf("step after reset: %v", err)
	}
	if _, err := Make("test/Walk-v0", WithParam("speed", 2)); !errors.Is(err, ErrBadOption) || !strings.Contains(err.Error(), "speed") {
		t.Errorf("unknown parameter: %v", err)
	}
	if _, err := Make("test/Walk-v0", WithParam("start", 2), WithMaxEpisodeSteps(0)); err != nil {
		t.Errorf("known parameter: %v", err)
	}
	if _, err := Make("nope/Nothing-v9"); !errors.Is(err, ErrUnknownEnv) || !strings.Contains(err.Error(), "test/Walk-v0") {
		t.Errorf("unknown id: %v", err)
	}
}

func TestTimeLimitDoesNotMarkTerminalStepsTruncated(t *testing.T) {
	w := newWalk()
	tl := NewTimeLimit(w, 1)
	tl.Reset(WithSeed(1))
	w.x = 2.99 // the next step of +1 terminates
	r, _ := tl.Step([]float64{1})
	if !r.Terminated || r.Truncated {
		t.Errorf("terminated %v truncated %v", r.Terminated, r.Truncated)
	}
}

func TestSeededEpisodesRepeat(t *testing.T) {
	run := func(seed uint64) []float64 {
		e, _ := Make("test/Walk-v0")
		obs, _, _ := e.Reset(WithSeed(seed))
		out := []float64{obs[0]}
		for i := 0; i < 4; i++ {
			r, _ := e.Step([]float64{0.1})
			out = append(out, r.Obs[0])
		}
		return out
	}
	if !slices.Equal(run(7), run(7)) {
		t.Error("same seed, different trajectory")
	}
	if slices.Equal(run(7), run(8)) {
		t.Error("different seeds, same trajectory")
	}
}

func TestActionWrappers(t *testing.T) {
	w := newWalk()
	c, err := NewClipAction(w)
	if err != nil {
		t.Fatal(err)
	}
	c.Reset(WithSeed(1))
	r, _ := c.Step([]float64{5})
	if r.Reward != 1 {
		t.Errorf("clipped action reached the env as %g", r.Reward)
	}
	rs, err := NewRescaleAction(newWalk(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	rs.Reset(WithSeed(1))
	if r, _ := rs.Step([]float64{7.5}); math.Abs(r.Reward-0.5) > 1e-12 {
		t.Errorf("rescaled 7.5 in [0,10] to %g, want 0.5 in [-1,1]", r.Reward)
	}
	if _, err := NewRescaleAction(newWalk(), 1, 1); !errors.Is(err, ErrBadOption) {
		t.Errorf("empty range: %v", err)
	}
	if _, err := NewClipAction(discreteEnv{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("clip on discrete: %v", err)
	}
}

type discreteEnv struct{ Env }

func (discreteEnv) ActionSpace() Space { return Discrete{N: 2} }

func TestEpisodeStatsAndNormalizeObservation(t *testing.T) {
	s := NewEpisodeStats(NewTimeLimit(newWalk(), 3))
	s.Reset(WithSeed(2))
	var r StepResult
	for _, a := range []float64{0.5, 0.25, 0.125} {
		r, _ = s.Step([]float64{a})
	}
	if s.Last.Return != 0.875 || s.Last.Length != 3 || r.Info.Values["episode_return"] != 0.875 {
		t.Errorf("stats %+v, info %v", s.Last, r.Info.Values)
	}
	n, err := NewNormalizeObservation(newWalk())
	if err != nil {
		t.Fatal(err)
	}
	var raw []float64
	obs, _, _ := n.Reset(WithSeed(4))
	_ = obs
	for i := 0; i < 50; i++ {
		r, _ := n.Step([]float64{0.05})
		raw = append(raw, n.Env.(*walk).x)
		if i == 49 {
			mean, varr := meanVar(raw)
			// Running statistics include the reset observation as well.
			if math.Abs(n.Stats.Mean[0]-mean) > 0.1 || varr <= 0 {
				t.Errorf("running mean %g vs %g", n.Stats.Mean[0], mean)
			}
			want := (raw[49] - n.Stats.Mean[0]) / math.Sqrt(n.Stats.Var(0)+n.Eps)
			if math.Abs(r.Obs[0]-want) > 1e-12 {
				t.Errorf("normalised obs %g, want %g", r.Obs[0], want)
			}
		}
	}
}

func meanVar(xs []float64) (float64, float64) {
	var m, v float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, v / float64(len(xs))
}

func TestVectorAutoResetsAndIsDeterministic(t *testing.T) {
	mk := func(i int) (Env, error) { return Make("test/Walk-v0") }
	run := func() ([]float64, int) {
		v, err := NewVector(3, mk)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		if _, err := v.Reset(WithSeed(10)); err != nil {
			t.Fatal(err)
		}
		var trace []float64
		finals := 0
		for step := 0; step < 12; step++ {
			res, err := v.Step([]float64{0.1, -0.1, 0.2})
			if err != nil {
				t.Fatal(err)
			}
			trace = append(trace, res.Obs...)
			for i := range res.Rewards {
				if res.Truncated[i] {
					finals++
					if res.Infos[i].FinalObs == nil {
						t.Fatal("no FinalObs on auto-reset")
					}
				}
			}
		}
		return trace, finals
	}
	a, finals := run()
	b, _ := run()
	if !slices.Equal(a, b) {
		t.Error("vector runs with the same seed differ")
	}
	if finals != 6 { // 3 envs truncate at steps 5 and 10
		t.Errorf("%d truncations, want 6", finals)
	}
	v, _ := NewVector(2, mk)
	v.Reset(WithSeed(1))
	if _, err := v.Step([]float64{0}); !errors.Is(err, ErrBadAction) {
		t.Errorf("short action vector: %v", err)
	}
	// A bad row fails the whole step before any env moves.
	if _, err := v.Step([]float64{0.1, math.NaN()}); !errors.Is(err, ErrBadAction) || !strings.Contains(err.Error(), "env 1") {
		t.Errorf("NaN action of env 1: %v", err)
	}
	if _, err := v.Step([]float64{0, 0}); err != nil {
		t.Errorf("after the refused step: %v", err)
	}
	if n := v.Envs[0].(*TimeLimit).Elapsed(); n != 1 {
		t.Errorf("env 0 took %d steps, want 1 (the refused step must not count)", n)
	}
	if _, err := NewVector(0, mk); err == nil {
		t.Error("a vector of 0 envs")
	}
}

func TestNormalizedScore(t *testing.T) {
	s := Spec{ID: "x", RandomReturn: -20, ExpertReturn: 3180}
	if got, _ := s.NormalizedScore(1580); math.Abs(got-50) > 1e-12 {
		t.Errorf("score %g, want 50", got)
	}
	if _, err := (Spec{ID: "y", RandomReturn: math.NaN(), ExpertReturn: 1}).NormalizedScore(0); err == nil {
		t.Error("score without references")
	}
}

func TestBoxSampleAndContains(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	b := Box{Low: []float64{-1, math.Inf(-1), 0}, High: []float64{1, math.Inf(1), math.Inf(1)}}
	x := make([]float64, 3)
	for i := 0; i < 100; i++ {
		b.Sample(rng, x)
		if !b.Contains(x) {
			t.Fatalf("sample %v not in %v", x, b)
		}
	}
	if b.Contains([]float64{0, math.NaN(), 1}) || b.Contains([]float64{0}) {
		t.Error("Contains accepts NaN or a wrong length")
	}
}

func TestStepDoesNotAllocate(t *testing.T) {
	e, _ := Make("test/Walk-v0", WithMaxEpisodeSteps(0))
	s := NewEpisodeStats(e)
	s.Reset(WithSeed(1))
	a := []float64{0}
	s.Step(a)
	if n := testing.AllocsPerRun(100, func() { s.Step(a) }); n != 0 {
		t.Errorf("%v allocations per step", n)
	}
}
