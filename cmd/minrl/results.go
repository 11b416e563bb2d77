package main

import (
	"github.com/spf13/cobra"

	"github.com/minrl/minrl/runners"
)

func newResultsCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "results DIR",
		Short: "Tabulate the runs under DIR: mean ± std over seeds of the last and best normalised scores",
		Long: `Reads every summary.json under DIR (as written by minrl train) and prints a Markdown
table with one row per dataset and one column per model (context mode included), of the
last checkpoint's and of the best checkpoint's normalised score, mean ± std over seeds; then
the last checkpoint's averages by kind of data (medium, medium-replay, ...), whole-episode minus
window mode per dataset for the recurrent models, and the median time per run of each model.
The runs of one cell must differ only in train.seed (and name, out, log and checkpoint
intervals), each seed once; anything else is an error that names both runs.`,
		Example: "  minrl results docs/results/runs --out table.md",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return runners.ResultsTable(cmd.OutOrStdout(), args[0])
			}
			return runners.WriteResultsTable(out, args[0])
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the table to this file instead of stdout")
	return cmd
}
