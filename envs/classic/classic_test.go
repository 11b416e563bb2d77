package classic

import (
	"errors"
	"image/color"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/minrl/minrl/envs"
)

var ids = []string{"Pendulum-v1", "CartPole-v1", "MountainCarContinuous-v0", "Acrobot-v1"}

// newBase builds an environment without the time limit.
func newBase(t testing.TB, id string) envs.Env {
	t.Helper()
	s, err := envs.Lookup(id)
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.New(envs.NewParams(nil))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sampleAction draws a valid action (Box actions may exceed the bounds by
// half, to exercise the clipping).
func sampleAction(rng *rand.Rand, sp envs.Space, dst []float64) {
	sp.Sample(rng, dst)
	if _, ok := sp.(envs.Box); ok {
		for i := range dst {
			dst[i] *= 1.5
		}
	}
}

// The registry entries: limits, thresholds and spaces as Gymnasium's.
func TestRegistry(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		id        string
		steps     int
		threshold float64
		act       string
		high      []float64
	}{
		{"Pendulum-v1", 200, math.NaN(), "Box(-2, 2, (1,))", []float64{1, 1, 8}},
		{"CartPole-v1", 500, 475, "Discrete(2)", []float64{float64(float32(4.8)), inf, float64(float32(2 * 0.20943951023931953)), inf}},
		{"MountainCarContinuous-v0", 999, 90, "Box(-1, 1, (1,))", []float64{float64(float32(0.6)), float64(float32(0.07))}},
		{"Acrobot-v1", 500, -100, "Discrete(3)", []float64{1, 1, 1, 1, float64(float32(4 * math.Pi)), float64(float32(9 * math.Pi))}},
	}
	for _, c := range cases {
		s, err := envs.Lookup(c.id)
		if err != nil {
			t.Fatal(err)
		}
		if s.MaxEpisodeSteps != c.steps {
			t.Errorf("%s: MaxEpisodeSteps %d, want %d", c.id, s.MaxEpisodeSteps, c.steps)
		}
		if s.RewardThreshold != c.threshold && !(math.IsNaN(c.threshold) && math.IsNaN(s.RewardThreshold)) {
			t.Errorf("%s: RewardThreshold %g, want %g", c.id, s.RewardThreshold, c.threshold)
		}
		// Reference returns come from minrl collect (registered in classic.go):
		// measured for Pendulum-v1 only so far.
		if measured := c.id == "Pendulum-v1"; measured != !math.IsNaN(s.RandomReturn) || measured != !math.IsNaN(s.ExpertReturn) ||
			measured && !(s.RandomReturn < s.ExpertReturn) {
			t.Errorf("%s: reference returns %g, %g", c.id, s.RandomReturn, s.ExpertReturn)
		}
		e := newBase(t, c.id)
		if got := e.ActionSpace().String(); got != c.act {
			t.Errorf("%s: action space %s, want %s", c.id, got, c.act)
		}
		b := e.ObservationSpace().(envs.Box)
		low := make([]float64, len(c.high))
		for i, h := range c.high {
			low[i] = -h
		}
		if c.id == "MountainCarContinuous-v0" { // float32(−1.2) ≠ −float32(0.6)
			low = []float64{float64(float32(-1.2)), float64(float32(-0.07))}
		}
		if !slices.Equal(b.High, c.high) || !slices.Equal(b.Low, low) {
			t.Errorf("%s: observation space [%v, %v], want [%v, %v]", c.id, b.Low, b.High, low, c.high)
		}
	}
}

// Same seed and same actions give bit-identical observations and rewards;
// another seed gives another start; Reset(NoSeed) continues the stream.
func TestDeterminism(t *testing.T) {
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			run := func(seed uint64) (trace []float64) {
				e := newBase(t, id)
				rng := rand.New(rand.NewPCG(42, 0))
				a := make([]float64, e.ActionSpace().Dim())
				obs, _, err := e.Reset(envs.WithSeed(seed))
				if err != nil {
					t.Fatal(err)
				}
				trace = append(trace, obs...)
				for range 300 {
					sampleAction(rng, e.ActionSpace(), a)
					r, err := e.Step(a)
					if err != nil {
						t.Fatal(err)
					}
					trace = append(trace, r.Obs...)
					trace = append(trace, r.Reward)
					if r.Done() {
						obs, _, err := e.Reset(envs.NoSeed)
						if err != nil {
							t.Fatal(err)
						}
						trace = append(trace, obs...)
					}
				}
				return trace
			}
			a, b := run(11), run(11)
			if !slices.Equal(a, b) {
				t.Fatal("two runs with seed 11 differ")
			}
			c := run(12)
			dim := newBase(t, id).ObservationSpace().Dim()
			if slices.Equal(a[:dim], c[:dim]) {
				t.Errorf("seeds 11 and 12 give the same first observation %v", a[:dim])
			}

			// NoSeed continues: the second episode starts elsewhere; a
			// reseed repeats the first.
			e := newBase(t, id)
			o1, _, _ := e.Reset(envs.WithSeed(5))
			first := slices.Clone(o1)
			o2, _, _ := e.Reset(envs.NoSeed)
			if slices.Equal(first, o2) {
				t.Error("Reset(NoSeed) repeated the seeded start")
			}
			o3, _, _ := e.Reset(envs.WithSeed(5))
			if !slices.Equal(first, o3) {
				t.Errorf("Reset(WithSeed(5)) again gave %v, want %v", o3, first)
			}
		})
	}
}

// Bad calls are errors and change nothing.
func TestErrors(t *testing.T) {
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			e := newBase(t, id)
			sp := e.ActionSpace()
			ok := make([]float64, sp.Dim())
			if _, isBox := sp.(envs.Box); !isBox {
				ok[0] = 1
			}
			if _, err := e.Step(ok); !errors.Is(err, envs.ErrNotReset) {
				t.Errorf("step before reset: %v, want ErrNotReset", err)
			}
			obs, _, err := e.Reset(envs.WithSeed(1))
			if err != nil {
				t.Fatal(err)
			}
			before := slices.Clone(obs)
			bad := [][]float64{nil, {}, {0, 0}, {math.NaN()}, {math.Inf(1)}, {math.Inf(-1)}}
			if d, isDiscrete := sp.(envs.Discrete); isDiscrete {
				bad = append(bad, []float64{float64(d.N)}, []float64{-1}, []float64{0.5}, []float64{1e300})
			}
			for _, a := range bad {
				if _, err := e.Step(a); !errors.Is(err, envs.ErrBadAction) {
					t.Errorf("action %v: %v, want ErrBadAction", a, err)
				}
			}
			if !slices.Equal(obs, before) {
				t.Errorf("bad actions changed the observation: %v, was %v", obs, before)
			}
			if _, err := e.Step(ok); err != nil {
				t.Errorf("valid step after bad ones: %v", err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Step(ok); !errors.Is(err, envs.ErrClosed) {
				t.Errorf("step after close: %v, want ErrClosed", err)
			}
			if _, _, err := e.Reset(envs.NoSeed); !errors.Is(err, envs.ErrClosed) {
				t.Errorf("reset after close: %v, want ErrClosed", err)
			}
		})
	}
}

// A Step after termination is ErrEpisodeOver (Pendulum never terminates).
func TestStepAfterTermination(t *testing.T) {
	cp := NewCartPole(false)
	cp.Reset(envs.WithSeed(0))
	cp.setState([4]float64{2.4, 5, 0, 0})
	mc := NewMountainCarContinuous()
	mc.Reset(envs.WithSeed(0))
	mc.setState(0.449, 0.05)
	ac := NewAcrobot()
	ac.Reset(envs.WithSeed(0))
	ac.setState([4]float64{math.Pi, 0, 0, 0})
	for _, c := range []struct {
		e envs.Env
		a float64
	}{{cp, 1}, {mc, 1}, {ac, 1}} {
		r, err := c.e.Step([]float64{c.a})
		if err != nil || !r.Terminated {
			t.Fatalf("%T: the setup step did not terminate: %v %+v", c.e, err, r)
		}
		if _, err := c.e.Step([]float64{c.a}); !errors.Is(err, envs.ErrEpisodeOver) {
			t.Errorf("%T: step after termination: %v, want ErrEpisodeOver", c.e, err)
		}
		if _, _, err := c.e.Reset(envs.NoSeed); err != nil {
			t.Errorf("%T: reset after termination: %v", c.e, err)
		}
		if _, err := c.e.Step([]float64{c.a}); err != nil {
			t.Errorf("%T: step after the new reset: %v", c.e, err)
		}
	}
}

// Make adds Gymnasium's time limit: Pendulum is truncated at step 200 (and
// never terminated); unknown parameters are rejected.
func TestMake(t *testing.T) {
	env, err := envs.Make("Pendulum-v1")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Reset(envs.WithSeed(0)); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 200; i++ {
		r, err := env.Step([]float64{1})
		if err != nil {
			t.Fatal(err)
		}
		if r.Terminated {
			t.Fatalf("terminated at step %d", i)
		}
		if r.Truncated != (i == 200) {
			t.Fatalf("step %d: truncated %v", i, r.Truncated)
		}
	}
	for _, id := range ids {
		if _, err := envs.Make(id, envs.WithParam("gravity", 9.8)); !errors.Is(err, envs.ErrBadOption) {
			t.Errorf("%s with an unknown parameter: %v, want ErrBadOption", id, err)
		}
	}
	if _, err := envs.Make("Pendulum-v1", envs.WithParam("g", math.Inf(1))); err == nil {
		t.Error("Pendulum-v1 with g = +Inf: no error")
	}
}

// Observations stay in the observation space on random rollouts.
func TestObservationsInSpace(t *testing.T) {
	for _, id := range ids {
		e := newBase(t, id)
		rng := rand.New(rand.NewPCG(1, 2))
		a := make([]float64, e.ActionSpace().Dim())
		obs, _, _ := e.Reset(envs.WithSeed(9))
		for i := range 3000 {
			if !e.ObservationSpace().Contains(obs) {
				t.Fatalf("%s step %d: observation %v outside %v", id, i, obs, e.ObservationSpace())
			}
			sampleAction(rng, e.ActionSpace(), a)
			r, err := e.Step(a)
			if err != nil {
				t.Fatal(err)
			}
			obs = r.Obs
			if r.Done() {
				obs, _, _ = e.Reset(envs.NoSeed)
			}
		}
	}
}

// A steady-state Step allocates nothing (neither does an unseeded Reset).
func TestZeroAllocs(t *testing.T) {
	for _, id := range ids {
		e := newBase(t, id)
		rng := rand.New(rand.NewPCG(3, 4))
		a := make([]float64, e.ActionSpace().Dim())
		e.Reset(envs.WithSeed(1))
		step := func() {
			sampleAction(rng, e.ActionSpace(), a)
			r, err := e.Step(a)
			if err != nil {
				t.Fatal(err)
			}
			if r.Done() {
				e.Reset(envs.NoSeed)
			}
		}
		for range 10 {
			step()
		}
		if n := testing.AllocsPerRun(1000, step); n != 0 {
			t.Errorf("%s: %g allocations per step, want 0", id, n)
		}
	}
}

// Render gives an image of the requested size with a drawing on it.
func TestRender(t *testing.T) {
	for _, id := range ids {
		e := newBase(t, id)
		r, ok := e.(envs.Renderer)
		if !ok {
			t.Fatalf("%s does not implement envs.Renderer", id)
		}
		e.Reset(envs.WithSeed(0))
		a := make([]float64, e.ActionSpace().Dim())
		a[0] = 1
		e.Step(a)
		for _, sz := range [][2]int{{16, 16}, {64, 48}, {48, 64}, {600, 400}} {
			img, err := r.Render(sz[0], sz[1])
			if err != nil {
				t.Fatalf("%s %v: %v", id, sz, err)
			}
			if b := img.Bounds(); b.Dx() != sz[0] || b.Dy() != sz[1] {
				t.Errorf("%s: image %v, want %dx%d", id, b, sz[0], sz[1])
			}
			colours := map[color.RGBA]int{}
			for y := range sz[1] {
				for x := range sz[0] {
					colours[img.RGBAAt(x, y)]++
				}
			}
			if len(colours) < 2 {
				t.Errorf("%s %v: %d colour(s)", id, sz, len(colours))
			}
		}
		if _, err := r.Render(15, 100); err == nil {
			t.Errorf("%s: Render(15, 100) gave no error", id)
		}
	}
}

// BenchmarkStep reports env steps per second of each environment (with a
// Reset when an episode ends).
func BenchmarkStep(b *testing.B) {
	for _, id := range ids {
		b.Run(id, func(b *testing.B) {
			e := newBase(b, id)
			rng := rand.New(rand.NewPCG(5, 6))
			a := make([]float64, e.ActionSpace().Dim())
			sampleAction(rng, e.ActionSpace(), a)
			e.Reset(envs.WithSeed(0))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				r, err := e.Step(a)
				if err != nil {
					b.Fatal(err)
				}
				if r.Done() {
					e.Reset(envs.NoSeed)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}

// The drawing follows the state: two different states give different
// images.
func TestRenderFollowsState(t *testing.T) {
	p, _ := NewPendulum(10)
	cp, mc, ac := NewCartPole(false), NewMountainCarContinuous(), NewAcrobot()
	for _, c := range []struct {
		name   string
		r      envs.Renderer
		s1, s2 func()
	}{
		{"pendulum", p, func() { p.setState(0, 0) }, func() { p.setState(2, 0) }},
		{"cartpole", cp, func() { cp.setState([4]float64{-1, 0, 0.1, 0}) }, func() { cp.setState([4]float64{1, 0, -0.1, 0}) }},
		{"mountaincar", mc, func() { mc.setState(-0.5, 0) }, func() { mc.setState(0.3, 0) }},
		{"acrobot", ac, func() { ac.setState([4]float64{0, 0, 0, 0}) }, func() { ac.setState([4]float64{2, 1, 0, 0}) }},
	} {
		c.s1()
		a, err := c.r.Render(100, 80)
		if err != nil {
			t.Fatal(err)
		}
		c.s2()
		b, err := c.r.Render(100, 80)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(a.Pix, b.Pix) {
			t.Errorf("%s: two states render the same image", c.name)
		}
	}
}
