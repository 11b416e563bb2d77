package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/policy"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestBenchSpeedWritesResults(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "bench", "speed", "--models", "mingru,minlstm", "--T", "4,8", "--batch", "2", "--dim", "4", "--repeats", "1", "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "| 8 |") {
		t.Errorf("no table in output:\n%s", out)
	}
	for _, f := range []string{"speed.md", "speed.json", "speed.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// --quick shortens what was not set explicitly and keeps what was.
func TestBenchQuickKeepsExplicitFlags(t *testing.T) {
	out, err := run(t, "bench", "speed", "--quick", "--repeats", "1", "--models", "mingru", "--T", "4", "--batch", "2", "--dim", "4", "--out", "")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "1 repeats") || !strings.Contains(out, "| 4 |") || strings.Contains(out, "| 64 |") {
		t.Errorf("--quick overrode --repeats 1 or --T 4:\n%s", out)
	}
}

func TestBadFlagsFail(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "speed", "--models", "nope", "--out", ""},
		{"bench", "speed", "--T", "abc"},
		{"bench", "scan", "--elems", "10"},
		{"no-such-command"},
		{"envs", "list", "extra"},
		{"envs", "lst"}, // unknown subcommands fail (issue 17, item 5)
		{"bench", "nope"},
		{"render", "--env", "Pendulum-v1", "stray"},
		{"render", "--env", "Pendulum-v1", "--max-steps", "-1", "--out", filepath.Join(t.TempDir(), "x.gif")},
		{"bench", "scan", "--elems", "1099511627776"},
		{"bench", "speed", "--T", "1000000000", "--out", ""},
		{"bench", "speed", "--repeats", "1000000", "--out", ""},
		{"dataset", "info", "pendulum-medium", "--bins", "100000000"},
		{"collect", "--env", "Pendulum-v1", "stray"},
	} {
		if _, err := run(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestRenderWritesAGIF(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "render", "--env", "Pendulum-v1", "--out", filepath.Join(dir, "p.gif"), "--frames", filepath.Join(dir, "frames"), "--max-steps", "6", "--every", "2", "--width", "32", "--height", "32")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "p.gif"))
	if err != nil || !strings.HasPrefix(string(data), "GIF89a") {
		t.Fatalf("no GIF: %v", err)
	}
	frames, _ := os.ReadDir(filepath.Join(dir, "frames"))
	if len(frames) != 4 {
		t.Errorf("%d frames, want 4 (steps 0, 2, 4, 6)", len(frames))
	}
	if _, err := run(t, "render", "--env", "Nope-v0"); err == nil {
		t.Error("unknown env accepted")
	}
	for _, size := range [][]string{{"--height", "100000000"}, {"--width", "8"}} {
		if _, err := run(t, append([]string{"render", "--env", "Pendulum-v1", "--out", filepath.Join(dir, "big.gif")}, size...)...); err == nil || !strings.Contains(err.Error(), "16 to 4096 pixels") {
			t.Errorf("%v: %v", size, err)
		}
	}
}

func TestEnvsList(t *testing.T) {
	out, err := run(t, "envs", "list")
	if err != nil || !strings.Contains(out, "Pendulum-v1") {
		t.Errorf("%v\n%s", err, out)
	}
}

func TestRenderWithACheckpoint(t *testing.T) {
	dir := t.TempDir()
	cfg := policy.DefaultConfig("mingru", 3, 1)
	cfg.Embed, cfg.Layers, cfg.K, cfg.MaxEpLen = 8, 1, 4, 200
	m, err := policy.NewDecision(cfg, nn.NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(dir, "m.safetensors")
	if err := policy.Save(ck, m, policy.Info{EnvID: "Pendulum-v1", Targets: []float64{-150}}, nil); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "render", "--env", "Pendulum-v1", "--policy", ck, "--out", filepath.Join(dir, "p.gif"), "--max-steps", "5", "--width", "32", "--height", "32")
	if err != nil || !strings.Contains(out, "5 steps") {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := run(t, "render", "--env", "CartPole-v1", "--policy", ck, "--out", filepath.Join(dir, "c.gif")); err == nil || !strings.Contains(err.Error(), "trained on Pendulum-v1") {
		t.Errorf("wrong env: %v", err)
	}
	// Without stored targets, --target is needed, and 0 (Pendulum's best
	// return) is a target like any other.
	if err := policy.Save(ck, m, policy.Info{EnvID: "Pendulum-v1"}, nil); err != nil {
		t.Fatal(err)
	}
	args := []string{"render", "--env", "Pendulum-v1", "--policy", ck, "--out", filepath.Join(dir, "p.gif"), "--max-steps", "2", "--width", "32", "--height", "32"}
	if _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), "(--target)") {
		t.Errorf("no stored target, no --target: %v", err)
	}
	if _, err := run(t, append(args, "--target", "0")...); err != nil {
		t.Errorf("--target 0: %v", err)
	}
}

func TestFormatCommandRecordsConfigOverrides(t *testing.T) {
	env := []string{"PATH=/bin", "MINRL_TRAIN_LR=0.001", "MINRL_DATA_DIR=/data", "MINRL_EVAL_EPISODES=10", "HOME=/root"}
	got := formatCommand([]string{"train", "hopper-medium-mingru", "--out", "runs/a b"}, env, "")
	want := "MINRL_EVAL_EPISODES=10 MINRL_TRAIN_LR=0.001 minrl train hopper-medium-mingru --out 'runs/a b'"
	if got != want {
		t.Errorf("formatCommand = %q, want %q", got, want)
	}
	got = formatCommand([]string{"bench", "--note", "it's"}, nil, "openblas")
	want = `go run -tags openblas ./cmd/minrl bench --note 'it'\''s'`
	if got != want {
		t.Errorf("formatCommand = %q, want %q", got, want)
	}
}

// eval and dataset info refuse a FIFO or a device at once instead of
// waiting on it forever or reading it without end (issue 16, item 7).
func TestSpecialFilesAreRefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "ck.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for _, args := range [][]string{{"eval", fifo}, {"eval", "/dev/zero"}, {"dataset", "info", fifo}} {
		done := make(chan error, 1)
		go func() {
			_, err := run(t, args...)
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%v: %v", args, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v hangs", args)
		}
	}
}

func TestBenchSelectiveCopy(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "bench", "selective-copy", "--model", "minlstm,LSTM", "--layers", "1", "--len", "6", "--tokens", "2",
		"--steps", "2", "--dim", "4", "--batch", "2", "--eval-every", "1", "--eval-size", "4", "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "| 6 | 2 | minlstm | 1 |") || !strings.Contains(out, "| 6 | 2 | lstm | 1 |") {
		t.Errorf("no depth table in output:\n%s", out)
	}
	if out, err = run(t, "bench", "selective-copy", "--report", "--out", dir); err != nil || !strings.Contains(out, "| 6 | 2 | lstm | 1 |") {
		t.Errorf("--report: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{"--model", "rnn"},
		{"--layers", "0"},
		{"--len", "4", "--tokens", "16"},
		{"--tokens", "0"},
		{"--steps", "0"},
		{"--lr", "-1"},
		{"--seeds", "-1"},
		{"--layers", "x"},
		{"--report", "--out", ""},
		{"--report", "--out", t.TempDir()},
		{"--device", "tpu"},
		{"--device", "cuda", "--model", "gru"},
	} {
		if out, err := run(t, append([]string{"bench", "selective-copy"}, args...)...); err == nil {
			t.Errorf("%v: no error\n%s", args, out)
		}
	}
	if !cuda.Available() {
		_, err := run(t, "bench", "selective-copy", "--device", "cuda", "--len", "6", "--tokens", "2", "--out", "")
		if err == nil || !strings.Contains(err.Error(), "-tags cuda") {
			t.Errorf("--device cuda in a CPU build: %v, want an error that says how to build with CUDA", err)
		}
	}
}
