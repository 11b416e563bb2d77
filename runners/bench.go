package runners

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/minrl/minrl/internal/par"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/scan"
)

// SeqLayer is a sequence layer the speed benchmark can train: one step is
// Forward then Backward on a [B, T, D] batch.
type SeqLayer interface {
	Forward(x *nn.Tensor) *nn.Tensor
	Backward(dy *nn.Tensor) *nn.Tensor
	ScratchBytes() int
}

// SpeedModels are the layers `minrl bench speed` compares: the paper's
// minimal RNNs in parallel mode and the classic cells run sequentially.
var SpeedModels = []string{"mingru", "minlstm", "gru", "lstm"}

// NewSpeedLayer builds a layer of the named kind with width d.
func NewSpeedLayer(model string, d int, seed uint64) (SeqLayer, error) {
	rng := nn.NewRNG(seed)
	switch model {
	case "mingru":
		return freshState{nn.NewMinGRU("mingru", nn.MinRNNConfig{Dim: d}, rng)}, nil
	case "minlstm":
		return freshState{nn.NewMinLSTM("minlstm", nn.MinRNNConfig{Dim: d}, rng)}, nil
	case "mingru-log":
		return freshState{nn.NewMinGRU("mingru", nn.MinRNNConfig{Dim: d, LogSpace: true}, rng)}, nil
	case "minlstm-log":
		return freshState{nn.NewMinLSTM("minlstm", nn.MinRNNConfig{Dim: d, LogSpace: true}, rng)}, nil
	}
	if f, ok := classicLayers[model]; ok {
		return f(d, rng), nil
	}
	return nil, fmt.Errorf("unknown model %q (want one of %s)", model, strings.Join(knownModels(), ", "))
}

func knownModels() []string {
	return []string{"mingru", "minlstm", "mingru-log", "minlstm-log", "gru", "lstm"}
}

// freshState runs a minimal RNN from a fresh state on every batch.
type freshState struct {
	l interface {
		Forward(x *nn.Tensor, h0 []float32) *nn.Tensor
		Backward(dy *nn.Tensor) *nn.Tensor
		ScratchBytes() int
	}
}

func (f freshState) Forward(x *nn.Tensor) *nn.Tensor   { return f.l.Forward(x, nil) }
func (f freshState) Backward(dy *nn.Tensor) *nn.Tensor { return f.l.Backward(dy) }
func (f freshState) ScratchBytes() int                 { return f.l.ScratchBytes() }

// SpeedConfig is a speed benchmark: every model at every sequence length.
type SpeedConfig struct {
	Models  []string
	Ts      []int
	B, D    int
	Repeats int // timed steps per (model, T), after one warm-up step
	// MaxSeconds skips the remaining repeats of a (model, T) once this
	// much time has been spent on it (0: no limit); at least one timed
	// step always runs.
	MaxSeconds float64
	Seed       uint64
}

// DefaultSpeedConfig is the paper's runtime figure: B=64, d=128,
// T from 64 to 4096.
func DefaultSpeedConfig() SpeedConfig {
	return SpeedConfig{
		Models: SpeedModels, Ts: []int{64, 128, 256, 512, 1024, 2048, 4096},
		B: 64, D: 128, Repeats: 5, MaxSeconds: 20, Seed: 1,
	}
}

// maxSpeedElems bounds B·T·D in the speed benchmark (a layer's step holds
// ~20 such tensors: ~10 GiB at the bound).
const maxSpeedElems = 1 << 27

func (c SpeedConfig) validate() error {
	var errs []error
	if len(c.Models) == 0 {
		errs = append(errs, errors.New("no models"))
	}
	for _, m := range c.Models {
		if !slices.Contains(knownModels(), m) {
			errs = append(errs, fmt.Errorf("unknown model %q (want one of %s)", m, strings.Join(knownModels(), ", ")))
		}
	}
	if len(c.Ts) == 0 {
		errs = append(errs, errors.New("no sequence lengths"))
	}
	for _, t := range c.Ts {
		if t < 1 {
			errs = append(errs, fmt.Errorf("sequence length %d < 1", t))
		}
		// A layer's step holds ~20 tensors of B·T·D floats.
		if c.B > 0 && c.D > 0 && t > maxSpeedElems/c.B/c.D {
			errs = append(errs, fmt.Errorf("B·T·D = %d·%d·%d exceeds %d elements", c.B, t, c.D, maxSpeedElems))
		}
	}
	if c.B < 1 || c.D < 1 || c.B > 1<<16 || c.D > 1<<16 {
		errs = append(errs, fmt.Errorf("batch %d and width %d must be in [1, 65536]", c.B, c.D))
	}
	if c.Repeats < 1 || c.Repeats > 1000 {
		errs = append(errs, fmt.Errorf("repeats %d: want 1 to 1000", c.Repeats))
	}
	if c.MaxSeconds < 0 || math.IsNaN(c.MaxSeconds) {
		errs = append(errs, fmt.Errorf("max seconds %g < 0", c.MaxSeconds))
	}
	return errors.Join(errs...)
}

// SpeedResult is one (model, T) cell of the benchmark.
type SpeedResult struct {
	Model   string
	T       int
	Seconds []float64 // every timed step
	// ScratchBytes is the memory the layer holds for one training step:
	// activations saved for backward, gradient buffers and scratch.
	ScratchBytes int
}

// Median step time in seconds.
func (r SpeedResult) Median() float64 { return median(r.Seconds) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// Speed runs the benchmark, calling progress (if not nil) after every
// timed step. Models are interleaved within each T, so that a slow phase of
// a shared machine hits them alike.
func Speed(ctx context.Context, cfg SpeedConfig, progress func()) ([]SpeedResult, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("speed benchmark: %w", err)
	}
	var results []SpeedResult
	for _, T := range cfg.Ts {
		x := nn.New(cfg.B, T, cfg.D)
		dy := nn.New(cfg.B, T, cfg.D)
		rng := nn.NewRNG(cfg.Seed)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64())
			dy.Data[i] = float32(rng.NormFloat64())
		}
		layers := make([]SeqLayer, len(cfg.Models))
		cells := make([]SpeedResult, len(cfg.Models))
		spent := make([]float64, len(cfg.Models))
		for i, m := range cfg.Models {
			l, err := NewSpeedLayer(m, cfg.D, cfg.Seed)
			if err != nil {
				return nil, err
			}
			layers[i] = l
			l.Forward(x) // warm-up: sizes every buffer
			l.Backward(dy)
			cells[i] = SpeedResult{Model: m, T: T, ScratchBytes: l.ScratchBytes()}
		}
		for rep := 0; rep < cfg.Repeats; rep++ {
			for i, l := range layers {
				if err := ctx.Err(); err != nil {
					return results, err
				}
				if rep > 0 && cfg.MaxSeconds > 0 && spent[i] > cfg.MaxSeconds {
					continue
				}
				start := time.Now()
				l.Forward(x)
				l.Backward(dy)
				s := time.Since(start).Seconds()
				spent[i] += s
				cells[i].Seconds = append(cells[i].Seconds, s)
				if progress != nil {
					progress()
				}
			}
		}
		results = append(results, cells...)
		runtime.GC() // free this T's layers before the next, larger one
	}
	return results, nil
}

// WriteSpeedTable prints results as a Markdown table: median ms per
// training step, the speed-up of each minimal RNN over its classic
// counterpart, and memory.
func WriteSpeedTable(w io.Writer, results []SpeedResult) error {
	byKey := map[string]SpeedResult{}
	var models []string
	var ts []int
	for _, r := range results {
		byKey[fmt.Sprint(r.Model, r.T)] = r
		if !slices.Contains(models, r.Model) {
			models = append(models, r.Model)
		}
		if !slices.Contains(ts, r.T) {
			ts = append(ts, r.T)
		}
	}
	var b strings.Builder
	b.WriteString("| T |")
	for _, m := range models {
		fmt.Fprintf(&b, " %s ms |", m)
	}
	pairs := [][2]string{{"mingru", "gru"}, {"minlstm", "lstm"}}
	for _, p := range pairs {
		if slices.Contains(models, p[0]) && slices.Contains(models, p[1]) {
			fmt.Fprintf(&b, " %s/%s speed-up | %s/%s memory |", p[1], p[0], p[0], p[1])
		}
	}
	b.WriteString("\n|---:|")
	for range models {
		b.WriteString("---:|")
	}
	for _, p := range pairs {
		if slices.Contains(models, p[0]) && slices.Contains(models, p[1]) {
			b.WriteString("---:|---:|")
		}
	}
	b.WriteString("\n")
	for _, t := range ts {
		fmt.Fprintf(&b, "| %d |", t)
		for _, m := range models {
			fmt.Fprintf(&b, " %.1f |", 1000*byKey[fmt.Sprint(m, t)].Median())
		}
		for _, p := range pairs {
			if slices.Contains(models, p[0]) && slices.Contains(models, p[1]) {
				mn, cl := byKey[fmt.Sprint(p[0], t)], byKey[fmt.Sprint(p[1], t)]
				fmt.Fprintf(&b, " %.1fx | %+.0f%% |", cl.Median()/mn.Median(),
					100*(float64(mn.ScratchBytes)/float64(cl.ScratchBytes)-1))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\nMemory held per training step (activations, gradients, scratch), MiB:\n\n| T |")
	for _, m := range models {
		fmt.Fprintf(&b, " %s |", m)
	}
	b.WriteString("\n|---:|")
	for range models {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, t := range ts {
		fmt.Fprintf(&b, "| %d |", t)
		for _, m := range models {
			fmt.Fprintf(&b, " %.1f |", float64(byKey[fmt.Sprint(m, t)].ScratchBytes)/(1<<20))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ScanBandwidth measures the linear-scan forward against a parallel copy of
// as many bytes, both single-pass over buffers far larger than the caches,
// and returns the bytes each moves per second (reads plus writes) as
// medians over repeats.
func ScanBandwidth(elems, repeats int) (scanBps, copyBps float64) {
	d := scan.Dims{B: 64, T: elems / (64 * 128), D: 128}
	n := d.Len()
	a, b, h := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range a {
		a[i], b[i] = 0.5, 1
	}
	src, dst := make([]float32, 2*n), make([]float32, 2*n)
	for i := range src {
		src[i] = 1 // touch every page: an untouched one reads as the shared zero page
	}
	const chunk = 1 << 16
	parCopy := func(lo, hi int) { copy(dst[lo*chunk:min(hi*chunk, len(dst))], src[lo*chunk:min(hi*chunk, len(src))]) }
	chunks := (len(src) + chunk - 1) / chunk
	var ts, tc []float64
	for r := 0; r < repeats+1; r++ {
		start := time.Now()
		scan.Forward(h, a, b, nil, d)
		s := time.Since(start).Seconds()
		start = time.Now()
		par.For(chunks, 1, parCopy) // on all cores, as the scan runs
		c := time.Since(start).Seconds()
		if r > 0 { // the first round faults the pages in
			ts, tc = append(ts, s), append(tc, c)
		}
	}
	// The scan reads a and b and writes h: 12 bytes per element. The copy
	// reads and writes 2n floats: 16 bytes per element of n.
	return 12 * float64(n) / median(ts), 16 * float64(n) / median(tc)
}
