package selcopy

import (
	"fmt"
	"math"
)

// CrossEntropy is the mean softmax cross-entropy of logits [N, V] against
// integer targets [N], as torch.nn.CrossEntropyLoss (mean reduction):
//
//	loss = (1/N) Σ_n (log Σ_v exp(z_nv) − z_n,y_n)
//	∂loss/∂z_nv = (softmax(z_n)_v − [v = y_n]) / N
//
// It writes the gradient into dlogits (same length as logits) and returns
// the loss and the number of rows whose argmax (first maximum) is the
// target. Each row is computed in float64 on its own and the loss summed in
// row order, so the result does not depend on GOMAXPROCS. A target outside
// [0, V) or a non-finite logit is an error.
func CrossEntropy(dlogits, logits []float32, targets []int32, V int) (loss float64, correct int, err error) {
	N := len(targets)
	if V < 1 || len(logits) != N*V || len(dlogits) != len(logits) {
		return 0, 0, fmt.Errorf("cross-entropy: %d logits, %d gradients for %d targets of %d classes", len(logits), len(dlogits), N, V)
	}
	if N == 0 {
		return 0, 0, nil
	}
	invN := 1 / float64(N)
	var p [Vocab]float64
	probs := p[:0]
	if V > Vocab {
		probs = make([]float64, V)
	}
	probs = probs[:V]
	for n, y := range targets {
		if y < 0 || int(y) >= V {
			return 0, 0, fmt.Errorf("cross-entropy: target %d at row %d outside [0, %d)", y, n, V)
		}
		z := logits[n*V : (n+1)*V]
		best := 0
		mx := math.Inf(-1)
		for v, zv := range z {
			f := float64(zv)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return 0, 0, fmt.Errorf("cross-entropy: logit %v at row %d, class %d", zv, n, v)
			}
			if f > mx {
				mx, best = f, v
			}
		}
		var s float64
		for v, zv := range z {
			probs[v] = math.Exp(float64(zv) - mx)
			s += probs[v]
		}
		loss += (math.Log(s) + mx - float64(z[y])) * invN
		if best == int(y) {
			correct++
		}
		d := dlogits[n*V : (n+1)*V]
		for v := range d {
			g := probs[v] / s
			if v == int(y) {
				g--
			}
			d[v] = float32(g * invN)
		}
	}
	return loss, correct, nil
}
