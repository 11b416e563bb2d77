package nn

import (
	"math"

	"github.com/viterin/vek/vek32"
)

// Vectorised float32 elementwise math. Go does not vectorise loops, and
// float64 math.Exp dominates a layer once its matrix products are fast, so
// the transcendental parts run through github.com/viterin/vek's AVX2
// routines (plain Go on other CPUs) in cache-sized blocks. Accuracy is
// within a few float32 ulps where the results matter (tested against
// float64 in vmath_test.go).
//
// vek's Exp and Log are only right on the normal range (Exp(-100) and
// Exp(88.7) come back as garbage, NaN becomes 0, Log(0) is NaN), so expBlock
// and logBlock send any block holding an input outside it, NaN included,
// through float64 math instead.

const vblock = 512

// Sigmoid sets dst[i] = 1/(1+exp(-x[i])). dst may alias x.
func Sigmoid(dst, x []float32) {
	mustSameLen("Sigmoid", dst, x)
	for i := 0; i < len(x); i += vblock {
		d := dst[i:min(i+vblock, len(x))]
		copy(d, x[i:i+len(d)])
		if !finite(d) {
			for k, v := range d {
				d[k] = float32(1 / (1 + math.Exp(-float64(v))))
			}
			continue
		}
		// σ(±80) is 0 or 1 to float32 precision; the clamp keeps exp finite.
		vek32.MaximumNumber_Inplace(d, -80)
		vek32.MinimumNumber_Inplace(d, 80)
		vek32.Neg_Inplace(d)
		vek32.Exp_Inplace(d)
		vek32.AddNumber_Inplace(d, 1)
		vek32.Inv_Inplace(d)
	}
}

// finite reports whether every element of d is finite, in one vector pass:
// a NaN or ±Inf anywhere makes the sum non-finite. (A finite block whose
// sum overflows is reported non-finite too; callers then take their exact
// slow path.)
func finite(d []float32) bool {
	s := float64(vek32.Sum(d))
	return !math.IsNaN(s) && !math.IsInf(s, 0)
}

// negMask is all ones when v is negative (sign bit set), else zero.
func negMask(v float32) uint32 { return uint32(int32(math.Float32bits(v)) >> 31) }

// pick returns x where mask is all ones, else y, without a branch.
func pick(mask uint32, x, y float32) float32 {
	return math.Float32frombits(math.Float32bits(x)&mask | math.Float32bits(y)&^mask)
}

// Tanh sets dst[i] = tanh(x[i]). dst may alias x.
//
// It evaluates Eigen's rational approximation tanh(x) ≈ x·P(x²)/Q(x²) on x
// clamped to ±7.9053 (where tanh rounds to ±1 in float32): one branch-free
// formula, accurate to a few ulps over the whole range, as vector passes.
func Tanh(dst, x []float32) {
	mustSameLen("Tanh", dst, x)
	var x2, q [vblock]float32
	for i := 0; i < len(x); i += vblock {
		xs := x[i:min(i+vblock, len(x))]
		n := len(xs)
		d := dst[i : i+n]
		if !finite(xs) {
			for k, v := range xs {
				d[k] = float32(math.Tanh(float64(v)))
			}
			continue
		}
		copy(d, xs)
		vek32.MinimumNumber_Inplace(d, 7.90531110763549805)
		vek32.MaximumNumber_Inplace(d, -7.90531110763549805)
		zs, qs := x2[:n], q[:n]
		vek32.Mul_Into(zs, d, d)
		// p = x·(((((( a13·x² + a11)x² + a9)x² + a7)x² + a5)x² + a3)x² + a1)
		copy(qs, zs)
		vek32.MulNumber_Inplace(qs, -2.76076847742355e-16)
		for _, c := range []float32{2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
			1.48572235717979e-05, 6.37261928875436e-04} {
			vek32.AddNumber_Inplace(qs, c)
			vek32.Mul_Inplace(qs, zs)
		}
		vek32.AddNumber_Inplace(qs, 4.89352455891786e-03)
		vek32.Mul_Inplace(d, qs) // d = p
		// q = ((b6·x² + b4)x² + b2)x² + b0
		copy(qs, zs)
		vek32.MulNumber_Inplace(qs, 1.19825839466702e-06)
		for _, c := range []float32{1.18534705686654e-04, 2.26843463243900e-03} {
			vek32.AddNumber_Inplace(qs, c)
			vek32.Mul_Inplace(qs, zs)
		}
		vek32.AddNumber_Inplace(qs, 4.89352518554385e-03)
		vek32.Div_Inplace(d, qs)
	}
}

// Softplus sets dst[i] = log(1+exp(x[i])), computed as
// max(x,0) + log1p(exp(-|x|)). dst may alias x.
func Softplus(dst, x []float32) {
	mustSameLen("Softplus", dst, x)
	var e, l [vblock]float32
	for i := 0; i < len(x); i += vblock {
		xs := x[i:min(i+vblock, len(x))]
		es, ls := e[:len(xs)], l[:len(xs)]
		copy(es, xs)
		vek32.Abs_Inplace(es)
		vek32.Neg_Inplace(es)
		expBlock(es) // t = exp(-|x|) in [0, 1]
		copy(ls, es)
		vek32.AddNumber_Inplace(ls, 1)
		logBlock(ls) // log(1+t), inexact when t is tiny
		d := dst[i : i+len(xs)]
		for k, v := range xs {
			t := es[k]
			u := 1 + t
			lp := t // log1p(t) = t for t below float32's resolution at 1
			if u != 1 {
				// Goldberg's correction: log(u)·t/(u−1) is log1p(t) to
				// within an ulp even when 1+t rounded.
				lp = ls[k] * (t / (u - 1))
			}
			d[k] = max(v, 0) + lp
		}
	}
}

// Exp sets dst[i] = exp(x[i]). dst may alias x.
func Exp(dst, x []float32) {
	mustSameLen("Exp", dst, x)
	for i := 0; i < len(x); i += vblock {
		d := dst[i:min(i+vblock, len(x))]
		copy(d, x[i:i+len(d)])
		expBlock(d)
	}
}

// Log sets dst[i] = log(x[i]). dst may alias x.
func Log(dst, x []float32) {
	mustSameLen("Log", dst, x)
	for i := 0; i < len(x); i += vblock {
		d := dst[i:min(i+vblock, len(x))]
		copy(d, x[i:i+len(d)])
		logBlock(d)
	}
}

// expBlock sets d[i] = exp(d[i]) in place.
func expBlock(d []float32) {
	for _, v := range d {
		if !(v >= -87 && v <= 88) { // also true for NaN
			for k, v := range d {
				d[k] = float32(math.Exp(float64(v)))
			}
			return
		}
	}
	vek32.Exp_Inplace(d)
}

// logBlock sets d[i] = log(d[i]) in place.
func logBlock(d []float32) {
	for _, v := range d {
		if !(v >= 0x1p-126 && v <= math.MaxFloat32) {
			for k, v := range d {
				d[k] = float32(math.Log(float64(v)))
			}
			return
		}
	}
	vek32.Log_Inplace(d)
}

func mustSameLen(fn string, dst, x []float32) {
	if len(dst) != len(x) {
		panic("nn: " + fn + ": dst and x differ in length")
	}
}
