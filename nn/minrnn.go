package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/minrl/minrl/internal/par"
	"github.com/minrl/minrl/scan"
)

// MinRNNConfig configures a MinGRU or MinLSTM layer.
type MinRNNConfig struct {
	// Dim is the input and output width d.
	Dim int
	// Expansion is α: the recurrent state has round(α·Dim) units. With
	// α ≠ 1 an output projection maps the state back to Dim (zero means 1).
	Expansion float64
	// LogSpace runs the paper's log-space (Heinsen) scan instead of the
	// linear-space one. Both compute the same function; the linear form is
	// faster and more accurate on a CPU (see scan's documentation).
	LogSpace bool
	// LearnedH0 learns the initial state h0 = g(v) (as the official code's
	// use_init_hidden_state); otherwise a fresh sequence starts from h0 = 0.
	LearnedH0 bool
	// NoNorm (minLSTM only) drops the f/(f+i) normalisation.
	NoNorm bool
}

// minRNN is the machinery minGRU and minLSTM share: one projection of the
// whole sequence to gate pre-activations (a single matrix product), the
// cell's gate arithmetic, the scan h_t = a_t h_{t-1} + b_t, and an optional
// output projection.
type minRNN struct {
	cfg   MinRNNConfig
	Inner int
	Proj  *Linear // Dim -> width·Inner
	Out   *Linear // Inner -> Dim, nil when Inner == Dim
	H0    *Param  // v [Inner] when LearnedH0
	cell  cell
	name  string

	// Forward state.
	x      *Tensor
	dims   scan.Dims
	pre    *Tensor
	a, b   Tensor // log a and log b in log mode; a in linear mode
	logh   Tensor // log mode
	h      Tensor // states [B,T,Inner]; in linear mode first b, scanned in place
	h0     []float32
	hasH0  bool // a carried or learned initial state is in h0
	carry  bool // h0 came from the caller
	y      *Tensor
	h0Grad []float32
	keep   []float32 // [B·T] step mask of the last Forward; nil: every step is real

	// Backward scratch.
	dh           *Tensor
	dhBuf        Tensor
	da, db       Tensor
	dpre         Tensor
	dh0          []float32
	fwdK, bwdK   par.Func
	stepA, stepB []float32
	stepPre      []float32
}

func newMinRNN(name string, cfg MinRNNConfig, c cell, rng *rand.Rand) *minRNN {
	if cfg.Dim <= 0 {
		panic(fmt.Sprintf("nn: %s: Dim %d must be positive", name, cfg.Dim))
	}
	if cfg.Expansion == 0 {
		cfg.Expansion = 1
	}
	inner := int(math.Round(cfg.Expansion * float64(cfg.Dim)))
	if cfg.Expansion < 0 || math.IsNaN(cfg.Expansion) || inner < 1 {
		panic(fmt.Sprintf("nn: %s: expansion %g gives %d state units", name, cfg.Expansion, inner))
	}
	m := &minRNN{cfg: cfg, Inner: inner, cell: c, name: name}
	m.Proj = NewLinear(name+".proj", cfg.Dim, c.width()*inner, true, rng)
	if inner != cfg.Dim {
		m.Out = NewLinear(name+".out", inner, cfg.Dim, true, rng)
	}
	if cfg.LearnedH0 {
		m.H0 = NewParam(name+".h0", true, inner)
		InitNormal(m.H0, rng, 1)
	}
	m.fwdK, m.bwdK = m.gatesForward, m.gatesBackward
	return m
}

// Params implements Module.
func (m *minRNN) Params() []*Param {
	ps := m.Proj.Params()
	if m.Out != nil {
		ps = append(ps, m.Out.Params()...)
	}
	if m.H0 != nil {
		ps = append(ps, m.H0)
	}
	return ps
}

// Config returns the layer's configuration.
func (m *minRNN) Config() MinRNNConfig { return m.cfg }

// Forward runs the layer over x [B, T, Dim] in parallel mode and returns
// y [B, T, Dim]. h0 is a carried state [B·Inner] from FinalState (or Step),
// or nil to start fresh (from g(v) when LearnedH0, else from 0). In log
// space a carried state must be positive, as every state the layer makes
// is; it enters the scan as log h0 (never through g again).
func (m *minRNN) Forward(x *Tensor, h0 []float32) *Tensor { return m.ForwardMasked(x, h0, nil) }

// ForwardMasked is Forward with a step mask keep [B·T] (nil: all steps
// real). A masked step (keep 0) is the identity of the recurrence,
//
//	a_t = 1, b_t = 0:  h_t = h_{t-1},
//
// so padding leaves the state as it was: left padding starts the real steps
// from h0, right padding carries the last real state to the end, and the
// values of x at masked steps influence nothing. Backward gives their
// pre-activations zero gradient (so their dx is zero) while ∂L/∂h flows
// through them unchanged. Masks need the linear-space scan: a log-space
// layer panics (log b = −∞ would poison the log-scan's gradient).
func (m *minRNN) ForwardMasked(x *Tensor, h0, keep []float32) *Tensor {
	if len(x.Shape) != 3 || x.Shape[2] != m.cfg.Dim {
		panic(fmt.Sprintf("nn: %s: input shape %v, want [B, T, %d]", m.name, x.Shape, m.cfg.Dim))
	}
	B, T := x.Shape[0], x.Shape[1]
	if keep != nil {
		if m.cfg.LogSpace {
			panic(fmt.Sprintf("nn: %s: step masks need the linear-space scan (LogSpace is set)", m.name))
		}
		if len(keep) != B*T {
			panic(fmt.Sprintf("nn: %s: step mask has %d elements, want B·T = %d", m.name, len(keep), B*T))
		}
	}
	m.keep = keep
	m.x = x
	m.dims = scan.Dims{B: B, T: T, D: m.Inner}
	m.pre = m.Proj.Forward(x)
	m.a.Resize(B, T, m.Inner)
	m.h.Resize(B, T, m.Inner)
	if m.cfg.LogSpace {
		m.b.Resize(B, T, m.Inner)
	}
	par.For(B*T, par.Grain(B*T, 8), m.fwdK)
	m.setInitialState(h0, B)

	var h0s []float32
	if m.hasH0 {
		h0s = m.h0
	}
	if m.cfg.LogSpace {
		m.logh.Resize(B, T, m.Inner)
		scan.LogForward(m.logh.Data, m.a.Data, m.b.Data, h0s, m.dims)
		Exp(m.h.Data, m.logh.Data)
	} else {
		// h holds b: the scan runs in place, as b is not needed later.
		scan.Forward(m.h.Data, m.a.Data, m.h.Data, h0s, m.dims)
	}
	if m.Out != nil {
		m.y = m.Out.Forward(&m.h)
	} else {
		m.y = &m.h
	}
	return m.y
}

// setInitialState fills m.h0 with the state the scan starts from: in linear
// space h0 itself, in log space log h0.
func (m *minRNN) setInitialState(h0 []float32, B int) {
	n := B * m.Inner
	m.carry = h0 != nil
	m.hasH0 = m.carry || m.H0 != nil
	if !m.hasH0 {
		return
	}
	m.h0 = grow(m.h0, n)
	switch {
	case m.carry:
		if len(h0) != n {
			panic(fmt.Sprintf("nn: %s: initial state has %d elements, want B·Inner = %d", m.name, len(h0), n))
		}
		copy(m.h0, h0)
		if m.cfg.LogSpace {
			for i, v := range m.h0 {
				if !(v > 0) {
					panic(fmt.Sprintf("nn: %s: log-space layer got a non-positive initial state %g at %d", m.name, v, i))
				}
			}
			Log(m.h0, m.h0)
		}
	default: // learned: g(v), or log g(v), for every sequence
		first := m.h0[:m.Inner]
		if m.cfg.LogSpace {
			logG(first, nil, m.H0.Value.Data)
		} else {
			gVec(first, m.H0.Value.Data)
		}
		for b := 1; b < B; b++ {
			copy(m.h0[b*m.Inner:(b+1)*m.Inner], first)
		}
	}
}

// gVec sets dst = g(v) (any length).
func gVec(dst, v []float32) {
	var ev [vblock]float32
	for j0 := 0; j0 < len(v); j0 += vblock {
		n := min(vblock, len(v)-j0)
		expNeg(ev[:n], v[j0:j0+n])
		for j := 0; j < n; j++ {
			dst[j0+j], _ = gFromExp(v[j0+j], ev[j])
		}
	}
}

func (m *minRNN) gatesForward(lo, hi int) {
	I, W := m.Inner, m.cell.width()*m.Inner
	if !m.cfg.LogSpace {
		linearGates(m.cell, false, m.pre.Data[lo*W:hi*W], m.a.Data[lo*I:hi*I], m.h.Data[lo*I:hi*I], nil, I)
		if m.keep != nil {
			for r := lo; r < hi; r++ {
				if m.keep[r] == 0 { // identity step: a = 1, b = 0
					a := m.a.Data[r*I : (r+1)*I]
					for j := range a {
						a[j] = 1
					}
					clear(m.h.Data[r*I : (r+1)*I])
				}
			}
		}
		return
	}
	for r := lo; r < hi; r++ {
		m.cell.log(m.pre.Data[r*W:(r+1)*W], m.a.Data[r*I:(r+1)*I], m.b.Data[r*I:(r+1)*I])
	}
}

// Backward takes dy [B, T, Dim] and returns dx. Parameter gradients are
// added; the gradient of a carried initial state is in StateGrad.
func (m *minRNN) Backward(dy *Tensor) *Tensor {
	if m.x == nil {
		panic(fmt.Sprintf("nn: %s: Backward before Forward", m.name))
	}
	mustShape(m.name, "dy", dy, m.y.Shape...)
	d := m.dims
	if m.Out != nil {
		m.dh = m.Out.Backward(dy)
	} else {
		m.dh = dy
	}
	m.da.Resize(d.B, d.T, d.D)
	m.db.Resize(d.B, d.T, d.D)
	var dh0, h0s []float32
	if m.hasH0 {
		m.dh0 = grow(m.dh0, d.State())
		dh0, h0s = m.dh0, m.h0
	}
	if m.cfg.LogSpace {
		// ∂L/∂log h = ∂L/∂h · h
		m.dhBuf.Resize(d.B, d.T, d.D)
		for i, v := range m.dh.Data {
			m.dhBuf.Data[i] = v * m.h.Data[i]
		}
		scan.LogBackward(m.da.Data, m.db.Data, dh0, m.dhBuf.Data, m.a.Data, m.b.Data, m.logh.Data, h0s, d)
	} else {
		scan.Backward(m.da.Data, m.db.Data, dh0, m.dh.Data, m.a.Data, m.h.Data, h0s, d)
	}
	m.dpre.Resize(m.pre.Shape...)
	par.For(d.B*d.T, par.Grain(d.B*d.T, 8), m.bwdK)
	dx := m.Proj.Backward(&m.dpre)
	m.initialStateBackward()
	return dx
}

func (m *minRNN) gatesBackward(lo, hi int) {
	I, W := m.Inner, m.cell.width()*m.Inner
	if !m.cfg.LogSpace {
		linearGates(m.cell, true, m.pre.Data[lo*W:hi*W], m.da.Data[lo*I:hi*I], m.db.Data[lo*I:hi*I], m.dpre.Data[lo*W:hi*W], I)
		if m.keep != nil {
			for r := lo; r < hi; r++ {
				if m.keep[r] == 0 { // a and b were constants there
					clear(m.dpre.Data[r*W : (r+1)*W])
				}
			}
		}
		return
	}
	for r := lo; r < hi; r++ {
		m.cell.logGrad(m.pre.Data[r*W:(r+1)*W], m.da.Data[r*I:(r+1)*I], m.db.Data[r*I:(r+1)*I], m.dpre.Data[r*W:(r+1)*W])
	}
}

// initialStateBackward turns the scan's gradient for h0 (or log h0) into the
// carried state's gradient or the learned vector's.
func (m *minRNN) initialStateBackward() {
	if !m.hasH0 {
		return
	}
	B := m.dims.B
	if m.carry {
		m.h0Grad = grow(m.h0Grad, len(m.dh0))
		copy(m.h0Grad, m.dh0)
		if m.cfg.LogSpace { // ∂L/∂h0 = ∂L/∂log h0 / h0, with h0 = exp(log h0)
			for i, lv := range m.h0 {
				m.h0Grad[i] /= float32(math.Exp(float64(lv)))
			}
		}
		return
	}
	// Learned: h0 = g(v) (or log h0 = log g(v)) for every sequence, so
	// dv = g'(v) Σ_b dh0[b] in a fixed order.
	I := m.Inner
	var gp [vblock]float32
	var ev [vblock]float32
	v := m.H0.Value.Data
	for j0 := 0; j0 < I; j0 += vblock {
		n := min(vblock, I-j0)
		if m.cfg.LogSpace {
			var lg [vblock]float32
			logG(lg[:n], gp[:n], v[j0:j0+n])
		} else {
			expNeg(ev[:n], v[j0:j0+n])
			for j := 0; j < n; j++ {
				_, gp[j] = gFromExp(v[j0+j], ev[j])
			}
		}
		for j := 0; j < n; j++ {
			var s float64
			for b := 0; b < B; b++ {
				s += float64(m.dh0[b*I+j0+j])
			}
			m.H0.Grad.Data[j0+j] += float32(s) * gp[j]
		}
	}
}

// StateGrad returns ∂L/∂h0 for the state passed to the last Forward (nil if
// none was passed). It is owned by the layer.
func (m *minRNN) StateGrad() []float32 {
	if !m.carry {
		return nil
	}
	return m.h0Grad
}

// FinalState copies the last state of each sequence of the last Forward,
// h_{T-1} [B·Inner], into dst: pass it as h0 to continue the sequences.
func (m *minRNN) FinalState(dst []float32) {
	d := m.dims
	if len(dst) != d.State() {
		panic(fmt.Sprintf("nn: %s: FinalState needs %d elements, got %d", m.name, d.State(), len(dst)))
	}
	if d.T == 0 {
		m.InitialState(dst)
		return
	}
	for b := 0; b < d.B; b++ {
		o := (b*d.T + d.T - 1) * d.D
		copy(dst[b*d.D:(b+1)*d.D], m.h.Data[o:o+d.D])
	}
}

// InitialState fills dst [B·Inner] with the state a fresh sequence starts
// from: g(v) when LearnedH0, else 0.
func (m *minRNN) InitialState(dst []float32) {
	if len(dst)%m.Inner != 0 {
		panic(fmt.Sprintf("nn: %s: state length %d is not a multiple of %d", m.name, len(dst), m.Inner))
	}
	if m.H0 == nil {
		clear(dst)
		return
	}
	for b := 0; b < len(dst); b += m.Inner {
		gVec(dst[b:b+m.Inner], m.H0.Value.Data)
	}
}

// Step is sequential mode: one time step for B sequences, x [B·Dim] ->
// y [B·Dim], with the state [B·Inner] carried by the caller and updated in
// place. Its work is O(1) in the sequence length; it matches Forward step
// by step. It uses layer-owned scratch: one goroutine per layer at a time.
func (m *minRNN) Step(y, x, state []float32) {
	D := m.cfg.Dim
	if len(x)%D != 0 || len(y) != len(x) || len(state) != len(x)/D*m.Inner {
		panic(fmt.Sprintf("nn: %s: Step with %d inputs, %d outputs, %d state elements (Dim %d, Inner %d)",
			m.name, len(x), len(y), len(state), D, m.Inner))
	}
	B, I, W := len(x)/D, m.Inner, m.cell.width()*m.Inner
	m.stepPre = grow(m.stepPre, B*W)
	m.stepA = grow(m.stepA, B*I)
	m.stepB = grow(m.stepB, B*I)
	m.Proj.Apply(m.stepPre, x, B)
	linearGates(m.cell, false, m.stepPre, m.stepA, m.stepB, nil, I)
	scan.Step(state, m.stepA, m.stepB)
	if m.Out != nil {
		m.Out.Apply(y, state, B)
	} else {
		copy(y, state)
	}
}

// ScratchBytes is the memory the layer holds for activations, gradients
// and scratch (its projections included).
func (m *minRNN) ScratchBytes() int {
	n := m.Proj.ScratchBytes() + m.a.CapBytes() + m.b.CapBytes() + m.logh.CapBytes() + m.h.CapBytes() +
		m.dhBuf.CapBytes() + m.da.CapBytes() + m.db.CapBytes() + m.dpre.CapBytes() +
		4*(cap(m.h0)+cap(m.dh0)+cap(m.h0Grad)+cap(m.stepA)+cap(m.stepB)+cap(m.stepPre))
	if m.Out != nil {
		n += m.Out.ScratchBytes()
	}
	return n
}

// MinGRU is the paper's minimal GRU:
//
//	k, u = x W_k + b_k, x W_u + b_u      (one projection, all time steps)
//	z_t = σ(k_t),  h̃_t = g(u_t)
//	h_t = (1 − z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
//	y_t = h_t W_o + b_o                  (only when the state is expanded)
type MinGRU struct{ *minRNN }

// NewMinGRU returns a MinGRU layer. It panics on a non-positive Dim or
// expansion.
func NewMinGRU(name string, cfg MinRNNConfig, rng *rand.Rand) *MinGRU {
	if cfg.NoNorm {
		panic(fmt.Sprintf("nn: %s: NoNorm applies to MinLSTM only", name))
	}
	return &MinGRU{newMinRNN(name, cfg, minGRUCell{}, rng)}
}

// MinLSTM is the paper's minimal LSTM:
//
//	f_t = σ(k_f),  i_t = σ(k_i),  h̃_t = g(u_t)
//	f'_t = f_t/(f_t + i_t),  i'_t = i_t/(f_t + i_t)
//	h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t
//	y_t = h_t W_o + b_o                  (only when the state is expanded)
type MinLSTM struct{ *minRNN }

// NewMinLSTM returns a MinLSTM layer. It panics on a non-positive Dim or
// expansion.
func NewMinLSTM(name string, cfg MinRNNConfig, rng *rand.Rand) *MinLSTM {
	return &MinLSTM{newMinRNN(name, cfg, minLSTMCell{noNorm: cfg.NoNorm}, rng)}
}
