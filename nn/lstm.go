package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/viterin/vek/vek32"

	"github.com/minrl/minrl/internal/par"
)

// lstmStep locates one time step's rows in the layer's buffers: row b of a
// buffer starts at b·ld (see gruStep).
type lstmStep struct {
	hp  []float32 // h_{t-1}
	cp  []float32 // c_{t-1}
	g   []float32 // in: x·Wx; out: (i, f, g, o). Backward: d(pre-activations)
	c   []float32 // c_t (may be cp itself in Step)
	tc  []float32 // tanh(c_t)
	ho  []float32 // h_t (may be hp itself in Step)
	dy  []float32 // Backward: ∂L/∂h_t from the output
	gh  []float32 // [B, 4H] scratch
	ldp int       // row stride of hp
	ldq int       // row stride of cp
	ldc int       // row stride of c and tc
	ldg int
	ldo int
	ldy int
}

// LSTM is a single-layer, batch-first LSTM with PyTorch's nn.LSTM
// equations and gate order (i, f, g, o):
//
//	(î, f̂, ĝ, ô) = x·Wx + bx + h·Wh + bh
//	i = σ(î), f = σ(f̂), g = tanh(ĝ), o = σ(ô)
//	c' = f ⊙ c + i ⊙ g
//	h' = o ⊙ tanh(c')
//
// Like GRU it is a speed baseline and built the same way: one large product
// for the input projections of all steps, then per step the product of the
// state rows with Wh and vectorised gate math on whole rows, ranges of
// batch rows running in parallel through the whole sequence; Backward forms
// each weight gradient with one product over all steps.
type LSTM struct {
	rnnWeights

	x      *Tensor
	b, t   int
	fresh  bool // a Forward that Backward has not consumed yet
	gemm   Gemm
	h0, c0 Tensor // [B, H]
	y      Tensor // [B, T, H]: every h_t
	g      Tensor // [B, T, 4H]: (i, f, g, o); Backward overwrites it with ∂L/∂(pre-activations)
	c      Tensor // [B, T, H]: every c_t
	tc     Tensor // [B, T, H]: tanh(c_t)
	gh     Tensor // [B, 4H] scratch
	bsum   Tensor // [4H]: bx + bh
	lastH  Tensor // [B, H]: h_T for FinalState
	lastC  Tensor // [B, H]: c_T

	hprev  Tensor // [B, T, H]: h_{t-1}
	carryH Tensor // [B, H]: ∂L/∂h_t from later steps; ∂L/∂h0 after Backward
	carryC Tensor // [B, H]: ∂L/∂c_t likewise; ∂L/∂c0 after Backward
	dh     Tensor // [B, H] scratch
	dbias  Tensor // [4H]: Σ ∂L/∂(pre-activations), for both biases
	wxT    Tensor // [4H, In]
	whT    Tensor // [4H, H]
	dx     Tensor // [B, T, In]

	sg, stc, sgh Tensor // Step's [B, 4H], [B, H], [B, 4H]

	dy            *Tensor  // Backward's dy while it runs
	st            lstmStep // Step's
	fwd, bwd, one par.Func
}

// NewLSTM returns an LSTM from in to hidden features, initialised as
// PyTorch's nn.LSTM: every parameter U(±1/√hidden). It panics on
// non-positive sizes.
func NewLSTM(name string, in, hidden int, rng *rand.Rand) *LSTM {
	l := &LSTM{rnnWeights: newRNNWeights("LSTM", name, in, hidden, 4, rng)}
	l.fwd, l.bwd, l.one = l.forwardSeq, l.backwardSeq, l.stepRows
	return l
}

// Forward runs the LSTM over x [B, T, In] from h0, c0 [B·H] (nil: zeros)
// and returns every hidden state y [B, T, H], owned by l. x must stay
// unchanged until Backward; h0 and c0 are copied.
func (l *LSTM) Forward(x *Tensor, h0, c0 []float32) *Tensor {
	b, t := l.checkSeq("LSTM", x)
	l.checkState("LSTM", "h0", h0, b)
	l.checkState("LSTM", "c0", c0, b)
	H, G := l.H, 4*l.H
	l.x, l.b, l.t, l.fresh = x, b, t, true
	l.gemm = CurrentGemm()
	setState(&l.h0, h0, b, H)
	setState(&l.c0, c0, b, H)
	l.y.Resize(b, t, H)
	l.g.Resize(b, t, G)
	l.c.Resize(b, t, H)
	l.tc.Resize(b, t, H)
	l.gh.Resize(b, G)
	l.setBiases()

	// Input projections of all steps in one product; biases join per step.
	MatMul(false, false, b*t, G, l.In, 1, x.Data, l.In, l.Wx.Value.Data, G, 0, l.g.Data, G)

	par.For(b, seqGrain(b), l.fwd)
	return &l.y
}

// seqStep points st at step s of the sequence buffers.
func (l *LSTM) seqStep(st *lstmStep, s int) {
	H, G, t := l.H, 4*l.H, l.t
	if s == 0 {
		st.hp, st.ldp = l.h0.Data, H
		st.cp, st.ldq = l.c0.Data, H
	} else {
		st.hp, st.ldp = l.y.Data[(s-1)*H:], t*H
		st.cp, st.ldq = l.c.Data[(s-1)*H:], t*H
	}
	st.g, st.ldg = l.g.Data[s*G:], t*G
	st.c, st.tc, st.ldc = l.c.Data[s*H:], l.tc.Data[s*H:], t*H
	st.ho, st.ldo = l.y.Data[s*H:], t*H
	st.gh = l.gh.Data
	if l.dy != nil {
		st.dy, st.ldy = l.dy.Data[s*H:], t*H
	}
}

// forwardSeq runs batch rows [lo, hi) through every time step.
func (l *LSTM) forwardSeq(lo, hi int) {
	var st lstmStep
	for s := 0; s < l.t; s++ {
		l.seqStep(&st, s)
		l.forwardRows(lo, hi, &st)
	}
}

// stepRows runs Step's single step for batch rows [lo, hi).
func (l *LSTM) stepRows(lo, hi int) { l.forwardRows(lo, hi, &l.st) }

func (l *LSTM) setBiases() {
	l.bsum.Resize(4 * l.H)
	vek32.Add_Into(l.bsum.Data, l.Bx.Value.Data, l.Bh.Value.Data)
}

// forwardRows runs one time step for batch rows [lo, hi): the recurrent
// product of those rows, then the gate math row by row.
func (l *LSTM) forwardRows(lo, hi int, st *lstmStep) {
	H, G := l.H, 4*l.H
	l.gemm.Sgemm(false, false, hi-lo, G, H, 1, st.hp[lo*st.ldp:], st.ldp, l.Wh.Value.Data, G, 0, st.gh[lo*G:], G)
	for b := lo; b < hi; b++ {
		a := st.gh[b*G : (b+1)*G]
		gr := st.g[b*st.ldg : b*st.ldg+G]
		cp := st.cp[b*st.ldq : b*st.ldq+H]
		c := st.c[b*st.ldc : b*st.ldc+H]
		tc := st.tc[b*st.ldc : b*st.ldc+H]
		ho := st.ho[b*st.ldo : b*st.ldo+H]
		vek32.Add_Inplace(a, gr)
		vek32.Add_Inplace(a, l.bsum.Data)
		Sigmoid(a[:2*H], a[:2*H])
		Tanh(a[2*H:3*H], a[2*H:3*H])
		Sigmoid(a[3*H:], a[3*H:])
		copy(gr, a)
		i, f, g, o := gr[:H], gr[H:2*H], gr[2*H:3*H], gr[3*H:]
		// c' = f⊙c + i⊙g (through scratch: in Step c' overwrites c)
		vek32.Mul_Into(a[:H], i, g)
		vek32.Mul_Into(a[H:2*H], f, cp)
		vek32.Add_Into(c, a[:H], a[H:2*H])
		Tanh(tc, c)
		vek32.Mul_Into(ho, o, tc)
	}
}

// Backward adds the parameter gradients for dy [B, T, H] (∂L/∂y) and
// returns dx [B, T, In]; ∂L/∂h0 and ∂L/∂c0 are then available from
// StateGrad. With dh_t = dy_t + (∂L/∂h_t from step t+1) and dc_t the
// carried ∂L/∂c_t, going back in time:
//
//	dc  = dc_t + dh ⊙ o ⊙ (1 − tanh²c)
//	dô  = dh ⊙ tanh c ⊙ o ⊙ (1 − o)
//	dî  = dc ⊙ g ⊙ i ⊙ (1 − i)
//	df̂  = dc ⊙ c_{t-1} ⊙ f ⊙ (1 − f)
//	dĝ  = dc ⊙ i ⊙ (1 − g²)
//	dc_{t-1} = dc ⊙ f,  dh_{t-1} = (dî, df̂, dĝ, dô)·Whᵀ
//
// and then, over all steps at once: dWx += xᵀ·dgates, dWh += Σ_t
// h_{t-1}ᵀ·dgates_t, dbx and dbh both += Σ dgates, dx = dgates·Wxᵀ.
// Backward overwrites the saved gates with dgates, so it runs once per
// Forward.
func (l *LSTM) Backward(dy *Tensor) *Tensor {
	if !l.fresh {
		panic("nn: LSTM.Backward without a Forward since the last Backward")
	}
	mustShape("LSTM", "dy", dy, l.y.Shape...)
	l.fresh = false
	b, t, H, G := l.b, l.t, l.H, 4*l.H
	l.gemm = CurrentGemm()
	l.carryH.Resize(b, H)
	l.carryC.Resize(b, H)
	l.dh.Resize(b, H)
	l.gh.Resize(b, G)
	l.whT.Resize(G, H)
	transposeInto(l.whT.Data, l.Wh.Value.Data, H, G)

	l.dy = dy
	par.For(b, seqGrain(b), l.bwd)
	l.dy = nil

	rows := b * t
	prevStates(&l.hprev, l.h0.Data, l.y.Data, b, t, H)
	MatMul(true, false, l.In, G, rows, 1, l.x.Data, l.In, l.g.Data, G, 1, l.Wx.Grad.Data, G)
	MatMul(true, false, H, G, rows, 1, l.hprev.Data, H, l.g.Data, G, 1, l.Wh.Grad.Data, G)
	l.dbias.Resize(G)
	l.dbias.Zero()
	AddColSums(l.dbias.Data, l.g.Data, rows, G)
	vek32.Add_Inplace(l.Bx.Grad.Data, l.dbias.Data)
	vek32.Add_Inplace(l.Bh.Grad.Data, l.dbias.Data)
	l.wxT.Resize(G, l.In)
	transposeInto(l.wxT.Data, l.Wx.Value.Data, l.In, G)
	l.dx.Resize(b, t, l.In)
	MatMul(false, false, rows, l.In, G, 1, l.g.Data, G, l.wxT.Data, l.In, 0, l.dx.Data, l.In)
	return &l.dx
}

// backwardSeq runs batch rows [lo, hi) back through every time step.
func (l *LSTM) backwardSeq(lo, hi int) {
	clear(l.carryH.Data[lo*l.H : hi*l.H])
	clear(l.carryC.Data[lo*l.H : hi*l.H])
	var st lstmStep
	for s := l.t - 1; s >= 0; s-- {
		l.seqStep(&st, s)
		l.backwardRows(lo, hi, &st)
	}
}

// backwardRows runs one step of Backward for batch rows [lo, hi).
func (l *LSTM) backwardRows(lo, hi int, st *lstmStep) {
	H, G := l.H, 4*l.H
	for b := lo; b < hi; b++ {
		a := st.gh[b*G : (b+1)*G]
		gr := st.g[b*st.ldg : b*st.ldg+G]
		cp := st.cp[b*st.ldq : b*st.ldq+H]
		tc := st.tc[b*st.ldc : b*st.ldc+H]
		dh := l.dh.Data[b*H : (b+1)*H]
		dc := l.carryC.Data[b*H : (b+1)*H]
		i, f, g, o := gr[:H], gr[H:2*H], gr[2*H:3*H], gr[3*H:]
		a0, a1, a2, a3 := a[:H], a[H:2*H], a[2*H:3*H], a[3*H:]

		vek32.Add_Into(dh, st.dy[b*st.ldy:b*st.ldy+H], l.carryH.Data[b*H:(b+1)*H])
		// do = dh⊙tanh c;  dc += dh⊙o⊙(1 − tanh²c)
		vek32.Mul_Into(a3, dh, tc)
		vek32.Mul_Into(a0, tc, tc)
		vek32.Mul_Into(a1, dh, o)
		vek32.Mul_Into(a2, a1, a0)
		vek32.Sub_Inplace(a1, a2)
		vek32.Add_Inplace(dc, a1)
		// dô = do⊙(o − o²); dh is free from here on and serves as scratch e.
		e := dh
		vek32.Mul_Into(a0, o, o)
		vek32.Sub_Into(e, o, a0)
		vek32.Mul_Inplace(a3, e)
		// dî = dc⊙(i − i²)⊙g
		vek32.Mul_Into(a0, i, i)
		vek32.Sub_Into(e, i, a0)
		vek32.Mul_Inplace(e, dc)
		vek32.Mul_Into(a0, e, g)
		// dĝ = dc⊙i⊙(1 − g²) = e − e⊙g² with e = dc⊙i
		vek32.Mul_Into(a2, g, g)
		vek32.Mul_Into(e, dc, i)
		vek32.Mul_Inplace(a2, e)
		vek32.Sub_Into(a1, e, a2)
		copy(a2, a1)
		// df̂ = dc⊙(f − f²)⊙c_{t-1}
		vek32.Mul_Into(a1, f, f)
		vek32.Sub_Into(e, f, a1)
		vek32.Mul_Inplace(e, dc)
		vek32.Mul_Into(a1, e, cp)
		// dc_{t-1} = dc⊙f
		vek32.Mul_Inplace(dc, f)
		copy(gr, a)
	}
	// dh_{t-1} = dgates·Whᵀ
	l.gemm.Sgemm(false, false, hi-lo, H, G, 1, st.g[lo*st.ldg:], st.ldg, l.whT.Data, H, 0, l.carryH.Data[lo*H:], H)
}

// StateGrad returns ∂L/∂h0 and ∂L/∂c0 [B·H] from the last Backward, owned
// by l.
func (l *LSTM) StateGrad() (dh0, dc0 []float32) { return l.carryH.Data, l.carryC.Data }

// FinalState returns h_T and c_T [B·H] of the last Forward, owned by l.
func (l *LSTM) FinalState() (h, c []float32) {
	H, T := l.H, l.t
	l.lastH.Resize(l.b, H)
	l.lastC.Resize(l.b, H)
	for b := 0; b < l.b; b++ {
		copy(l.lastH.Data[b*H:(b+1)*H], l.y.Data[(b*T+T-1)*H:])
		copy(l.lastC.Data[b*H:(b+1)*H], l.c.Data[(b*T+T-1)*H:])
	}
	return l.lastH.Data, l.lastC.Data
}

// Step advances h and c [B·H] by one input x [B, In] in place, for
// inference. It computes exactly what Forward does at one step (same
// products, same gate math) and leaves the state Backward needs untouched.
func (l *LSTM) Step(x *Tensor, h, c []float32) {
	if len(x.Shape) != 2 || x.Shape[0] < 1 || x.Shape[1] != l.In {
		panic(fmt.Sprintf("nn: LSTM.Step: input shape %v, want [B, %d]", x.Shape, l.In))
	}
	b, H, G := x.Shape[0], l.H, 4*l.H
	if len(h) != b*H || len(c) != b*H {
		panic(fmt.Sprintf("nn: LSTM.Step: h, c have %d, %d elements, want B·H = %d·%d", len(h), len(c), b, H))
	}
	l.gemm = CurrentGemm()
	l.sg.Resize(b, G)
	l.stc.Resize(b, H)
	l.sgh.Resize(b, G)
	l.setBiases()
	MatMul(false, false, b, G, l.In, 1, x.Data, l.In, l.Wx.Value.Data, G, 0, l.sg.Data, G)
	l.st = lstmStep{hp: h, ldp: H, cp: c, ldq: H, g: l.sg.Data, ldg: G, c: c, tc: l.stc.Data, ldc: H, ho: h, ldo: H, gh: l.sgh.Data}
	par.For(b, seqGrain(b), l.one)
	l.st = lstmStep{}
}

// ScratchBytes is the memory l holds for activations and gradients.
func (l *LSTM) ScratchBytes() int {
	n := 0
	for _, t := range []*Tensor{&l.h0, &l.c0, &l.y, &l.g, &l.c, &l.tc, &l.gh, &l.bsum, &l.lastH, &l.lastC,
		&l.hprev, &l.carryH, &l.carryC, &l.dh, &l.dbias, &l.wxT, &l.whT, &l.dx, &l.sg, &l.stc, &l.sgh} {
		n += t.CapBytes()
	}
	return n
}
