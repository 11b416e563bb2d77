package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runCmd executes a fresh command (newTrainCmd(), newEvalCmd()) on its own,
// so the tests do not depend on main.go registering it.
func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// tinyConfig shrinks the preset's model and evaluation to run in well under
// a second.
const tinyConfig = `model:
  embed: 8
  layers: 1
  k: 4
train:
  batch: 4
  warmup: 2
  log_every: 2
eval:
  episodes: 2
`

// writeTinyConfig writes tinyConfig into dir and returns its path.
func writeTinyConfig(t *testing.T, dir string) string {
	t.Helper()
	cfg := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(cfg, []byte(tinyConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestTrainThenEval(t *testing.T) {
	dir := t.TempDir()
	cfg := writeTinyConfig(t, dir)
	out := filepath.Join(dir, "run")
	got, err := runCmd(t, newTrainCmd(), "pendulum-medium-mingru", "--config", cfg, "--steps", "4", "--eval-every", "2", "--out", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	for _, want := range []string{"training pendulum-medium-mingru", "embed 8", "4 steps of batch 4", "last (step 4): normalised score",
		"best (step ", "step 2: normalised score", "outputs in " + out} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, f := range []string{"last.safetensors", "best.safetensors", "metrics.csv", "summary.json", "eval_final.csv", "loss.png", "eval.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// minrl results reads the run's summary.json: one row, one model, one seed.
	table := filepath.Join(dir, "table.md")
	if got, err := runCmd(t, newResultsCmd(), dir, "--out", table); err != nil {
		t.Errorf("results: %v\n%s", err, got)
	} else if data, _ := os.ReadFile(table); !strings.Contains(string(data), "| dataset | data | mingru |") || !strings.Contains(string(data), "| pendulum-medium | ") ||
		!strings.Contains(string(data), "(1) |") || !strings.Contains(string(data), "training steps: 4") {
		t.Errorf("results table:\n%s", data)
	}
	// The same command again resumes the finished run.
	if got, err := runCmd(t, newTrainCmd(), "pendulum-medium-mingru", "--config", cfg, "--steps", "4", "--eval-every", "2", "--out", out); err != nil ||
		!strings.Contains(got, "resuming") {
		t.Errorf("rerun: %v\n%s", err, got)
	}
	// Another config in the same directory is refused, naming the key.
	if _, err := runCmd(t, newTrainCmd(), "pendulum-medium-mingru", "--config", cfg, "--steps", "4", "--eval-every", "2", "--out", out, "--lr", "0.01"); err == nil ||
		!strings.Contains(err.Error(), "train.lr") {
		t.Errorf("another lr: %v", err)
	}

	evalDir := filepath.Join(dir, "eval")
	got, err = runCmd(t, newEvalCmd(), filepath.Join(out, "best.safetensors"), "--episodes", "2", "--targets", "-150,-300", "--seed", "7", "--out", evalDir)
	if err != nil {
		t.Fatalf("%v\n%s", err, got)
	}
	for _, want := range []string{"target -150 on Pendulum-v1, 2 episodes (seeds 7..8): return", "target -300", "normalised score", "eval_best.csv"} {
		if !strings.Contains(got, want) {
			t.Errorf("eval output lacks %q:\n%s", want, got)
		}
	}
	for _, f := range []string{"eval_best.csv", "eval_best.json"} {
		if _, err := os.Stat(filepath.Join(evalDir, f)); err != nil {
			t.Error(err)
		}
	}
	// Defaults: the run's targets, episodes and seed, files next to the checkpoint.
	got, err = runCmd(t, newEvalCmd(), filepath.Join(out, "last.safetensors"))
	if err != nil || !strings.Contains(got, "target -150 on Pendulum-v1, 2 episodes (seeds 1000..1001)") {
		t.Errorf("eval with defaults: %v\n%s", err, got)
	}
	if _, err := os.Stat(filepath.Join(out, "eval_last.json")); err != nil {
		t.Error(err)
	}
	// A run directory evaluates its best checkpoint, and says so; render
	// plays a checkpoint in its own environment (Pendulum, not the
	// default Hopper).
	got, err = runCmd(t, newEvalCmd(), out, "--episodes", "1")
	if err != nil || !strings.Contains(got, "evaluating "+filepath.Join(out, "best.safetensors")) {
		t.Errorf("eval of the run directory: %v\n%s", err, got)
	}
	gif := filepath.Join(dir, "r.gif")
	if got, err = runCmd(t, newRenderCmd(), "--policy", filepath.Join(out, "best.safetensors"), "--out", gif, "--max-steps", "3"); err != nil || !strings.Contains(got, "Pendulum-v1:") {
		t.Errorf("render of a Pendulum checkpoint: %v\n%s", err, got)
	}
}

// Issue 17, item 5: errors that say what is wrong first.
func TestNewcomerErrors(t *testing.T) {
	if _, err := runCmd(t, newEvalCmd(), "train_test.go"); err == nil || !strings.Contains(err.Error(), "not a minrl checkpoint") {
		t.Errorf("eval of a source file: %v", err)
	}
	if _, err := runCmd(t, newEvalCmd(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "is a directory without") {
		t.Errorf("eval of an empty directory: %v", err)
	}
	if _, err := runCmd(t, newTrainCmd(), "hopper-meduim-mingru", "--out", t.TempDir()); err == nil || !strings.Contains(err.Error(), "did you mean hopper-medium?") {
		t.Errorf("a typo in the dataset kind: %v", err)
	}
	if out, err := run(t, "--version"); err != nil || !strings.Contains(out, "minrl version ") {
		t.Errorf("--version: %v %q", err, out)
	}
}

func TestTrainListsPresets(t *testing.T) {
	got, err := runCmd(t, newTrainCmd(), "--list")
	if err != nil || !strings.Contains(got, "pendulum-medium-mingru\n") || !strings.Contains(got, "pendulum-medium") {
		t.Errorf("%v\n%s", err, got)
	}
}

func TestTrainAndEvalRejectBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},                     // no preset, no config
		{"mars-medium-mingru"}, // unknown preset
		{"pendulum-medium-mingru", "--steps", "abc"},
		{"pendulum-medium-mingru", "--lr", "-1", "--out", dir},
		{"pendulum-medium-mingru", "--config", filepath.Join(dir, "missing.yaml")},
		{"pendulum-medium-mingru", "extra-arg"},
		{"pendulum-medium-mingru", "--no-such-flag"},
	} {
		if got, err := runCmd(t, newTrainCmd(), args...); err == nil {
			t.Errorf("train %v: no error\n%s", args, got)
		}
	}
	for _, args := range [][]string{
		{},
		{filepath.Join(dir, "missing.safetensors")},
		{filepath.Join(dir, "x.safetensors"), "--episodes", "0"},
		{filepath.Join(dir, "x.safetensors"), "--targets", "abc"},
	} {
		if got, err := runCmd(t, newEvalCmd(), args...); err == nil {
			t.Errorf("eval %v: no error\n%s", args, got)
		}
	}
}

func TestTrainMaxMemory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if _, err := runCmd(t, newTrainCmd(), "pendulum-medium-mingru", "--max-memory", "1K", "--out", out); err == nil || !strings.Contains(err.Error(), "needs about") {
		t.Errorf("--max-memory 1K: %v", err)
	}
	if _, err := runCmd(t, newTrainCmd(), "pendulum-medium-mingru", "--max-memory", "lots", "--out", out); err == nil || !strings.Contains(err.Error(), "--max-memory") {
		t.Errorf("--max-memory lots: %v", err)
	}
}
