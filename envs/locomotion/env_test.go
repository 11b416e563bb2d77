package locomotion

import (
	"errors"
	"math"
	"testing"

	"github.com/minrl/minrl/envs"
)

// fakePhysics moves the root by ctrl[0]·dt per step along x, sets the
// height to qpos[1] − ctrl[1], and the first joint velocity to 50·ctrl[2],
// so that every task rule can be driven exactly.
type fakePhysics struct {
	qpos, qvel []float64
	dt         float64
	fail       bool
}

func (f *fakePhysics) SetState(qpos, qvel []float64) error {
	f.qpos, f.qvel = append([]float64(nil), qpos...), append([]float64(nil), qvel...)
	return nil
}
func (f *fakePhysics) State(qpos, qvel []float64) { copy(qpos, f.qpos); copy(qvel, f.qvel) }
func (f *fakePhysics) Step(ctrl []float64) error {
	if f.fail {
		f.qpos[1] = math.NaN()
		return errors.New("simulation unstable")
	}
	f.qvel[0] = ctrl[0]
	f.qpos[0] += ctrl[0] * f.dt
	f.qpos[1] -= ctrl[1]
	f.qvel[3] = 50 * ctrl[2]
	return nil
}
func (f *fakePhysics) Dt() float64 { return f.dt }
func (f *fakePhysics) Geoms(dst []Geom) []Geom {
	return append(dst, Geom{X0: f.qpos[0], Z0: f.qpos[1], X1: f.qpos[0], Z1: f.qpos[1] - 0.4, Radius: 0.05})
}
func (f *fakePhysics) Close() error { return nil }

func TestHopperRewardsObservationAndTermination(t *testing.T) {
	e := New(Hopper(), &fakePhysics{dt: 0.008}, 1)
	obs, _, err := e.Reset(envs.WithSeed(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 11 || math.Abs(obs[0]-1.25) > 0.005 {
		t.Fatalf("reset obs %v: want 11 values starting near the height 1.25", obs)
	}
	// Move forward 0.5 m/s with a small control: reward = 0.5 + 1 − 1e-3·Σa².
	a := []float64{0.5, 0, 0.4}
	r, err := e.Step(a)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.5 + 1 - 1e-3*(0.25+0.16)
	if math.Abs(r.Reward-want) > 1e-12 || r.Terminated || r.Truncated {
		t.Errorf("reward %.15g (want %.15g), terminated %v", r.Reward, want, r.Terminated)
	}
	// qvel[3] = 20 is clipped to 10 in the observation (slot 5 + 3).
	if r.Obs[8] != 10 {
		t.Errorf("clipped joint velocity %g, want 10", r.Obs[8])
	}
	if v := r.Info.Values["reward_ctrl"]; math.Abs(v+1e-3*0.41) > 1e-15 {
		t.Errorf("info reward_ctrl %g", v)
	}
	// Drop below 0.7: terminated, and the healthy reward is still paid.
	r, _ = e.Step([]float64{0, 0.6, 0})
	if !r.Terminated || math.Abs(r.Reward-(1-1e-3*0.36)) > 1e-12 {
		t.Errorf("fall: terminated %v reward %g", r.Terminated, r.Reward)
	}
	if _, err := e.Step(a); !errors.Is(err, envs.ErrEpisodeOver) {
		t.Errorf("step after the fall: %v", err)
	}
}

func TestHalfCheetahNeverTerminatesAndUsesItsCtrlCost(t *testing.T) {
	e := New(HalfCheetah(), &fakePhysics{dt: 0.05}, 1)
	e.Reset(envs.WithSeed(1))
	r, _ := e.Step([]float64{1, 5, 0, 0, 0, 0}) // falls "through the floor": no health rule
	want := 1 - 0.1*26
	if r.Terminated || math.Abs(r.Reward-want) > 1e-12 {
		t.Errorf("terminated %v reward %g (want %g)", r.Terminated, r.Reward, want)
	}
	if len(r.Obs) != 17 {
		t.Errorf("obs has %d values", len(r.Obs))
	}
}

func TestSimulatorFailureEndsTheEpisodeWithAnError(t *testing.T) {
	p := &fakePhysics{dt: 0.008}
	e := New(Walker2d(), p, 1)
	e.Reset(envs.WithSeed(1))
	p.fail = true
	r, err := e.Step(make([]float64, 6))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Terminated || r.Info.Err == nil || math.IsNaN(r.Reward) {
		t.Errorf("terminated %v err %v reward %g", r.Terminated, r.Info.Err, r.Reward)
	}
}

func TestResetNoiseIsSeededAndSmall(t *testing.T) {
	e := New(Hopper(), &fakePhysics{dt: 0.008}, 1)
	a, _, _ := e.Reset(envs.WithSeed(5))
	first := append([]float64(nil), a...)
	b, _, _ := e.Reset(envs.WithSeed(5))
	for i := range first {
		if first[i] != b[i] {
			t.Fatal("same seed, different reset")
		}
		if math.Abs(first[i]-[]float64{1.25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}[i]) > 0.005 {
			t.Errorf("reset noise at %d exceeds 0.005: %g", i, first[i])
		}
	}
	c, _, _ := e.Reset(envs.WithSeed(6))
	if c[0] == first[0] && c[1] == first[1] {
		t.Error("different seeds, same reset")
	}
}

func TestStateRoundTripAndBadStates(t *testing.T) {
	e := New(Hopper(), &fakePhysics{dt: 0.008}, 1)
	e.Reset(envs.WithSeed(1))
	qpos, qvel := []float64{1, 1.3, 0.1, -0.2, -0.3, 0.1}, []float64{1, 2, 3, 4, 5, 6}
	if err := e.SetState(qpos, qvel); err != nil {
		t.Fatal(err)
	}
	gp, gv := e.State()
	for i := range qpos {
		if gp[i] != qpos[i] || gv[i] != qvel[i] {
			t.Fatal("state does not round-trip")
		}
	}
	if e.Obs()[0] != 1.3 {
		t.Errorf("observation after SetState %v", e.Obs())
	}
	if err := e.SetState(qpos[:3], qvel); err == nil {
		t.Error("short qpos accepted")
	}
	if err := e.SetState([]float64{0, math.NaN(), 0, 0, 0, 0}, qvel); err == nil {
		t.Error("NaN state accepted")
	}
}

func TestRenderDrawsTheRobot(t *testing.T) {
	e := New(Hopper(), &fakePhysics{dt: 0.008}, 1)
	e.Reset(envs.WithSeed(1))
	img, err := e.Render(64, 48)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 {
		t.Fatalf("image %v", b)
	}
	robot := 0
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			if c := img.RGBAAt(x, y); c.R > 150 && c.G < 120 {
				robot++
			}
		}
	}
	if robot == 0 {
		t.Error("no robot pixels")
	}
	if _, err := e.Render(4, 4); err == nil {
		t.Error("a 4x4 render")
	}
}

func TestStepDoesNotAllocate(t *testing.T) {
	e := New(Hopper(), &fakePhysics{dt: 0.008}, 1)
	e.Reset(envs.WithSeed(1))
	a := []float64{0.1, 0, 0}
	e.Step(a)
	if n := testing.AllocsPerRun(100, func() { e.Step(a) }); n != 0 {
		t.Errorf("%v allocations per step", n)
	}
}
