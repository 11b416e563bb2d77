package report

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
)

// The analysis pre-registered in docs/protocol.md. Its margin and levels
// are constants, not flags: they were fixed before the runs.
const (
	equivalenceMargin = 5.0  // normalised points, on the average over datasets
	equivalenceAlpha  = 0.05 // each one-sided test of TOST
	ciLevel           = 0.95 // of the per-cell and control intervals
)

// The models the analysis compares, as table columns (run.variant).
var (
	// equivalenceTests are the model − DT comparisons, primary first.
	equivalenceTests = []struct{ model, base, role string }{
		{"mingru", "dt", "primary"},
		{"minlstm", "dt", "secondary"},
	}
	// conditioned are the return-conditioned models checked against the controls.
	conditioned = []string{"dt", "mingru", "minlstm"}
	// controls are %BC and the return-to-go ablation.
	controls = []string{"bc (top 10%)", "mingru (no RTG)"}
)

// The two evaluation targets of the protocol, high (the headline) first.
const (
	highTarget = iota
	midTarget
)

var targetTitles = [2]string{"High target (the headline)", "Mid target"}

// analysis holds each run's last-checkpoint normalised score at the two
// targets, by table cell and seed.
type analysis struct {
	datasets, models []string              // in table order
	targets          map[string][2]float64 // per dataset: the return-conditioned runs' targets
	scores           [2]map[cell]map[uint64]float64
}

// Analysis reads the runs under dir and writes, as Markdown, the analysis
// that docs/protocol.md pre-registers: per target (high first), each
// dataset and model's mean with its 95% t interval over seeds of the last
// checkpoint's normalised score, and the average over datasets; the TOST
// equivalence test of Decision-minGRU (primary) and Decision-minLSTM
// (secondary) against DT on the high target's average over datasets, seeds
// paired by number; and each return-conditioned model minus %BC and minus
// the return-to-go ablation (Welch intervals). The runs of a cell must
// differ only in the seed, as for Table.
func Analysis(w io.Writer, dir string) error {
	runs, err := load(dir)
	if err != nil {
		return err
	}
	if err := checkComparable(runs); err != nil {
		return err
	}
	a, err := newAnalysis(runs)
	if err != nil {
		return err
	}
	var b strings.Builder
	for t := range targetTitles {
		a.scoreTable(&b, t)
	}
	a.equivalence(&b)
	for t := range targetTitles {
		a.controlTable(&b, t)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func newAnalysis(runs []run) (*analysis, error) {
	g := newGrid(runs)
	a := &analysis{datasets: g.datasets, models: g.models, targets: map[string][2]float64{}}
	for t := range a.scores {
		a.scores[t] = map[cell]map[uint64]float64{}
	}
	from := map[string]string{} // the run that set a dataset's targets
	for _, r := range runs {
		targets, scores, conditioned, err := targetScores(r)
		if err != nil {
			return nil, err
		}
		d := r.Config.Dataset
		if conditioned {
			if p, ok := from[d]; ok && a.targets[d] != targets {
				return nil, fmt.Errorf("%s and %s were evaluated at different targets on %s (%g/%g vs %g/%g): their scores do not compare",
					p, r.path, d, a.targets[d][0], a.targets[d][1], targets[0], targets[1])
			}
			a.targets[d], from[d] = targets, r.path
		}
		k := cell{d, r.variant()}
		for t, s := range scores {
			if a.scores[t][k] == nil {
				a.scores[t][k] = map[uint64]float64{}
			}
			a.scores[t][k][r.Config.Train.Seed] = s
		}
	}
	return a, nil
}

// targetScores are a run's last-checkpoint normalised scores at the high
// and mid targets: its two targets, the higher first as the protocol
// lists them, or for a model not conditioned on a return (bc: one
// evaluation, target 0) its one score at both.
func targetScores(r run) (targets, scores [2]float64, conditioned bool, err error) {
	ts := r.Last.Targets
	for _, t := range ts {
		if t.MeanNormalized == nil {
			return targets, scores, false, fmt.Errorf("%s: no normalised score at target %g (no reference returns): the analysis needs them", r.path, t.Target)
		}
	}
	switch {
	case len(ts) == 1 && ts[0].Target == 0 && r.Config.Model.Kind == "bc":
		s := *ts[0].MeanNormalized
		return targets, [2]float64{s, s}, false, nil
	case len(ts) == 2 && ts[0].Target > ts[1].Target:
		return [2]float64{ts[0].Target, ts[1].Target}, [2]float64{*ts[0].MeanNormalized, *ts[1].MeanNormalized}, true, nil
	}
	got := make([]string, len(ts))
	for i, t := range ts {
		got[i] = fmt.Sprint(t.Target)
	}
	return targets, scores, false, fmt.Errorf("%s: the last evaluation has targets [%s]; the analysis needs two, high then mid (docs/protocol.md)",
		r.path, strings.Join(got, ", "))
}

// values are the cell's scores at target t, in seed order.
func (a *analysis) values(t int, k cell) []float64 {
	bySeed := a.scores[t][k]
	var v []float64
	for _, s := range slices.Sorted(maps.Keys(bySeed)) {
		v = append(v, bySeed[s])
	}
	return v
}

// seedAverages is, for each seed that ran every dataset, model's score at
// target t averaged over the datasets.
func (a *analysis) seedAverages(t int, model string) map[uint64]float64 {
	avg := map[uint64]float64{}
	for i, d := range a.datasets {
		bySeed := a.scores[t][cell{d, model}]
		for s := range avg {
			if _, ok := bySeed[s]; !ok {
				delete(avg, s)
			}
		}
		for s, v := range bySeed {
			if _, ok := avg[s]; ok || i == 0 {
				avg[s] += v / float64(len(a.datasets))
			}
		}
	}
	return avg
}

// averageValues are seedAverages in seed order.
func (a *analysis) averageValues(t int, model string) []float64 {
	avg := a.seedAverages(t, model)
	var v []float64
	for _, s := range slices.Sorted(maps.Keys(avg)) {
		v = append(v, avg[s])
	}
	return v
}

// scoreTable is the table of target t: a row per dataset with the target
// asked, a mean [95% CI] (seeds) cell per model, and the average row.
func (a *analysis) scoreTable(b *strings.Builder, t int) {
	fmt.Fprintf(b, "**%s**: last checkpoint's normalised score, mean [95%% CI] (seeds) over seeds, t interval with n − 1 degrees of freedom; "+
		"\"average\" is over the %d datasets, from each seed's average over them (seeds that ran every dataset); "+
		"bc and %%BC do not take a return, so their one score stands at both targets.\n\n", targetTitles[t], len(a.datasets))
	b.WriteString("| dataset | target |")
	for _, m := range a.models {
		fmt.Fprintf(b, " %s |", m)
	}
	b.WriteString("\n|---|---:|" + strings.Repeat("---:|", len(a.models)) + "\n")
	for _, d := range a.datasets {
		target := "-"
		if ts, ok := a.targets[d]; ok {
			target = fmt.Sprint(ts[t])
		}
		fmt.Fprintf(b, "| %s | %s |", d, target)
		for _, m := range a.models {
			b.WriteString(" " + ciCell(meanCI(a.values(t, cell{d, m}), ciLevel), "%.1f") + " |")
		}
		b.WriteString("\n")
	}
	if len(a.datasets) > 1 {
		b.WriteString("| **average** | |")
		for _, m := range a.models {
			b.WriteString(" " + ciCell(meanCI(a.averageValues(t, m), ciLevel), "%.1f") + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// equivalence is the TOST table of each model − DT comparison on the high
// target's average over datasets, seeds paired by number.
func (a *analysis) equivalence(b *strings.Builder) {
	fmt.Fprintf(b, "**Equivalence with DT** (TOST, margin ±%g normalised points, α = %g): per seed, d = model − DT of the high-target score averaged over the %d datasets, "+
		"seeds paired by number (window models of one seed see the same minibatches); mean d and its %g%% t interval (pairs − 1 degrees of freedom), "+
		"the p-values of H0: d ≤ −%g and H0: d ≥ %g. Equivalent iff both are below %g (the interval lies inside (−%g, %g)); "+
		"not equivalent iff the interval lies wholly outside it; inconclusive otherwise.\n\n",
		equivalenceMargin, equivalenceAlpha, len(a.datasets), 100*(1-2*equivalenceAlpha), equivalenceMargin, equivalenceMargin, equivalenceAlpha, equivalenceMargin, equivalenceMargin)
	fmt.Fprintf(b, "| comparison | test | pairs (seeds) | mean d | sd | %g%% CI | p (d ≤ −%g) | p (d ≥ %g) | verdict |\n|---|---|---:|---:|---:|---:|---:|---:|---|\n",
		100*(1-2*equivalenceAlpha), equivalenceMargin, equivalenceMargin)
	var notes []string
	for _, c := range equivalenceTests {
		ma, mb := a.seedAverages(highTarget, c.model), a.seedAverages(highTarget, c.base)
		var seeds, left []uint64
		for s := range ma {
			if _, ok := mb[s]; ok {
				seeds = append(seeds, s)
			}
		}
		slices.Sort(seeds)
		var d []float64
		for _, s := range seeds {
			d = append(d, ma[s]-mb[s])
		}
		for _, s := range a.allSeeds(c.model, c.base) {
			if !slices.Contains(seeds, s) {
				left = append(left, s)
			}
		}
		r := tost(d, equivalenceMargin, equivalenceAlpha)
		fmt.Fprintf(b, "| %s − %s | %s | %d (%s) | %s | %s | %s | %s | %s | **%s** |\n", c.model, c.base, c.role, len(seeds), seedList(seeds),
			num("%+.1f", r.mean), num("%.1f", r.sd), interval90(r), pValue(r.pLow), pValue(r.pHigh), r.verdict)
		if len(left) > 0 {
			notes = append(notes, fmt.Sprintf("%s − %s leaves out seeds %s: not run on every dataset by both models.", c.model, c.base, seedList(left)))
		}
		if len(seeds) < 2 {
			notes = append(notes, fmt.Sprintf("%s − %s: not enough seeds, %d complete pair(s); the test needs at least 2 (the protocol runs 5).", c.model, c.base, len(seeds)))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
	b.WriteString("\n")
}

// allSeeds are the seeds of any run of the models.
func (a *analysis) allSeeds(models ...string) []uint64 {
	var seeds []uint64
	for k, bySeed := range a.scores[highTarget] {
		if slices.Contains(models, k.model) {
			for s := range bySeed {
				if !slices.Contains(seeds, s) {
					seeds = append(seeds, s)
				}
			}
		}
	}
	slices.Sort(seeds)
	return seeds
}

// controlTable is, at target t, each return-conditioned model minus each
// control per dataset and on the average, with Welch's 95% interval.
func (a *analysis) controlTable(b *strings.Builder, t int) {
	type pair struct{ model, control string }
	var pairs []pair
	for _, c := range controls {
		for _, m := range conditioned {
			if slices.Contains(a.models, m) && slices.Contains(a.models, c) {
				pairs = append(pairs, pair{m, c})
			}
		}
	}
	fmt.Fprintf(b, "**Controls, %s**: ", strings.ToLower(targetTitles[t][:1])+targetTitles[t][1:])
	if len(pairs) == 0 {
		fmt.Fprintf(b, "no return-conditioned model (%s) and control (%s) both ran.\n\n", strings.Join(conditioned, ", "), strings.Join(controls, ", "))
		return
	}
	b.WriteString("model − control, difference of the means [95% CI] (seeds of each), Welch's t interval: not paired by seed, since %BC draws other " +
		"minibatches than the window models and a seed number pairs nothing across them; where runs of one seed do share a stream (the ablation " +
		"shares minGRU's initialisation and minibatches) Welch's interval ignores that positive correlation and is wider, so it errs against a " +
		"claim. Bold: the interval lies above 0. The average row compares each seed's average over the datasets.\n\n| dataset |")
	for _, p := range pairs {
		fmt.Fprintf(b, " %s − %s |", p.model, p.control)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(pairs)) + "\n")
	row := func(name string, vals func(model string) []float64) []bool {
		fmt.Fprintf(b, "| %s |", name)
		above := make([]bool, len(pairs))
		for i, p := range pairs {
			x, y := vals(p.model), vals(p.control)
			iv := welch(x, y, ciLevel)
			above[i] = iv.lo > 0
			c := ""
			if len(x) > 0 && len(y) > 0 {
				c = fmt.Sprintf("%s (%d, %d)", ciText(iv, "%+.1f"), len(x), len(y))
				if above[i] {
					c = "**" + c + "**"
				}
			}
			fmt.Fprintf(b, " %s |", c)
		}
		b.WriteString("\n")
		return above
	}
	for _, d := range a.datasets {
		row(d, func(m string) []float64 { return a.values(t, cell{d, m}) })
	}
	if len(a.datasets) > 1 {
		above := row("**average**", func(m string) []float64 { return a.averageValues(t, m) })
		// The protocol's rule: return conditioning pays only where a model beats both controls.
		var both []string
		for _, m := range conditioned {
			n, ok := 0, true
			for i, p := range pairs {
				if p.model == m {
					n++
					ok = ok && above[i]
				}
			}
			if n == len(controls) && ok {
				both = append(both, m)
			}
		}
		fmt.Fprintf(b, "\nAbove both controls on the average (both intervals above 0): %s.\n", cmp.Or(strings.Join(both, ", "), "none"))
	}
	b.WriteString("\n")
}

// ciCell is "mean [lo, hi] (n)", "mean (1)" without a spread, or empty.
func ciCell(iv interval, format string) string {
	if iv.n == 0 {
		return ""
	}
	return fmt.Sprintf("%s (%d)", ciText(iv, format), iv.n)
}

// ciText is "mean [lo, hi]", or the mean alone when the interval is undefined.
func ciText(iv interval, format string) string {
	if math.IsNaN(iv.lo) {
		return num(format, iv.mean)
	}
	return fmt.Sprintf(format+" ["+format+", "+format+"]", iv.mean, iv.lo, iv.hi)
}

func interval90(r tostResult) string {
	if math.IsNaN(r.lo) {
		return "-"
	}
	return fmt.Sprintf("[%+.1f, %+.1f]", r.lo, r.hi)
}

// num formats x, or "-" when it is NaN.
func num(format string, x float64) string {
	if math.IsNaN(x) {
		return "-"
	}
	return fmt.Sprintf(format, x)
}

func pValue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "-"
	case p < 1e-4:
		return "< 0.0001"
	}
	return fmt.Sprintf("%.4f", p)
}

func seedList(seeds []uint64) string {
	if len(seeds) == 0 {
		return "none"
	}
	s := make([]string, len(seeds))
	for i, x := range seeds {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
