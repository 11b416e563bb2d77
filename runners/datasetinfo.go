package runners

import (
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minrl/minrl/data"
	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/envs"
)

// DatasetInfoConfig configures DatasetInfo.
type DatasetInfoConfig struct {
	// Name is a dataset file, or a dataset's name (shipped in the binary
	// or made by minrl collect into $MINRL_DATA_DIR).
	Name string
	// Env, when set, names the environment whose reference returns give
	// normalised scores (default: the environment the file names).
	Env string
	// Histogram, when set, is a PNG of the episode returns to write, with
	// Bins bins.
	Histogram string
	Bins      int
}

// DatasetInfo prints a dataset's sizes, flags, episode counts and the
// distribution of its finished episodes' lengths and returns (and their
// normalised scores where reference returns are known) to w, and draws
// the returns' histogram when asked.
func DatasetInfo(w io.Writer, cfg DatasetInfoConfig) error {
	if cfg.Bins < 1 || cfg.Bins > 10000 {
		return fmt.Errorf("--bins %d: want 1 to 10000", cfg.Bins)
	}
	var spec *envs.Spec
	if cfg.Env != "" {
		s, err := envs.Lookup(cfg.Env)
		if err != nil {
			return err
		}
		spec = &s
	}
	d, _, err := data.Open(cfg.Name)
	if err != nil {
		return err
	}
	if spec == nil && d.Meta.EnvID != "" { // the env the file says it was made in
		if s, err := envs.Lookup(d.Meta.EnvID); err == nil {
			spec = &s
		}
	}
	printDatasetInfo(w, cfg.Name, d, spec)
	if cfg.Histogram == "" {
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
	title := filepath.Base(cfg.Name)
	if d.Meta.EnvID != "" {
		title += " (" + d.Meta.EnvID + ")"
	}
	if err := PlotReturns(rets, cfg.Bins, title, cfg.Histogram); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\n", cfg.Histogram)
	return nil
}

func printDatasetInfo(w io.Writer, path string, d *dataset.Dataset, spec *envs.Spec) {
	s := d.Summarize()
	m := d.Meta
	fmt.Fprintf(w, "file        %s\n", path)
	if m.EnvID != "" || m.Policy != "" || m.Seed != nil {
		seed := "-"
		if m.Seed != nil {
			seed = fmt.Sprint(*m.Seed)
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
	refs, warns := DatasetReferences(d, path, *spec)
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
