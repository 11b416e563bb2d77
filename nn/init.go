package nn

import (
	"math"
	"math/rand/v2"
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
