package nn

import (
	"fmt"
	"math"

	"github.com/minrl/minrl/internal/par"
)

// LayerNorm normalises each row over the last dimension and applies a
// learnable gain and bias, as PyTorch's nn.LayerNorm (biased variance):
// x [..., Dim] -> y [..., Dim], G and B [Dim].
//
// Row statistics are computed in float64 with two passes (mean, then the
// mean of squared deviations), so rows with a large mean keep their digits.
type LayerNorm struct {
	Dim int
	Eps float64 // added to the variance; 1e-5 as in PyTorch
	// G (gain, init 1) and B (bias, init 0) are named name.weight and
	// name.bias as in PyTorch; both are exempt from weight decay.
	G, B *Param

	x, dy      *Tensor
	y, dx      Tensor
	mean, rstd []float64 // per row, kept for Backward
	part       []float64 // per-chunk partial sums of dG and dB
	chunkRows  int
	fwd, bwd   par.Func
}

// NewLayerNorm returns a LayerNorm over dim features. It needs no random
// generator: PyTorch initialises the gain to 1 and the bias to 0. It panics
// on a non-positive dim.
func NewLayerNorm(name string, dim int) *LayerNorm {
	if dim <= 0 {
		panic(fmt.Sprintf("nn: NewLayerNorm %s: dim %d", name, dim))
	}
	l := &LayerNorm{
		Dim: dim, Eps: 1e-5,
		G: NewParam(name+".weight", true, dim),
		B: NewParam(name+".bias", true, dim),
	}
	InitConst(l.G, 1)
	l.fwd, l.bwd = l.forwardRange, l.backwardChunks
	return l
}

// Params implements Module.
func (l *LayerNorm) Params() []*Param { return []*Param{l.G, l.B} }

// Forward returns y for x [..., Dim]; y is owned by l.
//
//	μ = (1/D) Σ_i x_i,  σ² = (1/D) Σ_i (x_i − μ)²,  r = 1/√(σ² + eps)
//	x̂_i = (x_i − μ)·r,  y_i = G_i·x̂_i + B_i
func (l *LayerNorm) Forward(x *Tensor) *Tensor {
	mustCols("LayerNorm", x, l.Dim)
	l.x = x
	l.y.Resize(x.Shape...)
	rows := x.Rows()
	if cap(l.mean) < rows {
		l.mean, l.rstd = make([]float64, rows), make([]float64, rows)
	}
	l.mean, l.rstd = l.mean[:rows], l.rstd[:rows]
	par.For(rows, par.Grain(rows, max(1, 4096/l.Dim)), l.fwd)
	return &l.y
}

func (l *LayerNorm) forwardRange(lo, hi int) {
	d := l.Dim
	g, b := l.G.Value.Data, l.B.Value.Data
	for r := lo; r < hi; r++ {
		x, y := l.x.Data[r*d:(r+1)*d], l.y.Data[r*d:(r+1)*d]
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		mu := s / float64(d)
		var ss float64
		for _, v := range x {
			dv := float64(v) - mu
			ss += dv * dv
		}
		rs := 1 / math.Sqrt(ss/float64(d)+l.Eps)
		l.mean[r], l.rstd[r] = mu, rs
		for i, v := range x {
			y[i] = float32((float64(v)-mu)*rs*float64(g[i]) + float64(b[i]))
		}
	}
}

// Backward adds dG, dB and returns dx for dy [..., Dim].
//
//	dG_i += Σ_rows dy_i·x̂_i,  dB_i += Σ_rows dy_i
//	ĝ_i = G_i·dy_i,  dx_i = r·(ĝ_i − mean(ĝ) − x̂_i·mean(ĝ·x̂))
//
// The parameter sums run over rows in fixed chunks (their size depends only
// on the shape), each chunk into its own float64 partial, and the partials
// are added in chunk order: the result does not depend on GOMAXPROCS.
func (l *LayerNorm) Backward(dy *Tensor) *Tensor {
	if l.x == nil {
		panic("nn: LayerNorm.Backward before Forward")
	}
	mustShape("LayerNorm", "dy", dy, l.y.Shape...)
	rows := l.x.Rows()
	l.dy = dy
	l.dx.Resize(dy.Shape...)
	l.chunkRows = par.Grain(rows, max(1, 4096/l.Dim))
	chunks := (rows + l.chunkRows - 1) / l.chunkRows
	l.part = growFloat64(l.part, chunks*2*l.Dim)
	par.For(chunks, 1, l.bwd)
	addChunkSums(l.G.Grad.Data, l.part, chunks, 2*l.Dim, 0)
	addChunkSums(l.B.Grad.Data, l.part, chunks, 2*l.Dim, l.Dim)
	l.dy = nil
	return &l.dx
}

func (l *LayerNorm) backwardChunks(lo, hi int) {
	d, rows := l.Dim, l.x.Rows()
	g := l.G.Value.Data
	for c := lo; c < hi; c++ {
		part := l.part[c*2*d : (c+1)*2*d]
		clear(part)
		dg, db := part[:d], part[d:]
		for r := c * l.chunkRows; r < min((c+1)*l.chunkRows, rows); r++ {
			x, dy, dx := l.x.Data[r*d:(r+1)*d], l.dy.Data[r*d:(r+1)*d], l.dx.Data[r*d:(r+1)*d]
			mu, rs := l.mean[r], l.rstd[r]
			var s1, s2 float64
			for i, v := range x {
				xh := (float64(v) - mu) * rs
				gd := float64(dy[i]) * float64(g[i])
				s1 += gd
				s2 += gd * xh
				dg[i] += float64(dy[i]) * xh
				db[i] += float64(dy[i])
			}
			s1 /= float64(d)
			s2 /= float64(d)
			for i, v := range x {
				xh := (float64(v) - mu) * rs
				dx[i] = float32(rs * (float64(dy[i])*float64(g[i]) - s1 - xh*s2))
			}
		}
	}
}

// ScratchBytes is the memory l holds for activations, statistics and
// gradients.
func (l *LayerNorm) ScratchBytes() int {
	return l.y.CapBytes() + l.dx.CapBytes() + 8*(cap(l.mean)+cap(l.rstd)+cap(l.part))
}

// growFloat64 returns s resized to n, reusing its storage when large enough.
func growFloat64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// addChunkSums sets dst[j] += Σ_c part[c*stride+off+j] for c = 0..chunks-1
// in chunk order, in float64: the fixed-order reduction of per-chunk partial
// sums that keeps parameter gradients independent of GOMAXPROCS.
func addChunkSums(dst []float32, part []float64, chunks, stride, off int) {
	for j := range dst {
		var s float64
		for c := 0; c < chunks; c++ {
			s += part[c*stride+off+j]
		}
		dst[j] += float32(s)
	}
}
