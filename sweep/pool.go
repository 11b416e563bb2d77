package sweep

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Pool calls do(ctx, i) for i in [0, jobs) on n workers and returns each
// job's error. A failed job does not stop the others. Once ctx is done no
// job starts (its error is ctx's) and the running ones see ctx cancelled.
func Pool(ctx context.Context, n, jobs int, do func(ctx context.Context, i int) error) []error {
	errs := make([]error, jobs)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, min(n, jobs)) {
		wg.Go(func() {
			for i := range next {
				errs[i] = do(ctx, i)
			}
		})
	}
	for i := range jobs {
		if ctx.Err() != nil {
			errs[i] = ctx.Err()
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			errs[i] = ctx.Err()
		}
	}
	close(next)
	wg.Wait()
	return errs
}

// Event reports a local sweep's progress.
type Event struct {
	Kind  string // "skip" (done before), "start", "step", "end"
	Run   Run
	Step  int
	Steps int
	Err   error // "end": nil when the run finished
}

// LocalOptions configure RunLocal.
type LocalOptions struct {
	Workers int
	// CPUs shared out among the workers (default runtime.NumCPU()): each
	// run gets GOMAXPROCS = CPUs / Workers (at least 1).
	CPUs int
	// Command makes the process that runs one run (exec.CommandContext
	// with ctx): minrl sweep task with --report (progress lines on stdout,
	// see ReportLine).
	Command func(ctx context.Context, r Run) *exec.Cmd
	// Events, when set, is called from the workers (serialised).
	Events func(Event)
	// Stop is how long a run may take to save its checkpoint after
	// SIGTERM before it is killed (default 1 minute).
	Stop time.Duration
}

// ReportPrefix starts the progress lines minrl sweep task --report writes
// on stdout: "@minrl step STEP STEPS".
const ReportPrefix = "@minrl step "

// ReportLine is one progress line.
func ReportLine(step, steps int) string { return fmt.Sprintf("%s%d %d", ReportPrefix, step, steps) }

// RunLocal runs the runs that are not done, each in its own process (so
// each has its own GOMAXPROCS, and a crash is one run's), Workers at a
// time. Each run's output goes to logs/<name>.log. When ctx is cancelled
// the running processes get SIGTERM, save their checkpoints and exit: the
// sweep resumes where it stopped. It returns each run's error (nil: done),
// in the order of runs.
func (s *Sweep) RunLocal(ctx context.Context, runs []Run, opts LocalOptions) []error {
	cpus := opts.CPUs
	if cpus <= 0 {
		cpus = runtime.NumCPU()
	}
	workers := max(1, opts.Workers)
	share := max(1, cpus/workers)
	var mu sync.Mutex
	emit := func(ev Event) {
		if opts.Events != nil {
			mu.Lock()
			defer mu.Unlock()
			opts.Events(ev)
		}
	}
	errs := make([]error, len(runs))
	var todo []int
	for i, r := range runs {
		if s.status(r).State == Done {
			emit(Event{Kind: "skip", Run: r, Step: r.Config.Train.Steps, Steps: r.Config.Train.Steps})
			continue
		}
		todo = append(todo, i)
	}
	perr := Pool(ctx, workers, len(todo), func(ctx context.Context, j int) error {
		r := runs[todo[j]]
		emit(Event{Kind: "start", Run: r, Steps: r.Config.Train.Steps})
		err := s.runProcess(ctx, r, opts, share, func(step, steps int) {
			emit(Event{Kind: "step", Run: r, Step: step, Steps: steps})
		})
		emit(Event{Kind: "end", Run: r, Err: err, Steps: r.Config.Train.Steps})
		return err
	})
	for j, i := range todo {
		errs[i] = perr[j]
	}
	return errs
}

// runProcess runs one run's process, its output appended to its log.
func (s *Sweep) runProcess(ctx context.Context, r Run, opts LocalOptions, gomaxprocs int, step func(step, steps int)) error {
	logPath := filepath.Join(s.LogDir(), r.Name+".log")
	if err := os.MkdirAll(s.LogDir(), 0o755); err != nil {
		return err
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "== %s %s\n", time.Now().UTC().Format(time.RFC3339), r.Name)
	cmd := opts.Command(ctx, r)
	cmd.Env = append(cmd.Environ(), "GOMAXPROCS="+strconv.Itoa(gomaxprocs))
	tail := &lastLines{n: 5}
	cmd.Stderr = io.MultiWriter(log, tail)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	// Stopping: SIGTERM (the run saves its checkpoint), then a kill after
	// opts.Stop.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = opts.Stop
	if cmd.WaitDelay <= 0 {
		cmd.WaitDelay = time.Minute
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, ReportPrefix); ok {
			var a, b int
			if _, err := fmt.Sscan(rest, &a, &b); err == nil {
				step(a, b)
				continue
			}
		}
		fmt.Fprintln(log, line)
	}
	if err := cmd.Wait(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s interrupted (resumable): %w", r.Name, ctx.Err())
		}
		if msg := tail.last(); msg != "" {
			return fmt.Errorf("%s: %s (log: %s)", r.Name, msg, logPath)
		}
		return fmt.Errorf("%s: %w (log: %s)", r.Name, err, logPath)
	}
	return nil
}

// lastLines keeps the last non-empty lines written to it.
type lastLines struct {
	n     int
	mu    sync.Mutex
	buf   []byte
	lines []string
}

func (l *lastLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(l.buf[:i])); line != "" {
			l.lines = append(l.lines, line)
			if len(l.lines) > l.n {
				l.lines = l.lines[1:]
			}
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func (l *lastLines) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return ""
	}
	return l.lines[len(l.lines)-1]
}

// ErrsSummary counts runs by outcome.
func ErrsSummary(errs []error) (ok, failed, interrupted int) {
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, context.Canceled):
			interrupted++
		default:
			failed++
		}
	}
	return
}
