package main

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/runners"
	"github.com/minrl/minrl/tasks/selcopy"
)

func newBenchSelCopyCmd() *cobra.Command {
	sw := runners.SelCopyConfig{
		Base:    selcopy.DefaultConfig(),
		Models:  []string{selcopy.ModelMinGRU, selcopy.ModelMinLSTM},
		Layers:  []int{1, 2, 3},
		SeqLens: []int{256},
		Seeds:   []uint64{1},
	}
	var out string
	var report bool
	seeds := []uint{1}
	cmd := &cobra.Command{
		Use:     "selective-copy",
		Aliases: []string{"selcopy"},
		Args:    cobra.NoArgs,
		Short:   "The paper's selective-copying task: accuracy per model and depth",
		Long: `Trains minGRU/minLSTM (and the sequential GRU/LSTM) on the selective-copying task
of "Were RNNs All We Needed?" as the official code defines it: vocabulary 16, EMPTY=15
filler, --tokens data tokens (1-14) at sorted random positions of --len steps, then as
many PRED=0 markers; cross-entropy on the last --tokens outputs, per-token accuracy,
validation and test sets from seeds 0 and 1, AdamW without weight decay on the
recurrent input projections, checkpoint chosen on validation accuracy.

Each run writes curve.csv and result.json under --out; the sweep writes selcopy.md (the
depth table, test accuracy mean ± sd over seeds beside the paper's L=4096 numbers) and a
learning-curve PNG per length. --report rebuilds those from the runs already under --out
(for sweeps run as separate processes).

--device cuda trains minGRU/minLSTM on an NVIDIA GPU (a -tags cuda build, see docs/gpu.md):
steps and evaluation run there, the checkpoint and the test score are the CPU model's
format. The sequential GRU/LSTM have no GPU kernels and run with --device cpu. The paper's
setting (paper.md §13.2: L=4096, 16 tokens, 3 layers, expansion 6) is a GPU run:
  minrl bench selective-copy --device cuda --len 4096 --dim 64 --expansion 6 --batch 64`,
		Example: `  minrl bench selective-copy --len 256 --steps 2000
  minrl bench selective-copy --model mingru --layers 1,3 --len 1024 --seeds 1,2,3
  minrl bench selective-copy --model gru,lstm --layers 1 --len 256
  minrl bench selective-copy --report --out out/selcopy
  minrl bench selective-copy --device cuda --len 4096 --dim 64 --expansion 6 --batch 64 --max-seconds 400`,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if out == "" && report {
				return errors.New("--report needs --out, the directory holding the runs")
			}
			var results []*selcopy.Result
			var err error
			if report {
				if results, err = runners.LoadSelCopyResults(out); err != nil {
					return err
				}
			} else {
				sw.Seeds = sw.Seeds[:0]
				for _, s := range seeds {
					sw.Seeds = append(sw.Seeds, uint64(s))
				}
				for i, m := range sw.Models {
					sw.Models[i] = strings.ToLower(m)
				}
				if _, err := sw.Runs(); err != nil {
					return err
				}
				if d, err := cuda.ParseDevice(sw.Device); err != nil {
					return err
				} else if d == "cuda" && !cuda.Available() {
					return fmt.Errorf("selective-copy --device cuda: %w", cuda.ErrNotBuilt)
				}
				fmt.Fprintf(w, "minrl bench selective-copy: GOMAXPROCS %d, %s/%s\n", runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
				results, err = runners.RunSelCopy(cmd.Context(), sw, out, w)
				if err != nil && len(results) == 0 {
					return err
				}
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "stopped: %v (reporting the runs that finished)\n", err)
				}
			}
			var table strings.Builder
			if err := runners.WriteSelCopyTable(&table, results); err != nil {
				return err
			}
			fmt.Fprintln(w)
			fmt.Fprint(w, table.String())
			if out == "" {
				return err
			}
			header := fmt.Sprintf("# Selective copying\n\nCommand: `%s`\n\nTest accuracy (per token) of the checkpoint with the best validation accuracy.\n\n", commandLine())
			files, rerr := runners.WriteSelCopyReport(out, header, results)
			if rerr != nil {
				return rerr
			}
			fmt.Fprintf(w, "\nwrote %s\n", strings.Join(files, ", "))
			return err
		},
	}
	f := cmd.Flags()
	b := &sw.Base
	f.StringSliceVar(&sw.Models, "model", sw.Models, "models: mingru, minlstm, gru, lstm")
	f.IntSliceVar(&sw.Layers, "layers", sw.Layers, "depths")
	f.IntSliceVar(&sw.SeqLens, "len", sw.SeqLens, "sequence lengths L before the markers (the paper: 4096)")
	f.IntVar(&b.Task.Tokens, "tokens", b.Task.Tokens, "data tokens to memorise (the paper: 16)")
	f.IntVar(&b.Steps, "steps", b.Steps, "training steps per run")
	f.UintSliceVar(&seeds, "seeds", seeds, "seeds (weights and training batches)")
	f.IntVar(&b.Model.Dim, "dim", b.Model.Dim, "residual width d")
	f.Float64Var(&b.Model.Expansion, "expansion", b.Model.Expansion, "recurrent state size / d (the paper: 6)")
	f.IntVar(&b.Batch, "batch", b.Batch, "training batch size")
	f.Float64Var(&b.LR, "lr", b.LR, "AdamW learning rate (constant)")
	f.Float64Var(&b.WeightDecay, "wd", b.WeightDecay, "AdamW weight decay (not on recurrent input projections, embeddings, norms, biases)")
	f.Float64Var(&b.Clip, "clip", b.Clip, "gradient-norm clip (0: none)")
	f.IntVar(&b.EvalEvery, "eval-every", b.EvalEvery, "steps between validation passes")
	f.IntVar(&b.EvalSize, "eval-size", b.EvalSize, "examples in the validation and in the test set")
	f.Float64Var(&b.MaxSeconds, "max-seconds", 0, "stop each run after this many seconds, keeping its best checkpoint (0: never)")
	f.StringVar(&out, "out", "out/selcopy", "directory for the runs, selcopy.md and the plots (empty: print only)")
	f.StringVar(&sw.Device, "device", "cpu", "where the runs train: cpu, or cuda (minGRU/minLSTM; a -tags cuda build)")
	f.BoolVar(&report, "report", false, "train nothing: rebuild selcopy.md and the plots from the runs under --out")
	return cmd
}
