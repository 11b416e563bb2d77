package sweep

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/configs"
)

// writeSweep writes a sweep file into a temporary directory.
func writeSweep(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func plan(t *testing.T, text string) (*Sweep, []Run) {
	t.Helper()
	s, err := Load(writeSweep(t, text), "")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return s, runs
}

func names(runs []Run) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.Name)
	}
	return out
}

const gridSweep = `
name: g
out: OUT
set:
  train: {steps: 40, lr: 0.002}
  eval.episodes: 3
grid:
  model: [mingru, mingru-episode]
  dataset: [pendulum-medium, pendulum-expert]
  seed: [1, 2]
when:
  - match: {model: mingru-episode}
    set: {train.batch: 2}
points:
  - {dataset: pendulum-random, model: dt, seed: 5, train.lr: 0.0003}
`

func TestPlanExpandsTheGridSeedFirst(t *testing.T) {
	s, runs := plan(t, gridSweep)
	want := []string{
		"pendulum-medium-mingru-s1", "pendulum-medium-mingru-episode-s1", "pendulum-expert-mingru-s1", "pendulum-expert-mingru-episode-s1",
		"pendulum-medium-mingru-s2", "pendulum-medium-mingru-episode-s2", "pendulum-expert-mingru-s2", "pendulum-expert-mingru-episode-s2",
		"pendulum-random-dt-s5-train.lr=0.0003",
	}
	if got := names(runs); !slices.Equal(got, want) {
		t.Fatalf("names:\n got %q\nwant %q", got, want)
	}
	for i, r := range runs {
		c := r.Config
		if r.Index != i || c.Name != r.Name || c.Out != filepath.Join("OUT", "runs", r.Name) {
			t.Errorf("run %d: index %d, name %q, out %q", i, r.Index, c.Name, c.Out)
		}
		if c.Train.Steps != 40 || c.Eval.Episodes != 3 || c.Env != "Pendulum-v1" {
			t.Errorf("%s: the sweep's set did not reach it: %+v", r.Name, c)
		}
		// The preset's values stay where nothing overrides them.
		if c.Eval.Targets[0] != -150 {
			t.Errorf("%s: eval.targets %v, want the pendulum preset's", r.Name, c.Eval.Targets)
		}
	}
	byName := map[string]configs.Run{}
	for _, r := range runs {
		byName[r.Name] = r.Config
	}
	if c := byName["pendulum-expert-mingru-episode-s2"]; c.Dataset != "pendulum-expert" || c.Model.Context != "episode" || c.Train.Batch != 2 || c.Train.Seed != 2 || c.Train.LR != 0.002 {
		t.Errorf("episode run: %+v", c)
	}
	if c := byName["pendulum-medium-mingru-s1"]; c.Train.Batch != 64 || c.Model.Context != "window" {
		t.Errorf("the rule reached a window run: batch %d", c.Train.Batch)
	}
	if c := byName["pendulum-random-dt-s5-train.lr=0.0003"]; c.Model.Kind != "dt" || c.Train.LR != 0.0003 || c.Train.Seed != 5 || c.Dataset != "pendulum-random" {
		t.Errorf("point: %+v", c)
	}
	// Every run is what configs.Load makes of the preset and the settings.
	want0, err := configs.Load(configs.Source{Preset: "pendulum-medium-mingru-episode",
		Set: map[string]any{"train.steps": 40, "train.lr": 0.002, "eval.episodes": 3, "train.batch": 2, "train.seed": 1}})
	if err != nil {
		t.Fatal(err)
	}
	want0.Name, want0.Out = runs[1].Name, s.RunDir(runs[1].Name)
	if !reflect.DeepEqual(runs[1].Config, want0) {
		t.Errorf("run 1:\n got %+v\nwant %+v", runs[1].Config, want0)
	}
}

// Names depend on a run's values only: a value added to an axis, or the
// axes written in another order, leaves the other runs' names (and so
// their directories, checkpoints and results) as they were.
func TestNamesAreStable(t *testing.T) {
	_, a := plan(t, "grid:\n  seed: [1]\n  model: [mingru, dt]\n  dataset: [pendulum-medium]\n  train.lr: [0.001]\n")
	_, b := plan(t, "grid:\n  train.lr: [0.001, 0.0001]\n  dataset: [pendulum-medium, pendulum-expert]\n  model: [dt, mingru]\n  seed: [2, 1]\n")
	for _, n := range names(a) {
		if !slices.Contains(names(b), n) {
			t.Errorf("%s is gone from the larger grid %q", n, names(b))
		}
	}
	if a[0].Name != "pendulum-medium-mingru-s1-train.lr=0.001" {
		t.Errorf("name %q", a[0].Name)
	}
	// The same file planned twice: the same plan.
	_, c := plan(t, gridSweep)
	_, d := plan(t, gridSweep)
	ic, _ := PlanID(c)
	id, _ := PlanID(d)
	if ic != id || len(ic) != 16 {
		t.Errorf("plan ids %q, %q", ic, id)
	}
	c[3].Config.Train.LR = 1
	if ie, _ := PlanID(c); ie == ic {
		t.Error("a changed config kept the plan id")
	}
	if _, err := Find(d, 3, "0123456789abcdef"); err == nil || !strings.Contains(err.Error(), "changed since") {
		t.Errorf("Find with another plan: %v", err)
	}
	if _, err := Find(d, len(d), ic); err == nil {
		t.Error("Find past the end: no error")
	}
	if r, err := Find(d, 3, ic); err != nil || r.Name != d[3].Name {
		t.Errorf("Find: %v, %v", r.Name, err)
	}
}

func TestPlanErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"grid:\n  train.stepz: [1, 2]\n  dataset: [pendulum-medium]\n  model: [dt]\n", `no config key "train.stepz"`},
		{"set: {train.steps: 1.5}\npreset: pendulum-medium-dt\n", "train.steps"},
		{"grid:\n  seed: []\n", "no values"},
		{"grid:\n  dataset: [pendulum-medium]\n", "needs a model"},
		{"grid:\n  model: [mingru, gru]\n  dataset: [pendulum-medium]\n", `unknown preset "pendulum-medium-gru"`},
		{"preset: pendulum-medium-dt\nset: {out: /x}\n", "set by the sweep"},
		{"preset: pendulum-medium-dt\nsets: {train.lr: 1}\n", "sets"},
		{"name: x\n", "no runs"},
		{"preset: pendulum-medium-dt\npoints:\n  - {seed: 1}\n  - {train.seed: 1}\n", "both named pendulum-medium-dt-s1"},
		{"grid:\n  model: [bc]\n  dataset: [pendulum-medium]\n  model.dropout: [1.5]\n", "model.dropout"},
	} {
		s, err := Load(writeSweep(t, c.text), "")
		if err == nil {
			_, err = s.Plan()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.text, err, c.want)
		}
	}
}

func TestConfigYAMLReproducesTheRun(t *testing.T) {
	dir := t.TempDir()
	_, runs := plan(t, gridSweep)
	for _, r := range runs {
		y, err := ConfigYAML(r.Config)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, r.Name+".yaml")
		if err := os.WriteFile(p, y, 0o644); err != nil {
			t.Fatal(err)
		}
		// What minrl train --config FILE loads: base.yaml, then the file.
		got, err := configs.Load(configs.Source{File: p})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r.Config) {
			t.Errorf("%s:\n got %+v\nwant %+v", r.Name, got, r.Config)
		}
	}
}

func TestArraySpec(t *testing.T) {
	for _, c := range []struct {
		in   []int
		want string
	}{
		{[]int{0, 1, 2, 3}, "0-3"},
		{[]int{5}, "5"},
		{[]int{7, 0, 1, 3, 4, 5, 9, 9}, "0-1,3-5,7,9"},
	} {
		if got := ArraySpec(c.in); got != c.want {
			t.Errorf("ArraySpec(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSlurmScript(t *testing.T) {
	s, runs := plan(t, gridSweep)
	id, _ := PlanID(runs)
	o := SlurmOptions{Partition: "gpu", Time: "2:00:00", CPUsPerTask: 4, Mem: "8G", GPUs: "1", ArrayLimit: 3,
		Binary: "/shared/bin/minrl", Workdir: "/shared/me", Device: "cuda", DataDir: "/shared/data sets",
		Extra: []string{"--constraint=avx2"}}
	got, err := s.SlurmScript([]int{0, 1, 2, 5}, id, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#!/bin/bash\n",
		"#SBATCH --job-name=minrl-g\n",
		"#SBATCH --array=0-2,5%3\n",
		"#SBATCH --chdir=/shared/me\n",
		"#SBATCH --output=/shared/me/OUT/logs/slurm-%A_%a.log\n",
		"#SBATCH --open-mode=append\n",
		"#SBATCH --requeue\n",
		"#SBATCH --cpus-per-task=4\n",
		"#SBATCH --partition=gpu\n",
		"#SBATCH --time=2:00:00\n",
		"#SBATCH --mem=8G\n",
		"#SBATCH --gpus-per-task=1\n",
		"#SBATCH --constraint=avx2\n",
		`export GOMAXPROCS="${SLURM_CPUS_PER_TASK:-4}"` + "\n",
		"export MINRL_DATA_DIR='/shared/data sets'\n",
		"exec /shared/bin/minrl sweep task " + s.File + " --out OUT --plan " + id + ` --index "$SLURM_ARRAY_TASK_ID" --device cuda` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("script lacks %q:\n%s", want, got)
		}
	}
	// Directives come before the first command (sbatch stops reading them there).
	lastDirective, firstCommand := strings.LastIndex(got, "#SBATCH"), strings.Index(got, "\nset -eu")
	if lastDirective > firstCommand {
		t.Errorf("an #SBATCH line after the first command:\n%s", got)
	}
	// Without a partition, time, memory or GPUs: no such lines (the cluster's defaults).
	got, _ = s.SlurmScript([]int{0}, id, SlurmOptions{Binary: "/b", Workdir: "/w"})
	for _, absent := range []string{"--partition", "--time", "--mem", "--gpus", "--device", "MINRL_DATA_DIR", "--array=0%"} {
		if strings.Contains(strings.ReplaceAll(got, "%A_%a", ""), absent) {
			t.Errorf("script has %q:\n%s", absent, got)
		}
	}
	if _, err := s.SlurmScript(nil, id, o); err == nil {
		t.Error("no indices: no error")
	}
}
