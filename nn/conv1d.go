package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/minrl/minrl/internal/par"
)

// CausalConv1d is a causal depthwise convolution over time: each channel is
// filtered by its own K taps, and an output never sees a later input.
// x [B, T, C] -> y [B, T, C], W [C, K], Bias [C]. It is PyTorch's
// nn.Conv1d(C, C, K, groups=C, padding=K−1) with the last K−1 outputs cut
// off, in the [B, T, C] layout.
//
// Step runs the same filter one time step at a time with a caller-owned
// state, for inference. Its sums run in the same order as Forward's, so the
// two agree to float32 rounding: bit for bit unless the compiler fuses
// multiply-adds differently in the two loops (GOAMD64=v3, arm64).
type CausalConv1d struct {
	C, K    int
	W, Bias *Param // name.weight [C, K], name.bias [C]

	x, dy     *Tensor
	y, dx     Tensor
	part      []float64 // per-chunk partial sums of dW (C·K) and dBias (C)
	chunkRows int
	fwd, bwd  par.Func
}

// NewCausalConv1d returns a CausalConv1d over c channels with kernel size k,
// initialised as PyTorch's depthwise Conv1d: W and Bias uniform in ±1/√k
// (fan-in k). It panics on non-positive sizes.
func NewCausalConv1d(name string, c, k int, rng *rand.Rand) *CausalConv1d {
	if c <= 0 || k <= 0 {
		panic(fmt.Sprintf("nn: NewCausalConv1d %s: %d channels, kernel %d", name, c, k))
	}
	l := &CausalConv1d{
		C: c, K: k,
		W:    NewParam(name+".weight", false, c, k),
		Bias: NewParam(name+".bias", true, c),
	}
	InitUniform(l.W, rng, FanInBound(k))
	InitUniform(l.Bias, rng, FanInBound(k))
	l.fwd, l.bwd = l.forwardRange, l.backwardChunks
	return l
}

// Params implements Module.
func (l *CausalConv1d) Params() []*Param { return []*Param{l.W, l.Bias} }

func (l *CausalConv1d) mustInput(x *Tensor) {
	if len(x.Shape) != 3 || x.Shape[2] != l.C {
		panic(fmt.Sprintf("nn: CausalConv1d: input shape %v, want [B, T, %d]", x.Shape, l.C))
	}
}

// Forward returns y for x [B, T, C]; y is owned by l.
//
//	y[b,t,c] = Bias[c] + Σ_{k=0}^{K−1} W[c,k]·x[b, t−(K−1)+k, c],
//	x[b, s, c] = 0 for s < 0
func (l *CausalConv1d) Forward(x *Tensor) *Tensor {
	l.mustInput(x)
	l.x = x
	l.y.Resize(x.Shape...)
	rows := x.Rows()
	par.For(rows, par.Grain(rows, max(1, 2048/(l.C*l.K))), l.fwd)
	return &l.y
}

// forwardRange computes output rows (b·T + t) lo..hi. Each sum starts at
// the bias and adds the taps in order k = 0..K−1, skipping the padding:
// Step does the same.
func (l *CausalConv1d) forwardRange(lo, hi int) {
	C, K, T := l.C, l.K, l.x.Shape[1]
	w, bias := l.W.Value.Data, l.Bias.Value.Data
	for r := lo; r < hi; r++ {
		t := r % T
		k0 := max(0, K-1-t) // first tap inside the sequence
		y := l.y.Data[r*C : (r+1)*C]
		copy(y, bias)
		for k := k0; k < K; k++ {
			xs := l.x.Data[(r-(K-1)+k)*C : (r-(K-1)+k+1)*C]
			for c, v := range xs {
				y[c] += w[c*K+k] * v
			}
		}
	}
}

// Backward adds dW, dBias and returns dx for dy [B, T, C]:
//
//	dx[b,s,c]  = Σ_{k: s+(K−1)−k < T} W[c,k]·dy[b, s+(K−1)−k, c]
//	dW[c,k]   += Σ_{b,t} dy[b,t,c]·x[b, t−(K−1)+k, c]
//	dBias[c]  += Σ_{b,t} dy[b,t,c]
//
// The parameter sums run over rows in fixed chunks (their size depends only
// on the shape), each into its own float64 partial, added in chunk order:
// the result does not depend on GOMAXPROCS.
func (l *CausalConv1d) Backward(dy *Tensor) *Tensor {
	if l.x == nil {
		panic("nn: CausalConv1d.Backward before Forward")
	}
	mustShape("CausalConv1d", "dy", dy, l.y.Shape...)
	rows := l.x.Rows()
	l.dy = dy
	l.dx.Resize(dy.Shape...)
	l.chunkRows = par.Grain(rows, max(1, 2048/(l.C*l.K)))
	chunks := (rows + l.chunkRows - 1) / l.chunkRows
	stride := l.C * (l.K + 1)
	l.part = growFloat64(l.part, chunks*stride)
	par.For(chunks, 1, l.bwd)
	addChunkSums(l.W.Grad.Data, l.part, chunks, stride, 0)
	addChunkSums(l.Bias.Grad.Data, l.part, chunks, stride, l.C*l.K)
	l.dy = nil
	return &l.dx
}

func (l *CausalConv1d) backwardChunks(lo, hi int) {
	C, K, T := l.C, l.K, l.x.Shape[1]
	rows := l.x.Rows()
	w := l.W.Value.Data
	stride := C * (K + 1)
	for ch := lo; ch < hi; ch++ {
		part := l.part[ch*stride : (ch+1)*stride]
		clear(part)
		dw, db := part[:C*K], part[C*K:]
		for r := ch * l.chunkRows; r < min((ch+1)*l.chunkRows, rows); r++ {
			t := r % T
			dyr := l.dy.Data[r*C : (r+1)*C]
			for c, g := range dyr {
				db[c] += float64(g)
			}
			// Taps reaching back to x[t−(K−1)+k] for dW; taps reaching
			// forward to dy[t+(K−1)−k] for dx.
			for k := max(0, K-1-t); k < K; k++ {
				xs := l.x.Data[(r-(K-1)+k)*C : (r-(K-1)+k+1)*C]
				for c, g := range dyr {
					dw[c*K+k] += float64(g) * float64(xs[c])
				}
			}
			dx := l.dx.Data[r*C : (r+1)*C]
			clear(dx)
			for k := max(0, t+K-T); k < K; k++ {
				ds := l.dy.Data[(r+(K-1)-k)*C : (r+(K-1)-k+1)*C]
				for c, g := range ds {
					dx[c] += w[c*K+k] * g
				}
			}
		}
	}
}

// Step computes one time step for batch sequences, for inference: x and dst
// are [batch, C] (dst may alias x), state is [batch, K−1, C], the last K−1
// inputs of each sequence, oldest first (zero at the start of a sequence,
// standing for the padding). Step writes y to dst and shifts x into state.
// Stepping through a sequence from a zero state gives Forward's outputs.
func (l *CausalConv1d) Step(dst, x, state []float32, batch int) {
	C, K := l.C, l.K
	if batch < 0 || len(x) != batch*C || len(dst) != batch*C || len(state) != batch*(K-1)*C {
		panic(fmt.Sprintf("nn: CausalConv1d.Step: %d inputs, %d outputs and %d state values for batch %d, want %d, %d and %d",
			len(x), len(dst), len(state), batch, batch*C, batch*C, batch*(K-1)*C))
	}
	w, bias := l.W.Value.Data, l.Bias.Value.Data
	for b := 0; b < batch; b++ {
		st := state[b*(K-1)*C : (b+1)*(K-1)*C]
		for c := 0; c < C; c++ {
			xv := x[b*C+c]
			s := bias[c]
			for k := 0; k < K-1; k++ {
				s += w[c*K+k] * st[k*C+c]
			}
			s += w[c*K+K-1] * xv
			for k := 0; k < K-2; k++ {
				st[k*C+c] = st[(k+1)*C+c]
			}
			if K > 1 {
				st[(K-2)*C+c] = xv
			}
			dst[b*C+c] = s
		}
	}
}

// ScratchBytes is the memory l holds for activations and gradients.
func (l *CausalConv1d) ScratchBytes() int {
	return l.y.CapBytes() + l.dx.CapBytes() + 8*cap(l.part)
}
