package ppo

import (
	"math"
	"math/rand/v2"

	"github.com/minrl/minrl/nn"
)

// newMLP is Linear -> tanh -> Linear -> tanh -> Linear, CleanRL's PPO
// network, with orthogonal initialisation (gain √2 in the hidden layers,
// outGain in the last) and zero biases.
func newMLP(name string, in int, hidden []int, out int, outGain float64, rng *rand.Rand) *nn.Stack {
	var layers []*nn.Linear
	sizes := append(append([]int{in}, hidden...), out)
	for i := 0; i+1 < len(sizes); i++ {
		l := nn.NewLinear(name+"."+string(rune('0'+i)), sizes[i], sizes[i+1], true, rng)
		gain := math.Sqrt2
		if i+2 == len(sizes) {
			gain = outGain
		}
		nn.InitOrthogonal(l.W, rng, gain)
		nn.InitConst(l.B, 0)
		layers = append(layers, l)
	}
	return nn.NewStack(layers, nn.ActTanh, nil)
}

// gaussian holds the log-density pieces of a diagonal Gaussian policy.
const halfLog2Pi = 0.9189385332046727 // ½·log(2π)

// logProb returns log N(a; μ, exp(logStd)²) summed over dimensions.
func logProb(a, mu []float32, logStd []float32) float64 {
	var s float64
	for i := range a {
		ls := float64(logStd[i])
		z := (float64(a[i]) - float64(mu[i])) / math.Exp(ls)
		s += -0.5*z*z - ls - halfLog2Pi
	}
	return s
}

// entropy of the diagonal Gaussian: Σ (½ + ½·log 2π + log σ).
func entropy(logStd []float32) float64 {
	var s float64
	for _, ls := range logStd {
		s += 0.5 + halfLog2Pi + float64(ls)
	}
	return s
}
