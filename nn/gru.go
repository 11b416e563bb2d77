package nn

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/viterin/vek/vek32"

	"github.com/minrl/minrl/internal/par"
)

// rnnWeights holds the parameters GRU and LSTM share: input weights
// Wx [In, G·H], recurrent weights Wh [H, G·H] and the two biases
// Bx, Bh [G·H] (PyTorch has both b_ih and b_hh), gates side by side in
// PyTorch's order. Wx and Wh are the transposes of PyTorch's weight_ih_l0
// and weight_hh_l0, so that x·Wx is a plain row-major product.
type rnnWeights struct {
	In, H          int
	Wx, Wh, Bx, Bh *Param

	gates int // G: 3 for GRU, 4 for LSTM
}

func newRNNWeights(layer, name string, in, h, gates int, rng *rand.Rand) rnnWeights {
	if in <= 0 || h <= 0 {
		panic(fmt.Sprintf("nn: New%s %s: sizes in=%d hidden=%d", layer, name, in, h))
	}
	w := rnnWeights{In: in, H: h, gates: gates,
		Wx: NewParam(name+".wx", false, in, gates*h),
		Wh: NewParam(name+".wh", false, h, gates*h),
		Bx: NewParam(name+".bx", true, gates*h),
		Bh: NewParam(name+".bh", true, gates*h),
	}
	// PyTorch's nn.GRU and nn.LSTM draw every parameter from U(±1/√H).
	for _, p := range w.Params() {
		InitUniform(p, rng, FanInBound(h))
	}
	return w
}

// Params implements Module: Wx, Wh, Bx, Bh.
func (w *rnnWeights) Params() []*Param { return []*Param{w.Wx, w.Wh, w.Bx, w.Bh} }

// SetFromPyTorch loads PyTorch's weight_ih_l0 [G·H, In], weight_hh_l0
// [G·H, H], bias_ih_l0 and bias_hh_l0 [G·H] (row-major, as
// tensor.numpy().ravel() gives them), transposing the weights.
func (w *rnnWeights) SetFromPyTorch(wih, whh, bih, bhh []float32) {
	gh := w.gates * w.H
	if len(wih) != gh*w.In || len(whh) != gh*w.H || len(bih) != gh || len(bhh) != gh {
		panic(fmt.Sprintf("nn: SetFromPyTorch: got %d, %d, %d, %d elements, want %d, %d, %d, %d",
			len(wih), len(whh), len(bih), len(bhh), gh*w.In, gh*w.H, gh, gh))
	}
	transposeInto(w.Wx.Value.Data, wih, gh, w.In)
	transposeInto(w.Wh.Value.Data, whh, gh, w.H)
	copy(w.Bx.Value.Data, bih)
	copy(w.Bh.Value.Data, bhh)
}

// ToPyTorch returns new copies of the parameters in PyTorch's layout
// (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0).
func (w *rnnWeights) ToPyTorch() (wih, whh, bih, bhh []float32) {
	return w.toPyTorch(&w.Wx.Value, &w.Wh.Value, &w.Bx.Value, &w.Bh.Value)
}

// GradToPyTorch returns the accumulated gradients in PyTorch's layout, in
// the order of ToPyTorch, to compare with weight_ih_l0.grad and so on.
func (w *rnnWeights) GradToPyTorch() (wih, whh, bih, bhh []float32) {
	return w.toPyTorch(&w.Wx.Grad, &w.Wh.Grad, &w.Bx.Grad, &w.Bh.Grad)
}

func (w *rnnWeights) toPyTorch(wx, wh, bx, bh *Tensor) (wih, whh, bih, bhh []float32) {
	gh := w.gates * w.H
	wih, whh = make([]float32, gh*w.In), make([]float32, gh*w.H)
	transposeInto(wih, wx.Data, w.In, gh)
	transposeInto(whh, wh.Data, w.H, gh)
	return wih, whh, slices.Clone(bx.Data), slices.Clone(bh.Data)
}

// transposeInto sets dst (cols×rows) to the transpose of src (rows×cols).
func transposeInto(dst, src []float32, rows, cols int) {
	for r := 0; r < rows; r++ {
		for c, v := range src[r*cols : (r+1)*cols] {
			dst[c*rows+r] = v
		}
	}
}

// checkSeq panics unless x is [B, T, In] with B, T ≥ 1, and returns B, T.
func (w *rnnWeights) checkSeq(layer string, x *Tensor) (b, t int) {
	if len(x.Shape) != 3 || x.Shape[0] < 1 || x.Shape[1] < 1 || x.Shape[2] != w.In {
		panic(fmt.Sprintf("nn: %s: input shape %v, want [B, T, %d]", layer, x.Shape, w.In))
	}
	return x.Shape[0], x.Shape[1]
}

// checkState panics unless s is nil or holds b·H values.
func (w *rnnWeights) checkState(layer, what string, s []float32, b int) {
	if s != nil && len(s) != b*w.H {
		panic(fmt.Sprintf("nn: %s: %s has %d elements, want B·H = %d·%d", layer, what, len(s), b, w.H))
	}
}

// setState copies s (nil: zeros) into dst resized to [b, H].
func setState(dst *Tensor, s []float32, b, h int) {
	dst.Resize(b, h)
	if s == nil {
		dst.Zero()
	} else {
		copy(dst.Data, s)
	}
}

// seqGrain is the number of batch rows per parallel range. Batch rows are
// independent through time, so each range runs its rows through every time
// step on its own (per step: its rows times Wh, then the gate math) and the
// whole sequence is one par.For, with no barrier per step. Four rows keep a
// BLAS kernel's per-call packing of Wh cheap against the product and still
// give B/4 ranges to spread over the cores. It depends only on b
// (determinism: each row is computed the same way whatever range holds it).
func seqGrain(b int) int { return par.Grain(b, 4) }

// prevStates fills hp [B, T, H] with h_{t-1} for every t: h0 at t = 0, then
// y shifted by one step, so that Σ_t h_{t-1}ᵀ·dgates_t is one product.
func prevStates(hp *Tensor, h0, y []float32, b, t, h int) {
	hp.Resize(b, t, h)
	for i := 0; i < b; i++ {
		row := hp.Data[i*t*h : (i+1)*t*h]
		copy(row[:h], h0[i*h:(i+1)*h])
		copy(row[h:], y[i*t*h:(i*t+t-1)*h])
	}
}

// gruStep locates one time step's rows in the layer's buffers: row b of a
// buffer starts at b·ld. Forward and Backward point it into the [B, T, ·]
// sequence buffers at step t; Step points it at dense [B, ·] state.
type gruStep struct {
	hp   []float32 // h_{t-1}
	g    []float32 // in: x·Wx; out: (r, z, n). Backward: d(pre-activations)
	hn   []float32 // h_{t-1}·Whn + bhn
	ho   []float32 // h_t (may be hp itself in Step)
	dy   []float32 // Backward: ∂L/∂h_t from the output
	dgh  []float32 // Backward: ∂L/∂(h_{t-1}·Wh + bh), row stride ldg
	gh   []float32 // Forward scratch [B, 3H]: h_{t-1}·Wh
	ldp  int
	ldg  int
	ldn  int
	ldo  int
	lddy int
}

// GRU is a single-layer, batch-first GRU with PyTorch's nn.GRU equations
// and gate order (r, z, n):
//
//	r  = σ(x·Wxr + bxr + h·Whr + bhr)
//	z  = σ(x·Wxz + bxz + h·Whz + bhz)
//	n  = tanh(x·Wxn + bxn + r ⊙ (h·Whn + bhn))
//	h' = (1 − z) ⊙ n + z ⊙ h
//
// It is the sequential baseline minGRU is measured against, so it is built
// to be as fast as a CPU allows: one large product for the input
// projections of all steps (as cuDNN and PyTorch do), then per step the
// product of the state rows with Wh and vectorised gate math on whole rows.
// Batch rows are independent, so ranges of them run in parallel, each
// through the whole sequence, with no barrier per step (see seqGrain).
// Backward keeps every step's gate gradients and forms each weight gradient
// with one product over all steps.
type GRU struct {
	rnnWeights

	x     *Tensor
	b, t  int
	fresh bool // a Forward that Backward has not consumed yet
	gemm  Gemm
	h0    Tensor // [B, H]
	y     Tensor // [B, T, H]: every h_t
	g     Tensor // [B, T, 3H]: (r, z, n); Backward overwrites it with ∂L/∂(x·Wx + bx)
	hn    Tensor // [B, T, H]: h_{t-1}·Whn + bhn
	gh    Tensor // [B, 3H] scratch: h_{t-1}·Wh
	brz   Tensor // [2H]: bxr+bhr, bxz+bhz
	last  Tensor // [B, H]: h_T for FinalState

	dgh   Tensor // [B, T, 3H]: ∂L/∂(h_{t-1}·Wh + bh)
	hprev Tensor // [B, T, H]: h_{t-1}
	carry Tensor // [B, H]: ∂L/∂h_t from later steps; ∂L/∂h0 after Backward
	dhz   Tensor // [B, H] scratch
	wxT   Tensor // [3H, In]
	whT   Tensor // [3H, H]
	dx    Tensor // [B, T, In]

	sg, shn, sgh Tensor // Step's [B, 3H], [B, H], [B, 3H]

	dy            *Tensor // Backward's dy while it runs
	st            gruStep // Step's
	fwd, bwd, one par.Func
}

// NewGRU returns a GRU from in to hidden features, initialised as PyTorch's
// nn.GRU: every parameter U(±1/√hidden). It panics on non-positive sizes.
func NewGRU(name string, in, hidden int, rng *rand.Rand) *GRU {
	g := &GRU{rnnWeights: newRNNWeights("GRU", name, in, hidden, 3, rng)}
	g.fwd, g.bwd, g.one = g.forwardSeq, g.backwardSeq, g.stepRows
	return g
}

// Forward runs the GRU over x [B, T, In] from h0 [B·H] (nil: zeros) and
// returns every hidden state y [B, T, H], owned by g. x must stay unchanged
// until Backward; h0 is copied.
func (g *GRU) Forward(x *Tensor, h0 []float32) *Tensor {
	b, t := g.checkSeq("GRU", x)
	g.checkState("GRU", "h0", h0, b)
	H, G := g.H, 3*g.H
	g.x, g.b, g.t, g.fresh = x, b, t, true
	g.gemm = CurrentGemm()
	setState(&g.h0, h0, b, H)
	g.y.Resize(b, t, H)
	g.g.Resize(b, t, G)
	g.hn.Resize(b, t, H)
	g.gh.Resize(b, G)
	g.setBiases()

	// Input projections of all steps in one product; biases join per step.
	MatMul(false, false, b*t, G, g.In, 1, x.Data, g.In, g.Wx.Value.Data, G, 0, g.g.Data, G)

	par.For(b, seqGrain(b), g.fwd)
	return &g.y
}

func (g *GRU) setBiases() {
	H := g.H
	g.brz.Resize(2 * H)
	vek32.Add_Into(g.brz.Data, g.Bx.Value.Data[:2*H], g.Bh.Value.Data[:2*H])
}

// seqStep points st at step s of the sequence buffers.
func (g *GRU) seqStep(st *gruStep, s int) {
	H, G, t := g.H, 3*g.H, g.t
	if s == 0 {
		st.hp, st.ldp = g.h0.Data, H
	} else {
		st.hp, st.ldp = g.y.Data[(s-1)*H:], t*H
	}
	st.g, st.ldg = g.g.Data[s*G:], t*G
	st.hn, st.ldn = g.hn.Data[s*H:], t*H
	st.ho, st.ldo = g.y.Data[s*H:], t*H
	st.gh = g.gh.Data
	if g.dy != nil {
		st.dy, st.lddy = g.dy.Data[s*H:], t*H
		st.dgh = g.dgh.Data[s*G:]
	}
}

// forwardSeq runs batch rows [lo, hi) through every time step.
func (g *GRU) forwardSeq(lo, hi int) {
	var st gruStep
	for s := 0; s < g.t; s++ {
		g.seqStep(&st, s)
		g.forwardRows(lo, hi, &st)
	}
}

// stepRows runs Step's single step for batch rows [lo, hi).
func (g *GRU) stepRows(lo, hi int) { g.forwardRows(lo, hi, &g.st) }

// forwardRows runs one time step for batch rows [lo, hi): the recurrent
// product of those rows, then the gate math row by row.
func (g *GRU) forwardRows(lo, hi int, st *gruStep) {
	H, G := g.H, 3*g.H
	gh := st.gh
	g.gemm.Sgemm(false, false, hi-lo, G, H, 1, st.hp[lo*st.ldp:], st.ldp, g.Wh.Value.Data, G, 0, gh[lo*G:], G)
	bxn, bhn := g.Bx.Value.Data[2*H:], g.Bh.Value.Data[2*H:]
	for b := lo; b < hi; b++ {
		a := gh[b*G : (b+1)*G]
		gr := st.g[b*st.ldg : b*st.ldg+G]
		hp := st.hp[b*st.ldp : b*st.ldp+H]
		hn := st.hn[b*st.ldn : b*st.ldn+H]
		ho := st.ho[b*st.ldo : b*st.ldo+H]
		rz, tmp := a[:2*H], a[2*H:]
		vek32.Add_Inplace(rz, gr[:2*H])
		vek32.Add_Inplace(rz, g.brz.Data)
		Sigmoid(rz, rz)
		vek32.Add_Into(hn, tmp, bhn)
		n := gr[2*H:]
		vek32.Add_Inplace(n, bxn)
		vek32.Mul_Into(tmp, rz[:H], hn)
		vek32.Add_Inplace(n, tmp)
		Tanh(n, n)
		copy(gr[:2*H], rz)
		// h' = n + z⊙(h − n), PyTorch's form of (1−z)⊙n + z⊙h.
		vek32.Sub_Into(tmp, hp, n)
		vek32.Mul_Inplace(tmp, rz[H:])
		vek32.Add_Into(ho, n, tmp)
	}
}

// Backward adds the parameter gradients for dy [B, T, H] (∂L/∂y) and
// returns dx [B, T, In]; ∂L/∂h0 is then available from StateGrad. With
// dh_t = dy_t + (∂L/∂h_t from step t+1), going back in time:
//
//	dn̂ = dh ⊙ (1 − z) ⊙ (1 − n²)          (n̂: pre-activation of n)
//	dẑ = dh ⊙ (h − n) ⊙ z ⊙ (1 − z)
//	dr̂ = dn̂ ⊙ (h·Whn + bhn) ⊙ r ⊙ (1 − r)
//	gx = (dr̂, dẑ, dn̂),  gh = (dr̂, dẑ, dn̂ ⊙ r)
//	dh_{t-1} = dh ⊙ z + gh·Whᵀ
//
// and then, over all steps at once: dWx += xᵀ·gx, dWh += Σ_t h_{t-1}ᵀ·gh_t,
// dbx += Σ gx, dbh += Σ gh, dx = gx·Wxᵀ. Backward overwrites the saved
// gates with gx, so it runs once per Forward.
func (g *GRU) Backward(dy *Tensor) *Tensor {
	if !g.fresh {
		panic("nn: GRU.Backward without a Forward since the last Backward")
	}
	mustShape("GRU", "dy", dy, g.y.Shape...)
	g.fresh = false
	b, t, H, G := g.b, g.t, g.H, 3*g.H
	g.gemm = CurrentGemm()
	g.dgh.Resize(b, t, G)
	g.carry.Resize(b, H)
	g.dhz.Resize(b, H)
	g.whT.Resize(G, H)
	transposeInto(g.whT.Data, g.Wh.Value.Data, H, G)

	g.dy = dy
	par.For(b, seqGrain(b), g.bwd)
	g.dy = nil

	rows := b * t
	prevStates(&g.hprev, g.h0.Data, g.y.Data, b, t, H)
	MatMul(true, false, g.In, G, rows, 1, g.x.Data, g.In, g.g.Data, G, 1, g.Wx.Grad.Data, G)
	MatMul(true, false, H, G, rows, 1, g.hprev.Data, H, g.dgh.Data, G, 1, g.Wh.Grad.Data, G)
	AddColSums(g.Bx.Grad.Data, g.g.Data, rows, G)
	AddColSums(g.Bh.Grad.Data, g.dgh.Data, rows, G)
	g.wxT.Resize(G, g.In)
	transposeInto(g.wxT.Data, g.Wx.Value.Data, g.In, G)
	g.dx.Resize(b, t, g.In)
	MatMul(false, false, rows, g.In, G, 1, g.g.Data, G, g.wxT.Data, g.In, 0, g.dx.Data, g.In)
	return &g.dx
}

// backwardSeq runs batch rows [lo, hi) back through every time step.
func (g *GRU) backwardSeq(lo, hi int) {
	clear(g.carry.Data[lo*g.H : hi*g.H])
	var st gruStep
	for s := g.t - 1; s >= 0; s-- {
		g.seqStep(&st, s)
		g.backwardRows(lo, hi, &st)
	}
}

// backwardRows runs one step of Backward for batch rows [lo, hi).
func (g *GRU) backwardRows(lo, hi int, st *gruStep) {
	H, G := g.H, 3*g.H
	for b := lo; b < hi; b++ {
		gr := st.g[b*st.ldg : b*st.ldg+G]
		d := st.dgh[b*st.ldg : b*st.ldg+G]
		hp := st.hp[b*st.ldp : b*st.ldp+H]
		hn := st.hn[b*st.ldn : b*st.ldn+H]
		dh := g.dhz.Data[b*H : (b+1)*H]
		c := g.carry.Data[b*H : (b+1)*H]
		r, z, n := gr[:H], gr[H:2*H], gr[2*H:]
		d0, d1, d2 := d[:H], d[H:2*H], d[2*H:]

		vek32.Add_Into(dh, st.dy[b*st.lddy:b*st.lddy+H], c)
		// dẑ = dh⊙(h − n)⊙(z − z²)
		vek32.Sub_Into(d1, hp, n)
		vek32.Mul_Inplace(d1, dh)
		vek32.Mul_Into(d2, z, z)
		vek32.Sub_Into(d0, z, d2)
		vek32.Mul_Inplace(d1, d0)
		// dn̂ = dh⊙(1 − z)⊙(1 − n²); dh becomes dh⊙z for the carry.
		vek32.Mul_Into(d0, dh, z)
		vek32.Sub_Into(d2, dh, d0)
		copy(dh, d0)
		vek32.Mul_Into(d0, n, n)
		vek32.Mul_Inplace(d0, d2)
		vek32.Sub_Inplace(d2, d0)
		// dr̂ = dn̂⊙hn⊙(r − r²), with z's slot as scratch.
		vek32.Mul_Into(d0, r, r)
		vek32.Sub_Into(z, r, d0)
		vek32.Mul_Into(d0, d2, hn)
		vek32.Mul_Inplace(d0, z)
		copy(n, d2)
		vek32.Mul_Inplace(d2, r) // gh's n part: dn̂⊙r
		copy(r, d0)
		copy(z, d1)
	}
	// dh_{t-1} = dh⊙z + gh·Whᵀ
	g.gemm.Sgemm(false, false, hi-lo, H, G, 1, st.dgh[lo*st.ldg:], st.ldg, g.whT.Data, H, 0, g.carry.Data[lo*H:], H)
	for b := lo; b < hi; b++ {
		vek32.Add_Inplace(g.carry.Data[b*H:(b+1)*H], g.dhz.Data[b*H:(b+1)*H])
	}
}

// StateGrad returns ∂L/∂h0 [B·H] from the last Backward, owned by g.
func (g *GRU) StateGrad() []float32 { return g.carry.Data }

// FinalState returns h_T [B·H] of the last Forward, owned by g.
func (g *GRU) FinalState() []float32 {
	H, T := g.H, g.t
	g.last.Resize(g.b, H)
	for b := 0; b < g.b; b++ {
		copy(g.last.Data[b*H:(b+1)*H], g.y.Data[(b*T+T-1)*H:])
	}
	return g.last.Data
}

// Step advances h [B·H] by one input x [B, In] in place, for inference. It
// computes exactly what Forward does at one step (same products, same
// gate math) and leaves the state Backward needs untouched.
func (g *GRU) Step(x *Tensor, h []float32) {
	if len(x.Shape) != 2 || x.Shape[0] < 1 || x.Shape[1] != g.In {
		panic(fmt.Sprintf("nn: GRU.Step: input shape %v, want [B, %d]", x.Shape, g.In))
	}
	b, H, G := x.Shape[0], g.H, 3*g.H
	if len(h) != b*H {
		panic(fmt.Sprintf("nn: GRU.Step: h has %d elements, want B·H = %d·%d", len(h), b, H))
	}
	g.gemm = CurrentGemm()
	g.sg.Resize(b, G)
	g.shn.Resize(b, H)
	g.sgh.Resize(b, G)
	g.setBiases()
	MatMul(false, false, b, G, g.In, 1, x.Data, g.In, g.Wx.Value.Data, G, 0, g.sg.Data, G)
	g.st = gruStep{hp: h, ldp: H, g: g.sg.Data, ldg: G, hn: g.shn.Data, ldn: H, ho: h, ldo: H, gh: g.sgh.Data}
	par.For(b, seqGrain(b), g.one)
	g.st = gruStep{}
}

// ScratchBytes is the memory g holds for activations and gradients.
func (g *GRU) ScratchBytes() int {
	n := 0
	for _, t := range []*Tensor{&g.h0, &g.y, &g.g, &g.hn, &g.gh, &g.brz, &g.last, &g.dgh, &g.hprev,
		&g.carry, &g.dhz, &g.wxT, &g.whT, &g.dx, &g.sg, &g.shn, &g.sgh} {
		n += t.CapBytes()
	}
	return n
}
