package nn

import (
	"math"
	"runtime"
	"slices"
	"testing"
)

func randIndices(n, num int, seed uint64) []int32 {
	rng := NewRNG(seed)
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(rng.IntN(num))
	}
	return idx
}

// The harness passes tensors, so the indices travel as float32 values; the
// reference gathers rows of W in float64.
func TestEmbeddingGradients(t *testing.T) {
	rng := NewRNG(51)
	const num, dim = 7, 5
	e := NewEmbedding("emb", num, dim, rng)
	if e.W.Name != "emb.weight" || !e.W.NoDecay {
		t.Errorf("param %q NoDecay=%v", e.W.Name, e.W.NoDecay)
	}
	idx := randIndices(12, num, 52)
	idx[3], idx[7] = 0, num-1 // both ends, and repeats are certain with 12 of 7
	x := New(3, 4)
	for i, v := range idx {
		x.Data[i] = float32(v)
	}
	checkLayer(t, rng, layerUnderTest{
		params: e.Params(),
		forward: func(x *Tensor) *Tensor {
			ix := make([]int32, x.Len())
			for i, v := range x.Data {
				ix[i] = int32(v)
			}
			y := e.Forward(ix, x.Shape...)
			if !slices.Equal(y.Shape, []int{3, 4, dim}) {
				t.Errorf("output shape %v", y.Shape)
			}
			return y
		},
		backward: func(dy *Tensor) *Tensor { e.Backward(dy); return nil },
		ref: func(x []float64, p [][]float64) []float64 {
			var y []float64
			for _, v := range x {
				y = append(y, p[0][int(v)*dim:(int(v)+1)*dim]...)
			}
			return y
		},
		noInputGrad: true,
	}, x, defaultTol)
}

func TestEmbeddingInit(t *testing.T) {
	e := NewEmbedding("emb", 200, 100, NewRNG(53))
	var s, ss float64
	for _, v := range e.W.Value.Data {
		s += float64(v)
		ss += float64(v) * float64(v)
	}
	n := float64(e.W.Value.Len())
	if mean, sd := s/n, math.Sqrt(ss/n-(s/n)*(s/n)); math.Abs(mean) > 0.03 || math.Abs(sd-1) > 0.03 {
		t.Errorf("init mean %.3f sd %.3f, want N(0, 1)", mean, sd)
	}
	// No shape: a vector of indices.
	y := e.Forward([]int32{4, 2})
	if !slices.Equal(y.Shape, []int{2, 100}) || y.Data[100] != e.W.Value.Data[200] {
		t.Errorf("Forward without a shape: %v", y.Shape)
	}
}

// Many repeats of a few indices: the gradient is the float64 sum of the
// rows, rounded once.
func TestEmbeddingRepeatedIndexSum(t *testing.T) {
	rng := NewRNG(54)
	const num, dim, n = 3, 70, 5000 // dim spans two accumulator blocks
	e := NewEmbedding("emb", num, dim, rng)
	idx := randIndices(n, num, 55)
	e.Forward(idx, 50, 100)
	dy := randTensor(rng, 1, 50, 100, dim)
	e.Backward(dy)
	want := make([]float64, num*dim)
	for p, v := range idx {
		for c := range dim {
			want[int(v)*dim+c] += float64(dy.Data[p*dim+c])
		}
	}
	for i, w := range want {
		if e.W.Grad.Data[i] != float32(w) {
			t.Fatalf("dW[%d] = %g, want %g", i, e.W.Grad.Data[i], float32(w))
		}
	}
}

func TestEmbeddingDoesNotAllocate(t *testing.T) {
	rng := NewRNG(56)
	e := NewEmbedding("emb", 1000, 64, rng)
	idx := randIndices(4*50, 1000, 57)
	dy := randTensor(rng, 1, 4, 50, 64)
	assertNoAllocs(t, "Embedding", func() {
		e.Forward(idx, 4, 50)
		e.Backward(dy)
	})
}

func TestEmbeddingIndependentOfGOMAXPROCS(t *testing.T) {
	rng := NewRNG(58)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	idx := randIndices(16*200, 500, 59)
	dy := randTensor(rng, 1, 16, 200, 32)
	run := func(procs int) [][]float32 {
		runtime.GOMAXPROCS(procs)
		e := NewEmbedding("emb", 500, 32, NewRNG(60))
		y := e.Forward(idx, 16, 200).Clone()
		e.Backward(dy)
		return [][]float32{y.Data, e.W.Grad.Data}
	}
	a, b := run(1), run(4)
	if !slices.Equal(a[0], b[0]) || !slices.Equal(a[1], b[1]) {
		t.Error("Embedding depends on GOMAXPROCS")
	}
}

func TestEmbeddingBadInputPanics(t *testing.T) {
	e := NewEmbedding("emb", 10, 4, NewRNG(61))
	expectLayerPanic(t, "index 10 at position 1 outside [0, 10)", func() { e.Forward([]int32{3, 10}) })
	expectLayerPanic(t, "index -1 at position 0", func() { e.Forward([]int32{-1}) })
	expectLayerPanic(t, "3 indices for shape [2 2]", func() { e.Forward([]int32{1, 2, 3}, 2, 2) })
	expectLayerPanic(t, "3 indices for shape [-1 -3]", func() { e.Forward([]int32{1, 2, 3}, -1, -3) })
	e.Forward([]int32{1, 2, 3}, 3)
	expectLayerPanic(t, "Embedding: dy has shape [3 5]", func() { e.Backward(New(3, 5)) })
	expectLayerPanic(t, "NewEmbedding", func() { NewEmbedding("emb", 0, 4, NewRNG(1)) })
}
