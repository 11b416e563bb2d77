package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// kernels lists every Gemm compiled into this build (OpenBLAS adds itself
// under its build tag).
var kernels = []Gemm{VekGemm{}, GonumGemm{}}

// withGemm runs f with g installed.
func withGemm(g Gemm, f func()) {
	old := UseGemm(g)
	defer UseGemm(old)
	f()
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// refGemm is a float64 triple loop; it also returns Σ|a||b| per element,
// the scale of float32 rounding error.
func refGemm(tA, tB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) (want, scale []float64) {
	want, scale = make([]float64, m*n), make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sa float64
			for p := 0; p < k; p++ {
				var av, bv float64
				if tA {
					av = float64(a[p*lda+i])
				} else {
					av = float64(a[i*lda+p])
				}
				if tB {
					bv = float64(b[j*ldb+p])
				} else {
					bv = float64(b[p*ldb+j])
				}
				s += av * bv
				sa += math.Abs(av * bv)
			}
			cv := 0.0
			if beta != 0 {
				cv = float64(c[i*ldc+j])
			}
			want[i*n+j] = alpha*s + beta*cv
			scale[i*n+j] = math.Abs(alpha)*sa + math.Abs(beta*cv)
		}
	}
	return want, scale
}

func TestMatMulMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	sizes := [][3]int{{1, 1, 1}, {3, 5, 0}, {7, 1, 9}, {33, 65, 17}, {64, 256, 128}, {5, 64, 3000}, {129, 70, 2100}}
	for _, g := range kernels {
		for _, sz := range sizes {
			for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
				for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {-2, 0.25}} {
					m, n, k := sz[0], sz[1], sz[2]
					name := fmt.Sprintf("%s/m%d_n%d_k%d/tA=%v_tB=%v/alpha=%g_beta=%g", g.Name(), m, n, k, tr[0], tr[1], ab[0], ab[1])
					t.Run(name, func(t *testing.T) {
						// Leading dimensions larger than the rows, to test strides.
						ar, ac := m, k
						if tr[0] {
							ar, ac = k, m
						}
						br, bc := k, n
						if tr[1] {
							br, bc = n, k
						}
						lda, ldb, ldc := ac+3, bc+1, n+2
						a := randSlice(rng, max(ar*lda, 1))
						b := randSlice(rng, max(br*ldb, 1))
						c := randSlice(rng, max(m*ldc, 1))
						if ab[1] == 0 {
							for i := range c {
								c[i] = float32(math.NaN()) // beta = 0 must not read C
							}
						}
						want, scale := refGemm(tr[0], tr[1], m, n, k, float64(ab[0]), a, lda, b, ldb, float64(ab[1]), c, ldc)
						withGemm(g, func() {
							MatMul(tr[0], tr[1], m, n, k, ab[0], a, lda, b, ldb, ab[1], c, ldc)
						})
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								got := float64(c[i*ldc+j])
								if d := math.Abs(got - want[i*n+j]); !(d <= 2e-6*scale[i*n+j]+1e-30) {
									t.Fatalf("C[%d,%d] = %g, want %g (scale %g)", i, j, got, want[i*n+j], scale[i*n+j])
								}
							}
						}
					})
				}
			}
		}
	}
}

func TestMatMulIndependentOfGOMAXPROCS(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	m, n, k := 96, 80, 5000 // several k blocks, several row tiles
	a, b := randSlice(rng, k*m), randSlice(rng, k*n)
	for _, g := range kernels {
		run := func(procs int) []float32 {
			runtime.GOMAXPROCS(procs)
			c := make([]float32, m*n)
			withGemm(g, func() { MatMul(true, false, m, n, k, 1, a, m, b, n, 0, c, n) })
			return c
		}
		if !slices.Equal(run(1), run(4)) {
			t.Errorf("%s: result depends on GOMAXPROCS", g.Name())
		}
	}
}

func TestMatMulDoesNotAllocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 13))
	m, n, k := 300, 64, 700
	a, b, c := randSlice(rng, m*k), randSlice(rng, n*k), make([]float32, m*n)
	for _, g := range kernels {
		withGemm(g, func() {
			f := func() { MatMul(false, true, m, n, k, 1, a, k, b, k, 1, c, n) }
			f()
			if allocs := testing.AllocsPerRun(10, f); allocs != 0 {
				t.Errorf("%s: %v allocations per MatMul", g.Name(), allocs)
			}
		})
	}
}

func TestMatMulShapeErrorsPanic(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !contains(fmt.Sprint(r), "B has 5 elements") {
			t.Errorf("want a panic naming B, got %v", r)
		}
	}()
	MatMul(false, false, 2, 3, 2, 1, make([]float32, 4), 2, make([]float32, 5), 3, 0, make([]float32, 6), 3)
}

func contains(s, sub string) bool { return len(sub) == 0 || indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// BenchmarkGemm measures every kernel on the products of a Linear layer in
// a minGRU training step (B·T=8192 rows, d=128 -> 2d=256): forward x·W,
// input gradient dy·Wᵀ and weight gradient xᵀ·dy. Reported in GFLOP/s via
// the MB/s column (1 "byte" = 1 flop).
func BenchmarkGemm(b *testing.B) {
	rng := rand.New(rand.NewPCG(14, 14))
	const rows, in, out = 8192, 128, 256
	x, w, dy := randSlice(rng, rows*in), randSlice(rng, in*out), randSlice(rng, rows*out)
	y, dx, dw := make([]float32, rows*out), make([]float32, rows*in), make([]float32, in*out)
	cases := []struct {
		name string
		f    func()
	}{
		{"xW", func() { MatMul(false, false, rows, out, in, 1, x, in, w, out, 0, y, out) }},
		{"dyWt", func() { MatMul(false, true, rows, in, out, 1, dy, out, w, out, 0, dx, in) }},
		{"xtdy", func() { MatMul(true, false, in, out, rows, 1, x, in, dy, out, 1, dw, out) }},
	}
	for _, g := range append(kernels, benchOnlyKernels...) {
		for _, c := range cases {
			b.Run(g.Name()+"/"+c.name, func(b *testing.B) {
				withGemm(g, func() {
					b.SetBytes(2 * rows * in * out)
					for b.Loop() {
						c.f()
					}
				})
			})
		}
	}
}
