package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/minrl/minrl/configs"
	"github.com/minrl/minrl/data"
	"github.com/minrl/minrl/internal/sysmem"
	"github.com/minrl/minrl/policy"
	"github.com/minrl/minrl/runners"
)

// trainFlags maps config keys to the train command's shortcut flags.
var trainFlags = []struct {
	key, flag, usage string
	kind             string
}{
	{"out", "out", "output directory (default runs/<preset>)", "string"},
	{"train.steps", "steps", "gradient steps (train.steps; default: the preset's, 3000 for pendulum, 100000 for the locomotion tasks)", "int"},
	{"train.seed", "seed", "seed of the initial weights, dropout masks and batches (train.seed)", "uint64"},
	{"train.batch", "batch", "sequences per batch (train.batch; default: the preset's, 64, 16 for whole episodes)", "int"},
	{"train.lr", "lr", "peak learning rate (train.lr; default: the preset's, 1e-3, 1e-4 for dt and bc)", "float64"},
	{"train.eval_every", "eval-every", "steps between evaluations, 0: only at the end (train.eval_every; default: the preset's, 1000 for pendulum, 10000 otherwise)", "int"},
	{"eval.episodes", "episodes", "evaluation episodes per target return (eval.episodes; default: the preset's, 10)", "int"},
}

func newTrainCmd() *cobra.Command {
	var file, device, maxMemory string
	var list, overwrite bool
	cmd := &cobra.Command{
		Use:   "train [PRESET]",
		Short: "Train an offline agent on a dataset and evaluate it in its environment",
		Long: `Trains a policy on an offline dataset and evaluates it in the environment:
a Decision-minGRU or Decision-minLSTM (the Decision Transformer with its attention
replaced by a minimal RNN), the Decision Transformer itself (dt), or behaviour
cloning (bc). The policy learns to predict the dataset's actions from the states,
the actions before them and the return still to come; played with a high target
return, it tries to do better than the data.

A run is named by a preset, <env>-<dataset>-<model> (list them with --list):
  env      pendulum, hopper, walker2d, halfcheetah
  dataset  random, medium, medium-replay, expert, medium-expert (Pendulum's ship
           with minrl; make the others with minrl collect)
  model    mingru, minlstm, dt, bc; mingru-episode and minlstm-episode train on whole
           episodes and act statefully
Settings come from the preset, then --config FILE (YAML, keys as in
configs/base.yaml), then MINRL_<SECTION>_<KEY> variables (MINRL_TRAIN_STEPS=500),
then the flags below; unknown keys are errors.

Outputs go to --out (default runs/<preset>): last.safetensors (resumable) and
best.safetensors checkpoints, metrics.csv/jsonl (loss, gradient norm, learning
rate), evals.jsonl, loss.png and eval.png learning curves, eval_final.csv/json
(every episode of the last evaluation), timing.json (clocks, for resume) and summary.json (config, last and best
scores, wall time). The score is the normalised score, 0 for a random policy and
100 for the expert behind the dataset; "best" is the evaluation with the highest
mean score over the target returns.

Interrupt with Ctrl-C at any time: the run saves last.safetensors, and the same
command resumes it exactly (the final weights match an uninterrupted run bit for
bit). A different config in the same --out is refused unless --overwrite. minrl only
ever removes files it wrote (its own file names): an --out holding anything else is
refused, and --overwrite replaces minrl's files there and keeps the rest. A run holds
.minrl.lock in --out while it runs: a second run there is refused.

--device cuda runs the gradient steps of a Decision-minGRU/minLSTM on an NVIDIA GPU
(a binary built with -tags cuda, see docs/gpu.md); evaluation stays on the CPU. The
device is not part of the run's config: a run may resume on the other device.`,
		Example: `  minrl train pendulum-medium-mingru              # the quickstart: a few minutes on 2 cores
  minrl train --list
  minrl train pendulum-medium-minlstm --steps 500 --out runs/try
  minrl train hopper-medium-mingru --config my.yaml   # after minrl collect --env minrl/Hopper-v0
  minrl eval runs/pendulum-medium-mingru/best.safetensors`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if list {
				return printPresets(w)
			}
			src := configs.Source{File: file, Env: os.Environ(), Flags: map[string]*pflag.Flag{}}
			if len(args) == 1 {
				src.Preset = args[0]
			}
			if src.Preset == "" && file == "" {
				return fmt.Errorf("give a preset (see minrl train --list) or --config FILE")
			}
			for _, tf := range trainFlags {
				src.Flags[tf.key] = cmd.Flags().Lookup(tf.flag)
			}
			run, err := configs.Load(src)
			if err != nil {
				return err
			}
			if run.Name == "" { // a config file without a preset or a name
				run.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
			}
			if run.Out == "" {
				run.Out = filepath.Join("runs", run.Name)
			}
			m := run.Model
			what := fmt.Sprintf("%s, context %s, K %d, embed %d, %d layers", m.Kind, m.Context, m.K, m.Embed, m.Layers)
			if m.Kind == policy.ModelBC {
				what = fmt.Sprintf("bc MLP, hidden %v", m.Hidden)
			}
			fmt.Fprintf(w, "training %s: %s on %s, %d steps of batch %d; evaluating in %s -> %s\n",
				run.Name, what, run.Dataset, run.Train.Steps, run.Train.Batch, run.Env, run.Out)
			bar := newProgress(cmd, run.Train.Steps, "train")
			errw := cmd.ErrOrStderr()
			progress := func(ev runners.TrainEvent) {
				switch ev.Kind {
				case "resume":
					bar.Set(ev.Step)
					bar.Clear()
					fmt.Fprintf(errw, "resuming %s at step %d of %d\n", ev.Path, ev.Step, ev.Steps)
					if ev.Note != "" {
						fmt.Fprintf(errw, "note: %s\n", ev.Note)
					}
				case "step":
					if ev.Step%10 == 0 {
						bar.Describe(fmt.Sprintf("train (loss %.4f)", ev.Loss))
					}
					bar.Set(ev.Step)
				case "header":
					bar.Clear()
					fmt.Fprintln(errw, ev.Note)
				case "note":
					bar.Clear()
					fmt.Fprintf(errw, "note: %s\n", ev.Note)
				case "eval":
					bar.Clear()
					mark := ""
					if ev.Best {
						mark = "  (best so far)"
					}
					fmt.Fprintf(errw, "step %d: %s%s\n", ev.Step, describePoint(*ev.Eval), mark)
				}
			}
			opts := runners.TrainOptions{Overwrite: overwrite, Progress: progress, Command: commandLine(), Device: device}
			if maxMemory != "" {
				var ok bool
				if opts.MaxMemory, ok = sysmem.Parse(maxMemory); !ok {
					return fmt.Errorf("--max-memory %q: want a size such as 512M or 8G", maxMemory)
				}
			}
			res, err := runners.Train(cmd.Context(), run, opts)
			bar.Finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "done in %.0f s (%.1f steps/s on %s)\n", res.WallSeconds, res.StepsPerSecond, res.Device)
			fmt.Fprintf(w, "last (step %d): %s\n", res.Last.Step, describePoint(res.Last))
			fmt.Fprintf(w, "best (step %d): %s\n", res.Best.Step, describePoint(res.Best))
			if math.IsNaN(res.DatasetScore) {
				fmt.Fprintf(w, "the dataset's episodes: mean return %.1f\n", res.DatasetReturn)
			} else {
				fmt.Fprintf(w, "the dataset's episodes: normalised score %.1f (mean return %.1f)\n", res.DatasetScore, res.DatasetReturn)
			}
			fmt.Fprintf(w, "outputs in %s: last.safetensors, best.safetensors, metrics.csv, loss.png, eval.png, eval_final.csv, summary.json\n", res.Dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&file, "config", "", "YAML file of config keys merged over the preset (see configs/base.yaml)")
	for _, tf := range trainFlags {
		switch tf.kind {
		case "string":
			f.String(tf.flag, "", tf.usage)
		case "int":
			f.Int(tf.flag, 0, tf.usage)
		case "uint64":
			f.Uint64(tf.flag, 0, tf.usage)
		case "float64":
			f.Float64(tf.flag, 0, tf.usage)
		}
	}
	f.BoolVar(&overwrite, "overwrite", false, "discard a previous run in the output directory instead of resuming it")
	f.BoolVar(&list, "list", false, "list the presets and exit")
	f.StringVar(&maxMemory, "max-memory", "", "refuse a run whose estimated memory exceeds this (e.g. 8G; default: what the machine has available)")
	f.StringVar(&device, "device", "cpu", "where the gradient steps run: cpu, or cuda (Decision-minGRU/minLSTM; a -tags cuda build)")
	return cmd
}

func printPresets(w io.Writer) error {
	fmt.Fprintln(w, "Presets (<env>-medium-<model>; replace medium by any dataset kind: random, medium-replay, expert, medium-expert):")
	for _, p := range configs.Presets() {
		fmt.Fprintln(w, "  "+p)
	}
	fmt.Fprintf(w, "Shipped datasets (others: minrl collect): %s\n", strings.Join(data.Shipped(), ", "))
	return nil
}

// describePoint prints an evaluation: the score and each target's return.
func describePoint(p runners.EvalPoint) string {
	var b strings.Builder
	if p.ScoreKind == runners.ScoreNormalized {
		fmt.Fprintf(&b, "normalised score %.1f", p.Score)
	} else {
		fmt.Fprintf(&b, "mean return %.1f", p.Score)
	}
	var parts []string
	for _, t := range p.Targets {
		s := fmt.Sprintf("return %.1f ± %.1f", t.MeanReturn, t.StdReturn)
		if !math.IsNaN(t.MeanNormalized) {
			s += fmt.Sprintf(", score %.1f", t.MeanNormalized)
		}
		if len(p.Targets) > 1 || t.Target != 0 {
			s = fmt.Sprintf("target %g: %s", t.Target, s)
		}
		parts = append(parts, s)
	}
	fmt.Fprintf(&b, " over %d episodes [%s]", p.Episodes, strings.Join(parts, "; "))
	return b.String()
}
