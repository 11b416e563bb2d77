package runners

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
)

// GPUSpeedModels are the layers with device kernels: the paper's minimal
// RNNs in parallel mode (the classic cells have none; compare them with
// PyTorch's cuDNN GRU, scripts/gpu_bench_torch.py).
var GPUSpeedModels = []string{"mingru", "minlstm"}

// GPUSpeed is Speed on a CUDA device: one training step (forward + backward,
// parameter gradients included) of a single minGRU/minLSTM layer per model
// and sequence length, timed from the first launch to the end of the
// device's work. ScratchBytes is the device memory the layer holds.
func GPUSpeed(ctx context.Context, dev cuda.Device, cfg SpeedConfig, progress func()) ([]SpeedResult, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("speed benchmark: %w", err)
	}
	for _, m := range cfg.Models {
		if !slices.Contains(GPUSpeedModels, m) {
			return nil, fmt.Errorf("speed benchmark: %s has no GPU kernels (GPU models: %v)", m, GPUSpeedModels)
		}
	}
	var results []SpeedResult
	for _, T := range cfg.Ts {
		rng := nn.NewRNG(cfg.Seed)
		x, dy := make([]float32, cfg.B*T*cfg.D), make([]float32, cfg.B*T*cfg.D)
		for i := range x {
			x[i], dy[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		for _, m := range cfg.Models {
			r, err := gpuLayerSpeed(ctx, dev, m, cfg, T, x, dy, progress)
			if err != nil {
				return results, err
			}
			results = append(results, r)
		}
	}
	return results, nil
}

func gpuLayerSpeed(ctx context.Context, dev cuda.Device, model string, cfg SpeedConfig, T int, x, dy []float32, progress func()) (SpeedResult, error) {
	c := cuda.NewCtx(dev)
	defer c.Close()
	rng := nn.NewRNG(cfg.Seed)
	rc := nn.MinRNNConfig{Dim: cfg.D}
	var params []*nn.Param
	var l *cuda.MinRNN
	if model == "mingru" {
		g := nn.NewMinGRU("mingru", rc, rng)
		params = g.Params()
		l = cuda.NewMinRNN(cuda.CellMinGRU, g.Inner, g.Proj, g.Out, c.NewParams(params))
	} else {
		g := nn.NewMinLSTM("minlstm", rc, rng)
		params = g.Params()
		l = cuda.NewMinRNN(cuda.CellMinLSTM, g.Inner, g.Proj, g.Out, c.NewParams(params))
	}
	xd, dyd := c.Floats(len(x)), c.Floats(len(dy))
	c.Upload(xd, x)
	c.Upload(dyd, dy)
	step := func() error {
		l.Forward(c, xd, cfg.B, T, cuda.Buf{})
		l.Backward(c, dyd)
		return c.Sync()
	}
	if err := step(); err != nil { // warm-up: sizes every buffer, JIT-compiles the kernels
		return SpeedResult{}, err
	}
	r := SpeedResult{Model: model, T: T, ScratchBytes: c.Bytes()}
	spent := 0.0
	for rep := 0; rep < cfg.Repeats; rep++ {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		if rep > 0 && cfg.MaxSeconds > 0 && spent > cfg.MaxSeconds {
			break
		}
		start := time.Now()
		if err := step(); err != nil {
			return r, err
		}
		s := time.Since(start).Seconds()
		spent += s
		r.Seconds = append(r.Seconds, s)
		if progress != nil {
			progress()
		}
	}
	return r, nil
}

// GPUScanBandwidth measures the device's linear scan, forward and backward,
// against a device-to-device copy in the same run, over B=64, D=128 and
// elems/(64·128) steps: bytes moved per second (reads plus writes: the
// forward reads a, b and writes h, 12 bytes an element; the backward reads
// dh, a, h and writes da, db, 20; the copy 8), medians over repeats.
//
// lookback selects the single-pass scan (true) or the three-pass one.
func GPUScanBandwidth(dev cuda.Device, elems, repeats int, lookback bool) (fwdBps, bwdBps, copyBps float64, err error) {
	c := cuda.NewCtx(dev)
	defer c.Close()
	c.SetLookback(lookback)
	d := cuda.Dims{B: 64, T: max(1, elems/(64*128)), D: 128}
	n := d.Len()
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 0.5
	}
	a, b, h := c.Floats(n), c.Floats(n), c.Floats(n)
	dh, da, db := c.Floats(n), c.Floats(n), c.Floats(n)
	src, dst := c.Floats(n), c.Floats(n)
	c.Upload(a, ones)
	c.Upload(b, ones)
	c.Upload(dh, ones)
	c.Upload(src, ones)
	// Each timing covers gpuReps back-to-back runs, so that the wait for
	// the device (tens of µs) is noise next to the work.
	const gpuReps = 10
	timeIt := func(f func()) (float64, error) {
		if err := c.Sync(); err != nil {
			return 0, err
		}
		start := time.Now()
		for range gpuReps {
			f()
		}
		err := c.Sync()
		return time.Since(start).Seconds() / gpuReps, err
	}
	var tf, tb, tc []float64
	for r := 0; r < repeats+1; r++ {
		f, err := timeIt(func() { c.ScanForward(h, a, b, cuda.Buf{}, d) })
		if err != nil {
			return 0, 0, 0, err
		}
		bw, err := timeIt(func() { c.ScanBackward(da, db, cuda.Buf{}, dh, a, h, cuda.Buf{}, d) })
		if err != nil {
			return 0, 0, 0, err
		}
		cp, err := timeIt(func() { c.Copy(dst, src) })
		if err != nil {
			return 0, 0, 0, err
		}
		if r > 0 { // the first round JIT-compiles and warms up
			tf, tb, tc = append(tf, f), append(tb, bw), append(tc, cp)
		}
	}
	return 12 * float64(n) / median(tf), 20 * float64(n) / median(tb), 8 * float64(n) / median(tc), nil
}
