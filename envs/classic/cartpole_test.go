package classic

import (
	"errors"
	"testing"

	"github.com/minrl/minrl/envs"
)

// Golden single steps of CartPole-v1 (g = 9.8, masscart 1, masspole 0.1,
// length 0.5, τ = 0.02; total_mass = 1.1, pml = 0.05).
//
// From rest (all four zero) with action 1 (F = +10): sin θ = 0, cos θ = 1,
//
//	temp = 10/1.1 = 100/11
//	θ̈   = (0 − 100/11) / (0.5·(4/3 − 0.1/1.1)) = −(100/11)/(41/66) = −600/41
//	ẍ   = 100/11 − 0.05·(−600/41)/1.1 = 100/11 + 300/451 = 400/41
//
// Euler uses the old velocities for the positions:
// x' = 0, ẋ' = 0.02·400/41 = 8/41, θ' = 0, θ̇' = −12/41.
// Semi-implicit uses the new ones: x' = 0.02·8/41 = 0.16/41,
// θ' = −0.24/41. Action 0 mirrors every value.
//
// From (x, ẋ, θ, θ̇) = (0.1, 0.2, 0.1, 0.5) with action 0 (F = −10),
// testdata/golden.py gives ẋ' = 0.0036210075354288445, θ̇' =
// 0.82244789770719300; Euler x' = 0.1 + 0.02·0.2 = 0.104, θ' = 0.1 +
// 0.02·0.5 = 0.11; semi-implicit x' = 0.1 + 0.02·ẋ' = 0.10007242015070858,
// θ' = 0.1 + 0.02·θ̇' = 0.11644895795414387.
func TestCartPoleGolden(t *testing.T) {
	cases := []struct {
		name   string
		semi   bool
		state  [4]float64
		action float64
		want   [4]float64
	}{
		{"rest push right euler", false, [4]float64{}, 1, [4]float64{0, 8.0 / 41, 0, -12.0 / 41}},
		{"rest push left euler", false, [4]float64{}, 0, [4]float64{0, -8.0 / 41, 0, 12.0 / 41}},
		{"rest push right semi", true, [4]float64{}, 1, [4]float64{0.16 / 41, 8.0 / 41, -0.24 / 41, -12.0 / 41}},
		{"rest push left semi", true, [4]float64{}, 0, [4]float64{-0.16 / 41, -8.0 / 41, 0.24 / 41, 12.0 / 41}},
		{"moving euler", false, [4]float64{0.1, 0.2, 0.1, 0.5}, 0,
			[4]float64{0.104, 0.0036210075354288445, 0.11, 0.82244789770719300}},
		{"moving semi", true, [4]float64{0.1, 0.2, 0.1, 0.5}, 0,
			[4]float64{0.10007242015070858, 0.0036210075354288445, 0.11644895795414387, 0.82244789770719300}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewCartPole(c.semi)
			if _, _, err := e.Reset(envs.WithSeed(3)); err != nil {
				t.Fatal(err)
			}
			e.setState(c.state)
			r, err := e.Step([]float64{c.action})
			if err != nil {
				t.Fatal(err)
			}
			for i, name := range []string{"x", "ẋ", "θ", "θ̇"} {
				near(t, name, e.state[i], c.want[i], 1e-13)
				if r.Obs[i] != f32(e.state[i]) {
					t.Errorf("obs[%d] = %.17g, want float32(%.17g)", i, r.Obs[i], e.state[i])
				}
			}
			if r.Reward != 1 || r.Terminated {
				t.Errorf("reward %g terminated %v, want 1 and false", r.Reward, r.Terminated)
			}
		})
	}
}

// Termination is |x| > 2.4 or |θ| > 12 * 2 * math.pi / 360, which Python
// evaluates to 0.20943951023931953 (rounding twice; the exactly rounded 12°
// is 0.20943951023931956, one ulp more), checked
// on the new state; the terminating step still pays 1. A state exactly on
// a threshold does not terminate (strict >). Euler with zero acceleration
// effects on positions: x' = x + 0.02·ẋ, θ' = θ + 0.02·θ̇.
//   - x = 2.39, ẋ = 1: x' = 2.41 > 2.4.   x = −2.39, ẋ = −1: x' = −2.41.
//   - x = 2.4, ẋ = 0: x' = 2.4, not beyond.
//   - θ = 0.2, θ̇ = 0.5: θ' = 0.21 > 0.2094.   θ = −0.2, θ̇ = −0.5: −0.21.
//   - θ = 12° exactly, θ̇ = 0: θ' = 12°, not beyond.
func TestCartPoleTermination(t *testing.T) {
	const thr = 0.20943951023931953 // Python: 12 * 2 * math.pi / 360
	cases := []struct {
		name  string
		state [4]float64
		want  bool
	}{
		{"x right", [4]float64{2.39, 1, 0, 0}, true},
		{"x left", [4]float64{-2.39, -1, 0, 0}, true},
		{"x on threshold", [4]float64{2.4, 0, 0, 0}, false},
		{"x on -threshold", [4]float64{-2.4, 0, 0, 0}, false},
		{"theta right", [4]float64{0, 0, 0.2, 0.5}, true},
		{"theta left", [4]float64{0, 0, -0.2, -0.5}, true},
		{"theta on threshold", [4]float64{0, 0, thr, 0}, false},
		{"theta on -threshold", [4]float64{0, 0, -thr, 0}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewCartPole(false)
			if _, _, err := e.Reset(envs.WithSeed(0)); err != nil {
				t.Fatal(err)
			}
			e.setState(c.state)
			r, err := e.Step([]float64{1})
			if err != nil {
				t.Fatal(err)
			}
			if r.Terminated != c.want || r.Reward != 1 {
				t.Fatalf("state %v -> %v: terminated %v reward %g, want %v and 1", c.state, e.state, r.Terminated, r.Reward, c.want)
			}
			_, err = e.Step([]float64{1})
			if c.want && !errors.Is(err, envs.ErrEpisodeOver) {
				t.Errorf("step after termination: %v, want ErrEpisodeOver", err)
			}
			if !c.want && err != nil {
				t.Errorf("step after a live step: %v", err)
			}
		})
	}
	if thr != cpThetaThresh {
		t.Errorf("threshold %.17g, want %.17g", cpThetaThresh, thr)
	}
}

// The integrator parameter: semi_implicit = 1 selects it, other values
// than 0 and 1 are rejected.
func TestCartPoleParam(t *testing.T) {
	for _, c := range []struct {
		v    float64
		semi bool
	}{{0, false}, {1, true}} {
		env, err := envs.Make("CartPole-v1", envs.WithParam("semi_implicit", c.v))
		if err != nil {
			t.Fatal(err)
		}
		if cp := envs.Base(env).(*CartPole); cp.SemiImplicit != c.semi {
			t.Errorf("semi_implicit=%g gave SemiImplicit=%v", c.v, cp.SemiImplicit)
		}
	}
	if _, err := envs.Make("CartPole-v1", envs.WithParam("semi_implicit", 2)); !errors.Is(err, envs.ErrBadOption) {
		t.Errorf("semi_implicit=2: %v, want ErrBadOption", err)
	}
}

// Reset draws all four state values from U(−0.05, 0.05).
func TestCartPoleReset(t *testing.T) {
	e := NewCartPole(false)
	var lo, hi [4]float64
	for s := range uint64(2000) {
		if _, _, err := e.Reset(envs.WithSeed(s)); err != nil {
			t.Fatal(err)
		}
		for i, v := range e.state {
			lo[i], hi[i] = min(lo[i], v), max(hi[i], v)
		}
	}
	for i := range lo {
		if lo[i] < -0.05 || hi[i] >= 0.05 || lo[i] > -0.049 || hi[i] < 0.049 {
			t.Errorf("state[%d] at reset spans [%g, %g], want about [−0.05, 0.05)", i, lo[i], hi[i])
		}
	}
}
