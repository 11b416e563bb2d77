package runners

import (
	"encoding/csv"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/minrl/minrl/envs"
	"github.com/minrl/minrl/eval"
	"github.com/minrl/minrl/internal/atomicfile"
	"github.com/minrl/minrl/policy"
)

// MaxTargetSweep bounds --target-sweep (each target is a full evaluation).
const MaxTargetSweep = 1000

// SweepTargets returns n targets evenly spaced in normalised score from 0
// to maxScore (120: from the random return to 1.2x of the way to the
// expert's), as returns: random + s/100·(expert − random).
func SweepTargets(refs eval.References, n int, maxScore float64) ([]float64, error) {
	if !refs.Valid() {
		return nil, fmt.Errorf("a target sweep needs reference returns, and there are none (give --targets)")
	}
	if n < 2 || n > MaxTargetSweep {
		return nil, fmt.Errorf("target sweep of %d targets, want 2 to %d", n, MaxTargetSweep)
	}
	out := make([]float64, n)
	for i := range out {
		s := maxScore * float64(i) / float64(n-1)
		out[i] = refs.Random + s/100*(refs.Expert-refs.Random)
	}
	return out, nil
}

// CheckpointReferences returns the references a checkpoint's scores use:
// those its run recorded (from the dataset file), else env's registered
// ones.
func CheckpointReferences(ck *policy.Checkpoint, env string) (eval.References, error) {
	if env == "" {
		env = ck.EnvID
	}
	refs, err := storedReferences(ck, env)
	if err != nil {
		return eval.References{}, err
	}
	if refs != nil {
		return *refs, nil
	}
	spec, err := envs.Lookup(env)
	if err != nil {
		return eval.References{}, err
	}
	return eval.Of(spec), nil
}

// WriteFollowing writes the return-following measurement of reports (one
// per target) as <dir>/<prefix>_follow.csv (target, mean and std of the
// return and the normalised score, mean length, episodes) and
// <dir>/<prefix>_follow.png: return achieved against return asked, with
// the line y = x (a model that follows its target lies on it) and the
// references.
func WriteFollowing(dir, prefix, title string, refs eval.References, reps []eval.Report) error {
	err := atomicfile.Write(filepath.Join(dir, prefix+"_follow.csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write([]string{"target", "target_normalized", "mean_return", "std_return", "mean_normalized", "std_normalized", "mean_length", "episodes"})
		for _, r := range reps {
			cw.Write([]string{fmtF(r.Target), fmtF(refs.Score(r.Target)), fmtF(r.MeanReturn), fmtF(r.StdReturn),
				fmtF(r.MeanNormalized), fmtF(r.StdNormalized), fmtF(r.MeanLength), strconv.Itoa(r.Episodes)})
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return err
	}
	return PlotFollowing(reps, refs, title, filepath.Join(dir, prefix+"_follow.png"))
}

// PlotFollowing draws mean return (± std over episodes) against the target
// return, the line y = x, and the random and expert references.
func PlotFollowing(reps []eval.Report, refs eval.References, title, path string) error {
	if len(reps) == 0 {
		return fmt.Errorf("return-following plot: no evaluations")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "target return (asked)"
	p.Y.Label.Text = "return achieved, mean ± std over episodes"
	var xy, upper, lower plotter.XYs
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range reps {
		xy = append(xy, plotter.XY{X: r.Target, Y: r.MeanReturn})
		upper, lower = append(upper, plotter.XY{X: r.Target, Y: r.MeanReturn + r.StdReturn}), append(lower, plotter.XY{X: r.Target, Y: r.MeanReturn - r.StdReturn})
		lo, hi = min(lo, r.Target, r.MeanReturn-r.StdReturn), max(hi, r.Target, r.MeanReturn+r.StdReturn)
	}
	c := modelColors["mingru"]
	bars, err := plotter.NewYErrorBars(yErrs{xy, upper, lower})
	if err != nil {
		return fmt.Errorf("return-following plot: %w", err)
	}
	bars.Color = c
	line, points, err := plotter.NewLinePoints(xy)
	if err != nil {
		return fmt.Errorf("return-following plot: %w", err)
	}
	line.Color, points.Color, points.Shape = c, c, draw.CircleGlyph{}
	p.Add(bars, line, points)
	p.Legend.Add("achieved", line, points)
	xlo, xhi := xy[0].X, xy[0].X
	for _, v := range xy {
		xlo, xhi = min(xlo, v.X), max(xhi, v.X)
	}
	if xhi == xlo {
		xhi = xlo + 1
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: xlo, Y: xlo}, {X: xhi, Y: xhi}})
	if err != nil {
		return fmt.Errorf("return-following plot: %w", err)
	}
	diag.Color, diag.Dashes = color.Gray{Y: 60}, []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	p.Legend.Add("y = x (follows the target)", diag)
	if refs.Valid() {
		for _, ref := range []struct {
			y    float64
			name string
			c    color.Color
		}{{refs.Expert, "expert reference", modelColors["minlstm"]}, {refs.Random, "random reference", modelColors["gru"]}} {
			l, err := plotter.NewLine(plotter.XYs{{X: xlo, Y: ref.y}, {X: xhi, Y: ref.y}})
			if err != nil {
				return fmt.Errorf("return-following plot: %w", err)
			}
			l.Color, l.Dashes = ref.c, []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(l)
			p.Legend.Add(ref.name, l)
			lo, hi = min(lo, ref.y), max(hi, ref.y)
		}
	}
	if lo < hi {
		p.Y.Min, p.Y.Max = lo, hi+0.3*(hi-lo)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return savePlot(p, path)
}
