//go:build mujoco

package planar

// Comparisons with the real MuJoCo engine (envs/locomotion/mujoco, build
// tag mujoco, Debian's libmujoco-dev 2.2.2) on the same models, states,
// seeds and actions.

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/envs/locomotion"
	"github.com/minrl/minrl/envs/locomotion/mujoco"
)

var tasks = map[string]func() *locomotion.Task{
	"Hopper": locomotion.Hopper, "Walker2d": locomotion.Walker2d, "HalfCheetah": locomotion.HalfCheetah,
}

// TestFlightMatchesMuJoCo: in the air (no contact) the two engines agree
// to the solver's first-order error (MuJoCo integrates the Hopper and the
// Walker by RK4, the HalfCheetah by Euler at 0.01 s).
func TestFlightMatchesMuJoCo(t *testing.T) {
	for _, mk := range models {
		m := mk()
		p := mustNew(t, m)
		mj, err := mujoco.New(m.Name)
		if err != nil {
			t.Fatal(err)
		}
		defer mj.Close()
		q, v, u := flightState(m, 3)
		if err := p.SetState(q, v); err != nil {
			t.Fatal(err)
		}
		if err := mj.SetState(q, v); err != nil {
			t.Fatal(err)
		}
		steps := 10
		if m.Name == "HalfCheetah" {
			steps = 2
		}
		for range steps {
			if err := p.Step(u); err != nil {
				t.Fatal(err)
			}
			if err := mj.Step(u); err != nil {
				t.Fatal(err)
			}
		}
		n := len(q)
		gq, gv, mq, mv := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		p.State(gq, gv)
		mj.State(mq, mv)
		e := 0.0
		for i := range n {
			e = max(e, math.Abs(gq[i]-mq[i]), math.Abs(gv[i]-mv[i])/(1+math.Abs(mv[i])))
		}
		t.Logf("%s flight: max difference from MuJoCo %.2g (q, and qvel relative)", m.Name, e)
		if e > 0.1 {
			t.Errorf("%s flight: difference %g\n planar q %v\n mujoco q %v", m.Name, e, gq, mq)
		}
	}
}

// TestStatisticsMatchMuJoCo runs both engines through the same seeded
// episodes: uniform random actions (the D4RL "random" policy) and zero
// action. Measured (planar vs MuJoCo): random-policy episode length
// Hopper 23.2 vs 21.5 steps (return 18.3 vs 16.4), Walker2d 19.6 vs 20.4
// (2.2 vs 2.7) over 100 episodes; HalfCheetah random return −297 vs −262
// over 5 episodes (−248 vs −280 over 200); zero action Hopper 171 vs 147
// steps, Walker2d 119 vs 109 (20 episodes); the HalfCheetah's rest height
// −0.135 vs −0.132.
func TestStatisticsMatchMuJoCo(t *testing.T) {
	for _, mk := range models {
		m := mk()
		stats := map[string][3]float64{}
		retTol := 0.25 // of the HalfCheetah's random return, over 5 episodes
		for _, engine := range []string{"planar", "mujoco"} {
			var e *locomotion.Env
			var err error
			if engine == "mujoco" {
				e, err = mujoco.NewEnv(tasks[m.Name](), 0)
			} else {
				e, err = NewEnv(tasks[m.Name](), mk())
			}
			if err != nil {
				t.Fatal(err)
			}
			episodes, zeroEpisodes := 100, 20
			if m.Name == "HalfCheetah" {
				episodes = 5
			}
			if raceEnabled || testing.Short() {
				episodes, zeroEpisodes, retTol = max(episodes/5, 1), 5, 0.5
			}
			rng := rand.New(rand.NewPCG(7, 7))
			a := make([]float64, e.ActionSpace().Dim())
			var steps, ret float64
			for ep := range episodes {
				if _, _, err := e.Reset(envs.WithSeed(uint64(ep))); err != nil {
					t.Fatal(err)
				}
				for range 1000 {
					for i := range a {
						a[i] = 2*rng.Float64() - 1
					}
					r, err := e.Step(a)
					if err != nil {
						t.Fatal(err)
					}
					steps++
					ret += r.Reward
					if r.Done() {
						break
					}
				}
			}
			var zero, last float64
			clear(a)
			for ep := range zeroEpisodes {
				if _, _, err := e.Reset(envs.WithSeed(uint64(ep))); err != nil {
					t.Fatal(err)
				}
				for range 1000 {
					r, err := e.Step(a)
					if err != nil {
						t.Fatal(err)
					}
					zero++
					last = r.Obs[0]
					if r.Done() {
						break
					}
				}
			}
			stats[engine] = [3]float64{steps / float64(episodes), ret / float64(episodes), zero / float64(zeroEpisodes)}
			if m.Name == "HalfCheetah" {
				stats[engine] = [3]float64{steps / float64(episodes), ret / float64(episodes), last}
			}
			e.Close()
		}
		g, w := stats["planar"], stats["mujoco"]
		t.Logf("%s planar vs MuJoCo: random episode length %.1f vs %.1f, return %.1f vs %.1f; zero action %.3f vs %.3f",
			m.Name, g[0], w[0], g[1], w[1], g[2], w[2])
		switch m.Name {
		case "HalfCheetah":
			if math.Abs(g[1]-w[1]) > retTol*math.Abs(w[1]) || math.Abs(g[2]-w[2]) > 0.01 {
				t.Errorf("%s: random return %.1f vs %.1f, rest height %.3f vs %.3f", m.Name, g[1], w[1], g[2], w[2])
			}
		default:
			if math.Abs(g[0]-w[0]) > 0.15*w[0] || math.Abs(g[2]-w[2]) > 0.35*w[2] {
				t.Errorf("%s: random episode length %.1f vs %.1f, zero-action length %.1f vs %.1f", m.Name, g[0], w[0], g[2], w[2])
			}
		}
	}
}
