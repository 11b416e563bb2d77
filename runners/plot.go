package runners

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"github.com/minrl/minrl/agents/ppo"

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
