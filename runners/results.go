package runners

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

	"github.com/minrl/minrl/eval"
)

// runSummary is the part of a run's summary.json the results table reads.
type runSummary struct {
	Name   string `json:"name"`
	Config struct {
		Dataset string `json:"dataset"`
		Model   struct {
			Kind    string `json:"kind"`
			Context string `json:"context"`
		} `json:"model"`
		Train struct {
			Seed  uint64 `json:"seed"`
			Steps int    `json:"steps"`
		} `json:"train"`
		Eval struct {
			Episodes int       `json:"episodes"`
			Targets  []float64 `json:"targets"`
		} `json:"eval"`
	} `json:"config"`
	Last struct {
		Step      int      `json:"step"`
		Score     *float64 `json:"score"`
		ScoreKind string   `json:"score_kind"`
	} `json:"last"`
	Best struct {
		Step  int      `json:"step"`
		Score *float64 `json:"score"`
	} `json:"best"`
	DataScore    *float64 `json:"dataset_score"`
	WallSeconds  float64  `json:"wall_seconds"`
	TrainSeconds float64  `json:"train_seconds"`

	path     string            // of the summary.json
	settings map[string]string // the config's keys (flattened) and their JSON values
}

// variant names a run's table column: the model kind, and the context
// when it is the whole episode.
func (r runSummary) variant() string {
	if r.Config.Model.Context == "episode" {
		return r.Config.Model.Kind + " (episode)"
	}
	return r.Config.Model.Kind
}

// notSettings are config keys that may differ between runs of one table
// cell: they change neither what is trained nor how it is scored.
var notSettings = []string{"name", "out", "train.seed", "train.checkpoint_every", "train.log_every"}

// flatten lists a JSON object's leaves as dotted keys and JSON values.
func flatten(prefix string, v any, into map[string]string) {
	if m, ok := v.(map[string]any); ok {
		for k, x := range m {
			flatten(prefix+k+".", x, into)
		}
		return
	}
	key := strings.TrimSuffix(prefix, ".")
	if slices.Contains(notSettings, key) {
		return
	}
	b, _ := json.Marshal(v)
	into[key] = string(b)
}

// checkComparable makes sure that every table cell averages like with
// like: its runs differ only in the seed, and no seed is counted twice.
// (Pointing the table at a parent of two grids would otherwise mix, say,
// batch sizes into one mean.)
func checkComparable(runs []runSummary) error {
	type key struct{ data, model string }
	first := map[key]runSummary{}
	seeds := map[key]map[uint64]string{}
	for _, r := range runs {
		k := key{r.Config.Dataset, r.variant()}
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

// ResultsTable reads every summary.json under dir (one run per directory)
// and writes a Markdown table: one row per dataset, one column per model,
// mean ± std over seeds of the last checkpoint's normalised score, a second
// table of the best checkpoints', and each model's median time per run.
func ResultsTable(w io.Writer, dir string) error {
	var runs []runSummary
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "summary.json" {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var s runSummary
		var raw struct {
			Config map[string]any `json:"config"`
		}
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		s.path, s.settings = path, map[string]string{}
		flatten("", raw.Config, s.settings)
		runs = append(runs, s)
		return nil
	})
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return fmt.Errorf("no summary.json under %s", dir)
	}
	if err := checkComparable(runs); err != nil {
		return err
	}
	type key struct{ data, model string }
	last, best := map[key][]float64{}, map[key][]float64{}
	wall, train := map[string][]float64{}, map[string][]float64{}
	dataScore := map[string]float64{}
	steps := map[int]bool{}
	var datasets, models []string
	for _, r := range runs {
		m := r.variant()
		k := key{r.Config.Dataset, m}
		if r.Last.Score != nil {
			last[k] = append(last[k], *r.Last.Score)
		}
		if r.Best.Score != nil {
			best[k] = append(best[k], *r.Best.Score)
		}
		steps[r.Config.Train.Steps] = true
		if r.WallSeconds > 0 {
			wall[m] = append(wall[m], r.WallSeconds)
			train[m] = append(train[m], r.TrainSeconds)
		}
		if r.DataScore != nil {
			dataScore[k.data] = *r.DataScore
		}
		if !slices.Contains(datasets, k.data) {
			datasets = append(datasets, k.data)
		}
		if !slices.Contains(models, m) {
			models = append(models, m)
		}
	}
	// The D4RL tables' order: grouped by kind of data, then environment.
	kinds := []string{"random", "medium", "medium-replay", "medium-expert", "expert"}
	sort.Slice(datasets, func(i, j int) bool {
		ei, ki, _ := strings.Cut(datasets[i], "-")
		ej, kj, _ := strings.Cut(datasets[j], "-")
		if ri, rj := rank(kinds, ki), rank(kinds, kj); ri != rj {
			return ri < rj
		}
		if ki != kj {
			return ki < kj
		}
		return ei < ej
	})
	order := []string{"bc", "dt", "mingru", "minlstm", "mingru (episode)", "minlstm (episode)"}
	sort.SliceStable(models, func(i, j int) bool { return rank(order, models[i]) < rank(order, models[j]) })
	var stepList []string
	for _, s := range slices.Sorted(maps.Keys(steps)) {
		stepList = append(stepList, fmt.Sprint(s))
	}
	// header writes a table's first two lines: the leading columns, then
	// one right-aligned column per model.
	header := func(b *strings.Builder, leading []string) {
		b.WriteString("|")
		for _, c := range append(slices.Clone(leading), models...) {
			fmt.Fprintf(b, " %s |", c)
		}
		b.WriteString("\n|---|")
		for range len(leading) - 1 + len(models) {
			b.WriteString("---:|")
		}
		b.WriteString("\n")
	}
	cell := func(v []float64, bold bool) string {
		if len(v) == 0 {
			return " |"
		}
		mean, std := eval.MeanStd(v)
		if bold {
			return fmt.Sprintf(" **%.1f** ± %.1f (%d) |", mean, std, len(v))
		}
		return fmt.Sprintf(" %.1f ± %.1f (%d) |", mean, std, len(v))
	}
	table := func(title string, vals map[key][]float64) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n\n", title)
		header(&b, []string{"dataset", "data"})
		// means[m] collects each dataset's mean for the average row.
		means := map[string][]float64{}
		for _, d := range datasets {
			ds := "-"
			if v, ok := dataScore[d]; ok {
				ds = fmt.Sprintf("%.1f", v)
			}
			fmt.Fprintf(&b, "| %s | %s |", d, ds)
			top := math.Inf(-1)
			for _, m := range models {
				if v := vals[key{d, m}]; len(v) > 0 {
					mean, _ := eval.MeanStd(v)
					means[m] = append(means[m], mean)
					top = max(top, mean)
				}
			}
			for _, m := range models {
				v := vals[key{d, m}]
				mean := math.NaN()
				if len(v) > 0 {
					mean, _ = eval.MeanStd(v)
				}
				b.WriteString(cell(v, mean == top))
			}
			b.WriteString("\n")
		}
		// The average over datasets, for models that have every dataset.
		if len(datasets) > 1 {
			var data []float64
			for _, d := range datasets {
				if v, ok := dataScore[d]; ok {
					data = append(data, v)
				}
			}
			ds := "-"
			if len(data) == len(datasets) {
				m, _ := eval.MeanStd(data)
				ds = fmt.Sprintf("%.1f", m)
			}
			fmt.Fprintf(&b, "| **average** | %s |", ds)
			for _, m := range models {
				b.WriteString(averageCell(means[m], len(datasets), "%.1f"))
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	// groups averages the last checkpoint over each kind of data, so that
	// statements like "over the medium datasets" are read off, not computed
	// by hand.
	groups := func() string {
		kindOf := func(d string) string { _, k, _ := strings.Cut(d, "-"); return k }
		var present []string
		for _, k := range kinds {
			if slices.ContainsFunc(datasets, func(d string) bool { return kindOf(d) == k }) {
				present = append(present, k)
			}
		}
		if len(present) < 2 {
			return "" // one kind of data: its average is the table's average row
		}
		var gs [][]string // each group is a list of kinds
		for _, k := range present {
			gs = append(gs, []string{k})
		}
		// Medium and medium-replay together: the data both kinds of model learn well from.
		if len(present) > 2 && slices.Contains(present, "medium") && slices.Contains(present, "medium-replay") {
			gs = append(gs, []string{"medium", "medium-replay"})
		}
		var b strings.Builder
		b.WriteString("Average of the last checkpoint's per-dataset means by kind of data, where a model has every dataset of the kind:\n\n")
		header(&b, []string{"data", "datasets"})
		for _, g := range gs {
			var ds []string
			for _, d := range datasets {
				if slices.Contains(g, kindOf(d)) {
					ds = append(ds, d)
				}
			}
			fmt.Fprintf(&b, "| %s | %d |", strings.Join(g, " + "), len(ds))
			for _, m := range models {
				var means []float64
				for _, d := range ds {
					if v := last[key{d, m}]; len(v) > 0 {
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
	episodeGap := func() string {
		var pairs []string
		for _, m := range models {
			if w, ok := strings.CutSuffix(m, " (episode)"); ok && slices.Contains(models, w) {
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
		for _, d := range datasets {
			fmt.Fprintf(&b, "| %s |", d)
			for _, m := range pairs {
				w, e := last[key{d, m}], last[key{d, m + " (episode)"}]
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
			b.WriteString(averageCell(gaps[m], len(datasets), "%+.1f"))
		}
		b.WriteString("\n\n")
		return b.String()
	}
	var times strings.Builder
	times.WriteString("Time per run, median over runs and datasets, seconds:\n\n")
	header(&times, []string{""})
	for _, row := range []struct {
		name string
		vals map[string][]float64
	}{{"whole run", wall}, {"training only", train}} {
		fmt.Fprintf(&times, "| %s |", row.name)
		for _, m := range models {
			if v := row.vals[m]; len(v) > 0 {
				fmt.Fprintf(&times, " %.0f |", median(v))
			} else {
				times.WriteString(" |")
			}
		}
		times.WriteString("\n")
	}
	_, err = fmt.Fprintf(w, "%s\n%s\n%s%s%s\nMean ± std over seeds (seeds in parentheses; population std) of the minrl-normalised score, the best mean of each row in bold; \"average\" is the mean over datasets of a model's per-dataset means, where it has them all; \"data\" is the mean score of the dataset's own episodes; a whole run includes its evaluations; training steps: %s.\n",
		table("Last checkpoint:", last), table("Best checkpoint (highest evaluation during training):", best), groups(), episodeGap(), times.String(), strings.Join(stepList, ", "))
	return err
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

func rank(order []string, m string) int {
	if i := slices.Index(order, m); i >= 0 {
		return i
	}
	return math.MaxInt32
}

// WriteResultsTable writes ResultsTable's output for dir to path atomically.
func WriteResultsTable(path, dir string) error {
	var b strings.Builder
	if err := ResultsTable(&b, dir); err != nil {
		return err
	}
	return writeFileAtomic(path, strings.NewReader(b.String()).WriteTo)
}
