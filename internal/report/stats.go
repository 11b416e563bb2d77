package report

import (
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// interval is an estimate with a two-sided t confidence interval: a mean
// over n values or a difference of two such means. lo and hi are NaN when
// there are too few values for a spread (n < 2 on some side).
type interval struct {
	n        int     // values (one side of a difference: the smaller)
	mean, se float64 // the estimate and its standard error
	dof      float64 // the t distribution's degrees of freedom
	lo, hi   float64
}

// studentT is the standard t distribution with dof degrees of freedom.
func studentT(dof float64) distuv.StudentsT { return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: dof} }

// tQuantile is the p quantile of the t distribution with dof degrees of
// freedom; dof 0 or NaN (no spread to estimate) gives NaN.
func tQuantile(p, dof float64) float64 {
	if !(dof > 0) {
		return math.NaN()
	}
	return studentT(dof).Quantile(p)
}

// withCI fills in the interval's bounds at level (0.95: a 95% interval).
// A zero standard error gives the point itself: every value was the same.
func (iv interval) withCI(level float64) interval {
	switch {
	case iv.se == 0:
		iv.lo, iv.hi = iv.mean, iv.mean
	default:
		h := tQuantile((1+level)/2, iv.dof) * iv.se
		iv.lo, iv.hi = iv.mean-h, iv.mean+h
	}
	return iv
}

// meanCI is the mean of xs with its t interval at level (n−1 degrees of
// freedom, the sample standard deviation).
func meanCI(xs []float64, level float64) interval {
	iv := interval{n: len(xs), mean: math.NaN(), se: math.NaN(), dof: float64(len(xs) - 1), lo: math.NaN(), hi: math.NaN()}
	switch len(xs) {
	case 0:
		return iv
	case 1:
		iv.mean = xs[0]
		return iv
	}
	mean, sd := stat.MeanStdDev(xs, nil)
	iv.mean, iv.se = mean, sd/math.Sqrt(float64(len(xs)))
	return iv.withCI(level)
}

// welch is mean(a) − mean(b) with Welch's t interval at level: standard
// error sqrt(s²a/na + s²b/nb), Welch–Satterthwaite degrees of freedom.
func welch(a, b []float64, level float64) interval {
	iv := interval{n: min(len(a), len(b)), mean: math.NaN(), se: math.NaN(), dof: math.NaN(), lo: math.NaN(), hi: math.NaN()}
	if len(a) == 0 || len(b) == 0 {
		return iv
	}
	iv.mean = stat.Mean(a, nil) - stat.Mean(b, nil)
	if len(a) < 2 || len(b) < 2 {
		return iv
	}
	va := stat.Variance(a, nil) / float64(len(a))
	vb := stat.Variance(b, nil) / float64(len(b))
	iv.se = math.Sqrt(va + vb)
	iv.dof = (va + vb) * (va + vb) / (va*va/float64(len(a)-1) + vb*vb/float64(len(b)-1))
	return iv.withCI(level)
}

// Verdicts of an equivalence test.
const (
	verdictEquivalent    = "equivalent"
	verdictNotEquivalent = "not equivalent"
	verdictInconclusive  = "inconclusive"
	verdictTooFew        = "not enough seeds"
)

// tostResult is a paired two one-sided tests (TOST) equivalence test of
// the mean difference against the margin (−margin, margin).
type tostResult struct {
	interval         // the mean difference and its (1 − 2α) interval
	sd       float64 // of the differences
	// pLow is the p-value of H0: mean ≤ −margin, pHigh of H0: mean ≥ margin.
	pLow, pHigh float64
	verdict     string
}

// tost tests whether the paired differences d are equivalent to zero
// within ±margin at level alpha: equivalent iff both one-sided p-values
// are below alpha, that is iff the (1 − 2α) t interval lies inside
// (−margin, margin). Not equivalent when that interval lies wholly
// outside (the difference exceeds the margin at one-sided level alpha);
// inconclusive otherwise; fewer than two differences are not enough.
func tost(d []float64, margin, alpha float64) tostResult {
	r := tostResult{interval: meanCI(d, 1-2*alpha), sd: math.NaN(), pLow: math.NaN(), pHigh: math.NaN(), verdict: verdictTooFew}
	if len(d) < 2 {
		return r
	}
	_, r.sd = stat.MeanStdDev(d, nil)
	if r.se == 0 { // identical differences: the tests are certain
		r.pLow, r.pHigh = step(r.mean <= -margin), step(r.mean >= margin)
	} else {
		t := studentT(r.dof)
		r.pLow = t.Survival((r.mean + margin) / r.se)
		r.pHigh = t.CDF((r.mean - margin) / r.se)
	}
	switch {
	case r.pLow < alpha && r.pHigh < alpha:
		r.verdict = verdictEquivalent
	case r.lo >= margin || r.hi <= -margin:
		r.verdict = verdictNotEquivalent
	default:
		r.verdict = verdictInconclusive
	}
	return r
}

func step(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
