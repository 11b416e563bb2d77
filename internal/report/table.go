// Package report makes the results tables of docs/results.md from recorded
// training runs (their summary.json files): scores per dataset and model,
// averages by kind of data, whole-episode against window mode, and times.
package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/minrl/minrl/configs"
	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/eval"
)

// run is the part of a run's summary.json the tables read.
type run struct {
	Name   string `json:"name"`
	Config struct {
		Dataset string `json:"dataset"`
		Model   struct {
			Kind    string `json:"kind"`
			Context string `json:"context"`
			NoRTG   bool   `json:"no_rtg"`
		} `json:"model"`
		Train struct {
			Seed        uint64   `json:"seed"`
			Steps       int      `json:"steps"`
			TopFraction *float64 `json:"top_fraction"`
		} `json:"train"`
	} `json:"config"`
	Last struct {
		Score   *float64 `json:"score"`
		Targets []struct {
			Target         float64  `json:"target"`
			MeanNormalized *float64 `json:"mean_normalized"`
		} `json:"targets"`
	} `json:"last"`
	Best struct {
		Score *float64 `json:"score"`
	} `json:"best"`
	DataScore    *float64 `json:"dataset_score"`
	WallSeconds  float64  `json:"wall_seconds"`
	TrainSeconds float64  `json:"train_seconds"`

	path     string            // of the summary.json
	settings map[string]string // the config's keys (flattened) and their JSON values
}

// variant names a run's table column: the model kind, marked when it
// trains on the whole episode, on the top episodes only (%BC) or without
// the return input.
func (r run) variant() string {
	v := r.Config.Model.Kind
	if f := r.Config.Train.TopFraction; f != nil && *f < 1 {
		v = fmt.Sprintf("%s (top %g%%)", v, 100**f)
	}
	if r.Config.Model.NoRTG {
		v += " (no RTG)"
	}
	if r.Config.Model.Context == "episode" {
		v += " (episode)"
	}
	return v
}

// columnOrder is the tables' model order; other variants follow it.
var columnOrder = []string{"bc", "bc (top 10%)", "dt", "dt (no RTG)", "mingru", "mingru (no RTG)", "minlstm", "mingru (episode)", "minlstm (episode)"}

// kinds are the D4RL kinds of data, in the D4RL tables' order.
var kinds = []string{"random", "medium", "medium-replay", "medium-expert", "expert"}

// notSettings are config keys that may differ between runs of one table
// cell: they change neither what is trained nor how it is scored.
var notSettings = []string{"name", "out", "train.seed", "train.checkpoint_every", "train.log_every"}

// load reads every summary.json under dir (one run per directory).
func load(dir string) ([]run, error) {
	var runs []run
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "summary.json" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r run
		var raw struct {
			Config json.RawMessage `json:"config"`
		}
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if r.settings, err = configs.Flatten(string(raw.Config)); err != nil {
			return fmt.Errorf("%s: config: %w", path, err)
		}
		for _, k := range notSettings {
			delete(r.settings, k)
		}
		r.path = path
		runs = append(runs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("no summary.json under %s", dir)
	}
	return runs, nil
}

// cell is one table cell: a dataset and a model variant.
type cell struct{ data, model string }

// checkComparable makes sure that every table cell averages like with
// like: its runs differ only in the seed, and no seed is counted twice.
// (Pointing the table at a parent of two grids would otherwise mix, say,
// batch sizes into one mean.)
func checkComparable(runs []run) error {
	first := map[cell]run{}
	seeds := map[cell]map[uint64]string{}
	for _, r := range runs {
		k := cell{r.Config.Dataset, r.variant()}
		f, ok := first[k]
		if !ok {
			first[k], seeds[k] = r, map[uint64]string{r.Config.Train.Seed: r.path}
			continue
		}
		names := maps.Clone(f.settings)
		maps.Copy(names, r.settings)
		var diff []string
		for _, name := range slices.Sorted(maps.Keys(names)) {
			if a, b := f.settings[name], r.settings[name]; a != b {
				diff = append(diff, fmt.Sprintf("%s (%s vs %s)", name, cmp.Or(a, "absent"), cmp.Or(b, "absent")))
			}
		}
		if len(diff) > 0 {
			return fmt.Errorf("%s and %s would share the cell (%s, %s) but their configs differ in %s: tabulate them from separate directories",
				f.path, r.path, k.data, k.model, strings.Join(diff, ", "))
		}
		seed := r.Config.Train.Seed
		if p, dup := seeds[k][seed]; dup {
			return fmt.Errorf("%s and %s are both seed %d of (%s, %s): a cell counts each seed once", p, r.path, seed, k.data, k.model)
		}
		seeds[k][seed] = r.path
	}
	return nil
}

// grid is the runs arranged by dataset and model variant.
type grid struct {
	datasets, models []string // in table order
	last, best       map[cell][]float64
	wall, train      map[string][]float64 // per model
	dataScore        map[string]float64   // per dataset
	steps            []int
}

func newGrid(runs []run) *grid {
	g := &grid{last: map[cell][]float64{}, best: map[cell][]float64{},
		wall: map[string][]float64{}, train: map[string][]float64{}, dataScore: map[string]float64{}}
	for _, r := range runs {
		m := r.variant()
		k := cell{r.Config.Dataset, m}
		if r.Last.Score != nil {
			g.last[k] = append(g.last[k], *r.Last.Score)
		}
		if r.Best.Score != nil {
			g.best[k] = append(g.best[k], *r.Best.Score)
		}
		if !slices.Contains(g.steps, r.Config.Train.Steps) {
			g.steps = append(g.steps, r.Config.Train.Steps)
		}
		if r.WallSeconds > 0 {
			g.wall[m] = append(g.wall[m], r.WallSeconds)
			g.train[m] = append(g.train[m], r.TrainSeconds)
		}
		if r.DataScore != nil {
			g.dataScore[k.data] = *r.DataScore
		}
		if !slices.Contains(g.datasets, k.data) {
			g.datasets = append(g.datasets, k.data)
		}
		if !slices.Contains(g.models, m) {
			g.models = append(g.models, m)
		}
	}
	// The D4RL tables' order: grouped by kind of data, then environment.
	sort.Slice(g.datasets, func(i, j int) bool {
		ei, ki, _ := strings.Cut(g.datasets[i], "-")
		ej, kj, _ := strings.Cut(g.datasets[j], "-")
		if ri, rj := rank(kinds, ki), rank(kinds, kj); ri != rj {
			return ri < rj
		}
		if ki != kj {
			return ki < kj
		}
		return ei < ej
	})
	sort.SliceStable(g.models, func(i, j int) bool { return rank(columnOrder, g.models[i]) < rank(columnOrder, g.models[j]) })
	slices.Sort(g.steps)
	return g
}

// Table reads the runs under dir and writes the results tables as
// Markdown: one row per dataset and one column per model, mean ± std over
// seeds of the last and of the best checkpoint's normalised score, the
// last checkpoint's averages by kind of data, whole-episode minus window
// mode, and each model's median time per run.
func Table(w io.Writer, dir string) error {
	runs, err := load(dir)
	if err != nil {
		return err
	}
	if err := checkComparable(runs); err != nil {
		return err
	}
	g := newGrid(runs)
	steps := make([]string, len(g.steps))
	for i, s := range g.steps {
		steps[i] = fmt.Sprint(s)
	}
	_, err = fmt.Fprintf(w, "%s\n%s\n%s%s%s\nMean ± std over seeds (seeds in parentheses; population std) of the minrl-normalised score, the best mean of each row in bold; \"average\" is the mean over datasets of a model's per-dataset means, where it has them all; \"data\" is the mean score of the dataset's own episodes; a whole run includes its evaluations; training steps: %s.\n",
		g.scores("Last checkpoint:", g.last), g.scores("Best checkpoint (highest evaluation during training):", g.best),
		g.kindAverages(), g.episodeGap(), g.times(), strings.Join(steps, ", "))
	return err
}

// header writes a table's first two lines: the leading columns, then one
// right-aligned column per model.
func (g *grid) header(b *strings.Builder, leading []string) {
	b.WriteString("|")
	for _, c := range append(slices.Clone(leading), g.models...) {
		fmt.Fprintf(b, " %s |", c)
	}
	b.WriteString("\n|---|")
	for range len(leading) - 1 + len(g.models) {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
}

// scores is a table of vals: a row per dataset with the data's own score,
// a mean ± std (seeds) cell per model, the row's best mean in bold, and an
// average row.
func (g *grid) scores(title string, vals map[cell][]float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", title)
	g.header(&b, []string{"dataset", "data"})
	means := map[string][]float64{} // each dataset's mean, for the average row
	for _, d := range g.datasets {
		ds := "-"
		if v, ok := g.dataScore[d]; ok {
			ds = fmt.Sprintf("%.1f", v)
		}
		fmt.Fprintf(&b, "| %s | %s |", d, ds)
		top := math.Inf(-1)
		for _, m := range g.models {
			if v := vals[cell{d, m}]; len(v) > 0 {
				mean, _ := eval.MeanStd(v)
				means[m] = append(means[m], mean)
				top = max(top, mean)
			}
		}
		for _, m := range g.models {
			b.WriteString(scoreCell(vals[cell{d, m}], top))
		}
		b.WriteString("\n")
	}
	// The average over datasets, for models that have every dataset.
	if len(g.datasets) > 1 {
		var data []float64
		for _, d := range g.datasets {
			if v, ok := g.dataScore[d]; ok {
				data = append(data, v)
			}
		}
		ds := "-"
		if len(data) == len(g.datasets) {
			m, _ := eval.MeanStd(data)
			ds = fmt.Sprintf("%.1f", m)
		}
		fmt.Fprintf(&b, "| **average** | %s |", ds)
		for _, m := range g.models {
			b.WriteString(averageCell(means[m], len(g.datasets), "%.1f"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// scoreCell is "mean ± std (n)", in bold when the mean is the row's top.
func scoreCell(v []float64, top float64) string {
	if len(v) == 0 {
		return " |"
	}
	mean, std := eval.MeanStd(v)
	if mean == top {
		return fmt.Sprintf(" **%.1f** ± %.1f (%d) |", mean, std, len(v))
	}
	return fmt.Sprintf(" %.1f ± %.1f (%d) |", mean, std, len(v))
}

// kindAverages averages the last checkpoint over each kind of data, so that
// statements like "over the medium datasets" are read off, not computed by
// hand.
func (g *grid) kindAverages() string {
	kindOf := func(d string) string { _, k, _ := strings.Cut(d, "-"); return k }
	var present []string
	for _, k := range kinds {
		if slices.ContainsFunc(g.datasets, func(d string) bool { return kindOf(d) == k }) {
			present = append(present, k)
		}
	}
	if len(present) < 2 {
		return "" // one kind of data: its average is the table's average row
	}
	var groups [][]string // each group is a list of kinds
	for _, k := range present {
		groups = append(groups, []string{k})
	}
	// Medium and medium-replay together: the data both kinds of model learn well from.
	if len(present) > 2 && slices.Contains(present, "medium") && slices.Contains(present, "medium-replay") {
		groups = append(groups, []string{"medium", "medium-replay"})
	}
	var b strings.Builder
	b.WriteString("Average of the last checkpoint's per-dataset means by kind of data, where a model has every dataset of the kind:\n\n")
	g.header(&b, []string{"data", "datasets"})
	for _, group := range groups {
		var ds []string
		for _, d := range g.datasets {
			if slices.Contains(group, kindOf(d)) {
				ds = append(ds, d)
			}
		}
		fmt.Fprintf(&b, "| %s | %d |", strings.Join(group, " + "), len(ds))
		for _, m := range g.models {
			var means []float64
			for _, d := range ds {
				if v := g.last[cell{d, m}]; len(v) > 0 {
					mean, _ := eval.MeanStd(v)
					means = append(means, mean)
				}
			}
			b.WriteString(averageCell(means, len(ds), "%.1f"))
		}
		b.WriteString("\n")
	}
	return b.String() + "\n"
}

// episodeGap compares each recurrent model's whole-episode mode with its
// window mode: the difference of the last checkpoint's means per dataset.
func (g *grid) episodeGap() string {
	var pairs []string
	for _, m := range g.models {
		if w, ok := strings.CutSuffix(m, " (episode)"); ok && slices.Contains(g.models, w) {
			pairs = append(pairs, w)
		}
	}
	if len(pairs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Whole-episode minus window mode, last checkpoint: difference of the means (seeds of the two in parentheses):\n\n|")
	for _, c := range append([]string{"dataset"}, pairs...) {
		fmt.Fprintf(&b, " %s |", c)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(pairs)) + "\n")
	gaps := map[string][]float64{}
	for _, d := range g.datasets {
		fmt.Fprintf(&b, "| %s |", d)
		for _, m := range pairs {
			w, e := g.last[cell{d, m}], g.last[cell{d, m + " (episode)"}]
			if len(w) == 0 || len(e) == 0 {
				b.WriteString(" |")
				continue
			}
			mw, _ := eval.MeanStd(w)
			me, _ := eval.MeanStd(e)
			gaps[m] = append(gaps[m], me-mw)
			fmt.Fprintf(&b, " %+.1f (%d, %d) |", me-mw, len(e), len(w))
		}
		b.WriteString("\n")
	}
	b.WriteString("| **average** |")
	for _, m := range pairs {
		b.WriteString(averageCell(gaps[m], len(g.datasets), "%+.1f"))
	}
	b.WriteString("\n\n")
	return b.String()
}

// times is each model's median time per run, whole and training only.
func (g *grid) times() string {
	var b strings.Builder
	b.WriteString("Time per run, median over runs and datasets, seconds:\n\n")
	g.header(&b, []string{""})
	for _, row := range []struct {
		name string
		vals map[string][]float64
	}{{"whole run", g.wall}, {"training only", g.train}} {
		fmt.Fprintf(&b, "| %s |", row.name)
		for _, m := range g.models {
			if v := row.vals[m]; len(v) > 0 {
				fmt.Fprintf(&b, " %.0f |", median(v))
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// averageCell is a table cell holding the mean of vals, or an empty cell when
// vals lacks some of the want values it should average.
func averageCell(vals []float64, want int, format string) string {
	if len(vals) < want {
		return " |"
	}
	avg, _ := eval.MeanStd(vals)
	return fmt.Sprintf(" "+format+" |", avg)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return dataset.Percentile(s, 50)
}

func rank(order []string, m string) int {
	if i := slices.Index(order, m); i >= 0 {
		return i
	}
	return math.MaxInt32
}
