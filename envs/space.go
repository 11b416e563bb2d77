package envs

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Space describes the observations or actions of an environment.
type Space interface {
	// Dim is the length of the []float64 that holds one element: the
	// flattened shape of a Box, 1 for a Discrete (the index as a float).
	Dim() int
	// Contains reports whether x is an element of the space.
	Contains(x []float64) bool
	// Sample draws a uniform element into dst (len Dim()); unbounded Box
	// dimensions are drawn from N(0, 1), half-bounded ones from an
	// exponential, as Gymnasium does.
	Sample(rng *rand.Rand, dst []float64)
	String() string
}

// Box is a product of intervals [Low[i], High[i]]; ±Inf marks an unbounded
// side.
type Box struct {
	Low, High []float64
}

// NewBox returns the Box with every dimension in [low, high].
func NewBox(dim int, low, high float64) Box {
	b := Box{Low: make([]float64, dim), High: make([]float64, dim)}
	for i := range b.Low {
		b.Low[i], b.High[i] = low, high
	}
	return b
}

// Dim implements Space.
func (b Box) Dim() int { return len(b.Low) }

// Contains implements Space. NaN is never contained.
func (b Box) Contains(x []float64) bool {
	if len(x) != len(b.Low) {
		return false
	}
	for i, v := range x {
		if !(v >= b.Low[i] && v <= b.High[i]) {
			return false
		}
	}
	return true
}

// Sample implements Space.
func (b Box) Sample(rng *rand.Rand, dst []float64) {
	for i := range dst {
		lo, hi := b.Low[i], b.High[i]
		switch {
		case !math.IsInf(lo, 0) && !math.IsInf(hi, 0):
			dst[i] = lo + (hi-lo)*rng.Float64()
		case math.IsInf(lo, 0) && math.IsInf(hi, 0):
			dst[i] = rng.NormFloat64()
		case math.IsInf(hi, 0):
			dst[i] = lo + rng.ExpFloat64()
		default:
			dst[i] = hi - rng.ExpFloat64()
		}
	}
}

// Bounded reports whether every dimension has finite bounds.
func (b Box) Bounded() bool {
	for i := range b.Low {
		if math.IsInf(b.Low[i], 0) || math.IsInf(b.High[i], 0) {
			return false
		}
	}
	return true
}

func (b Box) String() string {
	if b.uniform() {
		return fmt.Sprintf("Box(%g, %g, (%d,))", b.Low[0], b.High[0], len(b.Low))
	}
	return fmt.Sprintf("Box(%v, %v)", b.Low, b.High)
}

func (b Box) uniform() bool {
	for i := range b.Low {
		if b.Low[i] != b.Low[0] || b.High[i] != b.High[0] {
			return false
		}
	}
	return len(b.Low) > 0
}

// Discrete is the set {0, 1, ..., N-1}, written as one float64.
type Discrete struct{ N int }

// Dim implements Space.
func (d Discrete) Dim() int { return 1 }

// Contains implements Space.
func (d Discrete) Contains(x []float64) bool {
	return len(x) == 1 && x[0] >= 0 && x[0] < float64(d.N) && x[0] == math.Trunc(x[0])
}

// Sample implements Space.
func (d Discrete) Sample(rng *rand.Rand, dst []float64) { dst[0] = float64(rng.IntN(d.N)) }

func (d Discrete) String() string { return fmt.Sprintf("Discrete(%d)", d.N) }
