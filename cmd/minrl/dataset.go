package main

import (
	"github.com/spf13/cobra"

	"github.com/minrl/minrl/runners"
)

func newDatasetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dataset",
		Short: "Inspect offline RL datasets (D4RL-layout HDF5)",
	}
	cmd.AddCommand(newDatasetInfoCmd())
	return cmd
}

func newDatasetInfoCmd() *cobra.Command {
	var out, envID string
	var bins int
	cmd := &cobra.Command{
		Use:   "info FILE|NAME",
		Short: "Sizes, episodes, length and return statistics of a dataset",
		Long: `Loads a D4RL-layout HDF5 file (written by minrl, h5py or D4RL), or a dataset by
name (shipped in the binary or made by minrl collect into $MINRL_DATA_DIR), and prints its
sizes, flags, episode counts (finished: ended by a terminal or timeout;
unfinished: a trailing run without either), and the distribution of the lengths
and returns of finished episodes. With --out it draws a histogram of episode
returns; with --env (default: the env the file names) it also prints the returns
as normalised scores, by the reference returns the file stores (as minrl train
scores runs on it) or else the environment's registered ones, warning when the
two disagree.`,
		Example: `  minrl dataset info pendulum-medium --env Pendulum-v1
  minrl dataset info hopper-medium-v2.hdf5
  minrl dataset info data.hdf5 --out returns.png --env minrl/Hopper-v0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runners.DatasetInfo(cmd.OutOrStdout(), runners.DatasetInfoConfig{Name: args[0], Env: envID, Histogram: out, Bins: bins})
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "write a PNG histogram of episode returns here")
	f.StringVar(&envID, "env", "", "environment id whose reference returns give normalised scores")
	f.IntVar(&bins, "bins", 30, "histogram bins")
	return cmd
}
