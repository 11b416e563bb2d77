package sweep

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minrl/minrl/internal/atomicfile"
)

// SlurmOptions are a job array's resources and how its tasks call minrl.
type SlurmOptions struct {
	Partition   string // --partition (empty: the cluster's default)
	Time        string // --time, e.g. 2:00:00 (empty: the partition's default)
	CPUsPerTask int    // --cpus-per-task, also each run's GOMAXPROCS
	Mem         string // --mem, e.g. 4G
	GPUs        string // --gpus-per-task (empty: none)
	Account     string // --account
	QOS         string // --qos
	ArrayLimit  int    // at most this many tasks at once (%limit; 0: no limit)
	Extra       []string
	// Binary is the minrl executable the tasks run: it must be reachable
	// at this path on the compute nodes (shared storage).
	Binary string
	// Workdir is the directory the tasks run in (the sweep file, out and
	// the data are resolved from it); the submitting directory by default.
	Workdir string
	Device  string // --device of minrl sweep task (cuda for GPU runs)
	// DataDir, when set, is exported as MINRL_DATA_DIR to the tasks.
	DataDir string
}

// ArraySpec writes array indices compactly: 0-3,5,7-9.
func ArraySpec(indices []int) string {
	idx := slices.Clone(indices)
	slices.Sort(idx)
	idx = slices.Compact(idx)
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// SlurmScript is the sbatch script of a job array with one task per index
// (the runs' Index in the plan planID): each task execs
// minrl sweep task FILE --index $SLURM_ARRAY_TASK_ID. The tasks are
// requeue-safe: a requeued or preempted task gets SIGTERM, saves its
// checkpoint, and resumes from it when it runs again; each task appends
// its output to logs/slurm-<job>_<index>.log.
func (s *Sweep) SlurmScript(indices []int, planID string, o SlurmOptions) (string, error) {
	if len(indices) == 0 {
		return "", fmt.Errorf("no runs to submit")
	}
	if o.Binary == "" || o.Workdir == "" {
		return "", fmt.Errorf("slurm script: the minrl binary and the working directory are needed")
	}
	if o.CPUsPerTask < 1 {
		o.CPUsPerTask = 1
	}
	var b bytes.Buffer
	line := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	line("#!/bin/bash")
	line("# minrl sweep %s: %d runs, plan %s (written by minrl sweep slurm).", s.Name, len(indices), planID)
	line("#SBATCH --job-name=%s", quoteDirective("minrl-"+s.Name))
	array := ArraySpec(indices)
	if o.ArrayLimit > 0 {
		array += "%" + strconv.Itoa(o.ArrayLimit)
	}
	line("#SBATCH --array=%s", array)
	line("#SBATCH --chdir=%s", quoteDirective(o.Workdir))
	// %A_%a: the array's job id and the task's index; append, so that a
	// requeued task's attempts share one log.
	line("#SBATCH --output=%s", quoteDirective(filepath.Join(s.absOut(o.Workdir), "logs", "slurm-%A_%a.log")))
	line("#SBATCH --open-mode=append")
	line("#SBATCH --requeue")
	line("#SBATCH --cpus-per-task=%d", o.CPUsPerTask)
	line("#SBATCH --ntasks=1")
	for _, d := range []struct{ flag, v string }{
		{"partition", o.Partition}, {"time", o.Time}, {"mem", o.Mem}, {"gpus-per-task", o.GPUs},
		{"account", o.Account}, {"qos", o.QOS},
	} {
		if d.v != "" {
			line("#SBATCH --%s=%s", d.flag, quoteDirective(d.v))
		}
	}
	for _, e := range o.Extra {
		line("#SBATCH %s", e)
	}
	line("set -eu")
	line("# One run per task; Go uses the CPUs Slurm gave the task.")
	line("export GOMAXPROCS=\"${SLURM_CPUS_PER_TASK:-%d}\"", o.CPUsPerTask)
	if o.DataDir != "" {
		line("export MINRL_DATA_DIR=%s", shellQuote(o.DataDir))
	}
	line(`echo "== $(date -u +%%FT%%TZ) task $SLURM_ARRAY_TASK_ID on $(hostname) (job ${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID, restart ${SLURM_RESTART_COUNT:-0})"`)
	args := []string{shellQuote(o.Binary), "sweep", "task", shellQuote(s.File), "--out", shellQuote(s.Out),
		"--plan", planID, "--index", `"$SLURM_ARRAY_TASK_ID"`}
	if o.Device != "" && o.Device != "cpu" {
		args = append(args, "--device", shellQuote(o.Device))
	}
	// exec: the SIGTERM of scancel, a time limit or a preemption reaches
	// minrl, which saves its checkpoint before it exits.
	line("exec %s", strings.Join(args, " "))
	return b.String(), nil
}

func (s *Sweep) absOut(workdir string) string {
	if filepath.IsAbs(s.Out) {
		return s.Out
	}
	return filepath.Join(workdir, s.Out)
}

// quoteDirective quotes an #SBATCH value holding spaces.
func quoteDirective(v string) string {
	if strings.ContainsAny(v, " \t\"") {
		return strconv.Quote(v)
	}
	return v
}

// Submit writes the script into slurm/ in the sweep's directory and submits
// it with sbatch; it returns the job id and the script's path.
func (s *Sweep) Submit(ctx context.Context, script string) (jobID, path string, err error) {
	path = filepath.Join(s.Out, "slurm", "sweep-"+time.Now().UTC().Format("20060102T150405.000")+".sbatch")
	if err := atomicfile.WriteFile(path, []byte(script)); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(s.LogDir(), 0o755); err != nil {
		return "", path, err
	}
	out, err := exec.CommandContext(ctx, "sbatch", "--parsable", path).CombinedOutput()
	if err != nil {
		return "", path, fmt.Errorf("sbatch %s: %w: %s", path, err, bytes.TrimSpace(out))
	}
	// --parsable prints "jobid" or "jobid;cluster".
	jobID, _, _ = strings.Cut(strings.TrimSpace(string(out)), ";")
	if _, err := strconv.Atoi(jobID); err != nil {
		return "", path, fmt.Errorf("sbatch printed %q, want a job id", out)
	}
	f, err := os.OpenFile(filepath.Join(s.Out, "slurm", "jobs"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		fmt.Fprintf(f, "%s %s\n", jobID, filepath.Base(path))
		err = f.Close()
	}
	return jobID, path, err
}
