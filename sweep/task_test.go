package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/minrl/minrl/envs/classic" // Pendulum-v1
	"github.com/minrl/minrl/internal/runlock"
	"github.com/minrl/minrl/runners"
)

// helperEnv makes the test binary act as a sweep task (see TestMain).
const helperEnv = "GO_TEST_SWEEP_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// helper is a fake task: it reports progress, says its GOMAXPROCS, and
// fails, succeeds or waits for SIGTERM.
func helper(mode string) int {
	// As minrl's main: SIGTERM is caught before anything is reported.
	ctx, stop := signalContext()
	defer stop()
	fmt.Println(ReportLine(1, 2))
	fmt.Println("gomaxprocs", os.Getenv("GOMAXPROCS"))
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "something went wrong")
		return 1
	case "wait":
		fmt.Println("waiting")
		select {
		case <-ctx.Done():
			fmt.Println("saved at SIGTERM")
			return 3
		case <-time.After(time.Minute):
			return 4
		}
	}
	fmt.Println(ReportLine(2, 2))
	return 0
}

const tinySweep = `
name: tiny
set:
  model: {embed: 8, layers: 1, k: 4}
  train: {steps: 6, batch: 4, warmup: 1, eval_every: 0, checkpoint_every: 2, log_every: 2}
  eval.episodes: 1
grid:
  dataset: [pendulum-medium]
  model: [mingru, bc]
`

func tinyPlan(t *testing.T, extra string) (*Sweep, []Run) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(p, []byte(tinySweep+extra), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(p, filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	runs, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return s, runs
}

func TestTaskTrainsRecordsAndSkips(t *testing.T) {
	s, runs := tinyPlan(t, "record: rec\n")
	r := runs[0]
	if st := s.status(r); st.State != Pending {
		t.Fatalf("before: %+v", st)
	}
	if err := s.Task(context.Background(), r, TaskOptions{SkipPlots: true}); err != nil {
		t.Fatal(err)
	}
	st := s.status(r)
	if st.State != Done {
		t.Fatalf("after: %+v", st)
	}
	rec, ok := s.readState(r.Name)
	if !ok || rec.State != Done || rec.Step != 6 || rec.PID != os.Getpid() {
		t.Errorf("state file: %+v", rec)
	}
	for _, f := range recordFiles {
		if _, err := os.Stat(filepath.Join(s.Record, r.Name, f)); err != nil {
			t.Errorf("record: %v", err)
		}
	}
	b, err := os.ReadFile(filepath.Join(r.Config.Out, runners.FileSummary))
	if err != nil {
		t.Fatal(err)
	}
	var sum runners.TrainResult
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if want := "minrl train --config " + s.ConfigPath(r.Name); sum.Command != want {
		t.Errorf("command %q, want %q", sum.Command, want)
	}
	if _, err := os.Stat(s.ConfigPath(r.Name)); err != nil {
		t.Error(err)
	}
	if err := s.Task(context.Background(), r, TaskOptions{}); !errors.Is(err, ErrDone) {
		t.Errorf("second task: %v, want ErrDone", err)
	}
	// The record alone says done (a fresh machine with the committed record).
	if err := os.RemoveAll(filepath.Join(s.Out, "runs")); err != nil {
		t.Fatal(err)
	}
	if st := s.status(r); st.State != Done {
		t.Errorf("with the record only: %+v", st)
	}
	// A run of another config in the run's place is not done.
	other := runs[0]
	other.Config.Train.LR *= 2
	if st := s.status(other); st.State != Failed || !strings.Contains(st.Detail, "train.lr") {
		t.Errorf("another config: %+v", st)
	}
}

// A cancelled task leaves the run interrupted and resumable; the next task
// finishes it.
func TestTaskInterruptedThenResumed(t *testing.T) {
	s, runs := tinyPlan(t, "")
	r := runs[0]
	r.Config.Train.Steps = 1000
	ctx, cancel := context.WithCancel(context.Background())
	opts := TaskOptions{SkipPlots: true, Progress: func(ev runners.TrainEvent) {
		if ev.Kind == "step" && ev.Step == 3 {
			cancel()
		}
	}}
	if err := s.Task(ctx, r, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled task: %v", err)
	}
	st := s.status(r)
	if st.State != Interrupted || !strings.Contains(st.Detail, "resumes") {
		t.Errorf("after the cancel: %+v", st)
	}
	r.Config.Train.Steps = 6
	// Steps is part of the config: the checkpoint of a 1000-step run does
	// not resume as a 6-step one.
	if err := s.Task(context.Background(), r, TaskOptions{SkipPlots: true}); err == nil {
		t.Fatal("another config resumed")
	}
	if st := s.status(r); st.State != Failed || !strings.Contains(st.Detail, "config") {
		t.Errorf("after a failed resume: %+v", st)
	}
}

func TestStatusClassification(t *testing.T) {
	s, runs := tinyPlan(t, "")
	r := runs[1]
	dir := r.Config.Out
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	check := func(want, detail string) {
		t.Helper()
		st := s.status(r)
		if st.State != want || !strings.Contains(st.Detail, detail) {
			t.Errorf("state %q (%q), want %q (%q)", st.State, st.Detail, want, detail)
		}
	}
	check(Pending, "")
	// A state file that says running with nobody holding the lock: killed.
	if err := s.writeState(r.Name, state{State: Running, Host: "h", PID: 1}); err != nil {
		t.Fatal(err)
	}
	check(Interrupted, "starts again")
	if err := os.WriteFile(filepath.Join(dir, runners.FileLast), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(Interrupted, "resumes from last.safetensors")
	// Held: running, wherever the state file says.
	lock, err := runlock.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	check(Running, "on h, pid 1")
	if err := s.writeState(r.Name, state{State: Failed, Error: "boom"}); err != nil {
		t.Fatal(err)
	}
	check(Running, "pid "+strconv.Itoa(os.Getpid()))
	lock.Release()
	check(Failed, "boom")
	// Held stays false after a status query, and the query leaves the lock free.
	if l, err := runlock.Acquire(dir); err != nil {
		t.Errorf("the lock after status queries: %v", err)
	} else {
		l.Release()
	}
	// A summary of this config: done, whatever the state file says.
	tree := r.Config.Tree()
	b, _ := json.Marshal(map[string]any{"config": tree, "steps": r.Config.Train.Steps})
	if err := os.WriteFile(filepath.Join(dir, runners.FileSummary), b, 0o644); err != nil {
		t.Fatal(err)
	}
	check(Done, dir)
	b, _ = json.Marshal(map[string]any{"config": tree, "steps": 2})
	os.WriteFile(filepath.Join(dir, runners.FileSummary), b, 0o644)
	check(Failed, "stopped at step 2 of 6")
}

func TestPoolIsolatesFailures(t *testing.T) {
	var running, most atomic.Int32
	errs := Pool(context.Background(), 3, 20, func(ctx context.Context, i int) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		if i%4 == 1 {
			return fmt.Errorf("job %d failed", i)
		}
		return nil
	})
	for i, err := range errs {
		if (i%4 == 1) != (err != nil) {
			t.Errorf("job %d: %v", i, err)
		}
	}
	if m := most.Load(); m > 3 || m < 1 {
		t.Errorf("%d jobs at once with 3 workers", m)
	}
}

func TestPoolCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var started sync.WaitGroup
	started.Add(2)
	var sawCancel atomic.Int32
	go func() { started.Wait(); cancel() }()
	errs := Pool(ctx, 2, 10, func(ctx context.Context, i int) error {
		started.Done()
		<-ctx.Done() // a running job sees the cancel
		sawCancel.Add(1)
		return ctx.Err()
	})
	if sawCancel.Load() != 2 {
		t.Errorf("%d jobs ran, want the 2 that started before the cancel", sawCancel.Load())
	}
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("job %d: %v, want context.Canceled", i, err)
		}
	}
}

// RunLocal runs each run in its own process with its share of the CPUs,
// logs its output, carries on past a failure, and stops the running ones
// with SIGTERM when cancelled.
func TestRunLocal(t *testing.T) {
	s, runs := tinyPlan(t, "points:\n  - {dataset: pendulum-expert, model: dt}\n")
	if len(runs) != 3 {
		t.Fatalf("%d runs", len(runs))
	}
	modes := map[string]string{runs[0].Name: "ok", runs[1].Name: "fail", runs[2].Name: "ok"}
	command := func(ctx context.Context, r Run) *exec.Cmd {
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"="+modes[r.Name])
		return cmd
	}
	var mu sync.Mutex
	var steps []string
	errs := s.RunLocal(context.Background(), runs, LocalOptions{Workers: 2, CPUs: 4, Command: command, Events: func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		if ev.Kind == "step" {
			steps = append(steps, fmt.Sprintf("%s %d/%d", ev.Run.Name, ev.Step, ev.Steps))
		}
	}})
	if errs[0] != nil || errs[2] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "something went wrong") {
		t.Errorf("errors: %v", errs)
	}
	if len(steps) != 5 { // 1/2 from each, 2/2 from the two that succeed
		t.Errorf("progress: %q", steps)
	}
	log, err := os.ReadFile(filepath.Join(s.LogDir(), runs[0].Name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "gomaxprocs 2\n") || strings.Contains(string(log), ReportPrefix) {
		t.Errorf("log:\n%s", log)
	}

	// Cancelled: the running processes get SIGTERM; nothing else starts.
	for k := range modes {
		modes[k] = "wait"
	}
	ctx, cancel := context.WithCancel(context.Background())
	var startedN atomic.Int32
	errs = s.RunLocal(ctx, runs, LocalOptions{Workers: 2, Command: command, Events: func(ev Event) {
		if ev.Kind == "step" && startedN.Add(1) == 2 {
			cancel()
		}
	}})
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run %d: %v, want context.Canceled", i, err)
		}
	}
	log, _ = os.ReadFile(filepath.Join(s.LogDir(), runs[0].Name+".log"))
	if !strings.Contains(string(log), "saved at SIGTERM") {
		t.Errorf("the run did not see SIGTERM:\n%s", log)
	}
	if b, err := os.ReadFile(filepath.Join(s.LogDir(), runs[2].Name+".log")); err == nil && strings.Contains(string(b), "waiting") && strings.Count(string(b), "==") > 1 {
		t.Errorf("the third run started after the cancel:\n%s", b)
	}
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM)
}
