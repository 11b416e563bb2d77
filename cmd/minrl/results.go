package main

import (
	"os"

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
last checkpoint's and of the best checkpoint's normalised score, mean ± std over seeds.`,
		Example: "  minrl results docs/results/runs --out table.md",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return runners.ResultsTable(cmd.OutOrStdout(), args[0])
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			if err := runners.ResultsTable(f, args[0]); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the table to this file instead of stdout")
	return cmd
}
