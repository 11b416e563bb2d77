package classic

import (
	"testing"

	"github.com/minrl/minrl/envs"
)

// Golden single steps of MountainCarContinuous-v0:
//
//	F = clip(a, −1, 1);  v' = clip(v + 0.0015·F − 0.0025·cos 3x, ±0.07)
//	x' = clip(x + v', −1.2, 0.6);  x' = −1.2 and v' < 0 → v' = 0
//	done = x' ≥ 0.45 and v' ≥ 0;  reward = 100·done − 0.1·a²
//
// then the state is stored as float32. The exact values are from
// testdata/golden.py; wantX, wantV are float32(x'), float32(v').
//   - x = −0.5, v = 0, a = 1: cos(−1.5) = 0.0707372016677029, v' = 0.0015 −
//     0.000176843004169257 = 0.0013231569958307427, x' =
//     −0.49867684300416926; reward −0.1.
//   - a = 3: the force is clipped to 1 (same state), the cost is on the raw
//     action: reward −0.1·9 = −0.9.
//   - x = −1.19, v = −0.05, a = 0 (left wall): v' = −0.05 − 0.0025·cos(−3.57)
//     = −0.047725…, x' = −1.2377… → clipped to −1.2, and v' < 0 → 0.
//   - x = −1.15, v = −0.03: x' = −1.1776 stays inside, v' stays −0.0276.
//   - x = −0.5, v = 0.0699, a = 1: v' = 0.0712… → clipped to 0.07,
//     x' = −0.43.
//   - x = 0.44, v = 0.02, a = 0.5: x' = 0.46013 ≥ 0.45 with v' ≥ 0: the
//     goal; reward 100 − 0.1·0.25 = 99.975, terminated.
//   - x = 0.5, v = −0.001, a = 0: x' = 0.49882 ≥ 0.45 but v' < 0: not the
//     goal, reward 0.
func TestMountainCarGolden(t *testing.T) {
	cases := []struct {
		name         string
		x, v, a      float64
		wantX, wantV float64 // float32 values
		wantR        float64
		wantDone     bool
	}{
		{"push right", -0.5, 0, 1, -0.49867683649063110352, 0.001323156990110874176, -0.1, false},
		{"raw action cost", -0.5, 0, 3, -0.49867683649063110352, 0.001323156990110874176, -0.9, false},
		{"left wall", -1.19, -0.05, 0, -1.2000000476837158203, 0, 0, false},
		{"near wall", -1.15, -0.03, 0, -1.1776179075241088867, -0.027617953717708587646, 0, false},
		{"speed clip", -0.5, 0.0699, 1, -0.43000000715255737305, 0.070000000298023223877, -0.1, false},
		{"goal", 0.44, 0.02, 0.5, 0.46012955904006958008, 0.020129561424255371094, 99.975, true},
		{"past goal rolling back", 0.5, -0.001, 0, 0.4988231658935546875, -0.001176842954009771347, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewMountainCarContinuous()
			if _, _, err := e.Reset(envs.WithSeed(5)); err != nil {
				t.Fatal(err)
			}
			e.setState(c.x, c.v)
			r, err := e.Step([]float64{c.a})
			if err != nil {
				t.Fatal(err)
			}
			// Stored as float32: the exact value rounded, bit for bit
			// unless the float64 result straddles a float32 midpoint.
			if !isF32(e.x) || !isF32(e.v) {
				t.Errorf("state (%.17g, %.17g) is not float32", e.x, e.v)
			}
			near(t, "x'", e.x, c.wantX, 1e-12)
			near(t, "v'", e.v, c.wantV, 1e-12)
			near(t, "reward", r.Reward, c.wantR, 1e-12)
			if r.Obs[0] != e.x || r.Obs[1] != e.v {
				t.Errorf("obs %v, want the state (%g, %g)", r.Obs, e.x, e.v)
			}
			if r.Terminated != c.wantDone {
				t.Errorf("terminated %v, want %v", r.Terminated, c.wantDone)
			}
		})
	}
}

// Reset draws x ~ U(−0.6, −0.4) and keeps it in float64 (Gymnasium stores
// np.array([uniform(), 0]), a float64 array); v = 0.
func TestMountainCarReset(t *testing.T) {
	e := NewMountainCarContinuous()
	lo, hi := 0.0, -1.0
	unrounded := 0
	for s := range uint64(2000) {
		obs, _, err := e.Reset(envs.WithSeed(s))
		if err != nil {
			t.Fatal(err)
		}
		if e.v != 0 || obs[1] != 0 || obs[0] != f32(e.x) {
			t.Fatalf("reset state (%g, %g) obs %v", e.x, e.v, obs)
		}
		if !isF32(e.x) {
			unrounded++
		}
		lo, hi = min(lo, e.x), max(hi, e.x)
	}
	if lo < -0.6 || hi >= -0.4 || lo > -0.599 || hi < -0.401 {
		t.Errorf("x at reset spans [%g, %g], want about [−0.6, −0.4)", lo, hi)
	}
	if unrounded < 1900 {
		t.Errorf("only %d of 2000 reset positions are not float32 values", unrounded)
	}
}
