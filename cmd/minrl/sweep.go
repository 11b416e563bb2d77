package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/minrl/minrl/configs"
	"github.com/minrl/minrl/runners"
	"github.com/minrl/minrl/sweep"
)

func newSweepCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Run grids of training runs: locally on a worker pool, or as a Slurm job array",
		Long: `A sweep file (YAML) names a base preset or config and the axes to vary; every
run of the grid is a minrl train run with a stable name in the sweep's directory, so
that a sweep started again skips its finished runs and resumes its interrupted ones
from their last checkpoint. See docs/sweeps.md.

  name: pendulum-grid
  out: runs/pendulum-grid        # the sweep's directory (shared storage for Slurm)
  set: {train.steps: 3000}       # config keys of every run
  grid:                          # their product, seed varying slowest
    seed: [1, 2, 3]
    dataset: [pendulum-medium, pendulum-expert]
    model: [mingru, minlstm, dt, bc]
  when:                          # settings for the matching runs
    - match: {model: [mingru-episode, minlstm-episode]}
      set: {train.batch: 2}
  points:                        # single runs after the grid
    - {dataset: pendulum-random, model: mingru, seed: 1, train.lr: 0.0003}`,
	}
	cmd.AddCommand(newSweepPlanCmd(), newSweepRunCmd(), newSweepTaskCmd(), newSweepSlurmCmd(), newSweepStatusCmd())
	return cmd
}

// loadPlan loads a sweep and its runs; out, when set, replaces its out.
func loadPlan(file, out string) (*sweep.Sweep, []sweep.Run, string, error) {
	s, err := sweep.Load(file, out)
	if err != nil {
		return nil, nil, "", err
	}
	runs, err := s.Plan()
	if err != nil {
		return nil, nil, "", err
	}
	id, err := sweep.PlanID(runs)
	return s, runs, id, err
}

func newSweepPlanCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "plan FILE",
		Short:   "List a sweep's runs: index, name, settings and directory",
		Example: "  minrl sweep plan docs/results/sweep.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, runs, id, err := loadPlan(args[0], out)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "index\tname\tsettings\tdirectory")
			for _, r := range runs {
				var kv []string
				for _, v := range r.Values {
					kv = append(kv, v.String())
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", r.Index, r.Name, strings.Join(kv, " "), r.Config.Out)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%d runs in %s (plan %s)\n", len(runs), s.Out, id)
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the sweep's directory (default: the file's out, or runs/<name>)")
	return cmd
}

func newSweepRunCmd() *cobra.Command {
	var out, device string
	var workers int
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run a sweep on this machine, --workers runs at a time",
		Long: `Runs the sweep's runs that are not done, --workers at a time, each in its own
process with GOMAXPROCS set to its share of the CPUs (results do not depend on it).
Each run's output goes to logs/<name>.log in the sweep's directory. A failed run is
recorded (minrl sweep status shows its error) and the others go on. Ctrl-C stops
every run at its current step with its checkpoint saved: the same command resumes
the sweep. It exits non-zero when a run failed or the sweep was interrupted.`,
		Example: "  minrl sweep run docs/results/sweep.yaml --workers 2",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			warnEnv(cmd.ErrOrStderr())
			s, runs, id, err := loadPlan(args[0], out)
			if err != nil {
				return err
			}
			if workers < 1 {
				return fmt.Errorf("--workers %d: want at least 1", workers)
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			total := 0
			for _, r := range runs {
				total += r.Config.Train.Steps
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "sweep %s: %d runs, %d workers -> %s\n", s.Name, len(runs), workers, s.Out)
			bar := newProgress(cmd, total, "sweep")
			steps := map[string]int{}
			var done, failed, skipped, running int
			describe := func() {
				bar.Describe(fmt.Sprintf("sweep: %d/%d done, %d running, %d failed", done+skipped, len(runs), running, failed))
			}
			sum := func() int {
				n := 0
				for _, v := range steps {
					n += v
				}
				return n
			}
			events := func(ev sweep.Event) {
				switch ev.Kind {
				case "skip":
					skipped++
					steps[ev.Run.Name] = ev.Steps
				case "start":
					running++
					bar.Clear()
					fmt.Fprintf(w, "%s start %s\n", time.Now().Format("15:04:05"), ev.Run.Name)
				case "step":
					steps[ev.Run.Name] = ev.Step
				case "end":
					running--
					bar.Clear()
					if ev.Err == nil {
						done++
						steps[ev.Run.Name] = ev.Steps
						fmt.Fprintf(w, "%s done  %s\n", time.Now().Format("15:04:05"), ev.Run.Name)
					} else if !errors.Is(ev.Err, context.Canceled) {
						failed++
						fmt.Fprintf(w, "%s FAILED %v\n", time.Now().Format("15:04:05"), ev.Err)
					}
				}
				describe()
				bar.Set(sum())
			}
			ctx := cmd.Context()
			opts := sweep.LocalOptions{Workers: workers, Events: events,
				Command: func(ctx context.Context, r sweep.Run) *exec.Cmd {
					a := []string{"sweep", "task", s.File, "--out", s.Out, "--plan", id, "--index", strconv.Itoa(r.Index), "--report"}
					if device != "" {
						a = append(a, "--device", device)
					}
					return exec.CommandContext(ctx, self, a...)
				}}
			errs := s.RunLocal(ctx, runs, opts)
			bar.Finish()
			if skipped > 0 {
				fmt.Fprintf(w, "%d runs were done before\n", skipped)
			}
			ok, bad, stopped := sweep.ErrsSummary(errs)
			fmt.Fprintf(w, "%d of %d runs done, %d failed, %d interrupted\n", ok, len(runs), bad, stopped)
			switch {
			case ctx.Err() != nil:
				return fmt.Errorf("sweep interrupted: every run is resumable; run the same command again to go on")
			case bad > 0:
				return fmt.Errorf("%d of %d runs failed (minrl sweep status %s shows why; logs in %s)", bad, len(runs), s.File, s.LogDir())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "the sweep's directory (default: the file's out, or runs/<name>)")
	f.IntVar(&workers, "workers", 1, "runs at a time; each gets GOMAXPROCS = CPUs / workers")
	f.StringVar(&device, "device", "", "where the gradient steps run: cpu, or cuda (see minrl train --device)")
	return cmd
}

// warnEnv says that MINRL_* config variables do not reach a sweep's runs:
// a sweep's runs are what its file says, so that their recorded configs
// and commands reproduce them.
func warnEnv(w io.Writer) {
	var names []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "MINRL_") && !slices.Contains(configs.NonConfigEnv, name) {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		slices.Sort(names)
		fmt.Fprintf(w, "note: a sweep ignores %s: set config keys in the sweep file (set:, grid:)\n", strings.Join(names, ", "))
	}
}

func newSweepTaskCmd() *cobra.Command {
	var out, plan, device string
	var index int
	var report bool
	cmd := &cobra.Command{
		Use:   "task FILE --index I",
		Short: "Run one run of a sweep (what each Slurm array task or Indexed Job pod calls)",
		Long: `Runs the sweep's run number --index (minrl sweep plan lists them): trains it into
runs/<name>, resuming from its checkpoint when it was interrupted, and records the
attempt in state/<name>.json. A done run exits 0 at once. --plan refuses to run when the
sweep's runs are no longer those of the plan given (the sweep file changed since the
array was submitted). SIGTERM stops the run with its checkpoint saved.`,
		Example: `  minrl sweep task sweep.yaml --index "$SLURM_ARRAY_TASK_ID"
  minrl sweep task sweep.yaml --index "$JOB_COMPLETION_INDEX"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("index") {
				return errors.New("--index is required")
			}
			warnEnv(cmd.ErrOrStderr())
			s, runs, _, err := loadPlan(args[0], out)
			if err != nil {
				return err
			}
			r, err := sweep.Find(runs, index, plan)
			if err != nil {
				return err
			}
			w, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
			fmt.Fprintf(errw, "run %d: %s -> %s\n", r.Index, r.Name, r.Config.Out)
			lastReport := time.Time{}
			progress := func(ev runners.TrainEvent) {
				switch ev.Kind {
				case "step":
					if report && (time.Since(lastReport) > 500*time.Millisecond || ev.Step == ev.Steps) {
						lastReport = time.Now()
						fmt.Fprintln(w, sweep.ReportLine(ev.Step, ev.Steps))
					}
					if !report && ev.Steps >= 10 && ev.Step%(ev.Steps/10) == 0 {
						fmt.Fprintf(errw, "step %d of %d: loss %.4f\n", ev.Step, ev.Steps, ev.Loss)
					}
				case "resume":
					fmt.Fprintf(errw, "resuming %s at step %d of %d\n", ev.Path, ev.Step, ev.Steps)
					if report {
						fmt.Fprintln(w, sweep.ReportLine(ev.Step, ev.Steps))
					}
				case "header", "note":
					fmt.Fprintln(errw, ev.Note)
				case "eval":
					fmt.Fprintf(errw, "step %d: %s\n", ev.Step, describePoint(*ev.Eval))
				}
			}
			command := formatCommand([]string{"train", "--config", s.ConfigPath(r.Name)}, nil, buildInfo()["-tags"])
			err = s.Task(cmd.Context(), r, sweep.TaskOptions{Device: device, Progress: progress, Command: command})
			if errors.Is(err, sweep.ErrDone) {
				fmt.Fprintf(errw, "%s is done already\n", r.Name)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(errw, "%s done; reproduce with: %s\n", r.Name, command)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "the sweep's directory (default: the file's out, or runs/<name>)")
	f.IntVar(&index, "index", 0, "the run's index in the plan (minrl sweep plan)")
	f.StringVar(&plan, "plan", "", "refuse to run unless the sweep's plan is this one (minrl sweep plan prints it)")
	f.StringVar(&device, "device", "", "where the gradient steps run: cpu, or cuda")
	f.BoolVar(&report, "report", false, "print machine-readable progress lines on stdout (for minrl sweep run)")
	return cmd
}

func newSweepSlurmCmd() *cobra.Command {
	var out string
	var o sweep.SlurmOptions
	var dryRun, all bool
	cmd := &cobra.Command{
		Use:   "slurm FILE",
		Short: "Submit a sweep to Slurm as a job array: one task per run",
		Long: `Writes an sbatch script for a job array with one task per run that is not done
(or running), each calling minrl sweep task FILE --index $SLURM_ARRAY_TASK_ID, and
submits it (the script is kept in slurm/ of the sweep's directory, each task's log in
logs/slurm-<job>_<index>.log). The sweep's directory, the minrl binary (--minrl) and
the data ($MINRL_DATA_DIR, exported to the tasks) must be on storage the compute
nodes share. Tasks are requeue-safe: a requeued or preempted task saves its checkpoint
on SIGTERM and resumes from it. --dry-run prints the script and submits nothing.`,
		Example: `  minrl sweep slurm sweep.yaml --out /shared/me/sweep --partition cpu --time 2:00:00 --cpus-per-task 4 --mem 8G
  minrl sweep slurm sweep.yaml --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			warnEnv(cmd.ErrOrStderr())
			s, runs, id, err := loadPlan(args[0], out)
			if err != nil {
				return err
			}
			if o.Binary == "" {
				if o.Binary, err = os.Executable(); err != nil {
					return err
				}
			}
			if o.Workdir, err = os.Getwd(); err != nil {
				return err
			}
			o.DataDir = os.Getenv("MINRL_DATA_DIR")
			var indices []int
			for _, st := range s.Status(runs) {
				if all || (st.State != sweep.Done && st.State != sweep.Running) {
					indices = append(indices, st.Index)
				}
			}
			w := cmd.OutOrStdout()
			if len(indices) == 0 {
				fmt.Fprintf(w, "nothing to submit: all %d runs are done or running (minrl sweep status %s)\n", len(runs), s.File)
				return nil
			}
			script, err := s.SlurmScript(indices, id, o)
			if err != nil {
				return err
			}
			if dryRun {
				_, err := io.WriteString(w, script)
				return err
			}
			job, path, err := s.Submit(cmd.Context(), script)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "submitted job array %s: %d of %d runs (script %s; logs %s/slurm-%s_<index>.log)\n", job, len(indices), len(runs), path, s.LogDir(), job)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "the sweep's directory, on shared storage (default: the file's out, or runs/<name>)")
	f.StringVar(&o.Partition, "partition", "", "Slurm partition (default: the cluster's default)")
	f.StringVar(&o.Time, "time", "", "time limit per task, e.g. 2:00:00 (a task stopped by it resumes when requeued or resubmitted)")
	f.IntVar(&o.CPUsPerTask, "cpus-per-task", 1, "CPUs per task (each run's GOMAXPROCS)")
	f.StringVar(&o.Mem, "mem", "", "memory per task, e.g. 4G")
	f.StringVar(&o.GPUs, "gpus", "", "GPUs per task (use with --device cuda)")
	f.StringVar(&o.Account, "account", "", "Slurm account")
	f.StringVar(&o.QOS, "qos", "", "Slurm QOS")
	f.IntVar(&o.ArrayLimit, "array-limit", 0, "at most this many tasks at once (sbatch --array=...%N; 0: no limit)")
	f.StringArrayVar(&o.Extra, "sbatch", nil, "another #SBATCH line's option, e.g. --sbatch=--constraint=avx2 (repeatable)")
	f.StringVar(&o.Binary, "minrl", "", "the minrl binary the tasks run, on shared storage (default: this one)")
	f.StringVar(&o.Device, "device", "", "where the gradient steps run: cpu, or cuda")
	f.BoolVar(&dryRun, "dry-run", false, "print the sbatch script, submit nothing")
	f.BoolVar(&all, "all", false, "submit every run, done and running ones too (a done run's task exits at once)")
	return cmd
}

func newSweepStatusCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "status FILE",
		Short: "Say which runs of a sweep are done, running, failed, interrupted or pending",
		Long: `Reads each run's directory, state file and lock (no scheduler needed): done (a
summary of this config), running (a process holds the run), failed (with its error),
interrupted (resumable from its checkpoint: run or submit the sweep again), pending.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, runs, _, err := loadPlan(args[0], out)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "index\tname\tstate\tstep\tdetail")
			count := map[string]int{}
			for _, st := range s.Status(runs) {
				count[st.State]++
				step := fmt.Sprintf("%d/%d", st.Step, st.Config.Train.Steps)
				if st.State == sweep.Done {
					step = fmt.Sprintf("%d/%d", st.Config.Train.Steps, st.Config.Train.Steps)
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", st.Index, st.Name, st.State, step, oneLine(st.Detail))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			var parts []string
			for _, k := range []string{sweep.Done, sweep.Running, sweep.Failed, sweep.Interrupted, sweep.Pending} {
				if count[k] > 0 {
					parts = append(parts, fmt.Sprintf("%d %s", count[k], k))
				}
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%d runs: %s\n", len(runs), strings.Join(parts, ", "))
			return err
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "the sweep's directory (default: the file's out, or runs/<name>)")
	return cmd
}

// oneLine keeps a table cell to one line.
func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
