//go:build mujoco

package mujoco

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/envs/locomotion"
)

var tasks = []func() *locomotion.Task{locomotion.Hopper, locomotion.Walker2d, locomotion.HalfCheetah}

func newEnv(t testing.TB, task *locomotion.Task, seed uint64) (*locomotion.Env, *Physics) {
	t.Helper()
	e, err := NewEnv(task, seed)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, e.Phys.(*Physics)
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Masses from docs/environments.md §7 (computed there at density 1000 as
// capsule = cylinder + sphere: m = ρ(πr²L + 4/3·πr³); e.g. the torso,
// r 0.05, L 0.4: 1000·(0.0031416 + 0.0005236) = 3.665 kg; HalfCheetah's
// masses are rescaled to settotalmass 14). The table has two decimals.
func TestBodyMasses(t *testing.T) {
	want := map[string]map[string]float64{
		"Hopper": {"torso": 3.67, "thigh": 4.06, "leg": 2.78, "foot": 5.32},
		"Walker2d": {"torso": 3.67, "thigh": 4.06, "leg": 2.78, "foot": 3.17,
			"thigh_left": 4.06, "leg_left": 2.78, "foot_left": 3.17},
		"HalfCheetah": {"torso": 6.25, "bthigh": 1.54, "bshin": 1.59, "bfoot": 1.10,
			"fthigh": 1.44, "fshin": 1.20, "ffoot": 0.89},
	}
	wantTotal := map[string]float64{"Hopper": 15.8, "Walker2d": 23.7, "HalfCheetah": 14}
	for robot, bodies := range want {
		p, err := New(robot)
		if err != nil {
			t.Fatal(err)
		}
		var total float64
		for body, w := range bodies {
			m, err := p.BodyMass(body)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %s: %.4f kg (table %.2f)", robot, body, m, w)
			// 0.01: the table's own rounding (ffoot: 0.8845 → "0.89").
			if !near(m, w, 0.01) {
				t.Errorf("%s %s mass %.4f, want %.2f", robot, body, m, w)
			}
			total += m
		}
		t.Logf("%s total: %.4f kg (table %.1f)", robot, total, wantTotal[robot])
		if !near(total, wantTotal[robot], 0.05) {
			t.Errorf("%s total mass %.4f, want %.1f", robot, total, wantTotal[robot])
		}
		if _, err := p.BodyMass("nope"); err == nil {
			t.Errorf("%s: BodyMass of an unknown body: no error", robot)
		}
		p.Close()
	}
}

// The model parameters of docs/environments.md §2 and §7.
func TestModelParameters(t *testing.T) {
	deg := math.Pi / 180
	rep := func(v float64, n int) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	cat := func(xs ...[]float64) []float64 {
		var out []float64
		for _, x := range xs {
			out = append(out, x...)
		}
		return out
	}
	root := rep(0, 3)
	hopperLo, hopperHi := []float64{-150 * deg, -150 * deg, -45 * deg}, []float64{0, 0, 45 * deg}
	for _, c := range []struct {
		robot                string
		timestep, dt         float64
		integrator           int // mjINT_EULER 0, mjINT_RK4 1
		gear, armature, damp []float64
		stiffness, lo, hi    []float64
		frictions            map[string]float64
	}{
		{"Hopper", 0.002, 0.008, 1, rep(200, 3), cat(root, rep(1, 3)), cat(root, rep(1, 3)),
			rep(0, 6), hopperLo, hopperHi,
			map[string]float64{"torso_geom": 0.9, "thigh_geom": 0.9, "leg_geom": 0.9, "foot_geom": 2, "floor": 1}},
		{"Walker2d", 0.002, 0.008, 1, rep(100, 6), cat(root, rep(0.01, 6)), cat(root, rep(0.1, 6)),
			rep(0, 9), cat(hopperLo, hopperLo), cat(hopperHi, hopperHi),
			map[string]float64{"torso_geom": 0.9, "thigh_geom": 0.9, "leg_geom": 0.9, "foot_geom": 0.9,
				"thigh_left_geom": 0.9, "leg_left_geom": 0.9, "foot_left_geom": 1.9, "floor": 0.7}},
		{"HalfCheetah", 0.01, 0.05, 0, []float64{120, 90, 60, 120, 60, 30}, cat(root, rep(0.1, 6)),
			cat(root, []float64{6, 4.5, 3, 4.5, 3, 1.5}), cat(root, []float64{240, 180, 120, 180, 120, 60}),
			[]float64{-0.52, -0.785, -0.4, -1, -1.2, -0.5}, []float64{1.05, 0.785, 0.785, 0.7, 0.87, 0.5},
			map[string]float64{"torso": 0.4, "head": 0.4, "bfoot": 0.4, "ffoot": 0.4, "floor": 0.4}},
	} {
		p, err := New(c.robot)
		if err != nil {
			t.Fatal(err)
		}
		mi := p.modelInfo()
		if mi.timestep != c.timestep || p.Dt() != c.dt || mi.integrator != c.integrator || mi.gravityZ != -9.81 {
			t.Errorf("%s: timestep %g dt %g integrator %d gravity %g, want %g %g %d -9.81",
				c.robot, mi.timestep, p.Dt(), mi.integrator, mi.gravityZ, c.timestep, c.dt, c.integrator)
		}
		eq := func(what string, got, want []float64, tol float64) {
			if len(got) != len(want) {
				t.Errorf("%s %s: %v, want %v", c.robot, what, got, want)
				return
			}
			for i := range got {
				if !near(got[i], want[i], tol) {
					t.Errorf("%s %s: %v, want %v", c.robot, what, got, want)
					return
				}
			}
		}
		eq("gear", mi.gear, c.gear, 0)
		eq("ctrlrange low", mi.ctrlLo, rep(-1, len(c.gear)), 0)
		eq("ctrlrange high", mi.ctrlHi, rep(1, len(c.gear)), 0)
		eq("armature", mi.armature, c.armature, 0)
		eq("damping", mi.damping, c.damp, 0)
		eq("stiffness", mi.stiffness, c.stiffness, 0)
		eq("range low", mi.rangeLo[3:], c.lo, 1e-9)
		eq("range high", mi.rangeHi[3:], c.hi, 1e-9)
		for j, l := range mi.limited {
			if l != (j >= 3) {
				t.Errorf("%s: joint %d limited %v", c.robot, j, l)
			}
		}
		for g, f := range c.frictions {
			if got := p.geomFriction(g); got != f {
				t.Errorf("%s %s friction %g, want %g", c.robot, g, got, f)
			}
		}
		p.Close()
	}
}

// qpos0 is the task's InitQPos. rootz with ref 1.25 (Hopper, Walker2d)
// makes qpos[1] the torso's absolute height: MuJoCo places a body at its
// model position when the joint is at ref, so z = 1.25 + (qpos[1] − 1.25).
// HalfCheetah's rootz has no ref: z = 0.7 + qpos[1].
func TestQPos0AndHeight(t *testing.T) {
	for _, mk := range tasks {
		task := mk()
		p, err := New(task.Name)
		if err != nil {
			t.Fatal(err)
		}
		q0 := p.QPos0()
		for i := range q0 {
			if q0[i] != task.InitQPos[i] {
				t.Fatalf("%s qpos0 %v, want the task's InitQPos %v", task.Name, q0, task.InitQPos)
			}
		}
		offset := 0.0
		if task.Name == "HalfCheetah" {
			offset = 0.7
		}
		for _, h := range []float64{q0[1], q0[1] - 0.25, q0[1] + 0.1} {
			q := append([]float64(nil), q0...)
			q[1] = h
			if err := p.SetState(q, make([]float64, task.NV)); err != nil {
				t.Fatal(err)
			}
			if z := p.bodyZ("torso"); !near(z, offset+h, 1e-12) {
				t.Errorf("%s: qpos[1] = %g puts the torso at z = %g, want %g", task.Name, h, z, offset+h)
			}
		}
		p.Close()
	}
}

// The capsules at Hopper's qpos0, from docs/environments.md §7.1 (global
// coordinates): torso z 1.45→1.05 r 0.05, thigh 1.05→0.60 r 0.05, leg
// 0.60→0.10 r 0.04, foot x −0.13→0.26 at z 0.10 r 0.06.
func TestGeomsHopper(t *testing.T) {
	p, err := New("Hopper")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	want := []locomotion.Geom{
		{X0: 0, Z0: 1.45, X1: 0, Z1: 1.05, Radius: 0.05},
		{X0: 0, Z0: 1.05, X1: 0, Z1: 0.60, Radius: 0.05},
		{X0: 0, Z0: 0.60, X1: 0, Z1: 0.10, Radius: 0.04},
		{X0: -0.13, Z0: 0.10, X1: 0.26, Z1: 0.10, Radius: 0.06},
	}
	got := p.Geoms(nil)
	if len(got) != len(want) {
		t.Fatalf("%d geoms, want %d", len(got), len(want))
	}
	same := func(a, b locomotion.Geom) bool {
		const tol = 1e-12
		fwd := near(a.X0, b.X0, tol) && near(a.Z0, b.Z0, tol) && near(a.X1, b.X1, tol) && near(a.Z1, b.Z1, tol)
		rev := near(a.X0, b.X1, tol) && near(a.Z0, b.Z1, tol) && near(a.X1, b.X0, tol) && near(a.Z1, b.Z0, tol)
		return (fwd || rev) && a.Radius == b.Radius
	}
	for i := range want {
		if !same(got[i], want[i]) {
			t.Errorf("geom %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// Geoms follow the state: tip the torso upside down about its centre.
	q := p.QPos0()
	q[2] = math.Pi
	if err := p.SetState(q, make([]float64, 6)); err != nil {
		t.Fatal(err)
	}
	g := p.Geoms(nil)[1] // thigh now points up from z 1.45 to 1.90
	if !same(g, locomotion.Geom{X0: 0, Z0: 1.45, X1: 0, Z1: 1.90, Radius: 0.05}) {
		t.Errorf("thigh of the flipped hopper: %+v", g)
	}
	if n := len(p.Geoms(make([]locomotion.Geom, 2))); n != 6 {
		t.Errorf("Geoms does not append: %d", n)
	}
}

// The first observation is qpos[1:] then qvel, around qpos0 within the
// reset noise.
func TestInitialObservation(t *testing.T) {
	for _, mk := range tasks {
		task := mk()
		e, _ := newEnv(t, task, 0)
		obs, info, err := e.Reset(envs.WithSeed(11))
		if err != nil {
			t.Fatal(err)
		}
		if len(obs) != task.ObsDim {
			t.Fatalf("%s: obs has %d values, want %d", task.Name, len(obs), task.ObsDim)
		}
		qpos, qvel := e.State()
		noise := 0.005
		if task.Name == "HalfCheetah" {
			noise = 0.1
		}
		for i, v := range qpos {
			if !near(v, task.InitQPos[i], noise) {
				t.Errorf("%s: qpos[%d] = %g, not within %g of %g", task.Name, i, v, noise, task.InitQPos[i])
			}
		}
		for i := range task.NQ - 1 {
			if obs[i] != qpos[i+1] {
				t.Errorf("%s: obs[%d] = %g, want qpos[%d] = %g", task.Name, i, obs[i], i+1, qpos[i+1])
			}
		}
		for i := range task.NV {
			if obs[task.NQ-1+i] != qvel[i] {
				t.Errorf("%s: obs[%d] = %g, want qvel[%d] = %g", task.Name, task.NQ-1+i, obs[task.NQ-1+i], i, qvel[i])
			}
			if task.Name != "HalfCheetah" && math.Abs(qvel[i]) > noise {
				t.Errorf("%s: qvel[%d] = %g beyond the reset noise", task.Name, i, qvel[i])
			}
		}
		if info.Values["x_position"] != qpos[0] {
			t.Errorf("%s: info x_position %g, want %g", task.Name, info.Values["x_position"], qpos[0])
		}
		if task.Name != "HalfCheetah" && !near(obs[0], 1.25, noise) {
			t.Errorf("%s: initial height obs[0] = %g, want 1.25 ± %g", task.Name, obs[0], noise)
		}
	}
}

func randomActions(n, dim int, seed uint64) [][]float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, dim)
		for j := range out[i] {
			out[i][j] = 2*rng.Float64() - 1
		}
	}
	return out
}

// trajectory runs actions from a seeded reset (resetting with NoSeed when
// an episode ends) and returns every observation and reward.
func trajectory(t testing.TB, e *locomotion.Env, seed uint64, actions [][]float64) (obs [][]float64, rew []float64) {
	o, _, err := e.Reset(envs.WithSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	obs = append(obs, append([]float64(nil), o...))
	for _, a := range actions {
		r, err := e.Step(a)
		if err != nil {
			t.Fatal(err)
		}
		if r.Info.Err != nil {
			t.Fatalf("%s: simulation error: %v", e.Task.Name, r.Info.Err)
		}
		obs = append(obs, append([]float64(nil), r.Obs...))
		rew = append(rew, r.Reward)
		if r.Done() {
			if o, _, err = e.Reset(envs.NoSeed); err != nil {
				t.Fatal(err)
			}
			obs = append(obs, append([]float64(nil), o...))
		}
	}
	return obs, rew
}

func bitEqual(a, b [][]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		for j := range a[i] {
			if math.Float64bits(a[i][j]) != math.Float64bits(b[i][j]) {
				return false
			}
		}
	}
	return true
}

// Same seed and actions: bit-identical trajectories, on a fresh env and
// on a reused one; another seed: a different start.
func TestSeededDeterminism(t *testing.T) {
	for _, mk := range tasks {
		task := mk()
		acts := randomActions(300, task.ActDim, 5)
		e1, _ := newEnv(t, task, 0)
		e2, _ := newEnv(t, mk(), 99)
		o1, r1 := trajectory(t, e1, 42, acts)
		o2, r2 := trajectory(t, e2, 42, acts)
		o3, r3 := trajectory(t, e1, 42, acts)
		if !bitEqual(o1, o2) || !bitEqual([][]float64{r1}, [][]float64{r2}) {
			t.Errorf("%s: two envs, same seed and actions: trajectories differ", task.Name)
		}
		if !bitEqual(o1, o3) || !bitEqual([][]float64{r1}, [][]float64{r3}) {
			t.Errorf("%s: the same env reset with the same seed: trajectories differ", task.Name)
		}
		o4, _ := trajectory(t, e2, 43, acts[:1])
		if bitEqual(o1[:1], o4[:1]) {
			t.Errorf("%s: seeds 42 and 43 give the same first observation", task.Name)
		}
	}
}

// State and SetState round-trip exactly; replaying the actions from a
// stored state reproduces the run. MuJoCo's constraint solver starts from
// the previous step's accelerations (qacc_warmstart), which a stored state
// does not carry, so the replay agrees to solver tolerance, not bit for
// bit; two replays from the same state agree bit for bit.
func TestStateRoundTripAndReplay(t *testing.T) {
	for _, mk := range tasks {
		task := mk()
		e, _ := newEnv(t, task, 0)
		if _, _, err := e.Reset(envs.WithSeed(3)); err != nil {
			t.Fatal(err)
		}
		// Mild actions keep Hopper and Walker2d up for the whole run.
		acts := randomActions(50, task.ActDim, 8)
		for _, a := range acts {
			for j := range a {
				a[j] *= 0.1
			}
		}
		const k = 20
		var qk, vk []float64
		var want [][]float64
		for i, a := range acts {
			if i == k {
				qk, vk = e.State()
				want = append(want, append([]float64(nil), e.Obs()...))
			}
			r, err := e.Step(a)
			if err != nil {
				t.Fatal(err)
			}
			if r.Done() {
				t.Fatalf("%s: episode ended at step %d; pick milder actions", task.Name, i)
			}
			if i >= k {
				want = append(want, append([]float64(nil), r.Obs...))
			}
		}
		replay := func() [][]float64 {
			if err := e.SetState(qk, vk); err != nil {
				t.Fatal(err)
			}
			q, v := e.State()
			for i := range q {
				if q[i] != qk[i] || v[i] != vk[i] {
					t.Fatalf("%s: State after SetState differs: %v %v, want %v %v", task.Name, q, v, qk, vk)
				}
			}
			out := [][]float64{append([]float64(nil), e.Obs()...)}
			for _, a := range acts[k:] {
				r, err := e.Step(a)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, append([]float64(nil), r.Obs...))
			}
			return out
		}
		got := replay()
		if !bitEqual(got[:1], want[:1]) {
			t.Errorf("%s: the observation of a restored state differs", task.Name)
		}
		var maxDiff float64
		for i := range got {
			for j := range got[i] {
				maxDiff = max(maxDiff, math.Abs(got[i][j]-want[i][j]))
			}
		}
		t.Logf("%s: replay of %d steps from a stored state: max |Δobs| = %.3g", task.Name, len(acts)-k, maxDiff)
		if maxDiff > 1e-9 {
			t.Errorf("%s: replay drifts by %g", task.Name, maxDiff)
		}
		if again := replay(); !bitEqual(got, again) {
			t.Errorf("%s: two replays from the same state differ", task.Name)
		}
		if err := e.SetState(qk[1:], vk); err == nil {
			t.Errorf("%s: SetState with a short qpos: no error", task.Name)
		}
	}
}

// A MuJoCo warning (it then silently resets mjData) becomes the step's
// error: the episode terminates with Info.Err wrapping ErrUnstable, the
// state stays where the step began, and MuJoCo writes no log file.
func TestWarningEndsEpisode(t *testing.T) {
	for _, mk := range tasks {
		task := mk()
		e, p := newEnv(t, task, 0)
		zero := make([]float64, task.ActDim)
		cases := []struct {
			name  string
			setup func() error
		}{
			// A finite but absurd joint speed: the constraint forces give a
			// qacc beyond MuJoCo's 1e10 (mjWARN_BADQACC).
			{"huge qvel", func() error {
				qv := make([]float64, task.NV)
				qv[3] = 1e6
				return e.SetState(task.InitQPos, qv)
			}},
			// A NaN written behind the env's back (mjWARN_BADQVEL).
			{"NaN qvel", func() error {
				if _, _, err := e.Reset(envs.WithSeed(1)); err != nil {
					return err
				}
				p.qvel[2] = math.NaN()
				return nil
			}},
		}
		for _, c := range cases {
			if err := c.setup(); err != nil {
				t.Fatal(err)
			}
			q0, v0 := e.State()
			r, err := e.Step(zero)
			if err != nil {
				t.Fatalf("%s %s: Step error %v; want the episode to end with Info.Err", task.Name, c.name, err)
			}
			if !r.Terminated || r.Truncated || r.Info.Err == nil || !errors.Is(r.Info.Err, ErrUnstable) {
				t.Fatalf("%s %s: terminated %v, Info.Err %v; want a termination with ErrUnstable", task.Name, c.name, r.Terminated, r.Info.Err)
			}
			t.Logf("%s %s: %v", task.Name, c.name, r.Info.Err)
			q1, v1 := e.State()
			if !bitEqual([][]float64{q0, v0}, [][]float64{q1, v1}) {
				t.Errorf("%s %s: state after the failed step %v %v, want the state before %v %v", task.Name, c.name, q1, v1, q0, v0)
			}
			if _, err := e.Step(zero); !errors.Is(err, envs.ErrEpisodeOver) {
				t.Errorf("%s %s: Step after the failure: %v, want ErrEpisodeOver", task.Name, c.name, err)
			}
		}
		// The env recovers on Reset.
		if _, _, err := e.Reset(envs.NoSeed); err != nil {
			t.Fatal(err)
		}
		if r, err := e.Step(zero); err != nil || r.Info.Err != nil {
			t.Errorf("%s: Step after Reset: %v %v", task.Name, err, r.Info.Err)
		}
		// States MuJoCo would reject are refused up front.
		qv := make([]float64, task.NV)
		qv[0] = 2 * MaxAbs
		if err := p.SetState(task.InitQPos, qv); err == nil {
			t.Errorf("%s: SetState with |qvel| > MaxAbs: no error", task.Name)
		}
		qv[0] = math.NaN()
		if err := e.SetState(task.InitQPos, qv); err == nil {
			t.Errorf("%s: env SetState with NaN: no error", task.Name)
		}
		if err := p.Step(append(zero[:0:0], math.NaN(), 0, 0, 0, 0, 0)[:task.ActDim]); err == nil {
			t.Errorf("%s: Physics.Step with a NaN control: no error", task.Name)
		}
		if err := p.Step(zero[1:]); err == nil {
			t.Errorf("%s: Physics.Step with too few controls: no error", task.Name)
		}
	}
	if !handlersInstalled() {
		t.Error("MuJoCo's default error handlers are installed")
	}
	if _, err := os.Stat("MUJOCO_LOG.TXT"); err == nil {
		t.Error("MuJoCo wrote MUJOCO_LOG.TXT into the working directory")
	}
}

// Controls beyond ctrlrange act as ±1 (MuJoCo's ctrllimited clamping),
// even values that MuJoCo's bad-number check would reject.
func TestControlClamped(t *testing.T) {
	p1, _ := New("Hopper")
	p2, _ := New("Hopper")
	defer p1.Close()
	defer p2.Close()
	for range 5 {
		if err := p1.Step([]float64{1, -1, 1}); err != nil {
			t.Fatal(err)
		}
		if err := p2.Step([]float64{1e300, -7, 2}); err != nil {
			t.Fatal(err)
		}
	}
	q1, v1 := make([]float64, 6), make([]float64, 6)
	q2, v2 := make([]float64, 6), make([]float64, 6)
	p1.State(q1, v1)
	p2.State(q2, v2)
	if !bitEqual([][]float64{q1, v1}, [][]float64{q2, v2}) {
		t.Errorf("clamped controls differ: %v %v vs %v %v", q1, v1, q2, v2)
	}
}

// MuJoCo errors (mju_error, which by default ends the process) come back
// as Go errors: a step with an integrator MuJoCo does not know, and models
// that do not compile. The physics stays usable after the error.
func TestMuJoCoErrorIsAnError(t *testing.T) {
	xml, err := ModelXML("Hopper")
	if err != nil {
		t.Fatal(err)
	}
	p, free, err := fromXML(string(xml), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer free()
	q0, v0 := make([]float64, 6), make([]float64, 6)
	p.State(q0, v0)
	p.setIntegrator(7)
	err = p.Step([]float64{0, 0, 0})
	if err == nil {
		t.Fatal("step with integrator 7: no error")
	}
	t.Logf("unknown integrator: %v", err)
	if errors.Is(err, ErrUnstable) {
		t.Errorf("a MuJoCo error reported as a warning: %v", err)
	}
	q1, v1 := make([]float64, 6), make([]float64, 6)
	p.State(q1, v1)
	if !bitEqual([][]float64{q0, v0}, [][]float64{q1, v1}) {
		t.Errorf("state after the error %v %v, want %v %v", q1, v1, q0, v0)
	}
	p.setIntegrator(1)
	if err := p.Step([]float64{0, 0, 0}); err != nil {
		t.Errorf("step after the error: %v", err)
	}
	if _, _, err := fromXML(`<mujoco><worldbody><geom type="capsule" size="-1"/></worldbody></mujoco>`, 1); err == nil {
		t.Error("invalid model: no error")
	} else {
		t.Logf("invalid model: %v", err)
	}
	if _, _, err := fromXML(`<mujoco><nonsense/></mujoco>`, 1); err == nil {
		t.Error("unknown element: no error")
	}
	if _, err := New("Ant"); err == nil {
		t.Error("New(Ant): no error")
	}
	if !handlersInstalled() {
		t.Error("loading a model left MuJoCo's default handlers installed")
	}
	if _, err := os.Stat("MUJOCO_LOG.TXT"); err == nil {
		t.Error("MuJoCo wrote MUJOCO_LOG.TXT into the working directory")
	}
}

func TestStepAllocs(t *testing.T) {
	for _, mk := range tasks {
		task := mk()
		e, _ := newEnv(t, task, 0)
		if _, _, err := e.Reset(envs.WithSeed(1)); err != nil {
			t.Fatal(err)
		}
		acts := randomActions(64, task.ActDim, 2)
		i := 0
		step := func() {
			r, err := e.Step(acts[i%len(acts)])
			i++
			if err != nil {
				t.Fatal(err)
			}
			if r.Done() {
				if _, _, err := e.Reset(envs.NoSeed); err != nil {
					t.Fatal(err)
				}
			}
		}
		step()
		if n := testing.AllocsPerRun(300, step); n != 0 {
			t.Errorf("%s: %g allocations per Step", task.Name, n)
		}
	}
}

// Uniform random actions for 3000 steps per robot: no NaN, no simulator
// error; the episode lengths and returns are logged.
func TestRandomRollouts(t *testing.T) {
	for _, mk := range tasks {
		task := mk()
		e, _ := newEnv(t, task, 0)
		if _, _, err := e.Reset(envs.WithSeed(9)); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(9, 9))
		a := make([]float64, task.ActDim)
		var episodes, steps, epSteps int
		var ret, sumRet float64
		for range 3000 {
			for j := range a {
				a[j] = 2*rng.Float64() - 1
			}
			r, err := e.Step(a)
			if err != nil {
				t.Fatal(err)
			}
			if r.Info.Err != nil {
				t.Fatalf("%s: %v", task.Name, r.Info.Err)
			}
			for i, v := range r.Obs {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%s: obs[%d] = %g", task.Name, i, v)
				}
			}
			if math.IsNaN(r.Reward) || math.IsInf(r.Reward, 0) {
				t.Fatalf("%s: reward %g", task.Name, r.Reward)
			}
			ret += r.Reward
			steps++
			if r.Done() {
				episodes++
				epSteps += steps
				sumRet += ret
				ret, steps = 0, 0
				if _, _, err := e.Reset(envs.NoSeed); err != nil {
					t.Fatal(err)
				}
			}
		}
		if episodes > 0 {
			t.Logf("%s: %d episodes in 3000 random steps, mean length %.1f, mean return %.2f",
				task.Name, episodes, float64(epSteps)/float64(episodes), sumRet/float64(episodes))
		} else {
			t.Logf("%s: no episode ended in 3000 random steps; return %.2f", task.Name, ret)
		}
	}
}

func TestRegistry(t *testing.T) {
	for _, mk := range tasks {
		task := mk()
		id := "minrl/" + task.Name + "-mujoco-v0"
		spec, err := envs.Lookup(id)
		if err != nil {
			t.Fatal(err)
		}
		if spec.MaxEpisodeSteps != 1000 || !math.IsNaN(spec.RandomReturn) || !math.IsNaN(spec.ExpertReturn) {
			t.Errorf("%s: spec %+v", id, spec)
		}
		e, err := envs.Make(id)
		if err != nil {
			t.Fatal(err)
		}
		if e.ObservationSpace().Dim() != task.ObsDim || e.ActionSpace().Dim() != task.ActDim {
			t.Errorf("%s: spaces %v %v", id, e.ObservationSpace(), e.ActionSpace())
		}
		if _, ok := envs.As[envs.StateEnv](e); !ok {
			t.Errorf("%s: not a StateEnv", id)
		}
		if _, ok := envs.As[envs.Renderer](e); !ok {
			t.Errorf("%s: not a Renderer", id)
		}
		e.Close()
		if _, err := envs.Make(id, envs.WithParam("g", 1)); !errors.Is(err, envs.ErrBadOption) {
			t.Errorf("%s with an unknown parameter: %v", id, err)
		}
	}
	// HalfCheetah never terminates: Make's time limit truncates at 1000.
	e, err := envs.Make("minrl/HalfCheetah-mujoco-v0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, _, err := e.Reset(envs.WithSeed(0)); err != nil {
		t.Fatal(err)
	}
	a := make([]float64, 6)
	for i := 1; i <= 1000; i++ {
		r, err := e.Step(a)
		if err != nil {
			t.Fatal(err)
		}
		if r.Terminated || r.Truncated != (i == 1000) {
			t.Fatalf("step %d: terminated %v truncated %v", i, r.Terminated, r.Truncated)
		}
	}
}

// Envs share a compiled model; each has its own data, so envs in
// separate goroutines run as they do alone.
func TestConcurrentEnvs(t *testing.T) {
	task := locomotion.Walker2d()
	acts := randomActions(100, task.ActDim, 4)
	e, _ := newEnv(t, task, 0)
	want, _ := trajectory(t, e, 7, acts)
	var wg sync.WaitGroup
	got := make([][][]float64, 4)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := NewEnv(locomotion.Walker2d(), 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer e.Close()
			got[g], _ = trajectory(t, e, 7, acts)
		}()
	}
	wg.Wait()
	for g := range got {
		if !bitEqual(got[g], want) {
			t.Errorf("goroutine %d: trajectory differs", g)
		}
	}
}

func TestRenderAndClose(t *testing.T) {
	e, p := newEnv(t, locomotion.Hopper(), 0)
	if _, _, err := e.Reset(envs.WithSeed(0)); err != nil {
		t.Fatal(err)
	}
	img, err := e.Render(96, 64)
	if err != nil {
		t.Fatal(err)
	}
	// The torso's capsule is drawn at the image's centre column.
	if c := img.RGBAAt(48, 24); c.R != 200 || c.G != 90 {
		t.Errorf("no robot colour at the torso: %v", c)
	}
	if _, err := e.Render(8, 8); err == nil {
		t.Error("Render(8, 8): no error")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := e.Step(make([]float64, 3)); !errors.Is(err, envs.ErrClosed) {
		t.Errorf("Step after Close: %v", err)
	}
	if err := p.Step(make([]float64, 3)); err == nil {
		t.Error("Physics.Step after Close: no error")
	}
	if err := p.SetState(make([]float64, 6), make([]float64, 6)); err == nil {
		t.Error("Physics.SetState after Close: no error")
	}
	if g := p.Geoms(nil); len(g) != 0 {
		t.Errorf("Geoms after Close: %v", g)
	}
}

// BenchmarkStep: env steps per second on one core, uniform random actions,
// resetting when an episode ends (Hopper and Walker2d fall every few dozen
// steps under random actions, so resets are part of the cost).
func BenchmarkStep(b *testing.B) {
	for _, mk := range tasks {
		task := mk()
		b.Run(task.Name, func(b *testing.B) {
			e, _ := newEnv(b, task, 0)
			if _, _, err := e.Reset(envs.WithSeed(1)); err != nil {
				b.Fatal(err)
			}
			acts := randomActions(1024, task.ActDim, 3)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := e.Step(acts[i%len(acts)])
				if err != nil {
					b.Fatal(err)
				}
				if r.Done() {
					if _, _, err := e.Reset(envs.NoSeed); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}
