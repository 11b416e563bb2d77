package runners

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minrl/minrl/envs"
)

// line: the state is the step count; the episode terminates after
// 3 + (seed mod 3) steps; reward = the action; obs = [seed, step].
type line struct {
	seed, steps, limit int
	obs                []float64
	info               envs.Info
	ep                 envs.Episode
	space              envs.Space
}

func init() {
	envs.Register(envs.Spec{ID: "test/Line-v0", MaxEpisodeSteps: 100, RandomReturn: 0, ExpertReturn: 10, RefSource: "test",
		New: func(*envs.Params) (envs.Env, error) {
			return &line{obs: make([]float64, 2), space: envs.NewBox(1, -5, 5)}, nil
		}})
}

func (l *line) Reset(seed envs.Seed) ([]float64, *envs.Info, error) {
	l.ep.Begin()
	s, _ := seed.Value()
	l.seed, l.steps, l.limit = int(s), 0, 3+int(s%3)
	l.obs[0], l.obs[1] = float64(s), 0
	return l.obs, &l.info, nil
}

func (l *line) Step(a []float64) (envs.StepResult, error) {
	if err := l.ep.CanStep(); err != nil {
		return envs.StepResult{}, err
	}
	l.steps++
	l.obs[1] = float64(l.steps)
	r := envs.StepResult{Obs: l.obs, Reward: a[0], Terminated: l.steps >= l.limit, Info: &l.info}
	l.ep.End(r)
	return r, nil
}

func (l *line) ObservationSpace() envs.Space { return envs.NewBox(2, 0, math.Inf(1)) }
func (l *line) ActionSpace() envs.Space      { return l.space }
func (l *line) Close() error                 { return nil }

// constPolicy acts obs[0] (the episode's seed) and checks the rewards it is
// given are its previous actions.
type constPolicy struct {
	n      int
	prev   []float64
	t      *testing.T
	nanAt  int
	calls  int
	random *rand.Rand
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
	rep, err := Evaluate(context.Background(), &constPolicy{t: t}, EvalConfig{Env: "test/Line-v0", Episodes: 5, Seed: 10})
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
	if err := WriteEvalFiles(dir, "eval", []EvalReport{rep}); err != nil {
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

func TestEvaluateRejectsBadPoliciesAndConfigs(t *testing.T) {
	ctx := context.Background()
	if _, err := Evaluate(ctx, &constPolicy{t: t, nanAt: 2}, EvalConfig{Env: "test/Line-v0", Episodes: 2}); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN action: %v", err)
	}
	if _, err := Evaluate(ctx, &constPolicy{t: t}, EvalConfig{Env: "test/Nope-v0", Episodes: 2}); err == nil {
		t.Error("unknown env")
	}
	if _, err := Evaluate(ctx, &constPolicy{t: t}, EvalConfig{Env: "test/Line-v0", Episodes: 0}); err == nil {
		t.Error("zero episodes")
	}
	if _, err := Evaluate(ctx, &wrongDims{}, EvalConfig{Env: "test/Line-v0", Episodes: 1}); err == nil || !strings.Contains(err.Error(), "3-d observations") {
		t.Errorf("dims: %v", err)
	}
}

type wrongDims struct{ constPolicy }

func (*wrongDims) ObsDim() int { return 3 }

func TestEvalReportJSONWritesNaNAsNull(t *testing.T) {
	r := EvalReport{Env: "x", MeanReturn: 3, MeanNormalized: math.NaN(), StdNormalized: math.NaN(),
		Results: []EpisodeResult{{Return: 3, Normalized: math.NaN()}}}
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
