package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/minrl/minrl/eval"
	"github.com/minrl/minrl/policy"
	"github.com/minrl/minrl/runners"
)

func newEvalCmd() *cobra.Command {
	var opts runners.CheckpointEvalOptions
	var seed uint64
	var out string
	var sweep int
	var sweepMax float64
	cmd := &cobra.Command{
		Use:   "eval CHECKPOINT",
		Short: "Evaluate a trained checkpoint in its environment",
		Long: `Loads a checkpoint written by minrl train (last.safetensors, best.safetensors) and
plays episodes with it in the environment it was trained for, once per target
return (the return the policy is asked to achieve; bc policies have none). It
prints the mean ± standard deviation of the return and of the normalised score
(0 random, 100 expert) per target, and writes every episode to
<out>/eval_<checkpoint>.csv and a summary to <out>/eval_<checkpoint>.json.

By default it uses the targets, episode count and seeds of the training run, so
it reproduces the run's own evaluation numbers exactly; episode i starts from
seed --seed + i. Scores are normalised by the reference returns the run recorded
(its dataset file's), else the environment's.

Return following: --target-sweep N asks for N targets evenly spaced from the
random reference to 1.2x of the way to the expert's (normalised scores 0 to
--sweep-max, 120), and with it or with two or more --targets it also writes
<out>/eval_<checkpoint>_follow.csv and _follow.png: the return achieved against
the return asked, with the line y = x that a policy following its target lies
on. Every target plays the same episode seeds.`,
		Example: `  minrl eval runs/pendulum-medium-mingru/best.safetensors
  minrl eval runs/pendulum-medium-mingru/last.safetensors --episodes 50 --targets -150,-400 --seed 7
  minrl eval runs/hopper-medium-replay-dt/last.safetensors --target-sweep 13 --episodes 20`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := checkpointIn(args[0])
			if err != nil {
				return err
			}
			if path != args[0] {
				fmt.Fprintf(cmd.ErrOrStderr(), "evaluating %s\n", path)
			}
			if cmd.Flags().Changed("seed") {
				opts.Seed = &seed
			}
			if !cmd.Flags().Changed("targets") {
				opts.Targets = nil
			}
			if opts.Episodes < 0 || (cmd.Flags().Changed("episodes") && opts.Episodes == 0) {
				return fmt.Errorf("--episodes %d: need at least 1", opts.Episodes)
			}
			ck, err := policy.Load(path)
			if err != nil {
				return err
			}
			refs, err := runners.CheckpointReferences(ck, opts.Env)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("target-sweep") {
				if cmd.Flags().Changed("targets") {
					return fmt.Errorf("give --targets or --target-sweep, not both")
				}
				if !(sweepMax > 0) || math.IsInf(sweepMax, 0) {
					return fmt.Errorf("--sweep-max %g: want a positive normalised score", sweepMax)
				}
				if opts.Targets, err = runners.SweepTargets(refs, sweep, sweepMax); err != nil {
					return fmt.Errorf("--target-sweep: %w", err)
				}
			}
			reps, err := runners.EvaluateLoaded(cmd.Context(), ck, path, opts)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, r := range reps {
				label := fmt.Sprintf("target %g", r.Target)
				if len(reps) == 1 && r.Target == 0 {
					label = "policy"
				}
				first := uint64(0)
				if len(r.Results) > 0 {
					first = r.Results[0].Seed
				}
				fmt.Fprintf(w, "%s on %s, %d episodes (seeds %d..%d): return %.1f ± %.1f", label, r.Env, r.Episodes,
					first, first+uint64(r.Episodes)-1, r.MeanReturn, r.StdReturn)
				if math.IsNaN(r.MeanNormalized) {
					fmt.Fprintf(w, ", no normalised score (no reference returns)\n")
				} else {
					fmt.Fprintf(w, ", normalised score %.1f ± %.1f\n", r.MeanNormalized, r.StdNormalized)
				}
			}
			if out == "" {
				out = filepath.Dir(path)
			}
			prefix := "eval_" + strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
			if err := eval.WriteFiles(out, prefix, reps); err != nil {
				return err
			}
			fmt.Fprintf(w, "wrote %s.csv and .json\n", filepath.Join(out, prefix))
			if _, isMLP := ck.Model.(*policy.MLP); len(reps) >= 2 && !isMLP {
				title := fmt.Sprintf("Return following: %s on %s", filepath.Base(path), reps[0].Env)
				if err := runners.WriteFollowing(out, prefix, title, refs, reps); err != nil {
					return err
				}
				fmt.Fprintf(w, "wrote %s_follow.csv and _follow.png (return achieved against return asked)\n", filepath.Join(out, prefix))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Episodes, "episodes", 0, "episodes per target (default: the training run's eval.episodes)")
	f.Float64SliceVar(&opts.Targets, "targets", nil, "target returns, comma-separated (default: the checkpoint's)")
	f.Lookup("targets").DefValue = "" // pflag would add "(default [])"
	f.Uint64Var(&seed, "seed", 0, "seed of the first episode (default: the training run's eval.seed)")
	f.StringVar(&opts.Env, "env", "", "environment id (default: the checkpoint's)")
	f.IntVar(&sweep, "target-sweep", 0, "evaluate N targets evenly spaced in normalised score from 0 to --sweep-max, and plot return achieved against asked")
	f.Float64Var(&sweepMax, "sweep-max", 120, "the highest normalised score --target-sweep asks for (120: 1.2x of the way from random to expert)")
	f.StringVar(&out, "out", "", "directory for the CSV and JSON results (default: the checkpoint's)")
	return cmd
}

// checkpointIn returns path, or for a run directory its best checkpoint
// (its last when it has no best yet).
func checkpointIn(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil || !st.IsDir() {
		return path, nil // a file, or an error the loader reports
	}
	for _, name := range []string{runners.FileBest, runners.FileLast} {
		p := filepath.Join(path, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s is a directory without %s or %s: give a checkpoint file", path, runners.FileBest, runners.FileLast)
}
