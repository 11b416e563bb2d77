package nn

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// refMaskedAttention is the layer's forward with a key mask in float64,
// straight from the definition: query i of sequence b attends to the keys
// j ≤ i with keep[b·T+j] ≠ 0, or to itself alone if there is none.
// p = [Wqkv, bqkv, Wo, bo]; am and rm are dropout masks or nil.
func refMaskedAttention(x []float64, p [][]float64, B, T, D, H int, keep []float32, am, rm []float64) []float64 {
	qkv := refLinear(x, p[0], p[1], D, 3*D)
	dh := D / H
	o := make([]float64, B*T*D)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			at := func(t, part, c int) float64 { return qkv[(b*T+t)*3*D+part*D+h*dh+c] }
			for i := 0; i < T; i++ {
				var keys []int
				for j := 0; j <= i; j++ {
					if keep[b*T+j] != 0 {
						keys = append(keys, j)
					}
				}
				w := make([]float64, T) // attention weights of query i
				if len(keys) == 0 {
					w[i] = 1
				} else {
					m := math.Inf(-1)
					s := make([]float64, T)
					for _, j := range keys {
						for c := 0; c < dh; c++ {
							s[j] += at(i, 0, c) * at(j, 1, c)
						}
						s[j] /= math.Sqrt(float64(dh))
						m = math.Max(m, s[j])
					}
					z := 0.0
					for _, j := range keys {
						w[j] = math.Exp(s[j] - m)
						z += w[j]
					}
					for _, j := range keys {
						w[j] /= z
					}
				}
				for j := range w {
					if am != nil {
						w[j] *= am[((b*H+h)*T+i)*T+j]
					}
				}
				for c := 0; c < dh; c++ {
					acc := 0.0
					for j, wj := range w {
						acc += wj * at(j, 2, c)
					}
					o[(b*T+i)*D+h*dh+c] = acc
				}
			}
		}
	}
	y := refLinear(o, p[2], p[3], D, D)
	if rm != nil {
		for i := range y {
			y[i] *= rm[i]
		}
	}
	return y
}

func TestCausalSelfAttentionMaskedGradients(t *testing.T) {
	rng := NewRNG(141)
	const B, T, D = 3, 6, 8
	for name, keep := range stepMasks(B, T) {
		for _, H := range []int{1, 2} {
			for _, drop := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/heads=%d/dropout=%v", name, H, drop), func(t *testing.T) {
					pa, pr := 0.0, 0.0
					if drop {
						pa, pr = 0.3, 0.2
					}
					a := newTestAttention(D, H, pa, pr, uint64(140+H))
					a.Train = drop
					checkLayer(t, rng, layerUnderTest{
						params:   a.Params(),
						forward:  func(x *Tensor) *Tensor { return a.ForwardMasked(x, keep) },
						backward: a.Backward,
						ref: func(x []float64, p [][]float64) []float64 {
							var am, rm []float64
							if drop {
								am, rm = to64(a.am.Data), to64(a.rm.Data)
							}
							return refMaskedAttention(x, p, B, T, D, H, keep, am, rm)
						},
					}, randTensor(rng, 1, B, T, D), defaultTol)
				})
			}
		}
	}
}

// Changing the inputs at masked positions changes no output at a real
// position and no gradient when the loss reads only real positions; rows
// with no key to attend to stay finite.
func TestCausalSelfAttentionMaskedKeysAreInert(t *testing.T) {
	rng := NewRNG(142)
	const B, T, D, H = 3, 7, 8, 2
	for name, keep := range stepMasks(B, T) {
		for _, train := range []bool{false, true} {
			x := randTensor(rng, 1, B, T, D)
			dy := randTensor(rng, 1, B, T, D)
			for r, k := range keep {
				if k == 0 {
					clear(dy.Data[r*D : (r+1)*D])
				}
			}
			run := func(x *Tensor) [][]float32 {
				a := newTestAttention(D, H, 0.2, 0.2, 143)
				a.Train = train
				y := slices.Clone(a.ForwardMasked(x, keep).Data)
				for i, v := range y {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%s: y[%d] = %g", name, i, v)
					}
				}
				for r, k := range keep { // compare real positions only
					if k == 0 {
						clear(y[r*D : (r+1)*D])
					}
				}
				out := [][]float32{y}
				dx := slices.Clone(a.Backward(dy).Data)
				out = append(out, dx)
				for _, p := range a.Params() {
					out = append(out, p.Grad.Data)
				}
				return out
			}
			first := run(x)
			x2 := x.Clone()
			for r, k := range keep {
				if k == 0 {
					for j := range D {
						x2.Data[r*D+j] = float32(50 * rng.NormFloat64())
					}
				}
			}
			second := run(x2)
			for i := range first {
				if !slices.Equal(first[i], second[i]) {
					t.Errorf("%s train=%v: output %d changed with the masked inputs", name, train, i)
				}
			}
			for r, k := range keep {
				if k == 0 && slices.ContainsFunc(first[1][r*D:(r+1)*D], func(v float32) bool { return v != 0 }) {
					t.Errorf("%s: dx at masked position %d is not zero", name, r)
				}
			}
		}
	}
}

func TestCausalSelfAttentionAllOnesMaskIsUnmasked(t *testing.T) {
	rng := NewRNG(144)
	const B, T, D, H = 2, 5, 8, 2
	a := newTestAttention(D, H, 0, 0, 145)
	x := randTensor(rng, 1, B, T, D)
	y := slices.Clone(a.Forward(x).Data)
	ones := make([]float32, B*T)
	for i := range ones {
		ones[i] = 1
	}
	if e := relL2(a.ForwardMasked(x, ones).Data, to64(y)); e > 1e-7 {
		t.Errorf("all-ones mask differs from no mask: rel err %.3g", e)
	}
}

func TestCausalSelfAttentionMaskedNoAllocationsAndDeterminism(t *testing.T) {
	rng := NewRNG(146)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	const B, T, D, H = 4, 30, 32, 2
	x := randTensor(rng, 1, B, T, D)
	dy := randTensor(rng, 1, B, T, D)
	keep := stepMasks(B, T)["left"]
	run := func(procs int) [][]float32 {
		runtime.GOMAXPROCS(procs)
		a := newTestAttention(D, H, 0.1, 0.1, 147)
		a.Train = true
		a.ForwardMasked(x, keep)
		out := [][]float32{slices.Clone(a.Backward(dy).Data)}
		for _, p := range a.Params() {
			out = append(out, p.Grad.Data)
		}
		assertNoAllocs(t, "masked attention", func() { a.ForwardMasked(x, keep); a.Backward(dy) })
		return out
	}
	one, four := run(1), run(4)
	for i := range one {
		if !slices.Equal(one[i], four[i]) {
			t.Errorf("output %d differs between GOMAXPROCS 1 and 4", i)
		}
	}
}

func TestCausalSelfAttentionBadMaskPanics(t *testing.T) {
	defer func() {
		want := "key mask has 5 elements"
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), want) {
			t.Errorf("want panic with %q, got %v", want, r)
		}
	}()
	newTestAttention(8, 2, 0, 0, 1).ForwardMasked(New(2, 3, 8), make([]float32, 5))
}
