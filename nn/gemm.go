package nn

import (
	"fmt"
	"sync"

	"github.com/minrl/minrl/internal/par"
)

// Gemm is a single-threaded SGEMM kernel over row-major matrices:
//
//	C = alpha·op(A)·op(B) + beta·C,  op(X) = X or Xᵀ,
//
// with op(A) m×k, op(B) k×n and C m×n, and leading dimensions lda, ldb, ldc
// as in BLAS (row-major). When beta is 0, C is not read (NaN in C does not
// leak). Implementations must be safe for concurrent calls on disjoint C.
// MatMul parallelises any Gemm, so a kernel never starts goroutines itself:
// one scheduler for all cores, and results independent of GOMAXPROCS.
type Gemm interface {
	Sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	Name() string
}

var (
	gemmMu sync.RWMutex
	gemm   Gemm = defaultGemm()
)

// UseGemm installs g for MatMul and returns the previous kernel. It is not
// safe to call while matrix products are running.
func UseGemm(g Gemm) Gemm {
	gemmMu.Lock()
	defer gemmMu.Unlock()
	old := gemm
	gemm = g
	return old
}

// CurrentGemm returns the installed kernel.
func CurrentGemm() Gemm {
	gemmMu.RLock()
	defer gemmMu.RUnlock()
	return gemm
}

// gemmJob carries one MatMul call into pre-bound parallel kernels.
type gemmJob struct {
	g             Gemm
	tA, tB        bool
	m, n, k       int
	k0, kl        int
	alpha, beta   float32
	a, b, c       []float32
	lda, ldb, ldc int
	rowTile       par.Func
}

var gemmJobs = par.FreeList[gemmJob]{New: func() *gemmJob {
	j := new(gemmJob)
	j.rowTile = j.tile
	return j
}}

// kBlockBytes bounds the slice of op(B) that all row tiles share in one
// pass: small enough to stay in a core's L2 cache while every tile streams
// it, so a product with a huge k (a weight gradient summed over B·T rows)
// reads op(B) from memory once instead of once per tile.
const kBlockBytes = 256 << 10

// minTileFlops keeps row tiles large enough that scheduling is noise: a
// tile below ~2^19 multiply-adds (~10-20 µs) costs less than waking another
// goroutine for it, which matters for the small products of acting.
const minTileFlops = 1 << 19

// MatMul computes C = alpha·op(A)·op(B) + beta·C with the installed Gemm,
// splitting C into row tiles that run in parallel and, for large k, k into
// blocks that run in order. Tile and block sizes depend only on m, n, k, so
// the result is the same whatever GOMAXPROCS is. Shapes are checked.
func MatMul(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(tA, tB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleRows(c, m, n, ldc, beta)
		return
	}
	j := gemmJobs.Get()
	j.g = CurrentGemm()
	j.tA, j.tB, j.m, j.n, j.k = tA, tB, m, n, k
	j.alpha, j.beta = alpha, beta
	j.a, j.b, j.c, j.lda, j.ldb, j.ldc = a, b, c, lda, ldb, ldc

	kb := k
	if 4*k*n > kBlockBytes {
		kb = max(kBlockBytes/(4*n), 64)
	}
	rows := max(1, minTileFlops/max(1, n*min(kb, k)))
	grain := par.Grain(m, rows)
	for j.k0 = 0; j.k0 < k; j.k0 += kb {
		j.kl = min(kb, k-j.k0)
		par.For(m, grain, j.rowTile)
	}
	j.a, j.b, j.c, j.g = nil, nil, nil, nil
	gemmJobs.Put(j)
}

// tile runs rows [i0, i1) of C for the current k block.
func (j *gemmJob) tile(i0, i1 int) {
	beta := j.beta
	if j.k0 > 0 {
		beta = 1 // later k blocks accumulate onto the first
	}
	var a, b []float32
	if j.tA { // A is k×m: rows k0.., columns i0..
		a = j.a[j.k0*j.lda+i0:]
	} else {
		a = j.a[i0*j.lda+j.k0:]
	}
	if j.tB { // B is n×k
		b = j.b[j.k0:]
	} else {
		b = j.b[j.k0*j.ldb:]
	}
	j.g.Sgemm(j.tA, j.tB, i1-i0, j.n, j.kl, j.alpha, a, j.lda, b, j.ldb, beta, j.c[i0*j.ldc:], j.ldc)
}

func scaleRows(c []float32, m, n, ldc int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for x := range row {
			row[x] *= beta
		}
	}
}

func checkGemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("nn: MatMul: negative size m=%d n=%d k=%d", m, n, k))
	}
	need := func(name string, rows, cols, ld int, s []float32) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols {
			panic(fmt.Sprintf("nn: MatMul: %s leading dimension %d < %d columns", name, ld, cols))
		}
		if len(s) < (rows-1)*ld+cols {
			panic(fmt.Sprintf("nn: MatMul: %s has %d elements, needs %d for %dx%d (ld %d)", name, len(s), (rows-1)*ld+cols, rows, cols, ld))
		}
	}
	if tA {
		need("A", k, m, lda, a)
	} else {
		need("A", m, k, lda, a)
	}
	if tB {
		need("B", n, k, ldb, b)
	} else {
		need("B", k, n, ldb, b)
	}
	need("C", m, n, ldc, c)
}
