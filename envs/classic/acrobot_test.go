package classic

import (
	"math"
	"testing"

	"github.com/minrl/minrl/envs"
)

// Golden single steps of Acrobot-v1. One RK4 step of h = 0.2 of the "book"
// dynamics (acrobot.go), y' = y + h/6·(k1 + 2k2 + 2k3 + k4), is too long to
// carry out on paper; testdata/golden.py evaluates exactly these equations
// in 50-digit arithmetic, independently of the Go code. After the step,
// θ1 and θ2 are wrapped into [−π, π] by repeated ±2π and the velocities
// clipped to ±4π = ±12.566370614359172, ±9π = ±28.274333882308139.
//   - (0.1, −0.2, 0.3, −0.4), torque +1: no wrap, no clip; the tip stays
//     low, reward −1.
//   - (3, 0, 10, 0), torque 0: θ1 reaches 5.0581981448396363 > π and wraps
//     once to 5.058… − 2π = −1.2249871623399502.
//   - (−3, 0.5, −10, 0), torque −1: θ1 = −4.7779153327289422 wraps to
//     +1.5052699744506443.
//   - (0, 0, 12.5, 28), torque +1: θ̇1 = 25.4495… is clipped to 4π; both
//     angles wrap.
//   - (0, 3, 0, 25), torque +1: θ2 = 10.478940425745010 wraps twice
//     (−4π) to −2.0874301886141632; θ̇1 = −29.34 clips to −4π, θ̇2 = 75.14
//     to 9π.
//   - (2.5, 0, 0, 0), torque 0: the arm starts near the top and stays there:
//     −cos θ1 − cos(θ1 + θ2) = 1.47 > 1, terminated, reward 0.
func TestAcrobotGolden(t *testing.T) {
	v1, v2 := 4*math.Pi, 9*math.Pi
	cases := []struct {
		name     string
		state    [4]float64
		action   float64
		want     [4]float64
		wantDone bool
	}{
		{"plain", [4]float64{0.1, -0.2, 0.3, -0.4}, 2,
			[4]float64{0.12821163128912611321, -0.2118403210269760195, -0.023484731535001234171, 0.28679521459777000095}, false},
		{"wrap theta1 down", [4]float64{3, 0, 10, 0}, 1,
			[4]float64{-1.224987162339950162, -0.047616289748708479552, 10.713992027326810783, -0.40173881136833960243}, false},
		{"wrap theta1 up", [4]float64{-3, 0.5, -10, 0}, 0,
			[4]float64{1.5052699744506443085, -0.059986057142853386324, -8.8300250372360667485, -3.4239401184958462835}, false},
		{"clip dtheta1", [4]float64{0, 0, 12.5, 28}, 2,
			[4]float64{-2.1670403520433709717, -2.2844715212555893143, v1, 24.141295923268146389}, false},
		{"wrap twice, clip both", [4]float64{0, 3, 0, 25}, 2,
			[4]float64{-1.6421973008062589797, -2.0874301886141631531, -v1, v2}, false},
		{"terminal", [4]float64{2.5, 0, 0, 0}, 1,
			[4]float64{2.4242570844516451447, 0.058925912985191770182, -0.77069108424413686345, 0.60548125101441236741}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewAcrobot()
			if _, _, err := e.Reset(envs.WithSeed(7)); err != nil {
				t.Fatal(err)
			}
			e.setState(c.state)
			r, err := e.Step([]float64{c.action})
			if err != nil {
				t.Fatal(err)
			}
			for i, name := range []string{"θ1", "θ2", "θ̇1", "θ̇2"} {
				near(t, name, e.state[i], c.want[i], 1e-12*max(1, math.Abs(c.want[i])))
			}
			// Clipped velocities are the bounds exactly.
			for i, b := range []float64{v1, v2} {
				if math.Abs(c.want[2+i]) == b && math.Abs(e.state[2+i]) != b {
					t.Errorf("velocity %d = %.17g, want exactly ±%.17g", i+1, e.state[2+i], b)
				}
			}
			wantR := -1.0
			if c.wantDone {
				wantR = 0
			}
			if r.Terminated != c.wantDone || r.Reward != wantR {
				t.Errorf("terminated %v reward %g, want %v and %g", r.Terminated, r.Reward, c.wantDone, wantR)
			}
			s := e.state
			want := []float64{math.Cos(s[0]), math.Sin(s[0]), math.Cos(s[1]), math.Sin(s[1]), s[2], s[3]}
			for i := range want {
				if r.Obs[i] != f32(want[i]) {
					t.Errorf("obs[%d] = %.17g, want float32 %.17g", i, r.Obs[i], f32(want[i]))
				}
			}
		})
	}
}

// wrap moves a value into [m, M] by as many ±(M − m) as needed.
func TestWrap(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{0, 0}, {math.Pi, math.Pi}, {-math.Pi, -math.Pi},
		{4, 4 - 2*math.Pi}, {-4, -4 + 2*math.Pi},
		{10, 10 - 2*math.Pi - 2*math.Pi}, {-10, -10 + 2*math.Pi + 2*math.Pi},
		{20, 20 - 2*math.Pi - 2*math.Pi - 2*math.Pi},
	} {
		near(t, "wrap", wrap(c.x, -math.Pi, math.Pi), c.want, 1e-14)
	}
}

// The termination condition −cos θ1 − cos(θ1 + θ2) > 1 (the tip more than
// one link above the pivot): straight up gives 2; one link horizontal and
// the other up gives 1, not more; folded back (θ2 = π) gives 0; θ1 = 2.2,
// θ2 = 0 gives −2·cos 2.2 = 1.177 and θ1 = 2.0 gives 0.832; θ1 = 2, θ2 = 1
// gives −cos 2 − cos 3 = 1.406 and θ2 = −1 gives −cos 2 − cos 1 = −0.124.
func TestAcrobotTerminalCondition(t *testing.T) {
	for _, c := range []struct {
		t1, t2 float64
		want   bool
	}{
		{math.Pi, 0, true}, {-math.Pi, 0, true},
		{math.Pi / 2, math.Pi / 2, false},
		{0, math.Pi, false}, {math.Pi, math.Pi, false},
		{2.2, 0, true}, {-2.2, 0, true}, {2.0, 0, false},
		{2, 1, true}, {2, -1, false}, // 0.416 + 0.990 = 1.41; 0.416 − 0.540
	} {
		if got := acrobotTerminal([4]float64{c.t1, c.t2, 0, 0}); got != c.want {
			t.Errorf("terminal(θ1=%g, θ2=%g) = %v, want %v", c.t1, c.t2, got, c.want)
		}
	}
}

// Reset draws the four state values from U(−0.1, 0.1) and rounds them to
// float32 (Gymnasium: uniform(...).astype(np.float32)).
func TestAcrobotReset(t *testing.T) {
	e := NewAcrobot()
	var lo, hi [4]float64
	for s := range uint64(2000) {
		if _, _, err := e.Reset(envs.WithSeed(s)); err != nil {
			t.Fatal(err)
		}
		for i, v := range e.state {
			if !isF32(v) {
				t.Fatalf("reset state %v is not float32", e.state)
			}
			lo[i], hi[i] = min(lo[i], v), max(hi[i], v)
		}
	}
	for i := range lo {
		if lo[i] < -0.1 || hi[i] > 0.1 || lo[i] > -0.099 || hi[i] < 0.099 {
			t.Errorf("state[%d] at reset spans [%g, %g], want about [−0.1, 0.1]", i, lo[i], hi[i])
		}
	}
}
