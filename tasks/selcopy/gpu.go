package selcopy

import (
	"errors"
	"fmt"
	"math"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
)

// ModelGPU runs a minGRU/minLSTM Model's forward and backward pass on a
// CUDA device (or its emulator) with nn/cuda's kernels: the weights,
// gradients and activations stay there; a step uploads the batch as a
// one-hot matrix and reads back only the logits of the scored positions.
// The host Model holds the same parameters in the same layout, so weights
// copied back (CopyWeightsToHost) evaluate and checkpoint with the CPU
// code. The sequential GRU and LSTM have no device kernels.
//
// No kernel is specific to this task: the embedding is onehot(x)·W (an
// SGEMM, exact, as each row adds one weight to zeros; its gradient is
// onehotᵀ·dy, a split-K SGEMM, which keeps the sum deterministic where a
// scatter would put all ~4096 filler positions of a row on one thread), the
// last K positions are gathered with one device copy per example, and the
// softmax cross-entropy of the B·K×16 logits runs on the host in float64
// (CrossEntropy), as on the CPU.
type ModelGPU struct {
	m *Model
	c *cuda.Ctx
	p *cuda.Params

	emb    cuda.Param
	blocks []*gpuBlock
	norm   *cuda.LayerNorm
	head   *cuda.Linear

	b, t, k  int
	hot      []float32 // host one-hot staging [B·T, Vocab]
	hotIdx   []int32   // the index each staging row holds a 1 at
	logits   []float32 // host copy of the scored logits [B·K, Vocab]
	oh       cuda.Buf  // one-hot [B·T, Vocab]
	x0       cuda.Buf  // embeddings [B·T, d]
	tail     cuda.Buf  // last block's output at the scored positions [B·K, d]
	dlog, dh cuda.Buf
}

type gpuBlock struct {
	norm  *cuda.LayerNorm
	rnn   *cuda.MinRNN
	y, dx cuda.Buf
}

// NewModelGPU copies m's weights to the device behind c. Only minGRU and
// minLSTM models have device kernels.
func NewModelGPU(m *Model, c *cuda.Ctx) (*ModelGPU, error) {
	var cell cuda.Cell
	switch m.Cfg.Kind {
	case ModelMinGRU:
		cell = cuda.CellMinGRU
	case ModelMinLSTM:
		cell = cuda.CellMinLSTM
	default:
		return nil, fmt.Errorf("selective copying: model %q has no GPU kernels (the sequential GRU/LSTM run on the CPU only)", m.Cfg.Kind)
	}
	g := &ModelGPU{m: m, c: c, p: c.NewParams(m.Params())}
	g.emb = g.p.Of(m.Emb.W)
	for _, bl := range m.blocks {
		var inner int
		var proj, out *nn.Linear
		switch f := bl.rnn.(minLayer).f.(type) {
		case *nn.MinGRU:
			inner, proj, out = f.Inner, f.Proj, f.Out
		case *nn.MinLSTM:
			inner, proj, out = f.Inner, f.Proj, f.Out
		default:
			return nil, fmt.Errorf("selective copying: recurrent layer %T has no GPU kernels", f)
		}
		g.blocks = append(g.blocks, &gpuBlock{norm: cuda.NewLayerNorm(bl.norm, g.p), rnn: cuda.NewMinRNN(cell, inner, proj, out, g.p)})
	}
	g.norm = cuda.NewLayerNorm(m.Norm, g.p)
	g.head = cuda.NewLinear(m.Head, g.p)
	if err := c.Sync(); err != nil {
		return nil, err
	}
	return g, nil
}

// Params is the device copy of the model's parameters (in Params order).
func (g *ModelGPU) Params() *cuda.Params { return g.p }

// CopyWeightsToHost copies the device weights into the host model.
func (g *ModelGPU) CopyWeightsToHost() error {
	g.c.DownloadValues(g.p)
	return g.c.Sync()
}

// CopyWeightsToDevice copies the host model's weights to the device.
func (g *ModelGPU) CopyWeightsToDevice() error {
	g.c.UploadValues(g.p)
	return g.c.Sync()
}

// Forward runs inputs x [B, T] (tokens in [0, Vocab)) and returns the
// logits of the last k positions, [B·k·Vocab] on the host, owned by g and
// valid until the next Forward. It waits for the device.
func (g *ModelGPU) Forward(x []int32, b, t, k int) ([]float32, error) {
	if b < 1 || t < 1 || k < 1 || k > t || len(x) != b*t {
		return nil, fmt.Errorf("selective copying: GPU forward with %d inputs for B=%d T=%d, scoring the last %d", len(x), b, t, k)
	}
	c, d := g.c, g.m.Cfg.Dim
	n := b * t
	g.b, g.t, g.k = b, t, k
	if err := g.oneHot(x); err != nil {
		return nil, err
	}
	oh := c.Grow(&g.oh, n*Vocab)
	c.Upload(oh, g.hot)
	h := c.Grow(&g.x0, n*d)
	c.Gemm(false, false, n, d, Vocab, 1, oh, Vocab, g.emb.Value, d, 0, h, d)
	for _, bl := range g.blocks {
		r := bl.rnn.Forward(c, bl.norm.Forward(c, h, n), b, t, cuda.Buf{})
		y := c.Grow(&bl.y, n*d)
		c.Add(y, h, r)
		h = y
	}
	tail := c.Grow(&g.tail, b*k*d)
	for i := range b {
		c.Copy(tail.At(i*k*d, k*d), h.At((i*t+t-k)*d, k*d))
	}
	out := g.head.Forward(c, g.norm.Forward(c, tail, b*k), b*k)
	g.logits = grow(g.logits, b*k*Vocab)
	c.Download(g.logits, out)
	if err := c.Sync(); err != nil {
		return nil, err
	}
	return g.logits, nil
}

// oneHot sets the host staging rows to onehot(x), touching only the entries
// that change (most of a batch is filler, so consecutive batches differ in
// few rows).
func (g *ModelGPU) oneHot(x []int32) error {
	n := len(x)
	if len(g.hotIdx) != n {
		g.hot = make([]float32, n*Vocab)
		g.hotIdx = make([]int32, n)
		for i := range g.hotIdx {
			g.hotIdx[i] = -1
		}
	}
	for i, v := range x {
		if v < 0 || v >= Vocab {
			return fmt.Errorf("selective copying: token %d at position %d outside [0, %d)", v, i, Vocab)
		}
		if old := g.hotIdx[i]; old != v {
			if old >= 0 {
				g.hot[i*Vocab+int(old)] = 0
			}
			g.hot[i*Vocab+int(v)] = 1
			g.hotIdx[i] = v
		}
	}
	return nil
}

// Backward adds every parameter's gradient for dlogits [B·k·Vocab] (host)
// of the last Forward. It does not wait for the device.
func (g *ModelGPU) Backward(dlogits []float32) error {
	b, t, k, d := g.b, g.t, g.k, g.m.Cfg.Dim
	if len(dlogits) != b*k*Vocab {
		return fmt.Errorf("selective copying: GPU backward with %d logit gradients for B=%d, K=%d", len(dlogits), b, k)
	}
	c := g.c
	n := b * t
	dlog := c.Grow(&g.dlog, len(dlogits))
	c.Upload(dlog, dlogits)
	dtail := g.norm.Backward(c, g.head.Backward(c, dlog))
	dh := c.Grow(&g.dh, n*d)
	c.ZeroBuf(dh)
	for i := range b {
		c.Copy(dh.At((i*t+t-k)*d, k*d), dtail.At(i*k*d, k*d))
	}
	for i := len(g.blocks) - 1; i >= 0; i-- {
		bl := g.blocks[i]
		dx := bl.norm.Backward(c, bl.rnn.Backward(c, dh))
		out := c.Grow(&bl.dx, n*d)
		c.Add(out, dh, dx)
		dh = out
	}
	c.Gemm(true, false, Vocab, d, n, 1, g.oh.At(0, n*Vocab), Vocab, dh, d, 1, g.emb.Grad, d)
	return c.Err()
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gpuTrainer is the device side of Train: the model, the optimiser's step
// count and the arithmetic of one step (loss on the host, clip and AdamW on
// the device).
type gpuTrainer struct {
	c     *cuda.Ctx
	g     *ModelGPU
	adam  nn.AdamWConfig
	steps int
	dlog  []float32
}

func newGPUTrainer(dev cuda.Device, m *Model, adam nn.AdamWConfig) (*gpuTrainer, error) {
	c := cuda.NewCtx(dev)
	g, err := NewModelGPU(m, c)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	return &gpuTrainer{c: c, g: g, adam: adam}, nil
}

// step runs one training step on batch: forward, the loss and its gradient
// on the host, backward, the global gradient norm, the clip and AdamW on the
// device. It returns the loss and the correct count.
func (tr *gpuTrainer) step(batch *Batch, T, K int, lr, clip float64) (loss float64, correct int, err error) {
	c, g := tr.c, tr.g
	logits, err := g.Forward(batch.X, batch.B, T, K)
	if err != nil {
		return 0, 0, err
	}
	tr.dlog = grow(tr.dlog, len(logits))
	if loss, correct, err = CrossEntropy(tr.dlog, logits, batch.Y, Vocab); err != nil {
		return 0, 0, err
	}
	p := g.Params()
	c.ZeroBuf(p.G)
	if err := g.Backward(tr.dlog); err != nil {
		return 0, 0, err
	}
	scale := float32(1)
	if clip > 0 {
		norm := math.Sqrt(c.SumSquares(p.G))
		if err := c.Sync(); err != nil {
			return 0, 0, err
		}
		if math.IsNaN(norm) || math.IsInf(norm, 0) {
			return 0, 0, fmt.Errorf("gradient norm %v (training diverged; try a lower --lr)", norm)
		}
		scale = nn.ClipScale(norm, clip)
	}
	tr.steps++
	c.AdamWStep(p, tr.adam, tr.steps, lr, scale)
	return loss, correct, c.Err()
}

func (tr *gpuTrainer) close() error { return tr.c.Close() }
