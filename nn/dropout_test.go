package nn

import (
	"math"
	"runtime"
	"slices"
	"testing"
)

// dropMaskOf reads the mask off a training Forward on x with no zeros:
// every output must be 0 or exactly x/(1−p) (the float32 product).
func dropMaskOf(t *testing.T, x, y *Tensor, p float64) []bool {
	t.Helper()
	scale := float32(1 / (1 - p))
	m := make([]bool, x.Len())
	for i, v := range y.Data {
		switch v {
		case 0:
		case x.Data[i] * scale:
			m[i] = true
		default:
			t.Fatalf("y[%d] = %g, want 0 or %g", i, v, x.Data[i]*scale)
		}
	}
	return m
}

func TestDropoutMaskRate(t *testing.T) {
	rng := NewRNG(41)
	for _, p := range []float64{0.1, 0.5, 0.9} {
		d := NewDropout(p, rng)
		x := New(1000, 1000)
		for i := range x.Data {
			x.Data[i] = 1
		}
		m := dropMaskOf(t, x, d.Forward(x), p)
		dropped := 0
		for _, k := range m {
			if !k {
				dropped++
			}
		}
		rate := float64(dropped) / float64(len(m))
		// 6 standard deviations of a binomial rate over 10⁶ draws.
		if sd := math.Sqrt(p * (1 - p) / 1e6); math.Abs(rate-p) > 6*sd {
			t.Errorf("p = %g: drop rate %.5f", p, rate)
		}
		// Neighbouring elements must be independent: the rate of
		// (dropped, dropped) pairs is p².
		both := 0
		for i := 1; i < len(m); i++ {
			if !m[i] && !m[i-1] {
				both++
			}
		}
		pair := float64(both) / float64(len(m)-1)
		if sd := math.Sqrt(p * p * (1 - p*p) / 1e6); math.Abs(pair-p*p) > 6*sd {
			t.Errorf("p = %g: adjacent pair drop rate %.5f, want %.5f", p, pair, p*p)
		}
	}
}

func TestDropoutEvalAndZeroPAreIdentity(t *testing.T) {
	rng := NewRNG(42)
	x := randTensor(rng, 1, 3, 5)
	dy := randTensor(rng, 1, 3, 5)
	d := NewDropout(0.5, rng)
	d.SetTrain(false)
	if d.Forward(x) != x || d.Backward(dy) != dy || d.Calls != 0 {
		t.Error("eval mode: want x and dy back, and the counter untouched")
	}
	z := NewDropout(0, rng)
	if z.Forward(x) != x || z.Backward(dy) != dy {
		t.Error("p = 0: want x and dy back")
	}
}

func TestDropoutMaskSequence(t *testing.T) {
	rng := NewRNG(43)
	x := randTensor(rng, 1, 4, 300)
	d := NewDropout(0.3, rng)
	m0 := dropMaskOf(t, x, d.Forward(x), 0.3)
	m1 := dropMaskOf(t, x, d.Forward(x), 0.3)
	if slices.Equal(m0, m1) {
		t.Error("two training calls drew the same mask")
	}
	// Same seed and counter: same mask, also from a fresh layer.
	e := NewDropout(0.3, rng)
	e.Seed, e.Calls = d.Seed, 0
	if !slices.Equal(m0, dropMaskOf(t, x, e.Forward(x), 0.3)) {
		t.Error("same seed and counter gave a different mask")
	}
	if e.Calls != 1 {
		t.Errorf("Calls = %d after one training call", e.Calls)
	}
	// Another seed: another mask.
	e.Seed, e.Calls = d.Seed+1, 0
	if slices.Equal(m0, dropMaskOf(t, x, e.Forward(x), 0.3)) {
		t.Error("different seeds gave the same mask")
	}
}

// The gradient check: the reference applies the mask read off the forward
// (dropMaskOf checks the forward itself), so it catches a backward that
// uses another mask or scale.
func TestDropoutGradients(t *testing.T) {
	rng := NewRNG(44)
	const p = 0.25
	d := NewDropout(p, rng)
	x := randTensor(rng, 1, 3, 7, 11)
	var mask []bool
	checkLayer(t, rng, layerUnderTest{
		forward: func(x *Tensor) *Tensor {
			y := d.Forward(x)
			mask = dropMaskOf(t, x, y, p)
			return y
		},
		backward: d.Backward,
		ref: func(x []float64, _ [][]float64) []float64 {
			y := make([]float64, len(x))
			for i, v := range x {
				if mask[i] {
					y[i] = v / (1 - p)
				}
			}
			return y
		},
	}, x, defaultTol)
	// Backward repeats Forward's mask exactly.
	dy := randTensor(rng, 1, 3, 7, 11)
	dx := d.Backward(dy)
	for i, k := range mask {
		want := float32(0)
		if k {
			want = dy.Data[i] * float32(1/(1-p))
		}
		if dx.Data[i] != want {
			t.Fatalf("dx[%d] = %g, want %g", i, dx.Data[i], want)
		}
	}
}

func TestDropoutDoesNotAllocate(t *testing.T) {
	rng := NewRNG(45)
	d := NewDropout(0.1, rng)
	x := randTensor(rng, 1, 4, 50, 64)
	dy := randTensor(rng, 1, 4, 50, 64)
	assertNoAllocs(t, "Dropout", func() {
		d.Forward(x)
		d.Backward(dy)
	})
}

func TestDropoutIndependentOfGOMAXPROCS(t *testing.T) {
	rng := NewRNG(46)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	x := randTensor(rng, 1, 8, 200, 64) // several element ranges
	dy := randTensor(rng, 1, 8, 200, 64)
	seed := rng.Uint64()
	run := func(procs int) [][]float32 {
		runtime.GOMAXPROCS(procs)
		d := NewDropout(0.2, rng)
		d.Seed = seed
		y := d.Forward(x).Clone()
		return [][]float32{y.Data, d.Backward(dy).Data}
	}
	a, b := run(1), run(4)
	if !slices.Equal(a[0], b[0]) || !slices.Equal(a[1], b[1]) {
		t.Error("Dropout depends on GOMAXPROCS")
	}
}

func TestDropoutBadShapePanics(t *testing.T) {
	rng := NewRNG(47)
	d := NewDropout(0.5, rng)
	d.Forward(New(2, 3))
	expectLayerPanic(t, "Dropout: dy has shape [3 2]", func() { d.Backward(New(3, 2)) })
	expectLayerPanic(t, "probability 1 outside [0, 1)", func() { NewDropout(1, rng) })
	expectLayerPanic(t, "probability -0.1", func() { NewDropout(-0.1, rng) })
	d.P = math.NaN()
	expectLayerPanic(t, "probability NaN", func() { d.Forward(New(2, 3)) })
}
