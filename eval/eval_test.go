package eval_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minrl/minrl/envs"
	_ "github.com/minrl/minrl/envs/all"
	"github.com/minrl/minrl/eval"
	_ "github.com/minrl/minrl/internal/testenv"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/policy"
)

// constPolicy acts obs[0] (the episode's seed) and checks the rewards it is
// given are its previous actions.
type constPolicy struct {
	n     int
	prev  []float64
	t     *testing.T
	nanAt int
	calls int
}

func (p *constPolicy) ObsDim() int { return 2 }
func (p *constPolicy) ActDim() int { return 1 }
func (p *constPolicy) Reset(n int) { p.n, p.prev = n, make([]float64, n) }
func (p *constPolicy) Act(obs, rewards, actions []float64) error {
	p.calls++
	for i := 0; i < p.n; i++ {
		if rewards[i] != 0 && rewards[i] != p.prev[i] {
			p.t.Errorf("episode %d got reward %g, acted %g", i, rewards[i], p.prev[i])
		}
		actions[i] = obs[2*i]
		if p.calls == p.nanAt {
			actions[i] = math.NaN()
		}
		p.prev[i] = actions[i]
	}
	return nil
}

func TestEvaluatePlaysEveryEpisodeWithItsSeed(t *testing.T) {
	rep, err := eval.Evaluate(context.Background(), &constPolicy{t: t}, eval.Config{Env: "test/Line-v0", Episodes: 5, Seed: 10})
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for i, e := range rep.Results {
		seed := 10 + i
		length := 3 + seed%3
		if e.Seed != uint64(seed) || e.Length != length || e.Return != float64(seed*length) || !e.Terminated {
			t.Errorf("episode %d: %+v", i, e)
		}
		if e.Normalized != 10*e.Return {
			t.Errorf("normalised %g for return %g", e.Normalized, e.Return)
		}
		sum += e.Return
	}
	if rep.MeanReturn != sum/5 || !strings.Contains(rep.ScoreNote, "minrl-normalised") {
		t.Errorf("report %+v", rep)
	}
	dir := t.TempDir()
	if err := eval.WriteFiles(dir, "eval", []eval.Report{rep}); err != nil {
		t.Fatal(err)
	}
	csv, _ := os.ReadFile(filepath.Join(dir, "eval.csv"))
	if lines := strings.Count(string(csv), "\n"); lines != 6 {
		t.Errorf("csv has %d lines:\n%s", lines, csv)
	}
	var js []map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, "eval.json"))
	if err := json.Unmarshal(data, &js); err != nil || js[0]["mean_return"].(float64) != rep.MeanReturn {
		t.Errorf("json %v: %s", err, data)
	}
}

// A simulator failure ends its episode, recorded with the error; the other
// episodes play on, and the policy never sees the failed state.
func TestEvaluateRecordsASimulatorFailure(t *testing.T) {
	m, err := policy.NewMLP(policy.MLPConfig{ObsDim: 2, ActDim: 1, Hidden: []int{4}, Act: "relu"}, nn.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	a, err := policy.NewMLPActor(m, policy.Normalizer{}) // refuses non-finite observations
	if err != nil {
		t.Fatal(err)
	}
	rep, err := eval.Evaluate(context.Background(), a, eval.Config{Env: "test/LineBlowup-v0", Episodes: 3, Seed: 0})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range rep.Results {
		want, wantErr := 3+i%3, ""
		if i == 0 {
			want, wantErr = 2, "simulation unstable"
		}
		if e.Length != want || e.Error != wantErr || !e.Terminated {
			t.Errorf("episode %d: %+v, want length %d, error %q", i, e, want, wantErr)
		}
	}
}

func TestEvaluateRejectsBadPoliciesAndConfigs(t *testing.T) {
	ctx := context.Background()
	if _, err := eval.Evaluate(ctx, &constPolicy{t: t, nanAt: 2}, eval.Config{Env: "test/Line-v0", Episodes: 2}); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN action: %v", err)
	}
	if _, err := eval.Evaluate(ctx, &constPolicy{t: t}, eval.Config{Env: "test/Nope-v0", Episodes: 2}); err == nil {
		t.Error("unknown env")
	}
	if _, err := eval.Evaluate(ctx, &constPolicy{t: t}, eval.Config{Env: "test/Line-v0", Episodes: 0}); err == nil {
		t.Error("zero episodes")
	}
	if _, err := eval.Evaluate(ctx, &wrongDims{}, eval.Config{Env: "test/Line-v0", Episodes: 1}); err == nil || !strings.Contains(err.Error(), "3-d observations") {
		t.Errorf("dims: %v", err)
	}
}

type wrongDims struct{ constPolicy }

func (*wrongDims) ObsDim() int { return 3 }

func TestEvalReportJSONWritesNaNAsNull(t *testing.T) {
	r := eval.Report{Env: "x", MeanReturn: 3, MeanNormalized: math.NaN(), StdNormalized: math.NaN(),
		Results: []eval.EpisodeResult{{Return: 3, Normalized: math.NaN()}}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"mean_normalized":null`, `"std_normalized":null`, `"normalized":null`, `"mean_return":3`} {
		if !strings.Contains(s, want) {
			t.Errorf("JSON lacks %s: %s", want, s)
		}
	}
}

// Seeds that would wrap past 2^64 are refused (issue 16, item 10).
func TestEvaluateRefusesWrappingSeeds(t *testing.T) {
	_, err := eval.Evaluate(context.Background(), nil, eval.Config{Env: "Pendulum-v1", Episodes: 3, Seed: math.MaxUint64 - 1})
	if err == nil || !strings.Contains(err.Error(), "wrap") {
		t.Errorf("wrapping seeds: %v", err)
	}
}

// A cancelled evaluation stops while it sets its episodes up, not only
// between lockstep steps (issue 16, item 10: Ctrl-C took 13 s to end a
// 3000-episode evaluation).
func TestEvaluateStopsPromptlyWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	_, err := eval.Evaluate(ctx, nil, eval.Config{Env: "Pendulum-v1", Episodes: eval.MaxEpisodes, Seed: 1})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Errorf("took %v to notice the cancellation", el)
	}
}

// Observe sees each episode's reset and every step, in order, with the
// step's result; its error ends the evaluation.
func TestEvaluateObservesEveryStep(t *testing.T) {
	var mu sync.Mutex
	seen := map[int][]int{} // episode -> steps observed
	ends := map[int]bool{}
	obs := func(ep, step int, env envs.Env, r envs.StepResult) error {
		mu.Lock()
		defer mu.Unlock()
		if env == nil || len(r.Obs) != 2 || step == 0 && (r.Reward != 0 || r.Done()) {
			t.Errorf("episode %d step %d: env %v result %+v", ep, step, env, r)
		}
		seen[ep] = append(seen[ep], step)
		if r.Done() {
			ends[ep] = true
		}
		return nil
	}
	rep, err := eval.Evaluate(context.Background(), &constPolicy{t: t}, eval.Config{Env: "test/Line-v0", Episodes: 4, Seed: 10, Observe: obs})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		steps := seen[r.Episode]
		if len(steps) != r.Length+1 || !ends[r.Episode] {
			t.Errorf("episode %d of %d steps: observed %v, ended %v", r.Episode, r.Length, steps, ends[r.Episode])
		}
		for i, s := range steps {
			if s != i {
				t.Errorf("episode %d: observed steps %v, want 0, 1, 2, ...", r.Episode, steps)
				break
			}
		}
	}
	stop := errors.New("enough")
	_, err = eval.Evaluate(context.Background(), &constPolicy{t: t}, eval.Config{Env: "test/Line-v0", Episodes: 2, Seed: 10,
		Observe: func(ep, step int, _ envs.Env, _ envs.StepResult) error {
			if step == 2 {
				return stop
			}
			return nil
		}})
	if !errors.Is(err, stop) {
		t.Errorf("observer's error: got %v", err)
	}
}
