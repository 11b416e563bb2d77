package report

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minrl/minrl/runners"
)

// summary is a run's summary.json as runners writes it, with the
// last-checkpoint scores at each target (no targets: bc's one score).
type summary struct {
	dataset, kind string
	seed          int
	topFraction   float64 // 0: all episodes
	noRTG         bool
	targets       []float64
	scores        []float64 // one per target, or bc's one
}

func (s summary) write(t *testing.T, dir string) {
	t.Helper()
	train := map[string]any{"seed": s.seed, "steps": 100}
	if s.topFraction > 0 {
		train["top_fraction"] = s.topFraction
	}
	model := map[string]any{"kind": s.kind, "context": "window"}
	if s.noRTG {
		model["no_rtg"] = true
	}
	cfg := map[string]any{"dataset": s.dataset, "model": model, "train": train, "eval": map[string]any{"targets": s.targets, "episodes": 50}}
	last := runners.EvalPoint{Step: 100, ScoreKind: runners.ScoreNormalized, Episodes: 50}
	targets := s.targets
	if s.kind == "bc" {
		targets = []float64{0}
	}
	for i, tg := range targets {
		last.Targets = append(last.Targets, runners.TargetScore{Target: tg, MeanNormalized: s.scores[i]})
		last.Score += s.scores[i] / float64(len(targets))
	}
	b, err := json.Marshal(runners.TrainResult{Name: "x", Config: cfg, Steps: 100, Last: last, Best: last, DatasetScore: math.NaN()})
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("%s-%s-%g-%t-s%d", s.dataset, s.kind, s.topFraction, s.noRTG, s.seed)
	writeSummary(dir, name, string(b))
}

const (
	dataA = "hopper-medium-replay"
	dataB = "walker2d-medium"
)

var protocolTargets = map[string][]float64{dataA: {5200, 1400}, dataB: {4600, 1200}}

// protocolRuns is a main comparison of two datasets and five seeds with
// known scores (high target; mid = high − 5 for the return-conditioned
// models). Per seed, minGRU − DT averages 1, −1, 2.5, 0.5, 1 over the two
// datasets, minLSTM − DT 10, 10, 12, 9.5, 11.5.
func protocolRuns() []summary {
	high := map[string]map[string][]float64{
		"dt":      {dataA: {10, 12, 14, 16, 18}, dataB: {30, 31, 32, 33, 34}},
		"mingru":  {dataA: {12, 11, 17, 16, 19}, dataB: {30, 30, 34, 34, 35}},
		"minlstm": {dataA: {22, 21, 28, 26, 29}, dataB: {38, 42, 42, 42, 46}},
		"pbc":     {dataA: {5, 6, 7, 8, 9}, dataB: {20, 20, 21, 22, 22}},
		"nortg":   {dataA: {10, 11, 12, 13, 14}, dataB: {30, 31, 32, 33, 34}},
	}
	var runs []summary
	for m, byData := range high {
		for d, v := range byData {
			for i, h := range v {
				s := summary{dataset: d, kind: m, seed: i + 1, targets: protocolTargets[d], scores: []float64{h, h - 5}}
				switch m {
				case "pbc":
					s.kind, s.topFraction, s.scores = "bc", 0.1, []float64{h}
				case "nortg":
					s.kind, s.noRTG, s.scores = "mingru", true, []float64{h, h}
				}
				runs = append(runs, s)
			}
		}
	}
	return runs
}

func analyse(t *testing.T, runs []summary) string {
	t.Helper()
	dir := t.TempDir()
	for _, r := range runs {
		r.write(t, dir)
	}
	var b strings.Builder
	if err := Analysis(&b, dir); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestAnalysisOfAProtocolRun(t *testing.T) {
	out := analyse(t, protocolRuns())
	high, rest, _ := strings.Cut(out, "**Mid target**")
	mid, _, _ := strings.Cut(rest, "**Equivalence")
	checks := []struct {
		part string
		want []string
	}{
		{high, []string{
			"| dataset | target | bc (top 10%) | dt | mingru | mingru (no RTG) | minlstm |",
			// dt on hopper-medium-replay: 14 ± 2.776445·√10/√5; the averages per seed of %BC 12.5, 13, 14, 15, 15.5:
			// 14 ± 2.776445·√1.625/√5, of dt 20, 21.5, ..., 26: 23 ± 2.776445·√5.625/√5.
			"| " + dataA + " | 5200 | 7.0 [5.0, 9.0] (5) | 14.0 [10.1, 17.9] (5) |",
			"| **average** | | 14.0 [12.4, 15.6] (5) | 23.0 [20.1, 25.9] (5) |",
			"| " + dataB + " | 4600 |",
		}},
		// Mid: the conditioned models 5 lower, %BC's one score again.
		{mid, []string{"| " + dataA + " | 1400 | 7.0 [5.0, 9.0] (5) | 9.0 [5.1, 12.9] (5) |", "| **average** | | 14.0 [12.4, 15.6] (5) | 18.0 [15.1, 20.9] (5) |"}},
		// TOST: mean 0.8, sd 1.2549900, 90% CI [−0.3964962, 1.9964962], p 0.00024739689 and 0.00085257874
		// (4-dof closed form, as in TestTOSTWorkedExample); minLSTM 10.6 in [9.5665488, 11.633451], p 2.8e-6 and 0.99983963.
		{rest, []string{
			"| mingru − dt | primary | 5 (1, 2, 3, 4, 5) | +0.8 | 1.3 | [-0.4, +2.0] | 0.0002 | 0.0009 | **equivalent** |",
			"| minlstm − dt | secondary | 5 (1, 2, 3, 4, 5) | +10.6 | 1.1 | [+9.6, +11.6] | < 0.0001 | 0.9998 | **not equivalent** |",
			"| dataset | dt − bc (top 10%) | mingru − bc (top 10%) | minlstm − bc (top 10%) | dt − mingru (no RTG) | mingru − mingru (no RTG) | minlstm − mingru (no RTG) |",
			// dt − %BC on hopper-medium-replay: 14 − 7, above 0; dt − the ablation on walker2d-medium: 0.
			"| " + dataA + " | **+7.0 [",
			"| " + dataB + " | **+11.0 [", "] (5, 5)** | +0.0 [",
			"Above both controls on the average (both intervals above 0): minlstm.",
		}},
	}
	for _, c := range checks {
		for _, w := range c.want {
			if !strings.Contains(c.part, w) {
				t.Errorf("analysis lacks %q:\n%s", w, c.part)
			}
		}
	}
	if strings.Contains(out, "leaves out") || strings.Contains(out, "not enough seeds") {
		t.Errorf("complete pairs reported missing:\n%s", out)
	}
}

// Pairs need a seed run on every dataset by both models; the rest are
// named, and fewer than two pairs give no test.
func TestAnalysisMissingPairs(t *testing.T) {
	var runs []summary
	for _, r := range protocolRuns() {
		if r.kind == "mingru" && !r.noRTG && r.dataset == dataB && r.seed == 5 || r.kind == "dt" && r.dataset == dataA && r.seed == 4 {
			continue
		}
		runs = append(runs, r)
	}
	out := analyse(t, runs)
	// dt without seed 4 on hopper-medium-replay: 10, 12, 14, 18, 13.5 ± 3.182446·sd/2 = [8.065, 18.935];
	// its averages per seed 20, 21.5, 23, 26: [18.549, 26.701].
	for _, w := range []string{"| mingru − dt | primary | 3 (1, 2, 3) |", "mingru − dt leaves out seeds 4, 5: not run on every dataset by both models.",
		"| minlstm − dt | secondary | 4 (1, 2, 3, 5) |", "minlstm − dt leaves out seeds 4:",
		"| " + dataA + " | 5200 | 7.0 [5.0, 9.0] (5) | 13.5 [8.1, 18.9] (4) |", "| **average** | | 14.0 [12.4, 15.6] (5) | 22.6 [18.5, 26.7] (4) |"} {
		if !strings.Contains(out, w) {
			t.Errorf("analysis lacks %q:\n%s", w, out)
		}
	}
	runs = runs[:0]
	for _, r := range protocolRuns() {
		if r.seed <= 2 && (r.kind == "dt" || r.kind == "mingru" && !r.noRTG) && (r.seed == 1 || r.dataset == dataA) {
			runs = append(runs, r)
		}
	}
	out = analyse(t, runs)
	for _, w := range []string{"| mingru − dt | primary | 1 (1) | +1.0 | - | - | - | - | **not enough seeds** |",
		"mingru − dt: not enough seeds, 1 complete pair(s); the test needs at least 2", "| minlstm − dt | secondary | 0 (none) |",
		"**Controls, high target (the headline)**: no return-conditioned model"} {
		if !strings.Contains(out, w) {
			t.Errorf("analysis lacks %q:\n%s", w, out)
		}
	}
}

// A wide spread of differences around a small mean: inconclusive.
func TestAnalysisInconclusive(t *testing.T) {
	var runs []summary
	// d = −6, 4, 10, −2, 3 on one dataset: mean 1.8, 90% CI [−4.0149033, 7.6149033],
	// p 0.033634037 and 0.15290840 (4-dof closed form).
	for i, d := range []float64{-6, 4, 10, -2, 3} {
		runs = append(runs, summary{dataset: dataA, kind: "dt", seed: i + 1, targets: protocolTargets[dataA], scores: []float64{40, 30}},
			summary{dataset: dataA, kind: "mingru", seed: i + 1, targets: protocolTargets[dataA], scores: []float64{40 + d, 30}})
	}
	out := analyse(t, runs)
	if w := "| mingru − dt | primary | 5 (1, 2, 3, 4, 5) | +1.8 | 6.1 | [-4.0, +7.6] | 0.0336 | 0.1529 | **inconclusive** |"; !strings.Contains(out, w) {
		t.Errorf("analysis lacks %q:\n%s", w, out)
	}
	if strings.Contains(out, "**average**") {
		t.Errorf("one dataset got an average row:\n%s", out)
	}
}

// Runs the analysis cannot read say which and why.
func TestAnalysisRefusesUnreadableRuns(t *testing.T) {
	base := summary{dataset: dataA, kind: "dt", seed: 1, targets: protocolTargets[dataA], scores: []float64{1, 2}}
	for name, c := range map[string]struct {
		other summary
		want  string
	}{
		"one-target": {summary{dataset: dataA, kind: "mingru", seed: 1, targets: []float64{5200}, scores: []float64{1}},
			"the last evaluation has targets [5200]; the analysis needs two, high then mid"},
		"mid-first": {summary{dataset: dataA, kind: "mingru", seed: 1, targets: []float64{1400, 5200}, scores: []float64{1, 2}}, "targets [1400, 5200]"},
		"other-targets": {summary{dataset: dataA, kind: "mingru", seed: 1, targets: []float64{5000, 1400}, scores: []float64{1, 2}},
			"were evaluated at different targets on hopper-medium-replay (5200/1400 vs 5000/1400)"},
		"no-references": {summary{dataset: dataA, kind: "mingru", seed: 1, targets: protocolTargets[dataA], scores: []float64{math.NaN(), 2}},
			"no normalised score at target 5200"},
	} {
		dir := t.TempDir()
		base.write(t, dir)
		c.other.write(t, dir)
		err := Analysis(&strings.Builder{}, dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
	if err := Analysis(&strings.Builder{}, filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing directory analysed")
	}
	// A cell still averages like with like.
	dir := t.TempDir()
	base.write(t, dir)
	b2 := base
	b2.seed = 2
	b2.write(t, dir)
	p := filepath.Join(dir, fmt.Sprintf("%s-dt-0-false-s2", dataA), "summary.json")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, []byte(strings.Replace(string(data), `"steps":100}`, `"steps":200}`, 1)), 0o644)
	if err := Analysis(&strings.Builder{}, dir); err == nil || !strings.Contains(err.Error(), "train.steps (100 vs 200)") {
		t.Errorf("mixed configs: %v", err)
	}
}
