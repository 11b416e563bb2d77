package classic

import (
	"math"
	"testing"

	"github.com/minrl/minrl/envs"
)

// near fails the test when |got − want| > tol.
func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if !(math.Abs(got-want) <= tol) {
		t.Errorf("%s = %.17g, want %.17g (±%g)", what, got, want, tol)
	}
}

// isF32 reports whether x is exactly a float32 value.
func isF32(x float64) bool { return float64(float32(x)) == x }

// Golden single steps of Pendulum-v1 (g = 10, m = l = 1, dt = 0.05). With
// u = clip(a, −2, 2):
//
//	cost = angle_normalize(θ)² + 0.1·θ̇² + 0.001·u²,  reward = −cost
//	θ̇'  = clip(θ̇ + (15·sin θ + 3u)·0.05, −8, 8),  θ' = θ + 0.05·θ̇'
//
// Derivations (the last digits from testdata/golden.py, 50-digit mpmath):
//   - θ = 0, θ̇ = 0, a = 2: cost = 0.001·4 = 0.004; θ̇' = 6·0.05 = 0.3;
//     θ' = 0.015.
//   - a = 5 is clipped to 2 before the cost: the same step and the same
//     reward −0.004 (not −0.025).
//   - θ = π/2, θ̇ = 7.5, a = 1: θ̇' = 7.5 + (15 + 3)·0.05 = 8.4, clipped to
//     8; θ' = π/2 + 0.4 = 1.9707963267948966; cost = π²/4 + 5.625 + 0.001
//     = 8.0934011002723397. The mirror image clips at −8.
//   - θ = 5, θ̇ = 0, a = 0: angle_normalize(5) = 5 − 2π = −1.2831853071795865,
//     cost = 1.6465645325615697 (25 without the normalisation);
//     θ̇' = 0.75·sin 5 = −0.71919320599735385; θ' = 5 + 0.05·θ̇'
//     = 4.9640403397001323. θ = −5 mirrors it.
//   - θ = 2π + 0.5, θ̇ = 0, a = 0: angle_normalize = 0.5, cost = 0.25;
//     θ̇' = 0.75·sin 0.5 = 0.35956915395315225; θ' = 6.8011637648772441.
func TestPendulumGolden(t *testing.T) {
	cases := []struct {
		name                     string
		th, thdot, a             float64
		wantTh, wantThdot, wantR float64
	}{
		{"rest push", 0, 0, 2, 0.015, 0.3, -0.004},
		{"clipped torque", 0, 0, 5, 0.015, 0.3, -0.004},
		{"speed clip +8", math.Pi / 2, 7.5, 1, 1.9707963267948966, 8, -8.0934011002723397},
		{"speed clip -8", -math.Pi / 2, -7.5, -1, -1.9707963267948966, -8, -8.0934011002723397},
		{"normalise 5", 5, 0, 0, 4.9640403397001323, -0.71919320599735385, -1.6465645325615697},
		{"normalise -5", -5, 0, 0, -4.9640403397001323, 0.71919320599735385, -1.6465645325615697},
		{"normalise 2pi+0.5", 2*math.Pi + 0.5, 0, 0, 6.8011637648772441, 0.35956915395315225, -0.25},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := NewPendulum(10)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.Reset(envs.WithSeed(1)); err != nil {
				t.Fatal(err)
			}
			e.setState(c.th, c.thdot)
			r, err := e.Step([]float64{c.a})
			if err != nil {
				t.Fatal(err)
			}
			near(t, "θ'", e.th, c.wantTh, 1e-12)
			near(t, "θ̇'", e.thdot, c.wantThdot, 1e-12)
			near(t, "reward", r.Reward, c.wantR, 1e-12)
			if r.Terminated || r.Truncated {
				t.Errorf("Pendulum ended an episode: %+v", r)
			}
			// The observation is the float32 rounding of [cos θ, sin θ, θ̇].
			want := []float64{f32(math.Cos(e.th)), f32(math.Sin(e.th)), f32(e.thdot)}
			for i := range want {
				if r.Obs[i] != want[i] || !isF32(r.Obs[i]) {
					t.Errorf("obs[%d] = %.17g, want float32 %.17g", i, r.Obs[i], want[i])
				}
			}
			near(t, "obs θ̇", r.Obs[2], c.wantThdot, 1e-6)
			near(t, "obs cos", r.Obs[0], math.Cos(c.wantTh), 1e-6)
		})
	}
}

// angle_normalize(x) = ((x + π) mod 2π) − π with a floored modulo: the
// result lies in [−π, π), so π and −π both map to −π and a negative
// argument does not give a negative remainder (Go's math.Mod would).
func TestAngleNormalize(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{0, 0}, {0.5, 0.5}, {-0.5, -0.5},
		{5, 5 - 2*math.Pi}, {-5, -5 + 2*math.Pi},
		{2*math.Pi + 0.5, 0.5}, {-2*math.Pi - 0.5, -0.5},
		{math.Pi, -math.Pi}, {-math.Pi, -math.Pi}, {3 * math.Pi, -math.Pi},
		{-7 * math.Pi / 2, math.Pi / 2},
	} {
		got := angleNormalize(c.x)
		near(t, "angleNormalize", got, c.want, 1e-14)
		if got < -math.Pi || got >= math.Pi {
			t.Errorf("angleNormalize(%g) = %g outside [−π, π)", c.x, got)
		}
	}
}

// g = 9.81 through Make: θ = π/2, θ̇ = 0, a = 0 gives
// θ̇' = (3·9.81/2)·1·0.05 = 0.73575, θ' = π/2 + 0.0367875.
func TestPendulumGravityParam(t *testing.T) {
	env, err := envs.Make("Pendulum-v1", envs.WithParam("g", 9.81))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := envs.Base(env).(*Pendulum)
	if !ok || p.G != 9.81 {
		t.Fatalf("Make(Pendulum-v1, g=9.81) built %T with G=%v", envs.Base(env), p.G)
	}
	if _, _, err := env.Reset(envs.WithSeed(0)); err != nil {
		t.Fatal(err)
	}
	p.setState(math.Pi/2, 0)
	r, err := env.Step([]float64{0})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "θ̇'", p.thdot, 0.73575, 1e-12)
	near(t, "θ'", p.th, 1.6075838267948966, 1e-12)
	near(t, "reward", r.Reward, -2.4674011002723397, 1e-12)
	if _, err := NewPendulum(math.NaN()); err == nil {
		t.Error("NewPendulum(NaN) gave no error")
	}
}

// Reset draws θ ~ U(−π, π) and θ̇ ~ U(−1, 1).
func TestPendulumReset(t *testing.T) {
	e, _ := NewPendulum(10)
	lo, hi := [2]float64{9, 9}, [2]float64{-9, -9}
	for s := range uint64(2000) {
		if _, _, err := e.Reset(envs.WithSeed(s)); err != nil {
			t.Fatal(err)
		}
		for i, v := range []float64{e.th, e.thdot} {
			lo[i], hi[i] = min(lo[i], v), max(hi[i], v)
		}
	}
	if lo[0] < -math.Pi || hi[0] >= math.Pi || lo[0] > -3.1 || hi[0] < 3.1 {
		t.Errorf("θ at reset spans [%g, %g], want about [−π, π)", lo[0], hi[0])
	}
	if lo[1] < -1 || hi[1] >= 1 || lo[1] > -0.99 || hi[1] < 0.99 {
		t.Errorf("θ̇ at reset spans [%g, %g], want about [−1, 1)", lo[1], hi[1])
	}
}
