package nn

import (
	"math"
	"testing"
)

// The positivity function g (paper §9.1, claim 2 of its checklist): g is
// positive, continuous at 0 (σ(0) = 0 + ½), and exp(log g(u)) = g(u), with
// d log g/du = g'(u)/g(u), checked against float64 on a grid that straddles
// 0 and reaches the gate clamp.
func TestPositivityFunctionG(t *testing.T) {
	tiny := math.SmallestNonzeroFloat32
	us := []float32{0, float32(tiny), -float32(tiny), 1e-30, -1e-30, 1e-7, -1e-7,
		0.25, -0.25, 1, -1, 3, -3, 10, -10, 40, -40, -79.5, 80, 1e3, 1e4}
	eu := make([]float32, len(us))
	expNeg(eu, us)
	lg, lgp := make([]float32, len(us)), make([]float32, len(us))
	logG(lg, lgp, us)
	for j, u := range us {
		g, gp := gFromExp(u, eu[j])
		u64 := float64(u)
		want, wantp := g64(u64), 1.0
		if u64 < 0 {
			wantp = sig64(u64) * sig64(-u64)
		}
		if !(g > 0) {
			t.Errorf("g(%g) = %g, not positive", u, g)
		}
		rel := func(got, want float64) float64 { return math.Abs(got-want) / math.Abs(want) }
		if e := rel(float64(g), want); e > 1e-6 {
			t.Errorf("g(%g) = %g, float64 %g", u, g, want)
		}
		if e := rel(float64(gp), wantp); e > 1e-5 {
			t.Errorf("g'(%g) = %g, float64 %g", u, gp, wantp)
		}
		if e := rel(math.Exp(float64(lg[j])), want); e > 2e-6 {
			t.Errorf("exp(log g(%g)) = %g, g = %g (rel err %.2g)", u, math.Exp(float64(lg[j])), want, e)
		}
		if e := rel(float64(lgp[j]), wantp/want); e > 1e-5 {
			t.Errorf("(log g)'(%g) = %g, float64 %g", u, lgp[j], wantp/want)
		}
	}
	// Continuity at 0: the two branches meet at ½ (the slope jumps from
	// ¼ to 1, which the gradient checks step around).
	if g0, gm := g64(0), g64(-float64(tiny)); math.Abs(g0-0.5) > 0 || math.Abs(gm-0.5) > 1e-12 {
		t.Errorf("reference g not continuous at 0: g(0) %g, g(0-) %g", g0, gm)
	}
	for j, u := range us[:3] { // 0 and the float32 neighbours of 0
		if g, _ := gFromExp(u, eu[j]); math.Abs(float64(g)-0.5) > 1e-7 {
			t.Errorf("g(%g) = %.9g, want ½ at 0 from both sides", u, g)
		}
	}
}
