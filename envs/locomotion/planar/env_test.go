package planar

import (
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/minrl/minrl/envs"
)

var ids = []string{"minrl/Hopper-v0", "minrl/Walker2d-v0", "minrl/HalfCheetah-v0"}

func makeEnv(t testing.TB, id string) envs.Env {
	t.Helper()
	e, err := envs.Make(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestRegistered: the ids are registered with the time limit 1000, no
// reference returns yet, Gymnasium's observation and action sizes, and the
// first observation is qpos0 plus the reset noise: the height 1.25
// (Hopper, Walker2d; ±0.005) or the height change 0 (HalfCheetah; ±0.1).
func TestRegistered(t *testing.T) {
	for i, c := range []struct {
		obs, act    int
		h0, hTol    float64
		clippedVels bool
	}{{11, 3, 1.25, 0.005, true}, {17, 6, 1.25, 0.005, true}, {17, 6, 0, 0.1, false}} {
		s, err := envs.Lookup(ids[i])
		if err != nil {
			t.Fatal(err)
		}
		// Reference returns measured by minrl collect (registered in register.go).
		if s.MaxEpisodeSteps != 1000 || !(s.RandomReturn < s.ExpertReturn) || s.RefSource == "" {
			t.Errorf("%s: spec %+v", ids[i], s)
		}
		e := makeEnv(t, ids[i])
		if e.ObservationSpace().Dim() != c.obs || e.ActionSpace().Dim() != c.act {
			t.Errorf("%s: spaces %v %v", ids[i], e.ObservationSpace(), e.ActionSpace())
		}
		for seed := range uint64(20) {
			obs, info, err := e.Reset(envs.WithSeed(seed))
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(obs[0]-c.h0) > c.hTol+1e-12 || math.Abs(obs[1]) > c.hTol+1e-12 {
				t.Errorf("%s seed %d: first obs %v, want height %g ± %g", ids[i], seed, obs[:2], c.h0, c.hTol)
			}
			if x := info.Values["x_position"]; math.Abs(x) > c.hTol+1e-12 {
				t.Errorf("%s: x_position %g at reset", ids[i], x)
			}
		}
	}
	if _, err := envs.Make("minrl/Hopper-v0", envs.WithParam("foo", 1)); err == nil {
		t.Error("Make with an unknown parameter: no error")
	}
}

// TestSeededEpisodes: the same seed and actions give bit-identical
// observations and rewards; another seed gives another start.
func TestSeededEpisodes(t *testing.T) {
	for _, id := range ids {
		run := func(seed uint64) [][]float64 {
			e := makeEnv(t, id)
			obs, _, err := e.Reset(envs.WithSeed(seed))
			if err != nil {
				t.Fatal(err)
			}
			out := [][]float64{append([]float64(nil), obs...)}
			rng := rand.New(rand.NewPCG(1, 1))
			a := make([]float64, e.ActionSpace().Dim())
			for range 100 {
				for j := range a {
					a[j] = 2*rng.Float64() - 1
				}
				r, err := e.Step(a)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, append(append([]float64(nil), r.Obs...), r.Reward))
				if r.Done() {
					break
				}
			}
			return out
		}
		a, b, c := run(5), run(5), run(6)
		if len(a) != len(b) {
			t.Fatalf("%s: lengths %d and %d", id, len(a), len(b))
		}
		for i := range a {
			for j := range a[i] {
				if a[i][j] != b[i][j] {
					t.Fatalf("%s: step %d value %d differs: %v vs %v", id, i, j, a[i][j], b[i][j])
				}
			}
		}
		if a[0][0] == c[0][0] && a[0][1] == c[0][1] {
			t.Errorf("%s: seeds 5 and 6 start alike", id)
		}
	}
}

// TestZeroAction: with zero action the Hopper and the Walker land on their
// feet (the feet start 4 cm up) and stand a while (at 125 Hz), then fall:
// the Hopper tips over (|angle| > 0.2) and the Walker falls within 10 s.
// The HalfCheetah settles on its legs, its torso sagging 0.13 m on the
// joint springs, and stays there. MuJoCo 2.2.2, same models and seeds:
// Hopper 147 steps on average, Walker2d 109, the cheetah's rest height
// −0.132 (see mujoco_test.go).
func TestZeroAction(t *testing.T) {
	for _, id := range ids {
		e := makeEnv(t, id)
		a := make([]float64, e.ActionSpace().Dim())
		if _, _, err := e.Reset(envs.WithSeed(1)); err != nil {
			t.Fatal(err)
		}
		var r envs.StepResult
		var err error
		n := 0
		for n < 1000 {
			r, err = e.Step(a)
			if err != nil {
				t.Fatal(err)
			}
			n++
			if n == 30 && id != "minrl/HalfCheetah-v0" && (r.Obs[0] < 1.19 || r.Obs[0] > 1.23 || math.Abs(r.Obs[1]) > 0.05) {
				t.Errorf("%s after 0.24 s: height %.3f angle %.3f, want standing at about 1.21", id, r.Obs[0], r.Obs[1])
			}
			if r.Done() {
				break
			}
		}
		t.Logf("%s zero action: %d steps, final height %.3f angle %.3f", id, n, r.Obs[0], r.Obs[1])
		switch id {
		case "minrl/HalfCheetah-v0":
			if !r.Truncated || r.Terminated || math.Abs(r.Obs[0]+0.13) > 0.02 || math.Abs(r.Obs[1]) > 0.1 {
				t.Errorf("%s: rest height %.3f angle %.3f (truncated %v), want about −0.13 and level", id, r.Obs[0], r.Obs[1], r.Truncated)
			}
		default:
			if !r.Terminated || n < 50 {
				t.Errorf("%s: fell after %d steps (terminated %v), want to stand 50 steps and then fall", id, n, r.Terminated)
			}
		}
	}
}

// TestHalfCheetahRuns: a hand-written gait carries the HalfCheetah forward
// (about 1.2 m/s): every joint follows a 3 Hz sine, the front shin and
// foot a quarter period behind the other joints. The same gait played
// backwards in time moves it backwards. (The motors push the way MuJoCo's
// do: TestMotorDirections and TestMatchesReducedCoordinates check the
// signs one by one.)
func TestHalfCheetahRuns(t *testing.T) {
	e := makeEnv(t, "minrl/HalfCheetah-v0")
	run := func(dir float64) float64 {
		if _, _, err := e.Reset(envs.WithSeed(0)); err != nil {
			t.Fatal(err)
		}
		a := make([]float64, 6)
		var x float64
		for s := range 200 {
			ph := dir * 2 * math.Pi * 3 * float64(s) * 0.05
			for j := range 3 {
				a[j] = math.Sin(ph + math.Pi/2)
				a[3+j] = math.Sin(ph + math.Pi/2*float64(min(j, 1)+1))
			}
			r, err := e.Step(a)
			if err != nil {
				t.Fatal(err)
			}
			x = r.Info.Values["x_position"]
		}
		return x
	}
	fwd, back := run(1), run(-1)
	t.Logf("HalfCheetah sine gait: %.2f m in 10 s; reversed: %.2f m", fwd, back)
	if fwd < 5 || back > 0 {
		t.Errorf("gait: %.2f m, reversed %.2f m; want > 5 m forward and the reverse backwards", fwd, back)
	}
}

// TestZeroAllocs: a steady-state Step, resets included, allocates nothing.
func TestZeroAllocs(t *testing.T) {
	for _, id := range ids {
		e := makeEnv(t, id)
		rng := rand.New(rand.NewPCG(3, 4))
		a := make([]float64, e.ActionSpace().Dim())
		if _, _, err := e.Reset(envs.WithSeed(1)); err != nil {
			t.Fatal(err)
		}
		step := func() {
			for j := range a {
				a[j] = 2*rng.Float64() - 1
			}
			r, err := e.Step(a)
			if err != nil {
				t.Fatal(err)
			}
			if r.Done() {
				if _, _, err := e.Reset(envs.NoSeed); err != nil {
					t.Fatal(err)
				}
			}
		}
		for range 50 {
			step()
		}
		if n := testing.AllocsPerRun(500, step); n != 0 {
			t.Errorf("%s: %g allocations per step, want 0", id, n)
		}
	}
}

// TestRender draws a few frames to PNG files and checks that the robot's
// colour is on them.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	for _, id := range ids {
		e := makeEnv(t, id)
		r, ok := e.(envs.Renderer)
		if !ok {
			r, ok = envs.Base(e).(envs.Renderer)
		}
		if !ok {
			t.Fatalf("%s is not an envs.Renderer", id)
		}
		if _, _, err := e.Reset(envs.WithSeed(2)); err != nil {
			t.Fatal(err)
		}
		a := make([]float64, e.ActionSpace().Dim())
		for f := range 3 {
			img, err := r.Render(160, 120)
			if err != nil {
				t.Fatal(err)
			}
			if robotPixels(img) < 100 {
				t.Errorf("%s frame %d: only %d robot pixels", id, f, robotPixels(img))
			}
			path := filepath.Join(dir, id[6:len(id)-3]+"-"+string(rune('0'+f))+".png")
			fh, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(fh, img); err != nil {
				t.Fatal(err)
			}
			if err := fh.Close(); err != nil {
				t.Fatal(err)
			}
			for range 10 {
				a[0] = 1
				if res, err := e.Step(a); err != nil || res.Done() {
					break
				}
			}
		}
	}
}

// robotPixels counts pixels of the robot's orange (locomotion.Env draws
// capsules in RGB 200, 90, 40).
func robotPixels(img *image.RGBA) int {
	n := 0
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
			c := img.RGBAAt(x, y)
			if c.R > 150 && c.G < 130 && c.B < 90 {
				n++
			}
		}
	}
	return n
}

// TestConcurrentEnvs steps separate envs in parallel goroutines (run with
// -race): the engine touches none of Box2D's package-level state (it never
// creates fixtures or contacts, nor calls b2World.Step).
func TestConcurrentEnvs(t *testing.T) {
	done := make(chan error, 2*len(ids))
	for range 2 {
		for _, id := range ids {
			go func() {
				e, err := envs.Make(id)
				if err != nil {
					done <- err
					return
				}
				defer e.Close()
				if _, _, err := e.Reset(envs.WithSeed(1)); err != nil {
					done <- err
					return
				}
				a := make([]float64, e.ActionSpace().Dim())
				for s := range 100 {
					a[s%len(a)] = math.Sin(float64(s))
					r, err := e.Step(a)
					if err != nil {
						done <- err
						return
					}
					if r.Done() {
						if _, _, err := e.Reset(envs.NoSeed); err != nil {
							done <- err
							return
						}
					}
				}
				done <- nil
			}()
		}
	}
	for range 2 * len(ids) {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
