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
	LN2      *nn.LayerNorm
	MLP      *nn.MLP

	keep          []float32
	cin, dcin     nn.Tensor // masked convolution input and its gradient
	x1, out       nn.Tensor
	dx1, dx       nn.Tensor
	addX1, addOut residual
	addDX1, addDX residual
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
	b.addX1.init()
	b.addOut.init()
	b.addDX1.init()
	b.addDX.init()
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
	r := b.Drop.Forward(b.RNN.ForwardMasked(u, nil, keep))
	b.x1.Resize(x.Shape...)
	b.addX1.run(b.x1.Data, x.Data, r.Data)
	m := b.MLP.Forward(b.LN2.Forward(&b.x1))
	b.out.Resize(x.Shape...)
	b.addOut.run(b.out.Data, b.x1.Data, m.Data)
	return &b.out
}

// backward: dx1 = dy + LN2ᵀ(MLPᵀ(dy)); du = minRNNᵀ(Dropᵀ(dx1)), through the
// convolution and the mask; dx = dx1 + LN1ᵀ(du).
func (b *rnnBlock) backward(dy *nn.Tensor) *nn.Tensor {
	d2 := b.LN2.Backward(b.MLP.Backward(dy))
	b.dx1.Resize(dy.Shape...)
	b.addDX1.run(b.dx1.Data, dy.Data, d2.Data)
	du := b.RNN.Backward(b.Drop.Backward(&b.dx1))
	if b.Conv != nil {
		dc := b.Conv.Backward(du)
		b.dcin.Resize(dc.Shape...)
		maskRows(b.dcin.Data, dc.Data, b.keep, b.h)
		du = &b.dcin
	}
	d1 := b.LN1.Backward(du)
	b.dx.Resize(dy.Shape...)
	b.addDX.run(b.dx.Data, b.dx1.Data, d1.Data)
	return &b.dx
}

func (b *rnnBlock) setDropoutCalls(n uint64) {
	b.Drop.SetDropoutCalls(n)
	b.MLP.SetDropoutCalls(n)
}

func (b *rnnBlock) scratchBytes() int {
	n := b.LN1.ScratchBytes() + b.RNN.ScratchBytes() + b.Drop.ScratchBytes() + b.LN2.ScratchBytes() + b.MLP.ScratchBytes()
	if b.Conv != nil {
		n += b.Conv.ScratchBytes()
	}
	for _, t := range []*nn.Tensor{&b.cin, &b.dcin, &b.x1, &b.out, &b.dx1, &b.dx} {
		n += t.CapBytes()
	}
	return n
}

// dtBlock is GPT-2's block: x += Attn(LN(x)); x += MLP(LN(x)).
type dtBlock struct {
	LN1  *nn.LayerNorm
	Attn *nn.CausalSelfAttention
	LN2  *nn.LayerNorm
	MLP  *nn.MLP

	x1, out       nn.Tensor
	dx1, dx       nn.Tensor
	addX1, addOut residual
	addDX1, addDX residual
}

func newDTBlock(name string, cfg Config, act nn.ActKind, rng *rand.Rand) *dtBlock {
	h := cfg.Embed
	b := &dtBlock{
		LN1:  nn.NewLayerNorm(name+".ln_1", h),
		Attn: nn.NewCausalSelfAttention(name+".attn", h, cfg.Heads, cfg.Dropout, cfg.Dropout, rng),
		LN2:  nn.NewLayerNorm(name+".ln_2", h),
		MLP:  nn.NewMLP(name+".mlp", h, 4*h, h, act, cfg.Dropout, rng),
	}
	// GPT-2: every Linear N(0, 0.02²) with zero bias; the residual
	// projections (c_proj) scaled by 1/√(2·n_layer).
	projStd := 0.02 / math.Sqrt(2*float64(cfg.Layers))
	nn.InitNormal(b.Attn.Proj.W, rng, projStd)
	nn.InitNormal(b.MLP.FC.W, rng, 0.02)
	nn.InitConst(b.MLP.FC.B, 0)
	nn.InitNormal(b.MLP.Proj.W, rng, projStd)
	nn.InitConst(b.MLP.Proj.B, 0)
	b.addX1.init()
	b.addOut.init()
	b.addDX1.init()
	b.addDX.init()
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
	a := b.Attn.ForwardMasked(b.LN1.Forward(x), keep)
	b.x1.Resize(x.Shape...)
	b.addX1.run(b.x1.Data, x.Data, a.Data)
	m := b.MLP.Forward(b.LN2.Forward(&b.x1))
	b.out.Resize(x.Shape...)
	b.addOut.run(b.out.Data, b.x1.Data, m.Data)
	return &b.out
}

func (b *dtBlock) backward(dy *nn.Tensor) *nn.Tensor {
	d2 := b.LN2.Backward(b.MLP.Backward(dy))
	b.dx1.Resize(dy.Shape...)
	b.addDX1.run(b.dx1.Data, dy.Data, d2.Data)
	d1 := b.LN1.Backward(b.Attn.Backward(&b.dx1))
	b.dx.Resize(dy.Shape...)
	b.addDX.run(b.dx.Data, b.dx1.Data, d1.Data)
	return &b.dx
}

func (b *dtBlock) scratchBytes() int {
	n := b.LN1.ScratchBytes() + b.Attn.ScratchBytes() + b.LN2.ScratchBytes() + b.MLP.ScratchBytes()
	for _, t := range []*nn.Tensor{&b.x1, &b.out, &b.dx1, &b.dx} {
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
