package sweep

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minrl/minrl/configs"
	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/internal/runlock"
	"github.com/minrl/minrl/runners"
)

// States of a run.
const (
	Done        = "done"        // summary.json of this config (in the run directory or the record)
	Running     = "running"     // a process holds the run directory
	Failed      = "failed"      // the last attempt ended with an error other than an interruption
	Interrupted = "interrupted" // stopped (Ctrl-C, SIGTERM, killed) with a checkpoint to resume from
	Pending     = "pending"     // not started
)

// state is a run's state file, written by the process that runs it.
type state struct {
	State    string    `json:"state"` // Running, Failed, Interrupted or Done
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	SlurmJob string    `json:"slurm_job,omitempty"` // SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended,omitzero"`
	Step     int       `json:"step,omitempty"`
	Error    string    `json:"error,omitempty"`
	Log      string    `json:"log,omitempty"`
}

func (s *Sweep) writeState(name string, st state) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.StatePath(name), append(b, '\n'))
}

func (s *Sweep) readState(name string) (state, bool) {
	var st state
	b, err := os.ReadFile(s.StatePath(name))
	if err != nil || json.Unmarshal(b, &st) != nil {
		return state{}, false
	}
	return st, true
}

// TaskOptions are the settings of one run that are not in its config.
type TaskOptions struct {
	Device    string // runners.TrainOptions.Device
	SkipPlots bool
	// Progress receives the run's training events.
	Progress func(runners.TrainEvent)
	// Command is recorded in the summary (default: Sweep.Command).
	Command string
	// Log, when set, is recorded in the state file (where this attempt's
	// output goes).
	Log string
}

// ErrDone says a task found its run already done.
var ErrDone = errors.New("already done")

// Command is the command recorded with a run: minrl train on the run's full
// resolved config, from the directory the sweep ran in.
func (s *Sweep) Command(r Run) string {
	return "minrl train --config " + shellQuote(s.ConfigPath(r.Name))
}

// Task runs one run of the sweep: it writes the run's full config, then
// trains (resuming an interrupted run from its checkpoint), recording the
// attempt in the run's state file. A done run returns ErrDone at once.
// An interrupted task (ctx cancelled) leaves the run resumable.
func (s *Sweep) Task(ctx context.Context, r Run, opts TaskOptions) error {
	if st := s.status(r); st.State == Done {
		return ErrDone
	}
	y, err := ConfigYAML(r.Config)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(s.ConfigPath(r.Name), y); err != nil {
		return err
	}
	host, _ := os.Hostname()
	st := state{State: Running, Host: host, PID: os.Getpid(), Started: time.Now().UTC(), Log: opts.Log}
	if j, t := os.Getenv("SLURM_ARRAY_JOB_ID"), os.Getenv("SLURM_ARRAY_TASK_ID"); j != "" {
		st.SlurmJob = j + "_" + t
	} else if j := os.Getenv("SLURM_JOB_ID"); j != "" {
		st.SlurmJob = j
	}
	if err := s.writeState(r.Name, st); err != nil {
		return err
	}
	step := 0
	progress := func(ev runners.TrainEvent) {
		step = ev.Step
		if opts.Progress != nil {
			opts.Progress(ev)
		}
	}
	if opts.Command == "" {
		opts.Command = s.Command(r)
	}
	topts := runners.TrainOptions{Progress: progress, Command: opts.Command, SkipPlots: opts.SkipPlots, Device: opts.Device}
	_, err = runners.Train(ctx, r.Config, topts)
	// A status query takes the run's lock for an instant: try again.
	for try := 0; try < 3 && errors.Is(err, runlock.ErrLocked) && !s.heldByOther(r); try++ {
		time.Sleep(500 * time.Millisecond)
		_, err = runners.Train(ctx, r.Config, topts)
	}
	st.Ended, st.Step = time.Now().UTC(), step
	switch {
	case err == nil:
		st.State = Done
		if s.Record != "" {
			if rerr := s.record(r); rerr != nil {
				st.State, st.Error, err = Failed, rerr.Error(), rerr
			}
		}
	case ctx.Err() != nil:
		st.State, st.Error = Interrupted, err.Error()
	case errors.Is(err, runlock.ErrLocked):
		// Another process runs it: its state file is its own.
		return err
	default:
		st.State, st.Error = Failed, err.Error()
	}
	if werr := s.writeState(r.Name, st); werr != nil {
		return errors.Join(err, werr)
	}
	return err
}

func (s *Sweep) heldByOther(r Run) bool {
	held, pid := runlock.Held(r.Config.Out)
	return held && pid != 0 && pid != os.Getpid()
}

// recordFiles are the files of a finished run Record keeps.
var recordFiles = []string{runners.FileSummary, runners.FileEvals, runners.FileMetricsCSV, runners.PrefixFinal + ".json"}

// record copies a finished run's small result files to the record.
func (s *Sweep) record(r Run) error {
	for _, f := range recordFiles {
		b, err := os.ReadFile(filepath.Join(r.Config.Out, f))
		if err != nil {
			return fmt.Errorf("record: %w", err)
		}
		if err := atomicfile.WriteFile(filepath.Join(s.Record, r.Name, f), b); err != nil {
			return fmt.Errorf("record: %w", err)
		}
	}
	return nil
}

// Status is a run's state as its files say.
type Status struct {
	Run
	State  string
	Step   int    // the last step logged or checkpointed (not for Done)
	Detail string // the error of a failed run, where a running one runs, ...
}

// Status reads the state of every run from its directory, state file and
// lock: it needs no scheduler.
func (s *Sweep) Status(runs []Run) []Status {
	out := make([]Status, len(runs))
	for i, r := range runs {
		out[i] = s.status(r)
	}
	return out
}

func (s *Sweep) status(r Run) Status {
	st := Status{Run: r}
	// Done: a summary of this config, in the run directory or the record.
	dirs := []string{r.Config.Out}
	if s.Record != "" {
		dirs = append(dirs, filepath.Join(s.Record, r.Name))
	}
	for _, dir := range dirs {
		ok, why := summaryMatches(filepath.Join(dir, runners.FileSummary), r)
		if ok {
			st.State, st.Detail = Done, dir
			return st
		}
		if why != "" {
			st.State, st.Detail = Failed, why
			return st
		}
	}
	rec, hasRec := s.readState(r.Name)
	st.Step = lastStep(r.Config.Out)
	if held, pid := runlock.Held(r.Config.Out); held {
		st.State = Running
		if hasRec && rec.State == Running {
			st.Detail = fmt.Sprintf("on %s, pid %d", rec.Host, rec.PID)
			if rec.SlurmJob != "" {
				st.Detail += ", Slurm job " + rec.SlurmJob
			}
		} else {
			st.Detail = fmt.Sprintf("pid %d", pid)
		}
		return st
	}
	resumable := exists(filepath.Join(r.Config.Out, runners.FileLast))
	switch {
	case hasRec && rec.State == Failed:
		st.State, st.Detail = Failed, rec.Error
	case resumable || (hasRec && (rec.State == Running || rec.State == Interrupted)):
		// A state file that says running with nobody holding the lock: the
		// process was killed (SIGKILL, a lost node, a Slurm time limit).
		st.State = Interrupted
		if resumable {
			st.Detail = "resumes from " + runners.FileLast
		} else {
			st.Detail = "stopped before its first checkpoint: starts again"
		}
	default:
		st.State = Pending
	}
	return st
}

// summaryMatches reports whether path is the summary of a run of r's
// config (name and out aside); why says how it differs when it is not.
func summaryMatches(path string, r Run) (ok bool, why string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, ""
	}
	var sum struct {
		Config json.RawMessage `json:"config"`
		Steps  int             `json:"steps"`
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return false, fmt.Sprintf("%s: %v", path, err)
	}
	want, err := r.Config.Identity()
	if err != nil {
		return false, err.Error()
	}
	diff, err := configs.Diff(string(sum.Config), want)
	if err != nil {
		return false, fmt.Sprintf("%s: config: %v", path, err)
	}
	// A run recorded under another name (the grid before sweeps) is the
	// same run.
	diff = slices.DeleteFunc(diff, func(d string) bool { return strings.HasPrefix(d, "name ") })
	if len(diff) > 0 {
		return false, fmt.Sprintf("%s is of another config (%s): move it away, or change the sweep back", path, strings.Join(diff, "; "))
	}
	if sum.Steps != r.Config.Train.Steps {
		return false, fmt.Sprintf("%s stopped at step %d of %d", path, sum.Steps, r.Config.Train.Steps)
	}
	return true, ""
}

// lastStep is the step of the last line of a run's metrics.jsonl (0 when
// it has none).
func lastStep(dir string) int {
	f, err := os.Open(filepath.Join(dir, runners.FileMetrics))
	if err != nil {
		return 0
	}
	defer f.Close()
	// The last 4 KiB hold the last record.
	if fi, err := f.Stat(); err == nil && fi.Size() > 4096 {
		f.Seek(fi.Size()-4096, io.SeekStart)
	}
	step := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m struct {
			Step int `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			step = m.Step
		}
	}
	return step
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
