package planar

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCholeskyEnvelope solves SPD systems whose rows are zero left of an
// envelope (with and without the envelope given) and checks A·x = b.
func TestCholeskyEnvelope(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, env := range [][]int{
		{0, 1, 2, 3, 4},          // diagonal
		{0, 0, 1, 2, 3},          // tridiagonal
		{0, 0, 0, 3, 3, 0, 5, 5}, // a tree-like envelope
		{0, 0, 0, 0, 0, 0},       // dense
	} {
		n := len(env)
		// A = B·Bᵀ + n·I restricted to the envelope stays SPD when B is.
		A := make([]float64, n*n)
		for i := range n {
			for j := env[i]; j <= i; j++ {
				v := rng.Float64() - 0.5
				if i == j {
					v += float64(n)
				}
				A[i*n+j], A[j*n+i] = v, v
			}
		}
		b := make([]float64, n)
		for i := range b {
			b[i] = rng.Float64()
		}
		L := append([]float64(nil), A...)
		cholesky(L, n, env)
		x := append([]float64(nil), b...)
		cholSolve(L, n, env, x)
		for i := range n {
			s := 0.0
			for j := range n {
				s += A[i*n+j] * x[j]
			}
			if math.Abs(s-b[i]) > 1e-12 {
				t.Fatalf("envelope %v: row %d: A·x = %g, b = %g", env, i, s, b[i])
			}
		}
	}
}
