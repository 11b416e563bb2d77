package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// NewRNG returns a deterministic generator for a seed. Every random choice
// in minrl comes from one of these, so a seed fixes a run.
func NewRNG(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
}

// InitUniform fills p with U(-bound, bound).
func InitUniform(p *Param, rng *rand.Rand, bound float64) {
	for i := range p.Value.Data {
		p.Value.Data[i] = float32((2*rng.Float64() - 1) * bound)
	}
}

// InitNormal fills p with N(0, std²).
func InitNormal(p *Param, rng *rand.Rand, std float64) {
	for i := range p.Value.Data {
		p.Value.Data[i] = float32(rng.NormFloat64() * std)
	}
}

// InitConst fills p with v.
func InitConst(p *Param, v float32) {
	for i := range p.Value.Data {
		p.Value.Data[i] = v
	}
}

// InitXavier fills p with Glorot-uniform values for a fanIn×fanOut map.
func InitXavier(p *Param, rng *rand.Rand, fanIn, fanOut int) {
	InitUniform(p, rng, math.Sqrt(6/float64(fanIn+fanOut)))
}

// FanInBound is PyTorch's default bound 1/√fanIn for Linear, GRU and LSTM
// weights and biases (kaiming_uniform with a=√5 reduces to it).
func FanInBound(fanIn int) float64 { return 1 / math.Sqrt(float64(max(fanIn, 1))) }

// InitOrthogonal fills a 2-D parameter with a (semi-)orthogonal matrix
// scaled by gain, as torch.nn.init.orthogonal_: the Q factor of a Gaussian
// matrix, with the signs fixed by R's diagonal so the result is uniformly
// distributed. Used by PPO's networks (gain √2 for hidden layers).
func InitOrthogonal(p *Param, rng *rand.Rand, gain float64) {
	if len(p.Value.Shape) != 2 {
		panic(fmt.Sprintf("nn: InitOrthogonal: %s has shape %v, want 2-D", p.Name, p.Value.Shape))
	}
	rows, cols := p.Value.Shape[0], p.Value.Shape[1]
	tall := rows >= cols
	m, n := rows, cols
	if !tall {
		m, n = cols, rows
	}
	a := mat.NewDense(m, n, nil)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			a.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(a)
	var q, r mat.Dense
	qr.QTo(&q)
	qr.RTo(&r)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			v := q.At(i, j)
			if r.At(j, j) < 0 {
				v = -v
			}
			if tall {
				p.Value.Data[i*cols+j] = float32(gain * v)
			} else {
				p.Value.Data[j*cols+i] = float32(gain * v)
			}
		}
	}
}
