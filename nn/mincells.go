package nn

import "math"

// Gate arithmetic of minGRU and minLSTM (Feng et al. 2024), one row of
// inner units at a time. A row of pre-activations holds the cell's
// projections side by side: minGRU [k | u], minLSTM [k_f | k_i | u].
// Each cell turns them into the coefficients of h_t = a_t h_{t-1} + b_t,
// either directly (linear space) or as logarithms (the paper's log-space
// form), and back-propagates gradients of a, b into the pre-activations.
//
// The positivity function g keeps candidates positive so both forms are the
// same model (paper §9.1):
//
//	g(u) = u + ½ (u ≥ 0),  σ(u) (u < 0);   log g(u) = log(relu(u) + ½) (u ≥ 0),  −softplus(−u) (u < 0)
//
// Gate pre-activations are clamped to ±gateClamp before exp: σ(±80) is 0 or
// 1 to float32 precision, and exp stays finite, so no NaN comes from e·z.

type cell interface {
	kind() cellKind
	width() int // pre-activation columns per inner unit
	linear(pre, a, b []float32)
	linearGrad(pre, da, db, dpre []float32)
	log(pre, loga, logb []float32)
	logGrad(pre, dloga, dlogb, dpre []float32)
}

const gateClamp = 80

type cellKind int

const (
	kindMinGRU cellKind = iota
	kindMinLSTM
	kindMinLSTMNoNorm
)

// nativeGates, when set (build tag openblas), runs a cell's linear-space
// gate kernel over whole row ranges in vectorised C: forward (grad false)
// fills a and b from pre; backward reads da, db (passed as a, b) and fills
// dpre. It computes the same formulas as the Go cells below.
var nativeGates func(kind cellKind, grad bool, pre, a, b, dpre []float32, I int)

// linearGates runs the linear-space gate kernel of c over rows = len(a)/I
// rows: forward (grad false) fills a, b from pre; backward reads da, db
// (passed as a, b) and fills dpre. It uses the C kernels when built in,
// else the vectorised Go ones.
func linearGates(c cell, grad bool, pre, a, b, dpre []float32, I int) {
	if nativeGates != nil {
		nativeGates(c.kind(), grad, pre, a, b, dpre, I)
		return
	}
	goGates(c, grad, pre, a, b, dpre, I)
}

// expNeg sets e[j] = exp(−clamp(x[j], ±gateClamp)); then σ(x) = 1/(1+e) and
// σ(−x) = e/(1+e), both to full relative precision.
func expNeg(e, x []float32) {
	for j, v := range x {
		e[j] = -min(max(v, -gateClamp), gateClamp)
	}
	expBlock(e)
}

// gFromExp returns g(u) and g'(u) given eu = exp(−u).
func gFromExp(u, eu float32) (g, gp float32) {
	if u >= 0 {
		return u + 0.5, 1
	}
	s := 1 / (1 + eu)
	return s, s * (eu * s)
}

// logG sets lg[j] = log g(u[j]) (any length); lgp (if not nil) gets
// d log g / du.
func logG(lg, lgp, u []float32) {
	for j0 := 0; j0 < len(u); j0 += vblock {
		j1 := min(j0+vblock, len(u))
		var p []float32
		if lgp != nil {
			p = lgp[j0:j1]
		}
		logGBlock(lg[j0:j1], p, u[j0:j1])
	}
}

// logGBlock is logG for at most vblock values.
func logGBlock(lg, lgp, u []float32) {
	var t [vblock]float32
	n := len(u)
	for j, v := range u {
		t[j] = -v
	}
	Softplus(t[:n], t[:n]) // softplus(−u)
	for j, v := range u {
		lg[j] = max(v, 0) + 0.5
	}
	Log(lg, lg)
	var eu [vblock]float32
	if lgp != nil {
		expNeg(eu[:n], u)
	}
	for j, v := range u {
		if v < 0 {
			lg[j] = -t[j]
		}
		if lgp != nil {
			if v >= 0 {
				lgp[j] = 1 / (v + 0.5)
			} else {
				lgp[j] = eu[j] / (1 + eu[j]) // σ(−u)
			}
		}
	}
}

// minGRUCell: z = σ(k), a = 1 − z, b = z·g(u).
type minGRUCell struct{}

func (minGRUCell) kind() cellKind { return kindMinGRU }
func (minGRUCell) width() int     { return 2 }

func (minGRUCell) linear(pre, a, b []float32) {
	I := len(a)
	var ek, eu [vblock]float32
	for j0 := 0; j0 < I; j0 += vblock {
		n := min(vblock, I-j0)
		k, u := pre[j0:j0+n], pre[I+j0:I+j0+n]
		expNeg(ek[:n], k)
		expNeg(eu[:n], u)
		aa, bb := a[j0:j0+n], b[j0:j0+n]
		for j := range aa {
			z := 1 / (1 + ek[j])
			g, _ := gFromExp(u[j], eu[j])
			aa[j] = ek[j] * z // σ(−k) = 1 − z without cancellation
			bb[j] = z * g
		}
	}
}

// linearGrad: dz = db·g(u) − da, dk = dz·z(1−z), du = db·z·g'(u).
func (minGRUCell) linearGrad(pre, da, db, dpre []float32) {
	I := len(da)
	var ek, eu [vblock]float32
	for j0 := 0; j0 < I; j0 += vblock {
		n := min(vblock, I-j0)
		k, u := pre[j0:j0+n], pre[I+j0:I+j0+n]
		expNeg(ek[:n], k)
		expNeg(eu[:n], u)
		dk, du := dpre[j0:j0+n], dpre[I+j0:I+j0+n]
		for j := range dk {
			z := 1 / (1 + ek[j])
			zc := ek[j] * z
			g, gp := gFromExp(u[j], eu[j])
			dbj := db[j0+j]
			dk[j] = (dbj*g - da[j0+j]) * z * zc
			du[j] = dbj * z * gp
		}
	}
}

// log: log a = −softplus(k), log b = −softplus(−k) + log g(u).
func (minGRUCell) log(pre, loga, logb []float32) {
	I := len(loga)
	var sp, lg [vblock]float32
	for j0 := 0; j0 < I; j0 += vblock {
		n := min(vblock, I-j0)
		k, u := pre[j0:j0+n], pre[I+j0:I+j0+n]
		la, lb := loga[j0:j0+n], logb[j0:j0+n]
		Softplus(la, k)
		for j, v := range k {
			sp[j] = -v
		}
		Softplus(sp[:n], sp[:n])
		logG(lg[:n], nil, u)
		for j := range la {
			la[j] = -la[j]
			lb[j] = -sp[j] + lg[j]
		}
	}
}

// logGrad: dk = −dloga·σ(k) + dlogb·σ(−k), du = dlogb·(log g)'(u).
func (minGRUCell) logGrad(pre, dloga, dlogb, dpre []float32) {
	I := len(dloga)
	var ek, lg, lgp [vblock]float32
	for j0 := 0; j0 < I; j0 += vblock {
		n := min(vblock, I-j0)
		k, u := pre[j0:j0+n], pre[I+j0:I+j0+n]
		expNeg(ek[:n], k)
		logG(lg[:n], lgp[:n], u)
		dk, du := dpre[j0:j0+n], dpre[I+j0:I+j0+n]
		for j := range dk {
			z := 1 / (1 + ek[j])
			dk[j] = -dloga[j0+j]*z + dlogb[j0+j]*(ek[j]*z)
			du[j] = dlogb[j0+j] * lgp[j]
		}
	}
}

// lstmNorm returns minLSTM's normalised gates f' = f/(f+i), i' = i/(f+i)
// for pre-activations kf, ki, given f = σ(kf), i = σ(ki) as the kernels
// compute them (from exps clamped at ±gateClamp). Past the clamp f and i
// lose their ratio (below −80 both are σ(−80)), so there the exact form
// is used, in float64: with diff = softplus(−kf) − softplus(−ki) = log i −
// log f, f' = σ(−diff) and i' = σ(diff). It is rare (a gate driven past
// ±80) and stays off the vectorised paths' fast lanes.
func lstmNorm(kf, ki, f, i float32) (fn, in float32) {
	if !(kf < -gateClamp || ki < -gateClamp) {
		s := f + i
		return f / s, i / s
	}
	return lstmNormExact(kf, ki)
}

func lstmNormExact(kf, ki float32) (fn, in float32) {
	diff := softplus64(-float64(kf)) - softplus64(-float64(ki))
	if diff >= 0 {
		e := math.Exp(-diff)
		return float32(e / (1 + e)), float32(1 / (1 + e))
	}
	e := math.Exp(diff)
	return float32(1 / (1 + e)), float32(e / (1 + e))
}

// softplus64 is log(1 + eˣ) without overflow.
func softplus64(x float64) float64 { return max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }

// minLSTMCell: f = σ(k_f), i = σ(k_i). Normalised (the paper's final
// form): a = f/(f+i), b = i/(f+i)·g(u), so a + b/g = 1. Without
// normalisation (the official code's use_coeff_norm=false): a = f, b = i·g(u).
type minLSTMCell struct{ noNorm bool }

func (c minLSTMCell) kind() cellKind {
	if c.noNorm {
		return kindMinLSTMNoNorm
	}
	return kindMinLSTM
}

func (minLSTMCell) width() int { return 3 }

func (c minLSTMCell) linear(pre, a, b []float32) {
	I := len(a)
	var ef, ei, eu [vblock]float32
	for j0 := 0; j0 < I; j0 += vblock {
		n := min(vblock, I-j0)
		kf, ki, u := pre[j0:j0+n], pre[I+j0:I+j0+n], pre[2*I+j0:2*I+j0+n]
		expNeg(ef[:n], kf)
		expNeg(ei[:n], ki)
		expNeg(eu[:n], u)
		aa, bb := a[j0:j0+n], b[j0:j0+n]
		for j := range aa {
			f, i := 1/(1+ef[j]), 1/(1+ei[j])
			g, _ := gFromExp(u[j], eu[j])
			if c.noNorm {
				aa[j], bb[j] = f, i*g
				continue
			}
			fn, in := lstmNorm(kf[j], ki[j], f, i)
			aa[j] = fn
			bb[j] = in * g
		}
	}
}

// linearGrad, normalised: with f' = f/s, i' = i/s, s = f+i and di' = db·g,
//
//	dk_f = (da − di')·f'i'·(1−f),  dk_i = (di' − da)·f'i'·(1−i),  du = db·i'·g'(u);
//
// unnormalised: dk_f = da·f(1−f), dk_i = db·g·i(1−i), du = db·i·g'(u).
func (c minLSTMCell) linearGrad(pre, da, db, dpre []float32) {
	I := len(da)
	var ef, ei, eu [vblock]float32
	for j0 := 0; j0 < I; j0 += vblock {
		n := min(vblock, I-j0)
		kf, ki, u := pre[j0:j0+n], pre[I+j0:I+j0+n], pre[2*I+j0:2*I+j0+n]
		expNeg(ef[:n], kf)
		expNeg(ei[:n], ki)
		expNeg(eu[:n], u)
		dkf, dki, du := dpre[j0:j0+n], dpre[I+j0:I+j0+n], dpre[2*I+j0:2*I+j0+n]
		for j := range dkf {
			f, i := 1/(1+ef[j]), 1/(1+ei[j])
			fc, ic := ef[j]*f, ei[j]*i
			g, gp := gFromExp(u[j], eu[j])
			daj, dbj := da[j0+j], db[j0+j]
			if c.noNorm {
				dkf[j] = daj * f * fc
				dki[j] = dbj * g * i * ic
				du[j] = dbj * i * gp
				continue
			}
			fn, in := lstmNorm(kf[j], ki[j], f, i)
			d := (daj - dbj*g) * fn * in
			dkf[j] = d * fc
			dki[j] = -d * ic
			du[j] = dbj * in * gp
		}
	}
}

// log, normalised: diff = softplus(−k_f) − softplus(−k_i) = log i − log f,
// log a = −softplus(diff), log b = −softplus(−diff) + log g(u);
// unnormalised: log a = −softplus(−k_f), log b = −softplus(−k_i) + log g(u).
func (c minLSTMCell) log(pre, loga, logb []float32) {
	I := len(loga)
	var sf, si, lg [vblock]float32
	for j0 := 0; j0 < I; j0 += vblock {
		n := min(vblock, I-j0)
		kf, ki, u := pre[j0:j0+n], pre[I+j0:I+j0+n], pre[2*I+j0:2*I+j0+n]
		negSoftplus(sf[:n], kf) // log f
		negSoftplus(si[:n], ki) // log i
		logG(lg[:n], nil, u)
		la, lb := loga[j0:j0+n], logb[j0:j0+n]
		if c.noNorm {
			for j := range la {
				la[j] = sf[j]
				lb[j] = si[j] + lg[j]
			}
			continue
		}
		for j := range la {
			sf[j] = si[j] - sf[j] // diff
		}
		negSoftplus(lb, sf[:n]) // log i' = −softplus(−diff)
		for j := range la {
			si[j] = -sf[j]
		}
		negSoftplus(la, si[:n]) // log f' = −softplus(diff)
		for j := range lb {
			lb[j] += lg[j]
		}
	}
}

// negSoftplus sets dst[j] = −softplus(−x[j]) = log σ(x[j]).
func negSoftplus(dst, x []float32) {
	for j, v := range x {
		dst[j] = -v
	}
	Softplus(dst, dst)
	for j := range dst {
		dst[j] = -dst[j]
	}
}

// logGrad, normalised: d diff = −dloga·σ(diff) + dlogb·σ(−diff),
// dk_f = −d diff·σ(−k_f), dk_i = d diff·σ(−k_i), du = dlogb·(log g)'(u);
// unnormalised: dk_f = dloga·σ(−k_f), dk_i = dlogb·σ(−k_i).
func (c minLSTMCell) logGrad(pre, dloga, dlogb, dpre []float32) {
	I := len(dloga)
	var ef, ei, lg, lgp, sf, si, ed [vblock]float32
	for j0 := 0; j0 < I; j0 += vblock {
		n := min(vblock, I-j0)
		kf, ki, u := pre[j0:j0+n], pre[I+j0:I+j0+n], pre[2*I+j0:2*I+j0+n]
		expNeg(ef[:n], kf)
		expNeg(ei[:n], ki)
		logG(lg[:n], lgp[:n], u)
		dkf, dki, du := dpre[j0:j0+n], dpre[I+j0:I+j0+n], dpre[2*I+j0:2*I+j0+n]
		if c.noNorm {
			for j := range dkf {
				dkf[j] = dloga[j0+j] * (ef[j] / (1 + ef[j]))
				dki[j] = dlogb[j0+j] * (ei[j] / (1 + ei[j]))
				du[j] = dlogb[j0+j] * lgp[j]
			}
			continue
		}
		negSoftplus(sf[:n], kf)
		negSoftplus(si[:n], ki)
		for j := range sf[:n] {
			sf[j] = si[j] - sf[j] // diff
		}
		expNeg(ed[:n], sf[:n])
		for j := range dkf {
			sd := 1 / (1 + ed[j]) // σ(diff) = i'
			sdc := ed[j] * sd     // σ(−diff) = f'
			dd := -dloga[j0+j]*sd + dlogb[j0+j]*sdc
			dkf[j] = -dd * (ef[j] / (1 + ef[j]))
			dki[j] = dd * (ei[j] / (1 + ei[j]))
			du[j] = dlogb[j0+j] * lgp[j]
		}
	}
}
