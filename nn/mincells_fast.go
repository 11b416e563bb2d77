package nn

import (
	"math"

	"github.com/viterin/vek/vek32"
)

// Pure-Go fast path of the linear-space gate kernels (the default build's
// hot loop). It computes the formulas of the per-row cells in mincells.go,
// but on pieces of up to vblock pre-activations gathered across rows, so
// that each vectorised vek call runs on a long slice, and it selects
// between g's branches with bit masks instead of unpredictable branches.
// A piece with a non-finite pre-activation goes through the per-row cells,
// which propagate NaN (vek's min/max would not).

// gates scratch: one piece of every operand.
type gateScratch struct {
	k, k2, u, e1, e2, eu, s1, s2, su [vblock]float32
}

// goGates has nativeGates' contract.
func goGates(c cell, grad bool, pre, a, b, dpre []float32, I int) {
	rows := len(a) / I
	W := c.width() * I
	var s gateScratch
	do := func(r0, r1, c0, c1 int) {
		n := (r1 - r0) * (c1 - c0)
		o0, o1 := r0*I+c0, (r1-1)*I+c1 // a, b, da, db: contiguous
		ok := gather(s.k[:n], pre, W, 0, r0, r1, c0, c1) &&
			gather(s.u[:n], pre, W, (c.width()-1)*I, r0, r1, c0, c1)
		if c.width() == 3 {
			ok = ok && gather(s.k2[:n], pre, W, I, r0, r1, c0, c1)
		}
		if !ok {
			slowGates(c, grad, pre, a, b, dpre, I, r0, r1, c0, c1)
			return
		}
		switch {
		case !grad && c.kind() == kindMinGRU:
			s.gruForward(n, a[o0:o1], b[o0:o1])
		case grad && c.kind() == kindMinGRU:
			s.gruBackward(n, a[o0:o1], b[o0:o1])
			scatter(dpre, s.k[:n], W, 0, r0, r1, c0, c1)
			scatter(dpre, s.u[:n], W, I, r0, r1, c0, c1)
		case !grad:
			s.lstmForward(n, c.kind() == kindMinLSTMNoNorm, a[o0:o1], b[o0:o1])
		default:
			s.lstmBackward(n, c.kind() == kindMinLSTMNoNorm, a[o0:o1], b[o0:o1])
			scatter(dpre, s.k[:n], W, 0, r0, r1, c0, c1)
			scatter(dpre, s.k2[:n], W, I, r0, r1, c0, c1)
			scatter(dpre, s.u[:n], W, 2*I, r0, r1, c0, c1)
		}
	}
	if I <= vblock {
		R := vblock / I
		for r0 := 0; r0 < rows; r0 += R {
			do(r0, min(r0+R, rows), 0, I)
		}
		return
	}
	for r := 0; r < rows; r++ {
		for c0 := 0; c0 < I; c0 += vblock {
			do(r, r+1, c0, min(c0+vblock, I))
		}
	}
}

// gather copies columns [c0, c1) of block off of rows [r0, r1) of pre
// (row stride W) into dst, and reports whether they are all finite.
func gather(dst, pre []float32, W, off, r0, r1, c0, c1 int) bool {
	w := c1 - c0
	for r := r0; r < r1; r++ {
		copy(dst[(r-r0)*w:(r-r0+1)*w], pre[r*W+off+c0:r*W+off+c1])
	}
	s := vek32.Sum(dst) // NaN or ±Inf anywhere makes the sum non-finite
	return !math.IsNaN(float64(s)) && !math.IsInf(float64(s), 0)
}

// scatter is gather's inverse for outputs.
func scatter(dpre, src []float32, W, off, r0, r1, c0, c1 int) {
	w := c1 - c0
	for r := r0; r < r1; r++ {
		copy(dpre[r*W+off+c0:r*W+off+c1], src[(r-r0)*w:(r-r0+1)*w])
	}
}

// slowGates runs the per-row cells on a piece: whole rows directly, a
// piece of a wider row as a narrow row assembled from its columns.
func slowGates(c cell, grad bool, pre, a, b, dpre []float32, I, r0, r1, c0, c1 int) {
	W := c.width() * I
	if c0 == 0 && c1 == I {
		for r := r0; r < r1; r++ {
			p, ar, br := pre[r*W:(r+1)*W], a[r*I:(r+1)*I], b[r*I:(r+1)*I]
			if grad {
				c.linearGrad(p, ar, br, dpre[r*W:(r+1)*W])
			} else {
				c.linear(p, ar, br)
			}
		}
		return
	}
	r, w, nb := r0, c1-c0, c.width()
	var p, dp [3 * vblock]float32
	for blk := 0; blk < nb; blk++ {
		copy(p[blk*w:(blk+1)*w], pre[r*W+blk*I+c0:r*W+blk*I+c1])
	}
	ar, br := a[r*I+c0:r*I+c1], b[r*I+c0:r*I+c1]
	if !grad {
		c.linear(p[:nb*w], ar, br)
		return
	}
	c.linearGrad(p[:nb*w], ar, br, dp[:nb*w])
	for blk := 0; blk < nb; blk++ {
		copy(dpre[r*W+blk*I+c0:r*W+blk*I+c1], dp[blk*w:(blk+1)*w])
	}
}

// expNegVec sets e = exp(−clamp(x, ±gateClamp)) for finite x.
func expNegVec(e, x []float32) {
	copy(e, x)
	vek32.MaximumNumber_Inplace(e, -gateClamp)
	vek32.MinimumNumber_Inplace(e, gateClamp)
	vek32.Neg_Inplace(e)
	vek32.Exp_Inplace(e)
}

// recip1p sets s = 1/(1+e): σ(x) from e = exp(−x).
func recip1p(s, e []float32) {
	copy(s, e)
	vek32.AddNumber_Inplace(s, 1)
	vek32.Inv_Inplace(s)
}

// g and g' from u, σ(u) and exp(−u): g = u+½ (u ≥ 0) or σ(u);
// g' = 1 or σ(u)(1−σ(u)).
func gPick(u, su, eu float32) (g, gp float32) {
	m := negMask(u)
	return pick(m, su, u+0.5), pick(m, su*(eu*su), 1)
}

// sigmoids sets e = exp(−x) and s = σ(x) for the gathered gate inputs:
// (e1, s1) from k, (e2, s2) from k2 when lstm, (eu, su) from u.
func (s *gateScratch) sigmoids(n int, lstm bool) {
	expNegVec(s.e1[:n], s.k[:n])
	recip1p(s.s1[:n], s.e1[:n])
	if lstm {
		expNegVec(s.e2[:n], s.k2[:n])
		recip1p(s.s2[:n], s.e2[:n])
	}
	expNegVec(s.eu[:n], s.u[:n])
	recip1p(s.su[:n], s.eu[:n])
}

// gruForward: a = σ(−k) = e·z, b = z·g(u).
func (s *gateScratch) gruForward(n int, a, b []float32) {
	s.sigmoids(n, false)
	ek, z, eu, su := s.e1[:n], s.s1[:n], s.eu[:n], s.su[:n]
	vek32.Mul_Into(a, ek, z)
	u := s.u[:n]
	for j := range b {
		g, _ := gPick(u[j], su[j], eu[j])
		b[j] = z[j] * g
	}
}

// gruBackward: dk = (db·g − da)·z(1−z), du = db·z·g'; results replace k, u.
func (s *gateScratch) gruBackward(n int, da, db []float32) {
	s.sigmoids(n, false)
	ek, z, eu, su := s.e1[:n], s.s1[:n], s.eu[:n], s.su[:n]
	dk, du := s.k[:n], s.u[:n]
	for j := range dk {
		g, gp := gPick(du[j], su[j], eu[j])
		zj := z[j]
		dk[j] = (db[j]*g - da[j]) * zj * (ek[j] * zj)
		du[j] = db[j] * zj * gp
	}
}

// lstmForward: f = σ(k_f), i = σ(k_i); a = f/(f+i), b = i/(f+i)·g(u), or
// a = f, b = i·g(u) without normalisation.
func (s *gateScratch) lstmForward(n int, noNorm bool, a, b []float32) {
	s.sigmoids(n, true)
	f, i, eu, su := s.s1[:n], s.s2[:n], s.eu[:n], s.su[:n]
	u, kf, ki := s.u[:n], s.k[:n], s.k2[:n]
	for j := range a {
		g, _ := gPick(u[j], su[j], eu[j])
		if noNorm {
			a[j], b[j] = f[j], i[j]*g
			continue
		}
		fn, in := lstmNorm(kf[j], ki[j], f[j], i[j])
		a[j] = fn
		b[j] = in * g
	}
}

// lstmBackward: see minLSTMCell.linearGrad; results replace k_f, k_i, u.
func (s *gateScratch) lstmBackward(n int, noNorm bool, da, db []float32) {
	s.sigmoids(n, true)
	ef, f, ei, i, eu, su := s.e1[:n], s.s1[:n], s.e2[:n], s.s2[:n], s.eu[:n], s.su[:n]
	dkf, dki, du := s.k[:n], s.k2[:n], s.u[:n]
	for j := range dkf {
		g, gp := gPick(du[j], su[j], eu[j])
		fj, ij := f[j], i[j]
		fc, ic := ef[j]*fj, ei[j]*ij
		if noNorm {
			dkf[j] = da[j] * fj * fc
			dki[j] = db[j] * g * ij * ic
			du[j] = db[j] * ij * gp
			continue
		}
		fn, in := lstmNorm(dkf[j], dki[j], fj, ij) // k_f, k_i: not yet overwritten
		d := (da[j] - db[j]*g) * fn * in
		dkf[j] = d * fc
		dki[j] = -d * ic
		du[j] = db[j] * in * gp
	}
}
