//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The whole local path: plan, run (each run a child process of this test
// binary), status, the results table of the sweep, and --update.
func TestSweepRunStatusResults(t *testing.T) {
	t.Setenv(childEnv, "1") // the runs' processes run main()
	dir := t.TempDir()
	file := filepath.Join(dir, "s.yaml")
	sweepText := `name: s
out: ` + filepath.Join(dir, "out") + `
set:
  model: {embed: 8, layers: 1, k: 4}
  train: {steps: 4, batch: 4, warmup: 1, log_every: 2, eval_every: 0}
  eval.episodes: 1
grid:
  seed: [1, 2]
  dataset: [pendulum-medium]
  model: [mingru, bc]
`
	if err := os.WriteFile(file, []byte(sweepText), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := runCmd(t, newSweepCmd(), "plan", file)
	if err != nil || !strings.Contains(got, "4 runs in") || !strings.Contains(got, "pendulum-medium-bc-s2") {
		t.Fatalf("plan: %v\n%s", err, got)
	}
	if got, err = runCmd(t, newSweepCmd(), "status", file); err != nil || !strings.Contains(got, "4 runs: 4 pending") {
		t.Fatalf("status before: %v\n%s", err, got)
	}
	if got, err = runCmd(t, newSweepCmd(), "run", file, "--workers", "2"); err != nil || !strings.Contains(got, "4 of 4 runs done, 0 failed") {
		t.Fatalf("run: %v\n%s", err, got)
	}
	if got, err = runCmd(t, newSweepCmd(), "status", file); err != nil || !strings.Contains(got, "4 runs: 4 done") {
		t.Fatalf("status after: %v\n%s", err, got)
	}
	if got, err = runCmd(t, newSweepCmd(), "run", file); err != nil || !strings.Contains(got, "4 runs were done before") {
		t.Fatalf("run again: %v\n%s", err, got)
	}
	md := filepath.Join(dir, "results.md")
	os.WriteFile(md, []byte("# R\n<!-- table: x -->\nold\n<!-- /table -->\nend\n"), 0o644)
	got, err = runCmd(t, newResultsCmd(), file, "--update", md)
	if err != nil || !strings.Contains(got, "| pendulum-medium |") || !strings.Contains(got, "(2) |") {
		t.Fatalf("results: %v\n%s", err, got)
	}
	b, _ := os.ReadFile(md)
	if s := string(b); !strings.HasPrefix(s, "# R\n<!-- table: x -->\nLast checkpoint:") || !strings.HasSuffix(s, "\n<!-- /table -->\nend\n") || strings.Contains(s, "\nold\n") {
		t.Errorf("--update:\n%s", s)
	}
	if got, err = runCmd(t, newSweepCmd(), "task", file); err == nil {
		t.Errorf("task without --index: no error\n%s", got)
	}
	if got, err = runCmd(t, newSweepCmd(), "slurm", file, "--dry-run"); err != nil || !strings.Contains(got, "nothing to submit") {
		t.Errorf("slurm of a done sweep: %v\n%s", err, got)
	}
	if got, err = runCmd(t, newSweepCmd(), "slurm", file, "--dry-run", "--all", "--array-limit", "1"); err != nil || !strings.Contains(got, "#SBATCH --array=0-3%1") {
		t.Errorf("slurm --dry-run --all: %v\n%s", err, got)
	}
}
