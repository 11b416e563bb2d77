package nn

import (
	"math"
	"runtime"
	"slices"
	"testing"
)

func refActivation(kind ActKind, x float64) float64 {
	switch kind {
	case ActReLU:
		return math.Max(x, 0)
	case ActTanh:
		return math.Tanh(x)
	}
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

// refMLP is fc → act → ×m1/(1−p1) → proj → ×m2/(1−p2) in float64; nil
// masks keep everything.
func refMLP(x []float64, p [][]float64, kind ActKind, in, hid, out int, m1, m2 []bool, p1, p2 float64) []float64 {
	h := refLinear(x, p[0], p[1], in, hid)
	for i, v := range h {
		h[i] = refActivation(kind, v)
		if m1 != nil {
			if m1[i] {
				h[i] /= 1 - p1
			} else {
				h[i] = 0
			}
		}
	}
	y := refLinear(h, p[2], p[3], hid, out)
	for i := range y {
		if m2 != nil {
			if m2[i] {
				y[i] /= 1 - p2
			} else {
				y[i] = 0
			}
		}
	}
	return y
}

func TestMLPGradients(t *testing.T) {
	rng := NewRNG(71)
	const in, hid, out = 5, 11, 4
	for _, kind := range []ActKind{ActReLU, ActTanh, ActGELU} {
		t.Run(kind.String()+"/eval", func(t *testing.T) {
			m := NewMLP("mlp", in, hid, out, kind, 0.5, rng)
			m.SetTrain(false)
			checkLayer(t, rng, layerUnderTest{
				params: m.Params(), forward: m.Forward, backward: m.Backward,
				ref: func(x []float64, p [][]float64) []float64 {
					return refMLP(x, p, kind, in, hid, out, nil, nil, 0, 0)
				},
			}, randTensor(rng, 1, 2, 3, in), defaultTol)
		})
	}
	// Training with both dropouts: the reference applies the masks read off
	// the forward pass (GELU, so no activation output is exactly 0).
	t.Run("gelu/train", func(t *testing.T) {
		const p1, p2 = 0.3, 0.2
		m := NewMLP("mlp", in, hid, out, ActGELU, p2, rng)
		m.HiddenDrop.P = p1
		var m1, m2 []bool
		checkLayer(t, rng, layerUnderTest{
			params: m.Params(),
			forward: func(x *Tensor) *Tensor {
				y := m.Forward(x)
				m1 = dropMaskOf(t, &m.Act.y, &m.HiddenDrop.y, p1)
				m2 = dropMaskOf(t, &m.Proj.y, y, p2)
				return y
			},
			backward: m.Backward,
			ref: func(x []float64, p [][]float64) []float64 {
				return refMLP(x, p, ActGELU, in, hid, out, m1, m2, p1, p2)
			},
		}, randTensor(rng, 1, 2, 3, in), defaultTol)
	})
}

func TestMLPStructure(t *testing.T) {
	m := NewMLP("blk.mlp", 4, 16, 3, ActGELU, 0.1, NewRNG(72))
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.Name)
	}
	want := []string{"blk.mlp.fc.weight", "blk.mlp.fc.bias", "blk.mlp.proj.weight", "blk.mlp.proj.bias"}
	if !slices.Equal(names, want) {
		t.Errorf("params %v, want %v", names, want)
	}
	if m.HiddenDrop.P != 0 || m.OutDrop.P != 0.1 || m.HiddenDrop.Seed == m.OutDrop.Seed {
		t.Errorf("dropouts: hidden p %g, out p %g, seeds equal %v", m.HiddenDrop.P, m.OutDrop.P, m.HiddenDrop.Seed == m.OutDrop.Seed)
	}
	if NumParams(m) != 4*16+16+16*3+3 {
		t.Errorf("NumParams = %d", NumParams(m))
	}
}

func TestMLPDoesNotAllocate(t *testing.T) {
	rng := NewRNG(73)
	m := NewMLP("mlp", 32, 128, 32, ActGELU, 0.1, rng)
	m.HiddenDrop.P = 0.1
	x := randTensor(rng, 1, 4, 50, 32)
	dy := randTensor(rng, 1, 4, 50, 32)
	assertNoAllocs(t, "MLP", func() {
		m.Forward(x)
		m.Backward(dy)
	})
}

func TestMLPIndependentOfGOMAXPROCS(t *testing.T) {
	rng := NewRNG(74)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	x := randTensor(rng, 1, 8, 100, 32)
	dy := randTensor(rng, 1, 8, 100, 32)
	run := func(procs int) [][]float32 {
		runtime.GOMAXPROCS(procs)
		m := NewMLP("mlp", 32, 128, 32, ActGELU, 0.1, NewRNG(75))
		m.HiddenDrop.P = 0.2
		y := m.Forward(x).Clone()
		dx := m.Backward(dy)
		return [][]float32{y.Data, dx.Data, m.FC.W.Grad.Data, m.FC.B.Grad.Data, m.Proj.W.Grad.Data, m.Proj.B.Grad.Data}
	}
	a, b := run(1), run(4)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Errorf("output %d differs between GOMAXPROCS=1 and 4", i)
		}
	}
}

func TestMLPBadShapePanics(t *testing.T) {
	m := NewMLP("mlp", 4, 8, 3, ActReLU, 0, NewRNG(76))
	expectLayerPanic(t, "MLP.Backward before Forward", func() { m.Backward(New(2, 3)) })
	expectLayerPanic(t, "MLP: input shape [2 5]", func() { m.Forward(New(2, 5)) })
	m.Forward(New(2, 4))
	expectLayerPanic(t, "MLP: dy has shape [2 4]", func() { m.Backward(New(2, 4)) })
	expectLayerPanic(t, "NewMLP", func() { NewMLP("mlp", 4, 0, 3, ActReLU, 0, NewRNG(1)) })
	expectLayerPanic(t, "probability 1.5", func() { NewMLP("mlp", 4, 8, 3, ActReLU, 1.5, NewRNG(1)) })
}
