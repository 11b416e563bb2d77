package runners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/tasks/selcopy"
)

// SelCopyConfig is a sweep of selective-copying runs: every model, depth,
// sequence length and seed, each trained with Base's other settings.
type SelCopyConfig struct {
	Base    selcopy.Config
	Models  []string
	Layers  []int
	SeqLens []int
	Seeds   []uint64
	// Device is where the runs train: "cpu" (or empty) or "cuda" (minGRU
	// and minLSTM only; a -tags cuda build). It is not part of a run's
	// config: results record the device they ran on.
	Device string
}

// Runs lists the sweep's run configurations, in report order.
func (c SelCopyConfig) Runs() ([]selcopy.Config, error) {
	if len(c.Models) == 0 || len(c.Layers) == 0 || len(c.SeqLens) == 0 || len(c.Seeds) == 0 {
		return nil, errors.New("selective copying: need at least one model, depth, length and seed")
	}
	var runs []selcopy.Config
	for _, L := range c.SeqLens {
		for _, m := range c.Models {
			for _, n := range c.Layers {
				for _, s := range c.Seeds {
					r := c.Base
					r.Task.SeqLen, r.Model.Kind, r.Model.Layers, r.Seed = L, m, n, s
					if err := r.Validate(); err != nil {
						return nil, err
					}
					runs = append(runs, r)
				}
			}
		}
	}
	return runs, nil
}

// SelCopyRunDir is where a run's files go under the sweep's directory.
func SelCopyRunDir(out string, c selcopy.Config) string {
	return filepath.Join(out, fmt.Sprintf("L%d-k%d", c.Task.SeqLen, c.Task.Tokens),
		fmt.Sprintf("%s-%dl-seed%d", c.Model.Kind, c.Model.Layers, c.Seed))
}

// RunSelCopy trains every run of cfg in turn, writing each run's curve.csv
// and result.json under out as it finishes, and returns the results. log
// gets a line per validation point.
func RunSelCopy(ctx context.Context, cfg SelCopyConfig, out string, log io.Writer) ([]*selcopy.Result, error) {
	runs, err := cfg.Runs()
	if err != nil {
		return nil, err
	}
	dev, err := openSelCopyDevice(cfg.Device, runs)
	if err != nil {
		return nil, err
	}
	if dev != nil {
		defer dev.Close()
		fmt.Fprintf(log, "training on %s\n", dev.Name())
	}
	var results []*selcopy.Result
	for _, rc := range runs {
		name := fmt.Sprintf("%s %dl L=%d seed %d", rc.Model.Kind, rc.Model.Layers, rc.Task.SeqLen, rc.Seed)
		res, err := selcopy.TrainOn(ctx, rc, dev, func(p selcopy.Point) {
			fmt.Fprintf(log, "%s step %d (%.0fs): train loss %.4f acc %.3f, val loss %.4f acc %.3f\n",
				name, p.Step, p.Seconds, p.TrainLoss, p.TrainAcc, p.ValLoss, p.ValAcc)
		})
		if err != nil {
			return results, fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(log, "%s: %d steps (%.1f ms/step), best val acc %.4f at step %d, test acc %.4f\n",
			name, res.StepsDone, res.StepMillis, res.BestValAcc, res.BestStep, res.TestAcc)
		if out != "" {
			if err := writeSelCopyRun(SelCopyRunDir(out, rc), res); err != nil {
				return results, err
			}
		}
		results = append(results, res)
		if res.StoppedBy == "interrupt" {
			return results, ctx.Err()
		}
	}
	return results, nil
}

// openSelCopyDevice opens the CUDA device for a sweep with device "cuda"
// (nil for the CPU), refusing models without device kernels and binaries
// built without -tags cuda before any run starts.
func openSelCopyDevice(device string, runs []selcopy.Config) (cuda.Device, error) {
	d, err := cuda.ParseDevice(device)
	if err != nil || d == "cpu" {
		return nil, err
	}
	for _, r := range runs {
		if k := r.Model.Kind; k != selcopy.ModelMinGRU && k != selcopy.ModelMinLSTM {
			return nil, fmt.Errorf("selective copying --device cuda: %s has no GPU kernels (minGRU and minLSTM do); run it with --device cpu", k)
		}
	}
	if !cuda.Available() {
		return nil, fmt.Errorf("selective copying --device cuda: %w", cuda.ErrNotBuilt)
	}
	dev, err := cuda.Open()
	if err != nil {
		return nil, fmt.Errorf("selective copying --device cuda: %w", err)
	}
	return dev, nil
}

func writeSelCopyRun(dir string, res *selcopy.Result) error {
	js, err := json.MarshalIndent(jsonSafe(res), "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "result.json"), js); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("step,seconds,train_loss,train_acc,val_loss,val_acc\n")
	for _, p := range res.Curve {
		fmt.Fprintf(&b, "%d,%.3f,%s,%s,%.6f,%.6f\n", p.Step, p.Seconds, csvFloat(p.TrainLoss), csvFloat(p.TrainAcc), p.ValLoss, p.ValAcc)
	}
	return atomicfile.WriteFile(filepath.Join(dir, "curve.csv"), []byte(b.String()))
}

func csvFloat(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', 6, 64)
}

// jsonSafe copies res with the NaN training averages of step 0 set to 0
// (JSON has no NaN); the CSV leaves them empty.
func jsonSafe(res *selcopy.Result) *selcopy.Result {
	r := *res
	r.Curve = slices.Clone(res.Curve)
	for i := range r.Curve {
		if math.IsNaN(r.Curve[i].TrainLoss) {
			r.Curve[i].TrainLoss, r.Curve[i].TrainAcc = 0, 0
		}
	}
	return &r
}

// LoadSelCopyResults reads every result.json under dir (recursively).
func LoadSelCopyResults(dir string) ([]*selcopy.Result, error) {
	var results []*selcopy.Result
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "result.json" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var r selcopy.Result
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := r.Config.Validate(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		results = append(results, &r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("no selective-copying result.json under %s", dir)
	}
	return results, nil
}

// The paper's layer ablation (Feng et al. 2024, Table 2; L = 4096, 16
// tokens; test accuracy %, mean ± sd; unconfirmed against the paper text,
// see paper.md §13.3). GRU and LSTM were not run there.
var paperSelCopy = map[string][3]string{
	selcopy.ModelMinGRU:  {"37.0 ± 2.3", "96.8 ± 3.2", "99.5 ± 0.2"},
	selcopy.ModelMinLSTM: {"37.6 ± 2.0", "85.7 ± 5.8", "96.0 ± 2.8"},
}

type selCopyKey struct {
	L, K   int
	Model  string
	Layers int
	Device string
}

// selCopyDevice is a result's device for the table ("cpu" for results
// written before runs recorded it).
func selCopyDevice(r *selcopy.Result) string {
	if r.Device == "" {
		return "cpu"
	}
	return r.Device
}

func groupSelCopy(results []*selcopy.Result) (map[selCopyKey][]*selcopy.Result, []selCopyKey) {
	groups := map[selCopyKey][]*selcopy.Result{}
	for _, r := range results {
		k := selCopyKey{r.Config.Task.SeqLen, r.Config.Task.Tokens, r.Config.Model.Kind, r.Config.Model.Layers, selCopyDevice(r)}
		groups[k] = append(groups[k], r)
	}
	keys := slices.Collect(func(yield func(selCopyKey) bool) {
		for k := range groups {
			if !yield(k) {
				return
			}
		}
	})
	slices.SortFunc(keys, func(a, b selCopyKey) int {
		if a.L != b.L {
			return a.L - b.L
		}
		if a.K != b.K {
			return a.K - b.K
		}
		if a.Model != b.Model {
			return slices.Index(selcopy.Models, a.Model) - slices.Index(selcopy.Models, b.Model)
		}
		if a.Layers != b.Layers {
			return a.Layers - b.Layers
		}
		return strings.Compare(a.Device, b.Device)
	})
	for _, k := range keys {
		slices.SortFunc(groups[k], func(a, b *selcopy.Result) int { return int(a.Config.Seed) - int(b.Config.Seed) })
	}
	return groups, keys
}

// WriteSelCopyTable writes the depth table as Markdown: test accuracy of
// the best-validation checkpoint, mean ± sd over seeds, per model and
// depth, beside the paper's numbers at L = 4096.
func WriteSelCopyTable(w io.Writer, results []*selcopy.Result) error {
	groups, keys := groupSelCopy(results)
	var b strings.Builder
	b.WriteString("| L | tokens | model | layers | params | seeds | steps (mean) | ms/step | device | test acc % (mean ± sd) | per seed | best val step | paper, L=4096 |\n")
	b.WriteString("|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---|---|---|\n")
	for _, k := range keys {
		rs := groups[k]
		var accs, steps, ms, bestSteps []float64
		var per []string
		for _, r := range rs {
			accs = append(accs, 100*r.TestAcc)
			steps = append(steps, float64(r.StepsDone))
			ms = append(ms, r.StepMillis)
			bestSteps = append(bestSteps, float64(r.BestStep))
			s := fmt.Sprintf("%.1f", 100*r.TestAcc)
			if r.StoppedBy != "" {
				s += "†"
			}
			per = append(per, s)
		}
		m, sd := meanSD(accs)
		paper := "not run"
		if p, ok := paperSelCopy[k.Model]; ok && k.Layers <= 3 {
			paper = p[k.Layers-1]
		} else if ok {
			paper = "–"
		}
		fmt.Fprintf(&b, "| %d | %d | %s | %d | %d | %d | %.0f | %.1f | %s | %.1f ± %.1f | %s | %.0f | %s |\n",
			k.L, k.K, k.Model, k.Layers, rs[0].Params, len(rs), mean(steps), mean(ms), k.Device, m, sd, strings.Join(per, ", "), mean(bestSteps), paper)
	}
	b.WriteString("\nChance is 1/14 ≈ 7.1% (data tokens are uniform over 14 values). † the run stopped on its time bound before its step count.\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func mean(v []float64) float64 {
	m, _ := meanSD(v)
	return m
}

// meanSD is the mean and sample standard deviation (0 for one value).
func meanSD(v []float64) (m, sd float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	if len(v) < 2 {
		return m, 0
	}
	for _, x := range v {
		sd += (x - m) * (x - m)
	}
	return m, math.Sqrt(sd / float64(len(v)-1))
}

// depthDashes tells depths apart: solid, dashed, dotted, dash-dot (points).
var depthDashes = [][]float64{nil, {6, 3}, {2, 2}, {8, 2, 2, 2}}

// PlotSelCopy draws validation accuracy against training steps for every
// run of one sequence length and token count, a line per run (colour: the
// model; dashes: the depth), as a PNG.
func PlotSelCopy(results []*selcopy.Result, L, K int, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Selective copying, L=%d, %d tokens", L, K)
	p.X.Label.Text = "training step"
	p.Y.Label.Text = "validation accuracy (per token)"
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top, p.Legend.Left = false, false
	groups, keys := groupSelCopy(results)
	n := 0
	for _, k := range keys {
		if k.L != L || k.K != K {
			continue
		}
		for i, r := range groups[k] {
			var pts plotter.XYs
			for _, pt := range r.Curve {
				pts = append(pts, plotter.XY{X: float64(pt.Step), Y: pt.ValAcc})
			}
			line, err := plotter.NewLine(pts)
			if err != nil {
				return fmt.Errorf("plot %s: %w", k.Model, err)
			}
			c, ok := modelColors[k.Model]
			if !ok {
				c = plotColor(n)
			}
			line.Color = c
			for _, d := range depthDashes[min(k.Layers-1, len(depthDashes)-1)] {
				line.Dashes = append(line.Dashes, vg.Points(d))
			}
			p.Add(line)
			if i == 0 {
				p.Legend.Add(fmt.Sprintf("%s %dl", k.Model, k.Layers), line)
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("plot: no run at L=%d with %d tokens", L, K)
	}
	chance, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 1.0 / 14}, {X: p.X.Max, Y: 1.0 / 14}})
	if err == nil {
		chance.Color = plotColor(3)
		chance.Dashes = []vg.Length{vg.Points(1), vg.Points(3)}
		p.Add(chance)
	}
	return savePlot(p, path)
}

// WriteSelCopyReport writes selcopy.md (the depth table) and one learning-
// curve PNG per sequence length into out, from results.
func WriteSelCopyReport(out, header string, results []*selcopy.Result) ([]string, error) {
	var table strings.Builder
	if err := WriteSelCopyTable(&table, results); err != nil {
		return nil, err
	}
	md := filepath.Join(out, "selcopy.md")
	if err := atomicfile.WriteFile(md, []byte(header+table.String())); err != nil {
		return nil, err
	}
	files := []string{md}
	_, keys := groupSelCopy(results)
	seen := map[[2]int]bool{}
	for _, k := range keys {
		lk := [2]int{k.L, k.K}
		if seen[lk] {
			continue
		}
		seen[lk] = true
		png := filepath.Join(out, fmt.Sprintf("selcopy-L%d-k%d.png", k.L, k.K))
		if err := PlotSelCopy(results, k.L, k.K, png); err != nil {
			return files, err
		}
		files = append(files, png)
	}
	return files, nil
}
