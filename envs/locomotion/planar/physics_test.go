package planar

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minrl/minrl/envs/locomotion"
)

var models = []func() *Model{HopperModel, Walker2dModel, HalfCheetahModel}

func mustNew(t testing.TB, m *Model) *Physics {
	t.Helper()
	p, err := New(m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// qpos0 is the model's reference pose (InitRootZ in qpos[1]).
func qpos0(m *Model) []float64 {
	q := make([]float64, 3+len(m.Bodies)-1)
	q[1] = m.InitRootZ
	return q
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// TestForwardKinematics places robots by hand-derived poses. MuJoCo turns
// a point (x, z) about +y by θ to (x cos θ + z sin θ, −x sin θ + z cos θ).
//   - Hopper at qpos0: the foot capsule runs from x −0.13 to 0.26 at
//     z 0.1 (environments.md §7.1), the torso from z 1.45 to 1.05.
//   - Hopper with thigh_joint = −90°: the axis is (0, −1, 0), and a turn
//     by −90° about −y is a turn by +90° about +y: the thigh's far end
//     (0, −0.45) goes to (−0.45, 0) in the torso's frame, (−0.45, 1.05)
//     in the world (the thigh swings backwards).
//   - HalfCheetah with rooty = +90° (axis (0, 1, 0)): the torso capsule
//     (−0.5, 0)…(0.5, 0) goes to (0, 0.5)…(0, −0.5), around the torso
//     origin at height 0.7: the nose points down.
func TestForwardKinematics(t *testing.T) {
	geoms := func(p *Physics) []locomotion.Geom { return p.Geoms(nil) }
	h := mustNew(t, HopperModel())
	g := geoms(h)
	if len(g) != 4 {
		t.Fatalf("Hopper has %d geoms, want 4", len(g))
	}
	want := []locomotion.Geom{
		{X0: 0, Z0: 1.45, X1: 0, Z1: 1.05, Radius: 0.05},
		{X0: 0, Z0: 1.05, X1: 0, Z1: 0.6, Radius: 0.05},
		{X0: 0, Z0: 0.6, X1: 0, Z1: 0.1, Radius: 0.04},
		{X0: -0.13, Z0: 0.1, X1: 0.26, Z1: 0.1, Radius: 0.06},
	}
	for i := range want {
		if !near(g[i].X0, want[i].X0, 1e-12) || !near(g[i].Z0, want[i].Z0, 1e-12) ||
			!near(g[i].X1, want[i].X1, 1e-12) || !near(g[i].Z1, want[i].Z1, 1e-12) || g[i].Radius != want[i].Radius {
			t.Errorf("Hopper qpos0 geom %d: %+v, want %+v", i, g[i], want[i])
		}
	}
	q := qpos0(&h.m)
	q[3] = -math.Pi / 2
	if err := h.SetState(q, make([]float64, 6)); err != nil {
		t.Fatal(err)
	}
	g = geoms(h)
	if th := g[1]; !near(th.X0, 0, 1e-12) || !near(th.Z0, 1.05, 1e-12) || !near(th.X1, -0.45, 1e-12) || !near(th.Z1, 1.05, 1e-12) {
		t.Errorf("Hopper thigh at −90°: %+v, want (0, 1.05)-(−0.45, 1.05)", th)
	}
	c := mustNew(t, HalfCheetahModel())
	q = qpos0(&c.m)
	q[2] = math.Pi / 2
	if err := c.SetState(q, make([]float64, 9)); err != nil {
		t.Fatal(err)
	}
	if to := geoms(c)[0]; !near(to.X0, 0, 1e-12) || !near(to.Z0, 1.2, 1e-12) || !near(to.X1, 0, 1e-12) || !near(to.Z1, 0.2, 1e-12) {
		t.Errorf("HalfCheetah torso at rooty 90°: %+v, want (0, 1.2)-(0, 0.2)", to)
	}
}

// TestStateRoundTrip: SetState then State gives back qpos and qvel exactly
// (they are the state between steps), and the bodies placed by forward
// kinematics give back the same generalised coordinates (read∘place) to
// rounding: Box2D's Go port is float64 throughout.
func TestStateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, mk := range models {
		p := mustNew(t, mk())
		n := p.NQ()
		q, v := make([]float64, n), make([]float64, n)
		gq, gv := make([]float64, n), make([]float64, n)
		worst := 0.0
		for range 200 {
			for i := range n {
				q[i] = 4 * (2*rng.Float64() - 1)
				v[i] = 20 * (2*rng.Float64() - 1)
			}
			if err := p.SetState(q, v); err != nil {
				t.Fatal(err)
			}
			p.State(gq, gv)
			for i := range n {
				if gq[i] != q[i] || gv[i] != v[i] {
					t.Fatalf("%s: State after SetState differs at %d", p.m.Name, i)
				}
			}
			p.read(gq, gv)
			for i := range n {
				worst = max(worst, math.Abs(gq[i]-q[i]), math.Abs(gv[i]-v[i]))
			}
			if d := p.anchorGap(); d > 1e-14 {
				t.Fatalf("%s: hinges %g m apart after SetState", p.m.Name, d)
			}
		}
		t.Logf("%s: forward then inverse kinematics round trip: max error %.2g", p.m.Name, worst)
		if worst > 1e-12 {
			t.Errorf("%s: round trip error %g, want ≤ 1e-12", p.m.Name, worst)
		}
	}
}

// flightState is a state high in the air (no contact) with the joints mid
// range and random velocities, and random controls, for comparisons of
// the dynamics without contact.
func flightState(m *Model, seed uint64) (q, v, u []float64) {
	rng := rand.New(rand.NewPCG(seed, 4))
	n := 3 + len(m.Bodies) - 1
	q, v, u = make([]float64, n), make([]float64, n), make([]float64, n-3)
	q[1] = 3
	for j := range n - 3 {
		h := m.Bodies[j+1].Joint
		q[3+j] = (h.Lo + h.Hi) / 2
		v[3+j] = 0.5 * (2*rng.Float64() - 1)
		u[j] = 0.3 * (2*rng.Float64() - 1)
	}
	v[0], v[1], v[2] = 0.3, 0.2, 0.5
	return q, v, u
}

// TestMatchesReducedCoordinates compares the engine in free flight with
// refModel, an independent reduced-coordinate model of the same robot
// (MuJoCo's equations of motion: M(q)q̈ + c = τ + g − damping·q̇ −
// stiffness·q with the armature on M's diagonal), integrated by RK4 with
// a 1e-3 s step. The engine is first order in its solver step, so the
// error must shrink about linearly with Substeps and be small at 8×.
// This checks masses and inertias, the kinematics, the hinge axis signs,
// the motor directions and gears, and the emulated armature, damping and
// stiffness.
func TestMatchesReducedCoordinates(t *testing.T) {
	for _, mk := range models {
		m0 := mk()
		steps := 10 // 0.08 s
		if m0.Name == "HalfCheetah" {
			steps = 2 // 0.1 s
		}
		q, v, u := flightState(m0, 3)
		r := newRefModel(m0)
		rq, rv := append([]float64(nil), q...), append([]float64(nil), v...)
		r.rk4(rq, rv, u, float64(steps)*m0.Timestep*float64(m0.FrameSkip), 1e-3)
		var errs []float64
		for _, mul := range []int{1, 8} {
			m := mk()
			m.Substeps *= mul
			p := mustNew(t, m)
			if err := p.SetState(q, v); err != nil {
				t.Fatal(err)
			}
			for range steps {
				if err := p.Step(u); err != nil {
					t.Fatal(err)
				}
			}
			gq, gv := make([]float64, len(q)), make([]float64, len(q))
			p.State(gq, gv)
			e := 0.0
			for i := range gq {
				e = max(e, math.Abs(gq[i]-rq[i]), math.Abs(gv[i]-rv[i])/(1+math.Abs(rv[i])))
			}
			errs = append(errs, e)
		}
		t.Logf("%s: max error vs reduced coordinates (q, and qvel relative): %.2g at default substeps, %.2g at 8×", m0.Name, errs[0], errs[1])
		if errs[0] > 0.08 || errs[1] > 0.02 || errs[1] > errs[0]/3 {
			t.Errorf("%s: errors %v, want ≤ 0.08 and ≤ 0.02, shrinking with the solver step", m0.Name, errs)
		}
	}
}

// TestMotorDirections: in the air, a positive control on one joint alone
// increases that joint's angle relative to a zero control (MuJoCo:
// torque gear·ctrl on the joint's own coordinate).
func TestMotorDirections(t *testing.T) {
	for _, mk := range models {
		m := mk()
		p := mustNew(t, m)
		n := p.NQ()
		q := qpos0(m)
		q[1] += 3
		for j := range n - 3 {
			h := m.Bodies[j+1].Joint
			q[3+j] = (h.Lo + h.Hi) / 2
		}
		z := make([]float64, n)
		for j := range n - 3 {
			u := make([]float64, n-3)
			gq, gv := make([]float64, n), make([]float64, n)
			if err := p.SetState(q, z); err != nil {
				t.Fatal(err)
			}
			if err := p.Step(u); err != nil {
				t.Fatal(err)
			}
			p.State(gq, gv)
			base := gv[3+j]
			u[j] = 1
			if err := p.SetState(q, z); err != nil {
				t.Fatal(err)
			}
			if err := p.Step(u); err != nil {
				t.Fatal(err)
			}
			p.State(gq, gv)
			if gv[3+j] <= base+0.1 {
				t.Errorf("%s joint %s: ctrl +1 gives q̇ %.3f, zero ctrl %.3f", m.Name, m.Bodies[j+1].Joint.Name, gv[3+j], base)
			}
		}
	}
}

// rollout runs episodes of up to steps control steps from qpos0 plus a
// small perturbation, with actions from act, and returns the largest joint
// drift, limit violation (rad) and |qvel| seen. It fails on any Step error
// or non-finite state.
func rollout(t *testing.T, mk func() *Model, episodes, steps int, act func(rng *rand.Rand, ep, s int, u []float64)) (drift, viol, vmax float64) {
	t.Helper()
	m := mk()
	p := mustNew(t, m)
	n := p.NQ()
	rng := rand.New(rand.NewPCG(42, uint64(n)))
	q, v := make([]float64, n), make([]float64, n)
	u := make([]float64, n-3)
	for ep := range episodes {
		copy(q, qpos0(m))
		for i := range n {
			q[i] += 0.01 * (2*rng.Float64() - 1)
			v[i] = 0.01 * (2*rng.Float64() - 1)
		}
		if err := p.SetState(q, v); err != nil {
			t.Fatal(err)
		}
		for s := range steps {
			act(rng, ep, s, u)
			if err := p.Step(u); err != nil {
				t.Fatalf("%s episode %d step %d: %v", m.Name, ep, s, err)
			}
			p.State(q, v)
			for i := range n {
				if !finite(q[i]) || !finite(v[i]) {
					t.Fatalf("%s episode %d step %d: non-finite state", m.Name, ep, s)
				}
				vmax = max(vmax, math.Abs(v[i]))
			}
			for j := range n - 3 {
				h := m.Bodies[j+1].Joint
				viol = max(viol, h.Lo-q[3+j], q[3+j]-h.Hi)
			}
			drift = max(drift, p.JointDrift())
		}
	}
	return drift, viol, vmax
}

// episodes and episodeSteps size the long rollouts per robot (smaller
// under -short and the race detector, which is ~10× slower).
func episodes() int {
	if testing.Short() || raceEnabled {
		return 2
	}
	return 10
}

func episodeSteps() int {
	if testing.Short() || raceEnabled {
		return 300
	}
	return 1000
}

// TestStableUnderRandomActions: uniform random actions in [−1, 1] for
// 1000 steps per episode (the robots fall and thrash on the floor, as no
// health rule stops them here), then bang-bang actions (every control ±1,
// switched at random every 1 to 5 steps), then controls far outside
// [−1, 1] (clamped): no error, no NaN, hinges within a few millimetres.
// (With the same actions MuJoCo 2.2.2 overshoots the joint limits as much:
// its limits are soft too; the Walker's light feet the most, about 0.6 rad
// under random and 1 rad under bang-bang actions.)
func TestStableUnderRandomActions(t *testing.T) {
	for _, mk := range models {
		name := mk().Name
		drift, viol, vmax := rollout(t, mk, episodes(), episodeSteps(), func(rng *rand.Rand, _, _ int, u []float64) {
			for j := range u {
				u[j] = 2*rng.Float64() - 1
			}
		})
		t.Logf("%s random: max joint drift %.2g m, max limit violation %.3f rad, max |qvel| %.1f", name, drift, viol, vmax)
		if drift > 0.005 {
			t.Errorf("%s random: joint drift %g m", name, drift)
		}
		bdrift, bviol, bvmax := rollout(t, mk, max(episodes()/2, 1), episodeSteps(), func(rng *rand.Rand, ep, s int, u []float64) {
			if s%(1+ep%5) == 0 {
				for j := range u {
					u[j] = float64(2*rng.IntN(2) - 1)
				}
			}
		})
		t.Logf("%s bang-bang: max joint drift %.2g m, max limit violation %.3f rad, max |qvel| %.1f", name, bdrift, bviol, bvmax)
		if bdrift > 0.01 {
			t.Errorf("%s bang-bang: joint drift %g m", name, bdrift)
		}
		rollout(t, mk, 1, 300, func(rng *rand.Rand, _, _ int, u []float64) {
			for j := range u {
				u[j] = 1e6 * (2*rng.Float64() - 1)
			}
		})
	}
}

// TestDeterministic: two engines given the same state and controls follow
// bit-identical trajectories.
func TestDeterministic(t *testing.T) {
	for _, mk := range models {
		m := mk()
		a, b := mustNew(t, m), mustNew(t, mk())
		n := a.NQ()
		rng := rand.New(rand.NewPCG(9, 9))
		u := make([]float64, n-3)
		qa, va, qb, vb := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		for s := range 300 {
			for j := range u {
				u[j] = 2*rng.Float64() - 1
			}
			if err := a.Step(u); err != nil {
				t.Fatal(err)
			}
			if err := b.Step(u); err != nil {
				t.Fatal(err)
			}
			a.State(qa, va)
			b.State(qb, vb)
			for i := range n {
				if qa[i] != qb[i] || va[i] != vb[i] {
					t.Fatalf("%s step %d: states differ at %d: %v vs %v", m.Name, s, i, qa, qb)
				}
			}
		}
	}
}

// TestReplay: SetState with a state recorded mid-trajectory, on a fresh
// engine, reproduces the rest of the trajectory bit for bit (a step is a
// function of (qpos, qvel, ctrl) alone).
func TestReplay(t *testing.T) {
	for _, mk := range models {
		m := mk()
		p := mustNew(t, m)
		n := p.NQ()
		rng := rand.New(rand.NewPCG(11, 12))
		const T, k = 200, 60
		us := make([][]float64, T)
		qs, vs := make([][]float64, T), make([][]float64, T)
		for s := range T {
			us[s] = make([]float64, n-3)
			for j := range us[s] {
				us[s][j] = 2*rng.Float64() - 1
			}
			if err := p.Step(us[s]); err != nil {
				t.Fatal(err)
			}
			qs[s], vs[s] = make([]float64, n), make([]float64, n)
			p.State(qs[s], vs[s])
		}
		r := mustNew(t, mk())
		if err := r.SetState(qs[k], vs[k]); err != nil {
			t.Fatal(err)
		}
		q, v := make([]float64, n), make([]float64, n)
		for s := k + 1; s < T; s++ {
			if err := r.Step(us[s]); err != nil {
				t.Fatal(err)
			}
			r.State(q, v)
			for i := range n {
				if q[i] != qs[s][i] || v[i] != vs[s][i] {
					t.Fatalf("%s: replay from step %d differs at step %d: %v vs %v", m.Name, k, s, q, qs[s])
				}
			}
		}
		// The recorded trajectory does move: the replay is not trivial.
		if math.Abs(qs[T-1][0]-qs[k][0])+math.Abs(qs[T-1][2]-qs[k][2]) < 0.01 {
			t.Errorf("%s: the trajectory barely moved", m.Name)
		}
	}
}

func TestErrors(t *testing.T) {
	p := mustNew(t, HopperModel())
	if err := p.Step([]float64{0, 0}); err == nil {
		t.Error("Step with 2 controls: no error")
	}
	if err := p.Step([]float64{0, math.NaN(), 0}); err == nil {
		t.Error("Step with NaN: no error")
	}
	z := make([]float64, 6)
	if err := p.SetState(z[:5], z); err == nil {
		t.Error("SetState with 5 qpos: no error")
	}
	bad := make([]float64, 6)
	bad[3] = math.Inf(1)
	if err := p.SetState(bad, z); err == nil {
		t.Error("SetState with Inf: no error")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := p.Step(make([]float64, 3)); err == nil {
		t.Error("Step after Close: no error")
	}
	if err := p.SetState(z, z); err == nil {
		t.Error("SetState after Close: no error")
	}
	// A joint that came apart, or a non-finite state, is an error wrapping
	// ErrUnstable. (Tear the foot off inside the engine, with no position
	// correction during the step.)
	m := HopperModel()
	m.PositionIterations = 0
	q := mustNew(t, m)
	q.pos[3].C.X += 1
	if err := q.Step(make([]float64, 3)); err == nil || !errors.Is(err, ErrUnstable) {
		t.Errorf("Step with a torn joint: %v, want ErrUnstable", err)
	}
	q = mustNew(t, HopperModel())
	q.vel[0].W = math.NaN()
	if err := q.Step(make([]float64, 3)); err == nil || !errors.Is(err, ErrUnstable) {
		t.Errorf("Step from a NaN velocity: %v, want ErrUnstable", err)
	}
}
