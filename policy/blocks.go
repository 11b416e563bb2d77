package policy

import (
	"math"
	"math/rand/v2"

	"github.com/minrl/minrl/internal/par"
	"github.com/minrl/minrl/nn"
)

// The Decision model's residual blocks (minRNN and GPT-2) and their
// helpers.

// recurrent is what a block needs from nn.MinGRU and nn.MinLSTM.
type recurrent interface {
	Params() []*nn.Param
	ForwardMasked(x *nn.Tensor, h0, keep []float32) *nn.Tensor
	Backward(dy *nn.Tensor) *nn.Tensor
	Step(y, x, state []float32)
	FinalState(dst []float32)
	InitialState(dst []float32)
	ScratchBytes() int
}

// rnnBlock is x += Dropout(minRNN(Conv?(LN(x)))); x += MLP(LN(x)).
type rnnBlock struct {
	h, inner int
	LN1      *nn.LayerNorm
	Conv     *nn.CausalConv1d // nil without the convolution
	RNN      recurrent
	Drop     *nn.Dropout
	preNorm

	keep      []float32
	cin, dcin nn.Tensor // masked convolution input and its gradient
}

func newRNNBlock(name string, cfg Config, act nn.ActKind, rng *rand.Rand) *rnnBlock {
	h := cfg.Embed
	b := &rnnBlock{h: h, LN1: nn.NewLayerNorm(name+".ln1", h)}
	if cfg.Conv {
		b.Conv = nn.NewCausalConv1d(name+".conv", h, cfg.ConvKernel, rng)
	}
	rc := nn.MinRNNConfig{Dim: h, Expansion: cfg.Expansion}
	if cfg.Model == ModelMinGRU {
		g := nn.NewMinGRU(name+".rnn", rc, rng)
		b.RNN, b.inner = g, g.Inner
	} else {
		l := nn.NewMinLSTM(name+".rnn", rc, rng)
		b.RNN, b.inner = l, l.Inner
	}
	b.Drop = nn.NewDropout(cfg.Dropout, rng)
	b.LN2 = nn.NewLayerNorm(name+".ln2", h)
	b.MLP = nn.NewMLP(name+".mlp", h, 4*h, h, act, cfg.Dropout, rng)
	b.preNorm.init()
	return b
}

func (b *rnnBlock) params() []*nn.Param {
	ps := append([]*nn.Param(nil), b.LN1.Params()...)
	if b.Conv != nil {
		ps = append(ps, b.Conv.Params()...)
	}
	ps = append(ps, b.RNN.Params()...)
	ps = append(ps, b.LN2.Params()...)
	return append(ps, b.MLP.Params()...)
}

func (b *rnnBlock) setTrain(train bool) {
	b.Drop.SetTrain(train)
	b.MLP.SetTrain(train)
}

// forward: u = Conv(LN1(x) ⊙ keep) (or LN1(x)); x1 = x + Drop(minRNN(u; keep));
// out = x1 + MLP(LN2(x1)).
func (b *rnnBlock) forward(x *nn.Tensor, keep []float32) *nn.Tensor {
	b.keep = keep
	u := b.LN1.Forward(x)
	if b.Conv != nil {
		b.cin.Resize(u.Shape...)
		maskRows(b.cin.Data, u.Data, keep, b.h)
		u = b.Conv.Forward(&b.cin)
	}
	return b.forwardMLP(x, b.Drop.Forward(b.RNN.ForwardMasked(u, nil, keep)))
}

// backward: dx1 = dy + LN2ᵀ(MLPᵀ(dy)); du = minRNNᵀ(Dropᵀ(dx1)), through the
// convolution and the mask; dx = dx1 + LN1ᵀ(du).
func (b *rnnBlock) backward(dy *nn.Tensor) *nn.Tensor {
	du := b.RNN.Backward(b.Drop.Backward(b.backwardMLP(dy)))
	if b.Conv != nil {
		dc := b.Conv.Backward(du)
		b.dcin.Resize(dc.Shape...)
		maskRows(b.dcin.Data, dc.Data, b.keep, b.h)
		du = &b.dcin
	}
	return b.backwardResidual(b.LN1.Backward(du))
}

func (b *rnnBlock) setDropoutCalls(n uint64) {
	b.Drop.SetDropoutCalls(n)
	b.MLP.SetDropoutCalls(n)
}

func (b *rnnBlock) scratchBytes() int {
	n := b.LN1.ScratchBytes() + b.RNN.ScratchBytes() + b.Drop.ScratchBytes() + b.preNorm.scratchBytes()
	if b.Conv != nil {
		n += b.Conv.ScratchBytes()
	}
	return n + b.cin.CapBytes() + b.dcin.CapBytes()
}

// dtBlock is GPT-2's block: x += Attn(LN(x)); x += MLP(LN(x)).
type dtBlock struct {
	LN1  *nn.LayerNorm
	Attn *nn.CausalSelfAttention
	preNorm
}

func newDTBlock(name string, cfg Config, act nn.ActKind, rng *rand.Rand) *dtBlock {
	h := cfg.Embed
	b := &dtBlock{
		LN1:  nn.NewLayerNorm(name+".ln_1", h),
		Attn: nn.NewCausalSelfAttention(name+".attn", h, cfg.Heads, cfg.Dropout, cfg.Dropout, rng),
	}
	b.LN2 = nn.NewLayerNorm(name+".ln_2", h)
	b.MLP = nn.NewMLP(name+".mlp", h, 4*h, h, act, cfg.Dropout, rng)
	// GPT-2: every Linear N(0, 0.02²) with zero bias; the residual
	// projections (c_proj) scaled by 1/√(2·n_layer).
	projStd := 0.02 / math.Sqrt(2*float64(cfg.Layers))
	nn.InitNormal(b.Attn.Proj.W, rng, projStd)
	nn.InitNormal(b.MLP.FC.W, rng, 0.02)
	nn.InitConst(b.MLP.FC.B, 0)
	nn.InitNormal(b.MLP.Proj.W, rng, projStd)
	nn.InitConst(b.MLP.Proj.B, 0)
	b.preNorm.init()
	return b
}

func (b *dtBlock) setDropoutCalls(n uint64) {
	b.Attn.SetDropoutCalls(n)
	b.MLP.SetDropoutCalls(n)
}

func (b *dtBlock) params() []*nn.Param {
	ps := append([]*nn.Param(nil), b.LN1.Params()...)
	ps = append(ps, b.Attn.Params()...)
	ps = append(ps, b.LN2.Params()...)
	return append(ps, b.MLP.Params()...)
}

func (b *dtBlock) setTrain(train bool) {
	b.Attn.Train = train
	b.MLP.SetTrain(train)
}

func (b *dtBlock) forward(x *nn.Tensor, keep []float32) *nn.Tensor {
	return b.forwardMLP(x, b.Attn.ForwardMasked(b.LN1.Forward(x), keep))
}

func (b *dtBlock) backward(dy *nn.Tensor) *nn.Tensor {
	return b.backwardResidual(b.LN1.Backward(b.Attn.Backward(b.backwardMLP(dy))))
}

func (b *dtBlock) scratchBytes() int {
	return b.LN1.ScratchBytes() + b.Attn.ScratchBytes() + b.preNorm.scratchBytes()
}

// preNorm is the pre-norm residual frame both blocks share,
//
//	x1 = x + mixer(LN1(x)),  out = x1 + MLP(LN2(x1)),
//
// with its buffers: the blocks differ only in the mixer (a minRNN or
// attention) and what comes before it.
type preNorm struct {
	LN2 *nn.LayerNorm
	MLP *nn.MLP

	x1, out       nn.Tensor
	dx1, dx       nn.Tensor
	addX1, addOut residual
	addDX1, addDX residual
}

func (p *preNorm) init() {
	p.addX1.init()
	p.addOut.init()
	p.addDX1.init()
	p.addDX.init()
}

// forwardMLP returns out for the block input x and the mixer's output r.
func (p *preNorm) forwardMLP(x, r *nn.Tensor) *nn.Tensor {
	p.x1.Resize(x.Shape...)
	p.addX1.run(p.x1.Data, x.Data, r.Data)
	m := p.MLP.Forward(p.LN2.Forward(&p.x1))
	p.out.Resize(x.Shape...)
	p.addOut.run(p.out.Data, p.x1.Data, m.Data)
	return &p.out
}

// backwardMLP returns dx1 = dy + LN2ᵀ(MLPᵀ(dy)), the gradient of x1 and of
// the mixer's output.
func (p *preNorm) backwardMLP(dy *nn.Tensor) *nn.Tensor {
	d2 := p.LN2.Backward(p.MLP.Backward(dy))
	p.dx1.Resize(dy.Shape...)
	p.addDX1.run(p.dx1.Data, dy.Data, d2.Data)
	return &p.dx1
}

// backwardResidual returns dx = dx1 + d1, d1 the gradient through the
// mixer and LN1.
func (p *preNorm) backwardResidual(d1 *nn.Tensor) *nn.Tensor {
	p.dx.Resize(d1.Shape...)
	p.addDX.run(p.dx.Data, p.dx1.Data, d1.Data)
	return &p.dx
}

func (p *preNorm) scratchBytes() int {
	n := p.LN2.ScratchBytes() + p.MLP.ScratchBytes()
	for _, t := range []*nn.Tensor{&p.x1, &p.out, &p.dx1, &p.dx} {
		n += t.CapBytes()
	}
	return n
}

// residual computes dst = a + b in parallel with a pre-bound kernel, so the
// residual adds allocate nothing.
type residual struct {
	dst, a, b []float32
	fn        par.Func
}

func (r *residual) init() { r.fn = r.kernel }

func (r *residual) run(dst, a, b []float32) {
	r.dst, r.a, r.b = dst, a, b
	par.For(len(dst), 1<<14, r.fn)
	r.dst, r.a, r.b = nil, nil, nil
}

func (r *residual) kernel(lo, hi int) {
	dst, a, b := r.dst[lo:hi], r.a[lo:hi], r.b[lo:hi]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// tokenMask sets dst (grown to 3·len(steps)) to the token mask of the step
// mask: each step's three tokens (R̂, s, a) share its value.
func tokenMask(dst, steps []float32) []float32 {
	dst = grow(dst, 3*len(steps))
	for i, v := range steps {
		dst[3*i], dst[3*i+1], dst[3*i+2] = v, v, v
	}
	return dst
}

// maskRows sets dst row r = src row r where keep[r] ≠ 0, else 0 (rows of
// width w).
func maskRows(dst, src, keep []float32, w int) {
	for r, k := range keep {
		if k != 0 {
			copy(dst[r*w:(r+1)*w], src[r*w:(r+1)*w])
		} else {
			clear(dst[r*w : (r+1)*w])
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
