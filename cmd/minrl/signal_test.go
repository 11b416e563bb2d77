//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minrl/minrl/policy"
)

// childEnv makes this test binary run main() instead of the tests (the name
// avoids the MINRL_ prefix, which the config reads).
const childEnv = "GO_TEST_RUN_MINRL_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// SIGTERM (kill, timeout, Docker, Slurm, systemd) stops training like Ctrl-C:
// the process exits non-zero after saving the last checkpoint at the step it
// reached.
func TestSIGTERMSavesTheLastCheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := writeTinyConfig(t, dir)
	out := filepath.Join(dir, "run")
	cmd := exec.Command(os.Args[0], "train", "pendulum-medium-mingru", "--config", cfg,
		"--steps", "100000000", "--eval-every", "0", "--out", out)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until training has logged steps, so the signal lands mid-run.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if b, err := os.ReadFile(filepath.Join(out, "metrics.csv")); err == nil && bytes.Count(b, []byte("\n")) > 2 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no training progress after 2 minutes:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1 (a signal kill would mean SIGTERM was not handled)\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted at step") {
		t.Errorf("output does not say where the run stopped:\n%s", stderr.String())
	}
	if _, err := policy.Load(filepath.Join(out, "last.safetensors")); err != nil {
		t.Errorf("last checkpoint: %v", err)
	}
}
