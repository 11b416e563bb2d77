package main

import (
	"fmt"
	"image/color"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/minrl/minrl/data"
	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/internal/atomicfile"
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
			if bins < 1 || bins > 10000 {
				return fmt.Errorf("--bins %d: want 1 to 10000", bins)
			}
			var spec *envs.Spec
			if envID != "" {
				s, err := envs.Lookup(envID)
				if err != nil {
					return err
				}
				spec = &s
			}
			d, _, err := data.Open(args[0])
			if err != nil {
				return err
			}
			if spec == nil && d.Meta.EnvID != "" { // the env the file says it was made in
				if s, err := envs.Lookup(d.Meta.EnvID); err == nil {
					spec = &s
				}
			}
			w := cmd.OutOrStdout()
			printDatasetInfo(w, args[0], d, spec)
			if out == "" {
				return nil
			}
			var rets []float64
			for _, e := range d.Episodes() {
				if e.Finished {
					rets = append(rets, e.Return)
				}
			}
			if len(rets) == 0 {
				return fmt.Errorf("no finished episodes: no histogram written")
			}
			title := filepath.Base(args[0])
			if d.Meta.EnvID != "" {
				title += " (" + d.Meta.EnvID + ")"
			}
			if err := plotReturns(rets, bins, title, out); err != nil {
				return err
			}
			fmt.Fprintf(w, "wrote %s\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "write a PNG histogram of episode returns here")
	f.StringVar(&envID, "env", "", "environment id whose reference returns give normalised scores")
	f.IntVar(&bins, "bins", 30, "histogram bins")
	return cmd
}

func printDatasetInfo(w io.Writer, path string, d *dataset.Dataset, spec *envs.Spec) {
	s := d.Summarize()
	m := d.Meta
	fmt.Fprintf(w, "file        %s\n", path)
	if m.EnvID != "" || m.Policy != "" || m.HasSeed {
		seed := "-"
		if m.HasSeed {
			seed = fmt.Sprint(m.Seed)
		}
		fmt.Fprintf(w, "source      env %s, policy %s, seed %s\n", orDash(m.EnvID), orDash(m.Policy), seed)
	}
	if m.Command != "" {
		fmt.Fprintf(w, "command     %s\n", m.Command)
	}
	if len(m.Extra) > 0 {
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(m.Extra)) {
			kv = append(kv, k+"="+m.Extra[k])
		}
		fmt.Fprintf(w, "metadata    %s\n", strings.Join(kv, ", "))
	}
	parts := []string{fmt.Sprintf("observations %d", d.ObsDim), fmt.Sprintf("actions %d", d.ActDim)}
	if d.NextObservations == nil {
		parts = append(parts, "no next_observations")
	}
	if d.QPos != nil {
		parts = append(parts, fmt.Sprintf("infos/qpos %d", d.QPosDim))
	}
	if d.QVel != nil {
		parts = append(parts, fmt.Sprintf("infos/qvel %d", d.QVelDim))
	}
	if d.Norm != nil {
		parts = append(parts, "state normaliser stored")
	}
	fmt.Fprintf(w, "transitions %d (%s)\n", s.N, strings.Join(parts, ", "))
	if d.TimeoutsMissing {
		fmt.Fprintf(w, "flags       terminals %d; no timeouts array (v0-era file; train recovers episode ends from next_observations, else by the step limit)\n", s.Terminals)
	} else {
		fmt.Fprintf(w, "flags       terminals %d, timeouts %d\n", s.Terminals, s.Timeouts)
	}
	fmt.Fprintf(w, "episodes    %d: %d finished, %d unfinished\n", s.Episodes, s.Finished, s.Unfinished)
	if s.Finished == 0 {
		fmt.Fprintln(w, "            no finished episodes: no length or return statistics")
		return
	}
	fmt.Fprintf(w, "            statistics below are over the %d finished episodes\n", s.Finished)
	fmt.Fprintf(w, "%-11s %s\n", "length", statsLine(s.Lengths, "%.1f"))
	fmt.Fprintf(w, "%-11s %s\n", "return", statsLine(s.Returns, "%.1f"))
	if spec == nil {
		return
	}
	// As training scores runs on this file: by the references it stores.
	refs, warns := runners.DatasetReferences(d, path, *spec)
	for _, w8 := range warns {
		fmt.Fprintf(w, "warning     %s\n", w8)
	}
	if !refs.Valid() {
		fmt.Fprintf(w, "score       %s has no reference returns: no normalised score\n", spec.ID)
		return
	}
	r := s.Returns
	fmt.Fprintf(w, "score       min %.1f  mean %.1f  max %.1f  p50 %.1f  (%s, 0 = random %.1f, 100 = expert %.1f; %s)\n",
		refs.Score(r.Min), refs.Score(r.Mean), refs.Score(r.Max), refs.Score(r.P50), spec.ID, refs.Random, refs.Expert, orDash(refs.Source))
}

func statsLine(s dataset.Stats, f string) string {
	v := func(x float64) string { return fmt.Sprintf(f, x) }
	return fmt.Sprintf("min %s  mean %s  std %s  max %s   p5 %s  p25 %s  p50 %s  p75 %s  p95 %s",
		v(s.Min), v(s.Mean), v(s.Std), v(s.Max), v(s.P5), v(s.P25), v(s.P50), v(s.P75), v(s.P95))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// plotReturns draws a histogram of episode returns as a PNG, written
// atomically (temp file + rename).
func plotReturns(rets []float64, bins int, title, path string) error {
	p := plot.New()
	p.Title.Text = "Episode returns: " + title
	p.X.Label.Text = "episode return (undiscounted)"
	p.Y.Label.Text = "episodes"
	h, err := plotter.NewHist(plotter.Values(rets), bins)
	if err != nil {
		return fmt.Errorf("histogram: %w", err)
	}
	if lo, hi := slices.Min(rets), slices.Max(rets); lo == hi { // one value: give its bin a width
		h.Bins = []plotter.HistogramBin{{Min: lo - 0.5, Max: hi + 0.5, Weight: float64(len(rets))}}
	}
	h.FillColor = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	p.Add(h)
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		if _, err := wt.WriteTo(w); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}
