// Command minrl trains, evaluates and benchmarks offline RL agents whose
// policies are minimal RNNs (minGRU, minLSTM). Run `minrl --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	// SIGTERM is what kill, timeout, Docker, Slurm and systemd send: it
	// stops a run the way Ctrl-C does, saving its last checkpoint.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "minrl:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "minrl",
		Short: "Offline RL with minimal RNN policies (minGRU, minLSTM)",
		Long: `minrl trains Decision-Transformer-style offline agents whose sequence model is a
minGRU or minLSTM ("Were RNNs All We Needed?", Feng et al. 2024), and measures
the paper's claims on this machine.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newBenchCmd(), newEnvsCmd(), newRenderCmd(), newDatasetCmd(), newCollectCmd(), newTrainCmd(), newEvalCmd(), newResultsCmd())
	return root
}
