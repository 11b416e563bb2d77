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
		clampBelow(d, -80) // σ(-80) ≈ 1.8e-35: saturated, and exp stays finite
		vek32.Neg_Inplace(d)
		expBlock(d)
		vek32.AddNumber_Inplace(d, 1)
		vek32.Inv_Inplace(d)
	}
}

func clampBelow(d []float32, lo float32) {
	for k, v := range d {
		if v < lo {
			d[k] = lo
		}
	}
}

// Tanh sets dst[i] = tanh(x[i]). dst may alias x.
func Tanh(dst, x []float32) {
	mustSameLen("Tanh", dst, x)
	var e [vblock]float32
	for i := 0; i < len(x); i += vblock {
		xs := x[i:min(i+vblock, len(x))]
		es := e[:len(xs)]
		// e = exp(-2|x|), at most 1, never overflows.
		copy(es, xs)
		vek32.Abs_Inplace(es)
		clampAbove(es, 40) // tanh(40) rounds to 1
		vek32.MulNumber_Inplace(es, -2)
		expBlock(es)
		d := dst[i : i+len(xs)]
		for k, v := range xs {
			a := float32(math.Abs(float64(v)))
			var t float32
			if a < 0.625 {
				t = tanhSmall(a)
			} else {
				t = (1 - es[k]) / (1 + es[k])
			}
			if v < 0 {
				t = -t
			}
			d[k] = t
		}
	}
}

func clampAbove(d []float32, hi float32) {
	for k, v := range d {
		if v > hi {
			d[k] = hi
		}
	}
}

// tanhSmall is Cephes' tanhf polynomial for 0 <= x < 0.625, where
// (1-e)/(1+e) would cancel.
func tanhSmall(x float32) float32 {
	z := x * x
	p := ((((-5.70498872745e-3*z+2.06390887954e-2)*z-5.37397155531e-2)*z+1.33314422036e-1)*z - 3.33332819422e-1)
	return x + x*z*p
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
