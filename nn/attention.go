package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/minrl/minrl/internal/par"
)

// CausalSelfAttention is GPT-2's multi-head causal self-attention, the block
// the Decision Transformer baseline stacks (kzl/decision-transformer: GPT-2
// with n_embd=128, n_head=1, attn_pdrop=resid_pdrop=0.1). For x [B, T, D]
// with H heads of width dh = D/H:
//
//	[Q K V] = x Wqkv + bqkv                          (fused, [B, T, 3D])
//	S = Q_h K_hᵀ / √dh,  S_ij = −∞ for j > i          (per batch and head)
//	P = softmax(S) rowwise,  P̃ = P ⊙ M_attn           (attention dropout)
//	O_h = P̃ V_h,  O = [O_1 … O_H]                     ([B, T, D])
//	y = (O Wo + bo) ⊙ M_resid                         (residual dropout)
//
// The dropout masks hold 0 or 1/(1−p) and apply only when Train is set.
// Parameter names follow GPT-2's state dict (name.c_attn.*, name.c_proj.*),
// whose Conv1D weights have Linear's [in, out] layout.
type CausalSelfAttention struct {
	Dim, Heads int
	// AttnDropout and ResidDropout are the drop probabilities, in [0, 1).
	AttnDropout, ResidDropout float64
	// Train enables dropout. It is off after construction (evaluation);
	// a training loop sets it.
	Train bool

	QKV  *Linear // Dim -> 3·Dim, columns [Q | K | V], heads contiguous in each
	Proj *Linear // Dim -> Dim

	// Dropout masks come from a counter-based hash of (seed, forward call,
	// element index), so they are fixed by the seed and independent of how
	// the work is split across goroutines.
	seed, calls         uint64
	attnKey, residKey   uint64
	dropAttn, dropResid bool // modes of the last Forward, for Backward

	x        *Tensor   // input of the last Forward
	keep     []float32 // key mask [B·T] of the last Forward, nil when none
	b, t     int
	pShape   [4]int
	g        Gemm
	qkv, dO  *Tensor // QKV's output; Proj's dx during Backward
	dyIn     *Tensor // dy during Backward, for the residual-dropout kernel
	p        Tensor  // [B, H, T, T] probabilities, zero above the diagonal
	pd       Tensor  // [B, H, T, T] P̃ = P ⊙ M_attn (attention dropout only)
	am       Tensor  // [B, H, T, T] M_attn
	ds       Tensor  // [B, H, T, T] dP then dS
	o        Tensor  // [B, T, D] concatenated heads
	dqkv     Tensor  // [B, T, 3D]
	yd, rm   Tensor  // dropped output and M_resid
	dyr      Tensor  // dy ⊙ M_resid
	fwd, bwd par.Func
	rfwd     par.Func
	rbwd     par.Func
}

// NewCausalSelfAttention returns the layer with GPT-2's initialisation:
// weights N(0, 0.02²), biases 0. It panics unless heads divides dim and the
// dropout probabilities lie in [0, 1).
func NewCausalSelfAttention(name string, dim, heads int, attnDropout, residDropout float64, rng *rand.Rand) *CausalSelfAttention {
	if dim <= 0 || heads <= 0 || dim%heads != 0 {
		panic(fmt.Sprintf("nn: NewCausalSelfAttention %s: dim %d, heads %d (heads must divide dim)", name, dim, heads))
	}
	if !(attnDropout >= 0 && attnDropout < 1) || !(residDropout >= 0 && residDropout < 1) {
		panic(fmt.Sprintf("nn: NewCausalSelfAttention %s: dropout %g, %g outside [0, 1)", name, attnDropout, residDropout))
	}
	a := &CausalSelfAttention{
		Dim: dim, Heads: heads, AttnDropout: attnDropout, ResidDropout: residDropout,
		QKV:  NewLinear(name+".c_attn", dim, 3*dim, true, rng),
		Proj: NewLinear(name+".c_proj", dim, dim, true, rng),
	}
	for _, l := range []*Linear{a.QKV, a.Proj} {
		InitNormal(l.W, rng, 0.02)
		InitConst(l.B, 0)
	}
	a.seed = rng.Uint64()
	a.fwd, a.bwd = a.forwardPairs, a.backwardPairs
	a.rfwd, a.rbwd = a.residForward, a.residBackward
	return a
}

// Params implements Module.
func (a *CausalSelfAttention) Params() []*Param {
	return []*Param{a.QKV.W, a.QKV.B, a.Proj.W, a.Proj.B}
}

// SetDropoutCalls sets the number of training Forwards (with dropout on)
// so far; see Dropout.SetDropoutCalls.
func (a *CausalSelfAttention) SetDropoutCalls(n uint64) { a.calls = n }

// SetDropoutSeed restarts the dropout masks from seed: two layers with the
// same seed and the same sequence of training Forwards draw the same masks.
func (a *CausalSelfAttention) SetDropoutSeed(seed uint64) { a.seed, a.calls = seed, 0 }

// pairGrain is the number of (batch, head) pairs per parallel range: about
// minTileFlops of work, so tiny shapes do not pay for scheduling. The
// result of each pair does not depend on the split.
func (a *CausalSelfAttention) pairGrain() int {
	dh := a.Dim / a.Heads
	return par.Grain(a.b*a.Heads, max(1, minTileFlops/max(1, 4*a.t*a.t*dh)))
}

// Forward returns y [B, T, D] for x [B, T, D]; y is owned by a.
//
//	qkv = x Wqkv + bqkv
//	per (b, h): P = softmax_causal(Q Kᵀ/√dh), O = (P ⊙ M_attn) V
//	y = (O Wo + bo) ⊙ M_resid
func (a *CausalSelfAttention) Forward(x *Tensor) *Tensor { return a.ForwardMasked(x, nil) }

// ForwardMasked is Forward with a key mask keep [B·T] (nil: no mask), as
// the attention_mask of Hugging Face's GPT-2: query i of sequence b attends
// to the keys j ≤ i with keep[b·T+j] ≠ 0 only, and masked keys get weight
// exactly 0, so the values at masked positions cannot reach any other
// position. A query with no such key (a left-padded position, say)
// attends to itself alone (P_ii = 1), a defined, finite output. a keeps
// keep for Backward: leave it unchanged until then.
func (a *CausalSelfAttention) ForwardMasked(x *Tensor, keep []float32) *Tensor {
	if len(x.Shape) != 3 || x.Shape[2] != a.Dim {
		panic(fmt.Sprintf("nn: CausalSelfAttention: input shape %v, want [B, T, %d]", x.Shape, a.Dim))
	}
	if keep != nil && len(keep) != x.Shape[0]*x.Shape[1] {
		panic(fmt.Sprintf("nn: CausalSelfAttention: key mask has %d elements for input shape %v, want B·T = %d",
			len(keep), x.Shape, x.Shape[0]*x.Shape[1]))
	}
	a.x, a.b, a.t = x, x.Shape[0], x.Shape[1]
	a.keep = keep
	a.g = CurrentGemm()
	a.dropAttn = a.Train && a.AttnDropout > 0
	a.dropResid = a.Train && a.ResidDropout > 0
	if a.dropAttn || a.dropResid {
		a.calls++
		// Two masks per call, as two streams of the Dropout generator.
		a.attnKey = dropKey(a.seed, 2*a.calls)
		a.residKey = dropKey(a.seed, 2*a.calls+1)
	}
	a.qkv = a.QKV.Forward(x)
	a.pShape = [4]int{a.b, a.Heads, a.t, a.t} // a field: a literal shape would escape
	a.p.Resize(a.pShape[:]...)
	if a.dropAttn {
		a.pd.Resize(a.p.Shape...)
		a.am.Resize(a.p.Shape...)
	}
	a.o.Resize(x.Shape...)
	par.For(a.b*a.Heads, a.pairGrain(), a.fwd)
	y := a.Proj.Forward(&a.o)
	if !a.dropResid {
		return y
	}
	a.yd.Resize(y.Shape...)
	a.rm.Resize(y.Shape...)
	par.For(y.Len(), elemGrain, a.rfwd)
	return &a.yd
}

// Backward adds the parameter gradients and returns dx for dy [B, T, D].
//
//	dy ← dy ⊙ M_resid;  dO = dy Woᵀ (with dWo, dbo)
//	per (b, h): dV = P̃ᵀ dO_h,  dP = (dO_h Vᵀ) ⊙ M_attn,
//	            dS = P ⊙ (dP − rowsum(dP ⊙ P)),  zero above the diagonal,
//	            dQ = dS K/√dh,  dK = dSᵀ Q/√dh
//	dx = dqkv Wqkvᵀ (with dWqkv, dbqkv)
func (a *CausalSelfAttention) Backward(dy *Tensor) *Tensor {
	if a.x == nil {
		panic("nn: CausalSelfAttention.Backward before Forward")
	}
	mustShape("CausalSelfAttention", "dy", dy, a.o.Shape...)
	a.g = CurrentGemm()
	if a.dropResid {
		a.dyr.Resize(dy.Shape...)
		a.dyIn = dy
		par.For(dy.Len(), elemGrain, a.rbwd)
		a.dyIn = nil
		dy = &a.dyr
	}
	a.dO = a.Proj.Backward(dy)
	a.dqkv.Resize(a.qkv.Shape...)
	a.ds.Resize(a.p.Shape...)
	par.For(a.b*a.Heads, a.pairGrain(), a.bwd)
	a.dO = nil
	return a.QKV.Backward(&a.dqkv)
}

// forwardPairs runs the attention of (batch, head) pairs [lo, hi), reading
// the heads straight out of the fused qkv rows (leading dimension 3D).
func (a *CausalSelfAttention) forwardPairs(lo, hi int) {
	D, H, T := a.Dim, a.Heads, a.t
	dh, ld, tt := D/H, 3*D, T*T
	scale := float32(1 / math.Sqrt(float64(dh)))
	for bh := lo; bh < hi; bh++ {
		b, h := bh/H, bh%H
		base := b*T*ld + h*dh
		q, k, v := a.qkv.Data[base:], a.qkv.Data[base+D:], a.qkv.Data[base+2*D:]
		p := a.p.Data[bh*tt : (bh+1)*tt]
		a.g.Sgemm(false, true, T, T, dh, scale, q, ld, k, ld, 0, p, T)
		if a.keep != nil {
			maskedSoftmax(p, a.keep[b*T:(b+1)*T], T)
		} else {
			causalSoftmax(p, T)
		}
		pv := p
		if a.dropAttn {
			mk := a.am.Data[bh*tt : (bh+1)*tt]
			pd := a.pd.Data[bh*tt : (bh+1)*tt]
			for i := 0; i < T; i++ {
				attnMask(mk[i*T:i*T+i+1], a.attnKey, uint64(bh*tt+i*T), a.AttnDropout)
				clear(mk[i*T+i+1 : (i+1)*T])
			}
			for j, w := range p {
				pd[j] = w * mk[j]
			}
			pv = pd
		}
		a.g.Sgemm(false, false, T, dh, T, 1, pv, T, v, ld, 0, a.o.Data[b*T*D+h*dh:], D)
	}
}

// causalSoftmax turns the scores p [T, T] into causal probabilities in
// place: a stable softmax over j ≤ i, zero above the diagonal. The masked
// entries are zeroed before the exponential (so one vectorised Exp covers
// the whole block) and after it.
func causalSoftmax(p []float32, T int) {
	for i := 0; i < T; i++ {
		row := p[i*T : i*T+i+1]
		m := row[0]
		for _, s := range row[1:] {
			m = max(m, s)
		}
		for j := range row {
			row[j] -= m
		}
		clear(p[i*T+i+1 : (i+1)*T])
	}
	Exp(p, p)
	for i := 0; i < T; i++ {
		row := p[i*T : i*T+i+1]
		var sum float32
		for _, e := range row {
			sum += e
		}
		inv := 1 / sum
		for j := range row {
			row[j] *= inv
		}
		clear(p[i*T+i+1 : (i+1)*T])
	}
}

// expFloor is the smallest exponent maskedSoftmax passes to Exp.
const expFloor = -87

// maskedSoftmax is causalSoftmax over the keys j ≤ i with keep[j] ≠ 0.
// Masked scores are set to 0 before the exponential (the row maximum is
// taken over kept keys only, so nothing overflows) and their probabilities
// to exactly 0 after it; a row with no kept key becomes P_ii = 1.
//
// The exponents are clamped at −87 (exp(−87) ≈ 1.6e-38, nothing next to a
// row sum ≥ 1): Exp takes a slower, differently rounded path for a whole
// block holding any smaller input, so without the clamp the scores of a
// padded query row could change the rounding of real rows in its block.
// With it, real outputs are bit-for-bit independent of masked values.
func maskedSoftmax(p, keep []float32, T int) {
	first := T // first kept key: rows i < first have none
	for j, k := range keep {
		if k != 0 {
			first = j
			break
		}
	}
	for i := 0; i < T; i++ {
		row := p[i*T : (i+1)*T]
		if i < first {
			clear(row)
			continue
		}
		m := float32(math.Inf(-1))
		for j, s := range row[:i+1] {
			if keep[j] != 0 {
				m = max(m, s)
			}
		}
		for j, s := range row[:i+1] {
			if keep[j] != 0 {
				row[j] = max(s-m, expFloor)
			} else {
				row[j] = 0
			}
		}
		clear(row[i+1:])
	}
	Exp(p, p)
	for i := 0; i < T; i++ {
		row := p[i*T : (i+1)*T]
		if i < first {
			clear(row)
			row[i] = 1
			continue
		}
		var sum float32
		for j, e := range row[:i+1] {
			if keep[j] != 0 {
				sum += e
			} else {
				row[j] = 0
			}
		}
		inv := 1 / sum
		for j := range row[:i+1] {
			row[j] *= inv
		}
		clear(row[i+1:])
	}
}

// backwardPairs writes the Q, K and V columns of dqkv for pairs [lo, hi);
// every element of dqkv belongs to exactly one pair.
func (a *CausalSelfAttention) backwardPairs(lo, hi int) {
	D, H, T := a.Dim, a.Heads, a.t
	dh, ld, tt := D/H, 3*D, T*T
	scale := float32(1 / math.Sqrt(float64(dh)))
	for bh := lo; bh < hi; bh++ {
		b, h := bh/H, bh%H
		base := b*T*ld + h*dh
		q, k, v := a.qkv.Data[base:], a.qkv.Data[base+D:], a.qkv.Data[base+2*D:]
		dq, dk, dv := a.dqkv.Data[base:], a.dqkv.Data[base+D:], a.dqkv.Data[base+2*D:]
		dO := a.dO.Data[b*T*D+h*dh:]
		p := a.p.Data[bh*tt : (bh+1)*tt]
		ds := a.ds.Data[bh*tt : (bh+1)*tt]
		pv := p
		if a.dropAttn {
			pv = a.pd.Data[bh*tt : (bh+1)*tt]
		}
		a.g.Sgemm(true, false, T, dh, T, 1, pv, T, dO, D, 0, dv, ld)
		a.g.Sgemm(false, true, T, T, dh, 1, dO, D, v, ld, 0, ds, T)
		if a.dropAttn {
			mk := a.am.Data[bh*tt : (bh+1)*tt]
			for j, m := range mk {
				ds[j] *= m
			}
		}
		for i := 0; i < T; i++ {
			row, pr := ds[i*T:i*T+i+1], p[i*T:i*T+i+1]
			var dot float32
			for j, g := range row {
				dot += g * pr[j]
			}
			for j, g := range row {
				row[j] = pr[j] * (g - dot)
			}
			clear(ds[i*T+i+1 : (i+1)*T])
		}
		a.g.Sgemm(false, false, T, dh, T, scale, ds, T, k, ld, 0, dq, ld)
		a.g.Sgemm(true, false, T, dh, T, scale, ds, T, q, ld, 0, dk, ld)
	}
}

// residForward draws M_resid and applies it to Proj's output on [lo, hi).
func (a *CausalSelfAttention) residForward(lo, hi int) {
	m := a.rm.Data[lo:hi]
	attnMask(m, a.residKey, uint64(lo), a.ResidDropout)
	y, yd := a.Proj.y.Data[lo:hi], a.yd.Data[lo:hi]
	for i, w := range m {
		yd[i] = y[i] * w
	}
}

// residBackward sets dyr = dy ⊙ M_resid on [lo, hi).
func (a *CausalSelfAttention) residBackward(lo, hi int) {
	m, dy, dyr := a.rm.Data[lo:hi], a.dyIn.Data[lo:hi], a.dyr.Data[lo:hi]
	for i, w := range m {
		dyr[i] = dy[i] * w
	}
}

// ScratchBytes is the memory a holds for activations and gradients,
// its two Linear layers included.
func (a *CausalSelfAttention) ScratchBytes() int {
	n := a.QKV.ScratchBytes() + a.Proj.ScratchBytes()
	for _, t := range []*Tensor{&a.p, &a.pd, &a.am, &a.ds, &a.o, &a.dqkv, &a.yd, &a.rm, &a.dyr} {
		n += t.CapBytes()
	}
	return n
}

// attnMask fills m with elements first, first+1, … of the dropout mask of
// key: 1/(1−p) (kept) or 0 (dropped with probability p). It draws from the
// same counter-based stream as Dropout, so any element can be drawn on its
// own, by any goroutine, with the same result.
func attnMask(m []float32, key, first uint64, p float64) {
	thr := dropThreshold(p)
	scale := float32(1 / (1 - p))
	for i := range m {
		if dropHash(key, first+uint64(i))>>11 >= thr {
			m[i] = scale
		} else {
			m[i] = 0
		}
	}
}
