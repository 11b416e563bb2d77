package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/internal/report"
	"github.com/minrl/minrl/sweep"
)

func newResultsCmd() *cobra.Command {
	var out, update, sweepOut string
	var analysis bool
	cmd := &cobra.Command{
		Use:   "results DIR|SWEEP.yaml",
		Short: "Tabulate the runs under DIR, or of a sweep: mean ± std over seeds of the last and best normalised scores",
		Long: `Reads every summary.json under DIR (as written by minrl train), or under a sweep's
record (or its runs/ directory) when given a sweep file, and prints a Markdown
table with one row per dataset and one column per model (context mode included), of the
last checkpoint's and of the best checkpoint's normalised score, mean ± std over seeds; then
the last checkpoint's averages by kind of data (medium, medium-replay, ...), whole-episode minus
window mode per dataset for the recurrent models, and the median time per run of each model.
The runs of one cell must differ only in train.seed (and name, out, log and checkpoint
intervals), each seed once; anything else is an error that names both runs.

--analysis prints instead the analysis pre-registered in docs/protocol.md: per target (high,
then mid), mean and 95% t interval over seeds per dataset and model and on the average over
datasets; the TOST equivalence test (margin ±5, α = 0.05) of minGRU (primary) and minLSTM
(secondary) against DT, seeds paired by number; each return-conditioned model minus %BC and
minus the return-to-go ablation (Welch intervals).

--update FILE replaces the table between the lines "<!-- table: ... -->" and
"<!-- /table -->" of a Markdown file (docs/results.md) with the new one; with --analysis,
between "<!-- analysis: ... -->" and "<!-- /analysis -->".`,
		Example: `  minrl results docs/results/runs --out table.md
  minrl results docs/results/sweep.yaml --update docs/results.md
  minrl results docs/results/main.yaml --analysis`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if ext := filepath.Ext(dir); ext == ".yaml" || ext == ".yml" {
				s, err := sweep.Load(dir, sweepOut)
				if err != nil {
					return err
				}
				dir = s.Record
				if dir == "" {
					dir = filepath.Join(s.Out, "runs")
				}
			}
			var b bytes.Buffer
			write, marker := report.Table, "table"
			if analysis {
				write, marker = report.Analysis, "analysis"
			}
			if err := write(&b, dir); err != nil {
				return err
			}
			if update != "" {
				if err := replaceBetween(update, marker, b.String()); err != nil {
					return err
				}
			}
			if out == "" {
				_, err := cmd.OutOrStdout().Write(b.Bytes())
				return err
			}
			return atomicfile.WriteFile(out, b.Bytes())
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the table to this file instead of stdout")
	cmd.Flags().StringVar(&update, "update", "", "also put the table between the table markers of this Markdown file")
	cmd.Flags().BoolVar(&analysis, "analysis", false, "print the pre-registered analysis of docs/protocol.md (intervals, equivalence test, controls) instead of the tables")
	cmd.Flags().StringVar(&sweepOut, "sweep-out", "", "with a sweep file: its directory, when not the file's out")
	return cmd
}

// replaceBetween puts table between the "<!-- MARKER:" and
// "<!-- /MARKER -->" lines of a Markdown file.
func replaceBetween(path, marker, table string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.SplitAfter(string(data), "\n")
	start, end := -1, -1
	for i, l := range lines {
		switch {
		case start < 0 && strings.HasPrefix(l, "<!-- "+marker+":"):
			start = i
		case start >= 0 && end < 0 && strings.HasPrefix(l, "<!-- /"+marker+" -->"):
			end = i
		}
	}
	if start < 0 || end < 0 {
		return fmt.Errorf("%s: no \"<!-- %s: ... -->\" ... \"<!-- /%s -->\" lines to put the %s between", path, marker, marker, marker)
	}
	var b strings.Builder
	for _, l := range lines[:start+1] {
		b.WriteString(l)
	}
	b.WriteString(table)
	for _, l := range lines[end:] {
		b.WriteString(l)
	}
	return atomicfile.WriteFile(path, []byte(b.String()))
}
