package policy

import (
	"errors"
	"fmt"
	"math"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/nn/cuda"
)

// DecisionGPU runs a Decision-minGRU/minLSTM model's forward and backward
// pass on a CUDA device: the weights, gradients and every activation stay
// there; a step uploads the batch and reads back the loss. The host model
// stays the source of truth for what is saved: CopyWeightsToHost brings the
// device weights back before a checkpoint or an evaluation, and the host
// dropouts keep their call counters (the device applies the same masks as
// the CPU would).
//
// DT (attention) and the convolution option have no device kernels yet:
// NewDecisionGPU refuses them.
type DecisionGPU struct {
	m *Decision
	c *cuda.Ctx
	p *cuda.Params

	embR, embS, embA *cuda.Linear
	embT             *cuda.Embedding
	embLN            *cuda.LayerNorm
	embDrop          cuda.Dropout
	blocks           []*gpuRNNBlock
	finalLN          *cuda.LayerNorm
	head             *cuda.Linear
	tanh             cuda.Activation

	b, k                 int
	idx                  []int32
	keepHost, staging    []float32
	in                   cuda.Buf // rtg | states | actions | mask | keep | timesteps (int32)
	rtg, states, actions cuda.Buf
	mask, keep, ts       cuda.Buf
	x0, hs, dy           cuda.Buf
	deR, deS, deA, deT   cuda.Buf
	dPred                cuda.Buf
	rowsq                cuda.Buf // doubles
	rowsqHost            []float64
	pred                 cuda.Buf
}

// NewDecisionGPU copies m's weights to the device behind c.
func NewDecisionGPU(m *Decision, c *cuda.Ctx) (*DecisionGPU, error) {
	cfg := m.cfg
	if !cfg.Recurrent() {
		return nil, fmt.Errorf("policy: model %q has no GPU kernels yet (attention): train it on the CPU", cfg.Model)
	}
	if cfg.Conv {
		return nil, errors.New("policy: the convolution option has no GPU kernels yet: train it on the CPU")
	}
	g := &DecisionGPU{m: m, c: c, p: c.NewParams(m.params)}
	g.embR = cuda.NewLinear(m.EmbedReturn, g.p)
	g.embS = cuda.NewLinear(m.EmbedState, g.p)
	g.embA = cuda.NewLinear(m.EmbedAction, g.p)
	g.embT = cuda.NewEmbedding(m.EmbedTime, g.p)
	g.embLN = cuda.NewLayerNorm(m.EmbedLN, g.p)
	g.embDrop = cuda.Dropout{Host: m.EmbedDrop}
	cell := cuda.CellMinGRU
	if cfg.Model == ModelMinLSTM {
		cell = cuda.CellMinLSTM
	}
	for _, b := range m.recurrentBlocks {
		inner, proj, out := b.rnnLayers()
		mlp, err := cuda.NewMLP(b.MLP, g.p)
		if err != nil {
			return nil, err
		}
		g.blocks = append(g.blocks, &gpuRNNBlock{
			h: cfg.Embed, LN1: cuda.NewLayerNorm(b.LN1, g.p), RNN: cuda.NewMinRNN(cell, inner, proj, out, g.p),
			Drop: cuda.Dropout{Host: b.Drop}, LN2: cuda.NewLayerNorm(b.LN2, g.p), MLP: mlp,
		})
	}
	g.finalLN = cuda.NewLayerNorm(m.FinalLN, g.p)
	g.head = cuda.NewLinear(m.Head, g.p)
	g.tanh = cuda.Activation{Kind: cuda.ActTanh}
	if err := c.Sync(); err != nil {
		return nil, err
	}
	return g, nil
}

// Params is the device copy of the model's parameters (in Params order).
func (g *DecisionGPU) Params() *cuda.Params { return g.p }

// CopyWeightsToHost copies the device weights into the host model.
func (g *DecisionGPU) CopyWeightsToHost() error {
	g.c.DownloadValues(g.p)
	return g.c.Sync()
}

// CopyWeightsToDevice copies the host model's weights to the device (after
// a resume loaded them, say).
func (g *DecisionGPU) CopyWeightsToDevice() error {
	g.c.UploadValues(g.p)
	return g.c.Sync()
}

// upload copies the batch into device buffers and makes the token mask.
func (g *DecisionGPU) upload(b *dataset.Batch) {
	g.m.mustBatch(b)
	c, cfg := g.c, g.m.cfg
	n := b.B * b.K
	g.b, g.k = b.B, b.K
	for i, t := range b.Timesteps[:n] {
		if t < 0 || int(t) >= cfg.MaxEpLen {
			panic(fmt.Sprintf("nn: Embedding: index %d at position %d outside [0, %d)", t, i, cfg.MaxEpLen))
		}
	}
	g.idx = append(g.idx[:0], b.Timesteps[:n]...)
	g.keepHost = tokenMask(g.keepHost, b.Mask[:n])
	// One copy: rtg | states | actions | mask | keep | timesteps (int32
	// bits in float32 slots; a copy moves bits unchanged).
	parts := [][]float32{g.m.rtgInput(b.RTG[:n]), b.States[:n*cfg.ObsDim], b.Actions[:n*cfg.ActDim], b.Mask[:n], g.keepHost}
	g.staging = g.staging[:0]
	for _, p := range parts {
		g.staging = append(g.staging, p...)
	}
	for _, t := range g.idx {
		g.staging = append(g.staging, math.Float32frombits(uint32(t)))
	}
	all := c.Grow(&g.in, len(g.staging))
	off := 0
	bufs := []*cuda.Buf{&g.rtg, &g.states, &g.actions, &g.mask, &g.keep, &g.ts}
	for i, p := range append(parts, nil) {
		size := len(p)
		if i == len(parts) {
			size = n
		}
		*bufs[i] = all.At(off, size)
		off += size
	}
	c.Upload(all, g.staging)
}

// Forward runs the model on the batch and returns the predicted actions
// [B·K, ActDim] on the device (valid until the next Forward).
func (g *DecisionGPU) Forward(b *dataset.Batch) cuda.Buf {
	g.upload(b)
	c, cfg := g.c, g.m.cfg
	B, K, h := g.b, g.k, cfg.Embed
	n := B * K
	eR := g.embR.Forward(c, g.rtg, n)
	eS := g.embS.Forward(c, g.states, n)
	eA := g.embA.Forward(c, g.actions, n)
	x0 := c.Grow(&g.x0, 3*n*h)
	c.TokensStack(x0, eR, eS, eA, g.embT.W.Value, g.ts, n, h)
	x := g.embDrop.Forward(c, g.embLN.Forward(c, x0, 3*n))
	for _, blk := range g.blocks {
		x = blk.forward(c, x, B, 3*K, g.keep)
	}
	y := g.finalLN.Forward(c, x, 3*n)
	hs := c.Grow(&g.hs, n*h)
	c.StateTokensGather(hs, y, n, h)
	g.pred = g.tanh.Forward(c, g.head.Forward(c, hs, n))
	return g.pred
}

// Loss is MaskedMSE on the device: it returns the loss (waiting for the
// device) and leaves ∂L/∂pred in a device buffer for Backward.
func (g *DecisionGPU) Loss(b *dataset.Batch) (float64, cuda.Buf, error) {
	c := g.c
	n, A := g.b*g.k, g.m.cfg.ActDim
	real := 0
	for _, m := range b.Mask[:n] {
		if m != 0 {
			real++
		}
	}
	dPred := c.Grow(&g.dPred, n*A)
	if real == 0 {
		c.ZeroBuf(dPred)
		return 0, dPred, c.Err()
	}
	rowsq := c.Grow(&g.rowsq, 2*n)
	c.MaskedMSE(dPred, rowsq, g.pred, g.actions, g.mask, n, A, 1/float64(real*A))
	if cap(g.rowsqHost) < n {
		g.rowsqHost = make([]float64, n)
	}
	s := g.rowsqHost[:n]
	c.DownloadFloat64(s, rowsq)
	if err := c.Sync(); err != nil {
		return 0, dPred, err
	}
	var sum float64
	for _, v := range s {
		sum += v
	}
	return sum / float64(real*A), dPred, nil
}

// Backward adds every parameter's gradient for ∂L/∂pred (device buffers).
func (g *DecisionGPU) Backward(dPred cuda.Buf) {
	c, h := g.c, g.m.cfg.Embed
	n := g.b * g.k
	dhs := g.head.Backward(c, g.tanh.Backward(c, dPred))
	dy := c.Grow(&g.dy, 3*n*h)
	c.StateTokensScatter(dy, dhs, n, h)
	d := g.finalLN.Backward(c, dy)
	for l := len(g.blocks) - 1; l >= 0; l-- {
		d = g.blocks[l].backward(c, d)
	}
	dx0 := g.embLN.Backward(c, g.embDrop.Backward(c, d))
	deR, deS, deA, deT := c.Grow(&g.deR, n*h), c.Grow(&g.deS, n*h), c.Grow(&g.deA, n*h), c.Grow(&g.deT, n*h)
	c.TokensUnstack(deR, deS, deA, deT, dx0, n, h)
	g.embR.Backward(c, deR)
	g.embS.Backward(c, deS)
	g.embA.Backward(c, deA)
	g.embT.Backward(c, deT, g.idx)
}

// rnnLayers returns the block's minRNN state size and projections.
func (b *rnnBlock) rnnLayers() (inner int, proj, out *nn.Linear) {
	switch r := b.RNN.(type) {
	case *nn.MinGRU:
		return r.Inner, r.Proj, r.Out
	case *nn.MinLSTM:
		return r.Inner, r.Proj, r.Out
	}
	panic(fmt.Sprintf("policy: recurrent layer of type %T", b.RNN))
}

// gpuRNNBlock is rnnBlock on the device: x1 = x + Drop(minRNN(LN1(x)));
// out = x1 + MLP(LN2(x1)).
type gpuRNNBlock struct {
	h        int
	LN1, LN2 *cuda.LayerNorm
	RNN      *cuda.MinRNN
	Drop     cuda.Dropout
	MLP      *cuda.MLP
	x1, out  cuda.Buf
	dx1, dx  cuda.Buf
}

func (b *gpuRNNBlock) forward(c *cuda.Ctx, x cuda.Buf, B, T int, keep cuda.Buf) cuda.Buf {
	rows := B * T
	u := b.LN1.Forward(c, x, rows)
	r := b.Drop.Forward(c, b.RNN.Forward(c, u, B, T, keep))
	x1 := c.Grow(&b.x1, rows*b.h)
	c.Add(x1, x, r)
	m := b.MLP.Forward(c, b.LN2.Forward(c, x1, rows), rows)
	out := c.Grow(&b.out, rows*b.h)
	c.Add(out, x1, m)
	return out
}

func (b *gpuRNNBlock) backward(c *cuda.Ctx, dy cuda.Buf) cuda.Buf {
	d2 := b.LN2.Backward(c, b.MLP.Backward(c, dy))
	dx1 := c.Grow(&b.dx1, dy.N)
	c.Add(dx1, dy, d2)
	du := b.RNN.Backward(c, b.Drop.Backward(c, dx1))
	d1 := b.LN1.Backward(c, du)
	dx := c.Grow(&b.dx, dy.N)
	c.Add(dx, dx1, d1)
	return dx
}
