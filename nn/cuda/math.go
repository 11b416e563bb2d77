package cuda

import (
	"fmt"

	"github.com/minrl/minrl/nn"
)

// Gemm computes C = alpha·op(A)·op(B) + beta·C over row-major matrices,
// op(A) m×k, op(B) k×n, C m×n, with leading dimensions as in BLAS
// (row-major). Transposing both is not needed by any layer and unsupported.
// beta == 0 does not read C.
func (c *Ctx) Gemm(tA, tB bool, m, n, k int, alpha float32, a Buf, lda int, b Buf, ldb int, beta float32, C Buf, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	kernel := "sgemm_nn"
	switch {
	case tA && tB:
		c.fail(fmt.Errorf("cuda: Gemm with both operands transposed"))
		return
	case tA:
		kernel = "sgemm_tn"
	case tB:
		kernel = "sgemm_nt"
	}
	need := func(what string, buf Buf, rows, cols, ld int) {
		if rows > 0 && cols > 0 && (ld < cols || buf.N < (rows-1)*ld+cols) {
			c.fail(fmt.Errorf("cuda: Gemm: %s has %d floats for %d×%d with leading dimension %d", what, buf.N, rows, cols, ld))
		}
	}
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	need("A", a, ar, ac, lda)
	need("B", b, br, bc, ldb)
	need("C", C, m, n, ldc)
	if (n+63)/64 > maxGridY {
		c.fail(fmt.Errorf("cuda: Gemm: %d columns, at most %d", n, 64*maxGridY))
		return
	}
	tiles := ((m + 63) / 64) * ((n + 63) / 64)
	if splits := splitK(tiles, k); splits > 1 {
		kchunk := (k + splits - 1) / splits
		kchunk = (kchunk + 15) &^ 15
		splits = (k + kchunk - 1) / kchunk
		part := c.Grow(&c.splitBuf, splits*m*n)
		c.launch(kernel+"_split", Dim3{(m + 63) / 64, (n + 63) / 64, splits}, Dim3{16, 16, 1}, m, n, k, kchunk, a, lda, b, ldb, part)
		c.elems("splitk_reduce", m*n, C, ldc, part, splits, m, n, alpha, beta)
		return
	}
	c.launch(kernel, Dim3{(m + 63) / 64, (n + 63) / 64, 1}, Dim3{16, 16, 1}, m, n, k, alpha, a, lda, b, ldb, beta, C, ldc)
}

// gemmBlocks is how many 64×64 tile blocks keep a GPU busy (two per SM on
// a 132-SM H100/H200).
const gemmBlocks = 264

// splitK returns how many pieces to cut k into: enough for gemmBlocks
// blocks when C has few tiles, each piece at least 256 long. It depends on
// the shape alone, so results do not depend on the device.
func splitK(tiles, k int) int {
	if tiles >= gemmBlocks/2 || k < 512 {
		return 1
	}
	return max(1, min((gemmBlocks+tiles-1)/tiles, k/256))
}

// colChunk is the number of rows per partial column sum (doubled until the
// chunks fit CUDA's grid).
const colChunk = 64

// AddColSums sets dst[j] += Σ_r src[r][j] (·mul[r][j] when mul is not the
// zero Buf), summing in double over fixed chunks of rows, then the chunks
// in order.
func (c *Ctx) AddColSums(dst, src, mul Buf, rows, cols int) {
	if rows == 0 || cols == 0 {
		return
	}
	chunk := colChunk
	for (rows+chunk-1)/chunk > maxGridY {
		chunk *= 2
	}
	chunks := (rows + chunk - 1) / chunk
	part := c.Grow(&c.partBuf, 2*chunks*cols) // doubles
	c.launch("colsum_partial", Dim3{(cols + 127) / 128, chunks, 1}, Dim3{128, 1, 1}, part, src, mul, rows, cols, chunk)
	c.launch("colsum_finish", Dim3{(cols + 127) / 128, 1, 1}, Dim3{128, 1, 1}, dst, part, chunks, cols, 1)
}

// normChunk is the number of elements per partial sum of squares.
const normChunk = 1 << 16

// SumSquares returns Σ x_i², accumulated in double over fixed chunks and
// the chunks summed in order on the host. It waits for the device.
func (c *Ctx) SumSquares(x Buf) float64 {
	if x.N == 0 {
		return 0
	}
	chunks := (x.N + normChunk - 1) / normChunk
	part := c.Grow(&c.partBuf, 2*chunks)
	c.launch("sumsq_partial", Dim3{chunks, 1, 1}, Dim3{256, 1, 1}, part, x, int64(x.N), normChunk)
	if cap(c.partHost) < chunks {
		c.partHost = make([]float64, chunks)
	}
	h := c.partHost[:chunks]
	c.DownloadFloat64(h, part)
	var s float64
	for _, v := range h {
		s += v
	}
	return s
}

// Add sets dst = a + b.
func (c *Ctx) Add(dst, a, b Buf) { c.elems("add2", dst.N, dst, a, b, int64(dst.N)) }

// Act is an activation kind, numbered as the kernels' ACT_* constants.
type Act int

const (
	ActReLU Act = 0
	ActTanh Act = 1
	ActGELU Act = 2 // GPT-2's tanh approximation, as nn.ActGELU
)

// ActOf maps nn's activation kinds to the device's.
func ActOf(k nn.ActKind) (Act, error) {
	switch k {
	case nn.ActReLU:
		return ActReLU, nil
	case nn.ActTanh:
		return ActTanh, nil
	case nn.ActGELU:
		return ActGELU, nil
	}
	return 0, fmt.Errorf("cuda: activation %v has no device kernel", k)
}

// ActForward sets y = act(x).
func (c *Ctx) ActForward(y, x Buf, k Act) { c.elems("act_fwd", y.N, y, x, int(k), int64(y.N)) }

// ActBackward sets dx from dy, the forward's input x and output y.
func (c *Ctx) ActBackward(dx, dy, x, y Buf, k Act) {
	c.elems("act_bwd", dx.N, dx, dy, x, y, int(k), int64(dx.N))
}

// Dropout sets y = x·mask/(1−p) with package nn's mask for key (nn.Dropout's
// hash of its seed and call count) and threshold.
func (c *Ctx) Dropout(y, x Buf, key, thresh uint64, scale float32) {
	c.elems("dropout", y.N, y, x, key, thresh, scale, int64(y.N))
}
