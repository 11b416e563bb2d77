// Command minrl trains, evaluates and benchmarks offline RL agents whose
// policies are minimal RNNs (minGRU, minLSTM). Run `minrl --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
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
	root.AddCommand(newBenchCmd(), newEnvsCmd(), newRenderCmd(), newDatasetCmd(), newCollectCmd(), newTrainCmd(), newEvalCmd(), newResultsCmd(), newSweepCmd(), newExportCmd())
	root.Version = version()
	rejectUnknownSubcommands(root)
	return root
}

// rejectUnknownSubcommands makes every command group (bench, dataset,
// envs) fail on an unknown subcommand instead of printing its help and
// exiting 0, so that a typo in a script is an error.
func rejectUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		rejectUnknownSubcommands(sub)
	}
	if !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return cmd.Help()
	}
}

// version is the module version (or "devel"), the VCS revision when the
// build recorded one, the Go version and the build tags.
func version() string {
	v := "devel"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	info := buildInfo()
	if r := info["vcs.revision"]; r != "" {
		v += " " + r[:min(12, len(r))]
		if info["vcs.modified"] == "true" {
			v += "+modified"
		}
	}
	v += ", " + bi.GoVersion
	if t := info["-tags"]; t != "" {
		v += ", tags " + t
	}
	return v
}
