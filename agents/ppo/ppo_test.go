package ppo

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/nn"
)

// target: x' = x + 0.1·a, reward −|x'|; 50 steps, x0 ~ U(−1, 1). Moving to
// 0 and staying is optimal (return ≈ −2.5 from |x0| = 0.5); doing nothing
// returns ≈ −25.
type target struct {
	rng   *rand.Rand
	x     float64
	obs   []float64
	info  envs.Info
	ep    envs.Episode
	space envs.Space
}

func init() {
	envs.Register(envs.Spec{ID: "test/Target-v0", MaxEpisodeSteps: 50,
		RandomReturn: math.NaN(), ExpertReturn: math.NaN(),
		New: func(*envs.Params) (envs.Env, error) {
			return &target{rng: rand.New(rand.NewPCG(0, 0)), obs: make([]float64, 1), space: envs.NewBox(1, -1, 1)}, nil
		}})
}

func (e *target) Reset(seed envs.Seed) ([]float64, *envs.Info, error) {
	e.ep.Begin()
	if s, ok := seed.Value(); ok {
		e.rng = rand.New(rand.NewPCG(s, 0))
	}
	e.x = 2*e.rng.Float64() - 1
	e.obs[0] = e.x
	return e.obs, &e.info, nil
}

func (e *target) Step(a []float64) (envs.StepResult, error) {
	if err := e.ep.CanStep(); err != nil {
		return envs.StepResult{}, err
	}
	if err := envs.CheckAction(e.space, a); err != nil {
		return envs.StepResult{}, err
	}
	e.x += 0.1 * a[0]
	e.obs[0] = e.x
	return envs.StepResult{Obs: e.obs, Reward: -math.Abs(e.x), Info: &e.info}, nil
}

func (e *target) ObservationSpace() envs.Space { return envs.NewBox(1, math.Inf(-1), math.Inf(1)) }
func (e *target) ActionSpace() envs.Space      { return e.space }
func (e *target) Close() error                 { return nil }

func testConfig() Config {
	cfg := DefaultConfig("test/Target-v0")
	cfg.NumEnvs, cfg.NumSteps, cfg.TotalSteps, cfg.Minibatches, cfg.Epochs = 4, 128, 60_000, 4, 4
	cfg.LR = 1e-3
	return cfg
}

func TestPPOLearnsATrivialTask(t *testing.T) {
	agent, hist, err := Train(context.Background(), testConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	first, last := hist[0].EpisodeReturn, hist[len(hist)-1].EpisodeReturn
	t.Logf("mean episode return: first update %.2f, last %.2f (%d updates)", first, last, len(hist))
	if !(last > -6 && last > first+5) {
		t.Errorf("PPO did not learn: return %.2f -> %.2f", first, last)
	}
	// The deterministic policy pushes towards 0 from either side.
	act := make([]float64, 2)
	agent.Act([]float64{0.8, -0.8}, act, nil)
	if !(act[0] < 0 && act[1] > 0) {
		t.Errorf("actions %v at x = ±0.8", act)
	}
}

func TestPPOIsDeterministic(t *testing.T) {
	cfg := testConfig()
	cfg.TotalSteps = 4 * 128 * 3
	run := func() []float64 {
		agent, hist, err := Train(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := []float64{hist[len(hist)-1].PolicyLoss}
		for _, p := range agent.Params() {
			for _, v := range p.Value.Data {
				out = append(out, float64(v))
			}
		}
		return out
	}
	if !slices.Equal(run(), run()) {
		t.Error("two runs with the same seed differ")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	one := run()
	runtime.GOMAXPROCS(4)
	if !slices.Equal(one, run()) {
		t.Error("runs at GOMAXPROCS 1 and 4 differ")
	}
}

func TestPPORejectsBadConfigs(t *testing.T) {
	cfg := testConfig()
	cfg.Minibatches = 7
	cfg.Gamma = 2
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "minibatches") || !strings.Contains(err.Error(), "gamma") {
		t.Errorf("errors %v", err)
	}
	cfg = testConfig()
	cfg.Env = "nope/Env-v0"
	if _, _, err := Train(context.Background(), cfg, nil); err == nil {
		t.Error("unknown env accepted")
	}
}

func TestHookSeesRolloutsAndCanStop(t *testing.T) {
	cfg := testConfig()
	calls := 0
	stop := context.Canceled
	_, hist, err := Train(context.Background(), cfg, func(a *Agent, u Update, r *Rollout) error {
		calls++
		if len(r.Obs) != cfg.NumEnvs*cfg.NumSteps || len(r.Actions) != cfg.NumEnvs*cfg.NumSteps {
			t.Errorf("rollout sizes %d, %d", len(r.Obs), len(r.Actions))
		}
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 || len(hist) != 2 {
		t.Errorf("err %v after %d calls, %d updates", err, calls, len(hist))
	}
}

// The hand-written gradient of the PPO loss matches central finite
// differences of the loss itself, with samples on both sides of the clip
// range and the clipped value loss active for some of them.
func TestMinibatchLossGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	cfg := DefaultConfig("x")
	cfg.EntCoef = 0.01
	const M, ad = 12, 2
	b := &minibatch{actions: make([]float32, M*ad), oldLogp: make([]float64, M), oldV: make([]float64, M), adv: make([]float64, M), ret: make([]float64, M)}
	mu, v := make([]float32, M*ad), make([]float32, M)
	logStd := []float32{-0.3, 0.2}
	for m := 0; m < M; m++ {
		for j := 0; j < ad; j++ {
			mu[m*ad+j] = float32(rng.NormFloat64())
			b.actions[m*ad+j] = float32(rng.NormFloat64())
		}
		// Old log-probs that put ratios anywhere from 0.5 to 1.6.
		b.oldLogp[m] = logProb(b.actions[m*ad:(m+1)*ad], mu[m*ad:(m+1)*ad], logStd) - math.Log(0.5+1.1*rng.Float64())
		b.adv[m] = rng.NormFloat64()
		b.oldV[m] = rng.NormFloat64()
		v[m] = float32(b.oldV[m] + 0.5*rng.NormFloat64())
		b.ret[m] = rng.NormFloat64()
	}
	loss := func() float64 {
		pl, vl, _, _ := minibatchLoss(cfg, b, mu, logStd, v, make([]float32, M*ad), make([]float32, ad), make([]float32, M))
		return pl + cfg.VfCoef*vl - cfg.EntCoef*entropy(logStd)
	}
	dMu, dLogStd, dV := make([]float32, M*ad), make([]float32, ad), make([]float32, M)
	minibatchLoss(cfg, b, mu, logStd, v, dMu, dLogStd, dV)
	check := func(name string, xs, grads []float32) {
		for i := range xs {
			old := xs[i]
			const h = 1e-3
			xs[i] = old + h
			lp := loss()
			xs[i] = old - h
			lm := loss()
			xs[i] = old
			fd := (lp - lm) / (2 * float64(float32(old+h)-float32(old-h)) / 2)
			if math.Abs(fd-float64(grads[i])) > 1e-3*math.Max(1e-2, math.Abs(fd)) {
				t.Errorf("d%s[%d]: analytic %g, finite difference %g", name, i, grads[i], fd)
			}
		}
	}
	check("mu", mu, dMu)
	check("logstd", logStd, dLogStd)
	check("v", v, dV)
}

func TestAgentSaveLoadActsTheSame(t *testing.T) {
	cfg := testConfig()
	cfg.TotalSteps = 4 * 128 * 2
	agent, _, err := Train(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/agent.safetensors"
	if err := agent.Save(path, cfg.Env, 1024, -3.5); err != nil {
		t.Fatal(err)
	}
	back, env, step, err := LoadAgent(path)
	if err != nil {
		t.Fatal(err)
	}
	if env != cfg.Env || step != 1024 {
		t.Errorf("env %q step %d", env, step)
	}
	obs := []float64{0.3, -0.7, 1.5}
	a1, a2 := make([]float64, 3), make([]float64, 3)
	agent.Act(obs, a1, nil)
	back.Act(obs, a2, nil)
	for i := range a1 {
		if math.Abs(a1[i]-a2[i]) > 1e-5 {
			t.Errorf("action %d: %g before saving, %g after", i, a1[i], a2[i])
		}
	}
	// Without observation normalisation there are no statistics to save.
	plain := newAgent(Config{Hidden: []int{8}, ObsClip: 10}, 3, 3, nn.NewRNG(5))
	if err := plain.Save(path, cfg.Env, 7, 0); err != nil {
		t.Fatal(err)
	}
	if back, _, _, err := LoadAgent(path); err != nil || back.ObsStats != nil {
		t.Fatalf("agent without observation statistics: %v", err)
	} else {
		plain.Act(obs, a1, nil)
		back.Act(obs, a2, nil)
		if !slices.Equal(a1, a2) {
			t.Errorf("actions %v before saving, %v after", a1, a2)
		}
	}
	os.WriteFile(path, []byte("not a file"), 0o644)
	if _, _, _, err := LoadAgent(path); err == nil {
		t.Error("junk accepted")
	}
}
