package report

import (
	"math"
	"math/rand/v2"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// Critical values of Student's t from the printed tables (e.g. NIST/SEMATECH
// e-Handbook, table 1.3.6.7.2), six decimals.
func TestTQuantilesMatchTables(t *testing.T) {
	for _, c := range []struct{ p, dof, want float64 }{
		{0.975, 4, 2.776445}, {0.95, 4, 2.131847}, {0.975, 2, 4.302653}, {0.95, 2, 2.919986},
		{0.975, 9, 2.262157}, {0.95, 9, 1.833113}, {0.975, 1, 12.706205}, {0.025, 4, -2.776445},
	} {
		if got := tQuantile(c.p, c.dof); !near(got, c.want, 1e-6) {
			t.Errorf("t quantile %g with %g dof = %.7f, want %.6f", c.p, c.dof, got, c.want)
		}
	}
	if !math.IsNaN(tQuantile(0.975, 0)) {
		t.Error("0 degrees of freedom gave a quantile")
	}
}

// The worked example below was computed independently of gonum (python3,
// math only) from the closed form of the t CDF with 4 degrees of freedom,
// F(t) = 1/2 + (3/4)·x·(1 − x²/3) with x = t/√(t² + 4), and with 2,
// F(t) = 1/2 + t/(2√(2 + t²)):
//
//	d = 1.2, −0.8, 2.5, 0.3, 1.8: mean 1, sd 1.2903488, se 0.5770615,
//	95% CI 1 ± 2.776445·se = [−0.6021796, 2.6021796], 90% CI [−0.2302069, 2.2302069],
//	pLow = 1 − F((1 + 5)/se) = 0.00024159440, pHigh = F((1 − 5)/se) = 0.0011370821: equivalent.
//	d = 3, 6, 4.5: mean 4.5, se 0.8660254, pLow = 0.0041040366, pHigh = 0.31101776: inconclusive.
func TestTOSTWorkedExample(t *testing.T) {
	d := []float64{1.2, -0.8, 2.5, 0.3, 1.8}
	ci := meanCI(d, 0.95)
	if !near(ci.mean, 1, 1e-12) || !near(ci.lo, -0.6021796, 1e-6) || !near(ci.hi, 2.6021796, 1e-6) || ci.n != 5 || ci.dof != 4 {
		t.Errorf("95%% interval %+v, want 1 in [-0.6021796, 2.6021796]", ci)
	}
	r := tost(d, 5, 0.05)
	if !near(r.lo, -0.2302069, 1e-6) || !near(r.hi, 2.2302069, 1e-6) || !near(r.sd, 1.2903488, 1e-7) {
		t.Errorf("90%% interval [%v, %v], sd %v; want [-0.2302069, 2.2302069], 1.2903488", r.lo, r.hi, r.sd)
	}
	if !near(r.pLow, 0.00024159440, 1e-10) || !near(r.pHigh, 0.0011370821, 1e-9) || r.verdict != verdictEquivalent {
		t.Errorf("p %v, %v, %q; want 0.00024159440, 0.0011370821, equivalent", r.pLow, r.pHigh, r.verdict)
	}
	r = tost([]float64{3, 6, 4.5}, 5, 0.05)
	if !near(r.pLow, 0.0041040366, 1e-9) || !near(r.pHigh, 0.31101776, 1e-7) || r.verdict != verdictInconclusive {
		t.Errorf("p %v, %v, %q; want 0.0041040366, 0.31101776, inconclusive", r.pLow, r.pHigh, r.verdict)
	}
	// Wholly beyond the margin: 9 ± 2.919986·(1/√3) = [7.314, 10.686].
	if r = tost([]float64{8, 9, 10}, 5, 0.05); r.verdict != verdictNotEquivalent || !near(r.lo, 9-2.919986/math.Sqrt(3), 1e-6) {
		t.Errorf("d = 8, 9, 10: %+v, want not equivalent", r)
	}
	if r = tost([]float64{-8, -9, -10}, 5, 0.05); r.verdict != verdictNotEquivalent {
		t.Errorf("d = -8, -9, -10: %q, want not equivalent", r.verdict)
	}
	for _, d := range [][]float64{nil, {1}} {
		if r = tost(d, 5, 0.05); r.verdict != verdictTooFew || !math.IsNaN(r.pLow) {
			t.Errorf("%d differences: %+v, want not enough seeds", len(d), r)
		}
	}
	// Identical differences: no spread, the tests are certain.
	if r = tost([]float64{2, 2, 2}, 5, 0.05); r.verdict != verdictEquivalent || r.pLow != 0 || r.pHigh != 0 {
		t.Errorf("d = 2, 2, 2: %+v", r)
	}
	if r = tost([]float64{6, 6}, 5, 0.05); r.verdict != verdictNotEquivalent || r.pHigh != 1 {
		t.Errorf("d = 6, 6: %+v", r)
	}
}

// On fresh random differences the verdict agrees with the interval rule of
// docs/protocol.md, and each one-sided p-value with its interval bound.
func TestTOSTVerdictMatchesInterval(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 5))
	const margin, alpha = 5.0, 0.05
	counts := map[string]int{}
	for range 2000 {
		d := make([]float64, 2+rng.IntN(7))
		mu, sd := 16*rng.Float64()-8, 8*rng.Float64()
		for i := range d {
			d[i] = mu + sd*rng.NormFloat64()
		}
		r := tost(d, margin, alpha)
		if math.Abs(r.lo+margin) < 1e-9 || math.Abs(r.hi-margin) < 1e-9 {
			continue // on the boundary
		}
		counts[r.verdict]++
		inside, outside := r.lo > -margin && r.hi < margin, r.lo >= margin || r.hi <= -margin
		want := verdictInconclusive
		if inside {
			want = verdictEquivalent
		} else if outside {
			want = verdictNotEquivalent
		}
		if r.verdict != want || (r.pLow < alpha) != (r.lo > -margin) || (r.pHigh < alpha) != (r.hi < margin) {
			t.Fatalf("d = %v: %+v, want %s", d, r, want)
		}
	}
	for _, v := range []string{verdictEquivalent, verdictNotEquivalent, verdictInconclusive} {
		if counts[v] < 50 {
			t.Errorf("only %d random cases were %s: the check is weak", counts[v], v)
		}
	}
}

// Welch's interval with equal sizes and variances has 2n − 2 degrees of
// freedom: a = 1, 2, 3 and b = 4, 5, 6 give −3 ± 2.776445·√(2/3) =
// [−5.266958, −0.733042]. Unequal ones: a = 1, 2, 3, 4 and b = 2, 4, 6 have
// se² = (5/3)/4 + 4/3 = 1.75 and dof = 1.75²/((5/12)²/3 + (4/3)²/2) = 3.234719.
func TestWelch(t *testing.T) {
	iv := welch([]float64{1, 2, 3}, []float64{4, 5, 6}, 0.95)
	if !near(iv.mean, -3, 1e-12) || !near(iv.dof, 4, 1e-12) || !near(iv.lo, -5.266958, 1e-6) || !near(iv.hi, -0.733042, 1e-6) {
		t.Errorf("equal variances: %+v, want -3 in [-5.266958, -0.733042], 4 dof", iv)
	}
	iv = welch([]float64{1, 2, 3, 4}, []float64{2, 4, 6}, 0.95)
	if !near(iv.mean, -1.5, 1e-12) || !near(iv.se, math.Sqrt(1.75), 1e-12) || !near(iv.dof, 3.234719, 1e-6) {
		t.Errorf("unequal variances: %+v, want -1.5, se √1.75, 3.234719 dof", iv)
	}
	if q := tQuantile(0.975, iv.dof); !(q < 3.182446 && q > 2.776445) { // between the 3- and 4-dof quantiles
		t.Errorf("quantile at %v dof: %v", iv.dof, q)
	}
	if iv = welch([]float64{3}, []float64{1, 2}, 0.95); iv.mean != 1.5 || !math.IsNaN(iv.lo) {
		t.Errorf("one value on a side: %+v, want the difference without an interval", iv)
	}
	if iv = welch(nil, []float64{1, 2}, 0.95); !math.IsNaN(iv.mean) {
		t.Errorf("an empty side: %+v", iv)
	}
}
