package runners

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/minrl/minrl/agents/ppo"
	"github.com/minrl/minrl/internal/atomicfile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var modelColors = map[string]color.Color{
	"mingru":      color.RGBA{R: 31, G: 119, B: 180, A: 255},
	"minlstm":     color.RGBA{R: 44, G: 160, B: 44, A: 255},
	"gru":         color.RGBA{R: 214, G: 39, B: 40, A: 255},
	"lstm":        color.RGBA{R: 255, G: 127, B: 14, A: 255},
	"mingru-log":  color.RGBA{R: 148, G: 103, B: 189, A: 255},
	"minlstm-log": color.RGBA{R: 140, G: 86, B: 75, A: 255},
}

// PlotSpeed draws median training-step time against sequence length on
// log-log axes, one line per model (the paper's runtime figure), as a PNG.
func PlotSpeed(results []SpeedResult, title, path string) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "sequence length T"
	p.Y.Label.Text = "training step, forward + backward (ms)"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = logTicks125{}, logTicks125{}
	p.Legend.Top, p.Legend.Left = false, false // bottom right is empty: times grow with T
	var models []string
	for _, r := range results {
		if !slices.Contains(models, r.Model) {
			models = append(models, r.Model)
		}
	}
	for i, m := range models {
		var pts plotter.XYs
		for _, r := range results {
			if r.Model == m && len(r.Seconds) > 0 {
				pts = append(pts, plotter.XY{X: float64(r.T), Y: 1000 * r.Median()})
			}
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("plot %s: %w", m, err)
		}
		c, ok := modelColors[m]
		if !ok {
			c = plotColor(i)
		}
		line.Color, points.Color = c, c
		points.Shape = draw.CircleGlyph{}
		p.Add(line, points)
		p.Legend.Add(m, line, points)
	}
	return savePlot(p, path)
}

func plotColor(i int) color.Color {
	return color.Gray{Y: uint8(40 + 40*(i%5))}
}

// savePlot writes p as a PNG atomically (temp file + rename).
func savePlot(p *plot.Plot, path string) error {
	w, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, w.WriteTo)
}

// PlotLearningCurve draws PPO's mean training episode return against
// environment steps as a PNG.
func PlotLearningCurve(hist []ppo.Update, env, path string) error {
	p := plot.New()
	p.Title.Text = "PPO on " + env
	p.X.Label.Text = "environment steps"
	p.Y.Label.Text = "mean training episode return"
	var pts plotter.XYs
	for _, u := range hist {
		if !math.IsNaN(u.EpisodeReturn) {
			pts = append(pts, plotter.XY{X: float64(u.Step), Y: u.EpisodeReturn})
		}
	}
	if len(pts) == 0 {
		return fmt.Errorf("learning curve of %s: no finished episode", env)
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	line.Color = modelColors["mingru"]
	p.Add(line)
	return savePlot(p, path)
}

// logTicks125 labels a log axis at 1, 2 and 5 times each power of ten,
// with unlabelled ticks at the other integers: plot.LogTicks labels powers
// of ten only, which leaves a range within one decade with one label.
type logTicks125 struct{}

func (logTicks125) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for m := 1.0; m < 10; m++ {
			v := m * base
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// plots draws the learning curves so far (during the run, at each
// evaluation, so that a long run can be watched).
func (j *trainJob) plots() error {
	if j.opts.SkipPlots {
		return nil
	}
	if len(j.metrics) > 0 {
		if err := PlotTrainLoss(j.metrics, j.name(), j.path(FileLossPlot)); err != nil {
			return err
		}
	}
	if len(j.evals) > 0 {
		ref := j.dataReturn
		if j.kind == ScoreNormalized {
			ref, _ = j.spec.NormalizedScore(j.dataReturn)
		}
		return PlotEvalCurve(j.evals, ref, j.name(), j.path(FileEvalPlot))
	}
	return nil
}

// PlotTrainLoss draws the training loss (masked action MSE) against the
// step as a PNG, on a log scale when the losses span more than a decade.
func PlotTrainLoss(recs []MetricRecord, title, path string) error {
	p := plot.New()
	p.Title.Text = strings.TrimSpace(title + " training loss")
	p.X.Label.Text = "gradient step"
	p.Y.Label.Text = "action MSE (mean over the log interval)"
	pts := make(plotter.XYs, 0, len(recs))
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range recs {
		pts = append(pts, plotter.XY{X: float64(r.Step), Y: r.Loss})
		lo, hi = min(lo, r.Loss), max(hi, r.Loss)
	}
	if lo > 0 && hi > 10*lo {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("loss plot: %w", err)
	}
	line.Color = modelColors["mingru"]
	p.Add(line)
	return savePlot(p, path)
}

// PlotEvalCurve draws each target's evaluation score (normalised score,
// or mean return without reference returns) against the step as a PNG,
// with a dashed line at ref, the dataset's own score (NaN: none).
func PlotEvalCurve(pts []EvalPoint, ref float64, title, path string) error {
	p := plot.New()
	p.Title.Text = strings.TrimSpace(title + " evaluation")
	p.X.Label.Text = "gradient step"
	normalized := pts[0].ScoreKind == ScoreNormalized
	if normalized {
		p.Y.Label.Text = "normalised score, mean ± std over episodes"
	} else {
		p.Y.Label.Text = "return, mean ± std over episodes"
	}
	colors := []color.Color{modelColors["mingru"], modelColors["gru"], modelColors["minlstm"], modelColors["lstm"], modelColors["mingru-log"]}
	lo, hi := math.Inf(1), math.Inf(-1) // the y range the data and their spread need
	for i := range pts[0].Targets {
		var xy, upper, lower plotter.XYs
		for _, pt := range pts {
			if i >= len(pt.Targets) {
				continue
			}
			y, sd := pt.Targets[i].MeanReturn, pt.Targets[i].StdReturn
			if normalized {
				y, sd = pt.Targets[i].MeanNormalized, pt.Targets[i].StdNormalized
			}
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			if math.IsNaN(sd) || math.IsInf(sd, 0) {
				sd = 0
			}
			x := float64(pt.Step)
			xy = append(xy, plotter.XY{X: x, Y: y})
			upper, lower = append(upper, plotter.XY{X: x, Y: y + sd}), append(lower, plotter.XY{X: x, Y: y - sd})
			lo, hi = min(lo, y-sd), max(hi, y+sd)
		}
		if len(xy) == 0 {
			continue
		}
		c := colors[i%len(colors)]
		// The spread over episodes, so that noise does not read as a trend.
		if len(xy) > 1 {
			band := append(append(plotter.XYs{}, upper...), reversed(lower)...)
			poly, err := plotter.NewPolygon(band)
			if err != nil {
				return fmt.Errorf("evaluation plot: %w", err)
			}
			r, g, b, _ := c.RGBA()
			poly.Color = color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 50}
			poly.LineStyle.Width = 0
			p.Add(poly)
		} else {
			bars, err := plotter.NewYErrorBars(yErrs{xy, upper, lower})
			if err != nil {
				return fmt.Errorf("evaluation plot: %w", err)
			}
			bars.Color = c
			p.Add(bars)
		}
		line, points, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("evaluation plot: %w", err)
		}
		line.Color, points.Color = c, c
		points.Shape = draw.CircleGlyph{}
		p.Add(line, points)
		label := fmt.Sprintf("target %g", pts[0].Targets[i].Target)
		if len(pts[0].Targets) == 1 && pts[0].Targets[0].Target == 0 {
			label = "policy"
		}
		p.Legend.Add(label, line, points)
	}
	first, last := float64(pts[0].Step), float64(pts[len(pts)-1].Step)
	if !math.IsNaN(ref) && !math.IsInf(ref, 0) {
		line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: ref}, {X: max(last, 1), Y: ref}})
		if err != nil {
			return fmt.Errorf("evaluation plot: %w", err)
		}
		line.Color, line.Dashes = color.Gray{Y: 110}, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(line)
		p.Legend.Add("dataset episodes (mean)", line)
		lo, hi = min(lo, ref), max(hi, ref)
	}
	// Axes: from step 0; normalised scores from 0 up; room above the data
	// for the legend, so that no point hides under it.
	p.X.Min, p.X.Max = 0, max(last, first, 1)*1.02
	if normalized {
		lo = min(lo, 0)
	}
	if lo < hi {
		p.Y.Min, p.Y.Max = lo, hi+0.3*(hi-lo)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return savePlot(p, path)
}

// yErrs gives plotter.NewYErrorBars the spread of single points.
type yErrs struct{ mid, upper, lower plotter.XYs }

func (e yErrs) Len() int                    { return len(e.mid) }
func (e yErrs) XY(i int) (float64, float64) { return e.mid[i].X, e.mid[i].Y }
func (e yErrs) YError(i int) (float64, float64) {
	return e.mid[i].Y - e.lower[i].Y, e.upper[i].Y - e.mid[i].Y
}

func reversed(xy plotter.XYs) plotter.XYs {
	out := make(plotter.XYs, len(xy))
	for i, v := range xy {
		out[len(xy)-1-i] = v
	}
	return out
}

// PlotReturns draws a histogram of episode returns as a PNG, written
// atomically (temp file + rename).
func PlotReturns(rets []float64, bins int, title, path string) error {
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
