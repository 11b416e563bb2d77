package nn

import (
	"github.com/viterin/vek/vek32"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/minrl/minrl/internal/par"
)

// VekGemm is the pure-Go default kernel: github.com/viterin/vek's AVX2
// assembly row kernel (a plain Go loop on other CPUs), fed one row of op(A)
// at a time against a dense op(B). It measured 3-4x faster than gonum's
// SGEMM on the layer shapes minrl uses (see BenchmarkGemm), so it is the
// default when OpenBLAS is not built in.
type VekGemm struct{}

type vekScratch struct{ bpack, arow, tmp []float32 }

var vekScratches = par.FreeList[vekScratch]{New: func() *vekScratch { return new(vekScratch) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Name implements Gemm.
func (VekGemm) Name() string { return "vek" }

// Sgemm implements Gemm.
func (VekGemm) Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleRows(c, m, n, ldc, beta)
		return
	}
	s := vekScratches.Get()
	defer vekScratches.Put(s)

	// vek wants op(B) dense k×n.
	var bd []float32
	if !tB && ldb == n {
		bd = b[:k*n]
	} else {
		s.bpack = grow(s.bpack, k*n)
		bd = s.bpack
		if tB {
			for j := 0; j < n; j++ {
				src := b[j*ldb : j*ldb+k]
				for kk, v := range src {
					bd[kk*n+j] = v
				}
			}
		} else {
			for kk := 0; kk < k; kk++ {
				copy(bd[kk*n:(kk+1)*n], b[kk*ldb:kk*ldb+n])
			}
		}
	}
	direct := alpha == 1 && beta == 0
	if tA {
		s.arow = grow(s.arow, k)
	}
	if !direct {
		s.tmp = grow(s.tmp, n)
	}
	for i := 0; i < m; i++ {
		var arow []float32
		if tA {
			arow = s.arow
			for kk := range arow {
				arow[kk] = a[kk*lda+i]
			}
		} else {
			arow = a[i*lda : i*lda+k]
		}
		crow := c[i*ldc : i*ldc+n]
		if direct {
			vek32.MatMul_Into(crow, arow, bd, k)
			continue
		}
		vek32.MatMul_Into(s.tmp, arow, bd, k)
		if beta == 0 {
			for x, v := range s.tmp {
				crow[x] = alpha * v
			}
		} else {
			for x, v := range s.tmp {
				crow[x] = alpha*v + beta*crow[x]
			}
		}
	}
}

// GonumGemm is gonum's pure-Go SGEMM, kept as a second pure-Go kernel for
// comparison and as a cross-check in tests. gonum parallelises a product of
// four or more 64×64 blocks on its own; Sgemm here tiles C into at most
// 64×192 pieces so that each call stays serial and MatMul stays the one
// scheduler.
type GonumGemm struct{}

// Name implements Gemm.
func (GonumGemm) Name() string { return "gonum" }

// Sgemm implements Gemm.
func (GonumGemm) Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	const tm, tn = 64, 192
	var impl gonum.Implementation
	for i0 := 0; i0 < m; i0 += tm {
		mi := min(tm, m-i0)
		for j0 := 0; j0 < n; j0 += tn {
			nj := min(tn, n-j0)
			as := a[i0*lda:]
			if tA {
				as = a[i0:]
			}
			bs := b[j0:]
			if tB {
				bs = b[j0*ldb:]
			}
			if k == 0 {
				scaleRows(c[i0*ldc+j0:], mi, nj, ldc, beta)
				continue
			}
			impl.Sgemm(ta, tb, mi, nj, k, alpha, as, lda, bs, ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}
