package main

import (
	"fmt"
	"math"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/minrl/minrl/envs"
)

func newEnvsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "envs", Short: "Built-in environments"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Args:  cobra.NoArgs,
		Short: "List environment ids, their spaces, time limits and reference returns",
		Long: `Lists every registered environment. The reference returns define minrl's normalised
score, 100·(R − random)/(expert − random); they are measured by 'minrl collect' and
are minrl's own (never D4RL's) for the built-in physics.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tOBSERVATION\tACTION\tSTEPS\tRANDOM\tEXPERT\tDESCRIPTION")
			for _, s := range envs.Specs() {
				obs, act := "?", "?"
				if e, err := s.New(envs.NewParams(nil)); err == nil && e != nil {
					obs, act = fmt.Sprintf("%d-d", e.ObservationSpace().Dim()), e.ActionSpace().String()
					e.Close()
				} else if err != nil {
					act = "error: " + err.Error()
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.ID, obs, act, s.MaxEpisodeSteps,
					ref(s.RandomReturn), ref(s.ExpertReturn), s.Description)
			}
			return w.Flush()
		},
	})
	return cmd
}

func ref(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}
