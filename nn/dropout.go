package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/minrl/minrl/internal/par"
)

// Dropout zeroes each element with probability P during training and scales
// the kept ones by 1/(1−P) (inverted dropout), so evaluation is the
// identity.
//
// The mask comes from a counter-based generator: element i of training call
// n is kept iff hash(Seed, n, i) ≥ P·2⁵³ (splitmix64 mixing, 53 bits). It is
// a pure function of (Seed, Calls, i), so masks are the same whatever
// GOMAXPROCS is, generation runs in parallel without shared state, Backward
// recomputes the mask instead of storing it, and saving Seed and Calls
// saves the generator.
type Dropout struct {
	P     float64 // drop probability, in [0, 1)
	Train bool    // training mode; false makes Forward the identity
	Seed  uint64
	Calls uint64 // training Forward calls so far: the mask's counter

	active bool   // the last Forward applied a mask
	key    uint64 // mask key of the last Forward
	thresh uint64 // drop iff the 53-bit hash < thresh
	scale  float32

	x, dy *Tensor
	y, dx Tensor
	fwd   par.Func
	bwd   par.Func
}

// NewDropout returns a Dropout layer in training mode with a seed drawn
// from rng. It panics unless 0 ≤ p < 1.
func NewDropout(p float64, rng *rand.Rand) *Dropout {
	checkDropP(p)
	d := &Dropout{P: p, Train: true, Seed: rng.Uint64()}
	d.fwd, d.bwd = d.forwardRange, d.backwardRange
	return d
}

func checkDropP(p float64) {
	if !(p >= 0 && p < 1) {
		panic(fmt.Sprintf("nn: Dropout: probability %g outside [0, 1)", p))
	}
}

// Params implements Module: none.
func (d *Dropout) Params() []*Param { return nil }

// SetTrain switches between training (masks) and evaluation (identity).
func (d *Dropout) SetTrain(train bool) { d.Train = train }

// Forward returns x with dropout applied:
//
//	y_i = x_i·m_i/(1−P),  m_i = [hash(Seed, Calls, i) ≥ P]
//
// In evaluation mode or with P = 0 it returns x itself, not a copy (and
// Backward returns dy itself); otherwise y is owned by d and Calls advances.
func (d *Dropout) Forward(x *Tensor) *Tensor {
	checkDropP(d.P)
	d.x = x
	d.active = d.Train && d.P > 0
	if !d.active {
		return x
	}
	d.key = dropKey(d.Seed, d.Calls)
	d.Calls++
	d.thresh = dropThreshold(d.P)
	d.scale = float32(1 / (1 - d.P))
	d.y.Resize(x.Shape...)
	par.For(x.Len(), elemGrain, d.fwd)
	return &d.y
}

// NextMask advances the layer as Forward does and returns the mask of that
// call instead of applying it: element i is kept (and scaled by scale) iff
// MaskHash(key, i)>>11 >= thresh. active is false in evaluation mode or with
// P = 0 (no mask, the identity). Device implementations use it to apply the
// same masks as the CPU.
func (d *Dropout) NextMask() (key, thresh uint64, scale float32, active bool) {
	checkDropP(d.P)
	if !(d.Train && d.P > 0) {
		return 0, 0, 1, false
	}
	key = dropKey(d.Seed, d.Calls)
	d.Calls++
	return key, dropThreshold(d.P), float32(1 / (1 - d.P)), true
}

// MaskHash is the hash behind the dropout masks (see NextMask).
func MaskHash(key, i uint64) uint64 { return dropHash(key, i) }

// Backward returns dx = dy·m/(1−P) with the mask of the last Forward.
func (d *Dropout) Backward(dy *Tensor) *Tensor {
	if d.x == nil {
		panic("nn: Dropout.Backward before Forward")
	}
	mustShape("Dropout", "dy", dy, d.x.Shape...)
	if !d.active {
		return dy
	}
	d.dy = dy
	d.dx.Resize(dy.Shape...)
	par.For(dy.Len(), elemGrain, d.bwd)
	d.dy = nil
	return &d.dx
}

func (d *Dropout) forwardRange(lo, hi int) {
	x, y := d.x.Data[lo:hi], d.y.Data[lo:hi]
	for i, v := range x {
		if dropHash(d.key, uint64(lo+i))>>11 >= d.thresh {
			y[i] = v * d.scale
		} else {
			y[i] = 0
		}
	}
}

func (d *Dropout) backwardRange(lo, hi int) {
	dy, dx := d.dy.Data[lo:hi], d.dx.Data[lo:hi]
	for i, v := range dy {
		if dropHash(d.key, uint64(lo+i))>>11 >= d.thresh {
			dx[i] = v * d.scale
		} else {
			dx[i] = 0
		}
	}
}

const dropGolden = 0x9e3779b97f4a7c15

// dropMix is splitmix64's output function, a bijection that scrambles all
// 64 bits.
func dropMix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// dropKey derives the key of one call from the seed and the call counter.
func dropKey(seed, call uint64) uint64 { return dropMix(seed ^ dropMix(call+dropGolden)) }

// dropThreshold is the 53-bit hash value below which an element is dropped
// with probability p.
func dropThreshold(p float64) uint64 { return uint64(p * (1 << 53)) }

// dropHash is element i of the splitmix64 stream started at key.
func dropHash(key, i uint64) uint64 { return dropMix(key + (i+1)*dropGolden) }

// SetDropoutCalls sets the number of training Forwards so far: restoring
// it (with the seed) restores the masks of every later call, which is how
// a resumed run draws exactly the masks an uninterrupted one would.
func (d *Dropout) SetDropoutCalls(n uint64) { d.Calls = n }

// ScratchBytes is the memory d holds for outputs and gradients.
func (d *Dropout) ScratchBytes() int { return d.y.CapBytes() + d.dx.CapBytes() }
