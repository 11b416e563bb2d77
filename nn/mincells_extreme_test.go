package nn

import (
	"fmt"
	"math"
	"testing"
)

// logSig64 is log σ(x) in float64 without overflow or underflow.
func logSig64(x float64) float64 {
	if x >= 0 {
		return -math.Log1p(math.Exp(-x))
	}
	return x - math.Log1p(math.Exp(x))
}

// refLSTMNorm is an independent float64 reference of minLSTM's normalised
// coefficients: a = f/(f+i) = 1/(1 + i/f), b = i/(f+i)·g(u), with the ratio
// taken in log space so that it is right at any magnitude.
func refLSTMNorm(kf, ki, u float64) (a, b float64) {
	a = 1 / (1 + math.Exp(logSig64(ki)-logSig64(kf)))
	in := 1 / (1 + math.Exp(logSig64(kf)-logSig64(ki)))
	return a, in * g64(u)
}

// minLSTM's normalised gates stay right when both gate pre-activations lie
// past the ±80 clamp (issue 16, item 9: f/(f+i) was 0.5 there), forward and
// backward, in every gate kernel: the per-row cells, the vectorised Go
// kernel and (with -tags openblas) the C one. Gradients are checked against
// central differences of the float64 reference.
func TestMinLSTMNormalisedGatesPastTheClamp(t *testing.T) {
	kernels := map[string]func(grad bool, pre, a, b, dpre []float32){
		"cell": func(grad bool, pre, a, b, dpre []float32) {
			if grad {
				minLSTMCell{}.linearGrad(pre, a, b, dpre)
			} else {
				minLSTMCell{}.linear(pre, a, b)
			}
		},
		"go": func(grad bool, pre, a, b, dpre []float32) { goGates(minLSTMCell{}, grad, pre, a, b, dpre, len(a)) },
	}
	if nativeGates != nil {
		kernels["c"] = func(grad bool, pre, a, b, dpre []float32) { nativeGates(kindMinLSTM, grad, pre, a, b, dpre, len(a)) }
	}
	pairs := [][2]float64{{-90, -100}, {-100, -90}, {-100, -100}, {-1000, -999}, {-1000, -1000.5}, {-85, -81},
		{100, -100}, {-100, 100}, {1000, 999}, {-95, 3}, {2, -1}}
	I := len(pairs)
	pre := make([]float32, 3*I)
	for j, p := range pairs {
		pre[j], pre[I+j], pre[2*I+j] = float32(p[0]), float32(p[1]), float32(0.7-float64(j%3)*1.9)
	}
	da, db := make([]float32, I), make([]float32, I)
	for j := range da {
		da[j], db[j] = float32(0.3+0.1*float64(j)), float32(-0.8+0.05*float64(j))
	}
	for name, k := range kernels {
		t.Run(name, func(t *testing.T) {
			a, b, dpre := make([]float32, I), make([]float32, I), make([]float32, 3*I)
			k(false, pre, a, b, nil)
			k(true, pre, da, db, dpre)
			for j, p := range pairs {
				u := float64(pre[2*I+j])
				wa, wb := refLSTMNorm(p[0], p[1], u)
				if math.Abs(float64(a[j])-wa) > 1e-6*math.Abs(wa)+1e-12 || math.Abs(float64(b[j])-wb) > 1e-6*math.Abs(wb)+1e-12 {
					t.Errorf("k_f=%g k_i=%g: a=%.9g b=%.9g, want %.9g %.9g", p[0], p[1], a[j], b[j], wa, wb)
				}
				loss := func(kf, ki, u float64) float64 {
					a, b := refLSTMNorm(kf, ki, u)
					return float64(da[j])*a + float64(db[j])*b
				}
				const h = 1e-5
				want := [3]float64{
					(loss(p[0]+h, p[1], u) - loss(p[0]-h, p[1], u)) / (2 * h),
					(loss(p[0], p[1]+h, u) - loss(p[0], p[1]-h, u)) / (2 * h),
					(loss(p[0], p[1], u+h) - loss(p[0], p[1], u-h)) / (2 * h),
				}
				for w, wv := range want {
					got := float64(dpre[w*I+j])
					if math.Abs(got-wv) > 1e-4*math.Abs(wv)+1e-7 {
						t.Errorf("k_f=%g k_i=%g: %s gradient %.9g, want %.9g", p[0], p[1], []string{"k_f", "k_i", "u"}[w], got, wv)
					}
				}
			}
		})
	}
	_ = fmt.Sprint
}
