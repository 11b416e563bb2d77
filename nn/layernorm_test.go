package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// refLayerNorm is PyTorch's LayerNorm in float64, straight from the
// definition: per row, (x − mean)/√(biased var + eps)·g + b.
func refLayerNorm(x, g, b []float64, d int, eps float64) []float64 {
	y := make([]float64, len(x))
	for r := 0; r < len(x)/d; r++ {
		row := x[r*d : (r+1)*d]
		mean := 0.0
		for _, v := range row {
			mean += v
		}
		mean /= float64(d)
		v := 0.0
		for _, xv := range row {
			v += (xv - mean) * (xv - mean)
		}
		v /= float64(d)
		for i, xv := range row {
			y[r*d+i] = (xv-mean)/math.Sqrt(v+eps)*g[i] + b[i]
		}
	}
	return y
}

func TestLayerNormGradients(t *testing.T) {
	rng := NewRNG(31)
	const d = 9
	l := NewLayerNorm("ln", d)
	if l.G.Value.Data[0] != 1 || l.B.Value.Data[0] != 0 || !l.G.NoDecay || !l.B.NoDecay {
		t.Fatal("want gain 1, bias 0, both NoDecay")
	}
	if l.G.Name != "ln.weight" || l.B.Name != "ln.bias" {
		t.Errorf("param names %q, %q", l.G.Name, l.B.Name)
	}
	// Random gain and bias so that their gradients matter; an offset mean
	// checks the two-pass statistics.
	for i := range d {
		l.G.Value.Data[i] = float32(1 + 0.5*rng.NormFloat64())
		l.B.Value.Data[i] = float32(0.5 * rng.NormFloat64())
	}
	x := randTensor(rng, 1.5, 3, 4, d)
	for i := range x.Data {
		x.Data[i] += 3
	}
	checkLayer(t, rng, layerUnderTest{
		params: l.Params(), forward: l.Forward, backward: l.Backward,
		ref: func(x []float64, p [][]float64) []float64 { return refLayerNorm(x, p[0], p[1], d, 1e-5) },
	}, x, defaultTol)
}

// A constant row has zero variance: the output is the bias, finite.
func TestLayerNormConstantRow(t *testing.T) {
	l := NewLayerNorm("ln", 4)
	x := FromData([]float32{2, 2, 2, 2}, 1, 4)
	for i, v := range l.Forward(x).Data {
		if v != 0 {
			t.Errorf("y[%d] = %g, want 0", i, v)
		}
	}
	dx := l.Backward(FromData([]float32{1, -2, 3, 0.5}, 1, 4))
	for i, v := range dx.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Errorf("dx[%d] = %g", i, v)
		}
	}
}

func TestLayerNormDoesNotAllocate(t *testing.T) {
	rng := NewRNG(32)
	l := NewLayerNorm("ln", 96)
	x := randTensor(rng, 1, 4, 50, 96)
	dy := randTensor(rng, 1, 4, 50, 96)
	assertNoAllocs(t, "LayerNorm", func() {
		l.Forward(x)
		l.Backward(dy)
	})
}

func TestLayerNormIndependentOfGOMAXPROCS(t *testing.T) {
	rng := NewRNG(33)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	x := randTensor(rng, 1, 16, 200, 48) // many row chunks
	dy := randCancelling(rng, 16, 200, 48)
	run := func(procs int) [][]float32 {
		runtime.GOMAXPROCS(procs)
		l := NewLayerNorm("ln", 48)
		y := l.Forward(x).Clone()
		dx := l.Backward(dy)
		return [][]float32{y.Data, dx.Data, l.G.Grad.Data, l.B.Grad.Data}
	}
	a, b := run(1), run(4)
	for i, what := range []string{"y", "dx", "dG", "dB"} {
		if !slices.Equal(a[i], b[i]) {
			t.Errorf("%s differs between GOMAXPROCS=1 and 4", what)
		}
	}
}

// randCancelling returns N(0, 1) values with, in every column, a +1e30
// in the first quarter of the rows and a −1e30 in the last quarter. Their
// float64 column sum depends on the grouping (the big pair swallows the
// values between them when summed in one run, not when split), so a
// reduction whose chunks follow the number of workers shows up as a
// GOMAXPROCS dependence.
func randCancelling(rng *rand.Rand, shape ...int) *Tensor {
	t := randTensor(rng, 1, shape...)
	cols := t.Cols()
	rows := t.Rows()
	for c := range cols {
		a, b := rng.IntN(rows/4), rows-1-rng.IntN(rows/4)
		t.Data[a*cols+c], t.Data[b*cols+c] = 1e30, -1e30
	}
	return t
}

// The parameter gradients sum over many rows in float64: within one
// rounding of the float64 sum.
func TestLayerNormLongSums(t *testing.T) {
	rng := NewRNG(34)
	const rows, d = 20000, 3
	l := NewLayerNorm("ln", d)
	x := randTensor(rng, 1, rows, d)
	dy := randTensor(rng, 1, rows, d)
	for i := range dy.Data {
		dy.Data[i] += 1 // a large sum whose float32 running total drifts
	}
	l.Forward(x)
	l.Backward(dy)
	want := make([]float64, d)
	for r := range rows {
		for i := range d {
			want[i] += float64(dy.Data[r*d+i])
		}
	}
	for i, w := range want {
		if got := float64(l.B.Grad.Data[i]); math.Abs(got-w) > 6e-8*math.Abs(w) {
			t.Errorf("dB[%d] = %.9g, float64 sum %.9g", i, got, w)
		}
	}
}

func TestLayerNormBadShapePanics(t *testing.T) {
	l := NewLayerNorm("ln", 8)
	expectLayerPanic(t, "LayerNorm: input shape [2 7]", func() { l.Forward(New(2, 7)) })
	l.Forward(New(2, 8))
	expectLayerPanic(t, "LayerNorm: dy has shape [2 9]", func() { l.Backward(New(2, 9)) })
	expectLayerPanic(t, "NewLayerNorm", func() { NewLayerNorm("ln", 0) })
}

// expectLayerPanic checks that f panics with a message containing want.
func expectLayerPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic, want one containing %q", want)
		} else if !contains(fmt.Sprint(r), want) {
			t.Errorf("panic %q, want one containing %q", r, want)
		}
	}()
	f()
}
