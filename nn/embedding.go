package nn

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/minrl/minrl/internal/par"
)

// Embedding maps integer indices to learned vectors, as PyTorch's
// nn.Embedding: idx [...] -> y [..., Dim], W [Num, Dim].
//
// Its input is indices, not a tensor, so Forward takes an []int32 and
// Backward returns no input gradient.
type Embedding struct {
	Num, Dim int
	W        *Param // name.weight, N(0, 1), exempt from weight decay

	idx   []int32 // indices of the last Forward (a reference, not a copy)
	dy    *Tensor
	y     Tensor
	end   []int32 // GroupByIndex: end[v] ends index v's run in order
	order []int32 // positions grouped by index, ascending within a group
	fwd   par.Func
	bwd   par.Func
}

// NewEmbedding returns an Embedding of num vectors of size dim, initialised
// N(0, 1) as in PyTorch. It panics on non-positive sizes.
func NewEmbedding(name string, num, dim int, rng *rand.Rand) *Embedding {
	if num <= 0 || dim <= 0 || num > 1<<31-1 {
		panic(fmt.Sprintf("nn: NewEmbedding %s: %d vectors of size %d", name, num, dim))
	}
	e := &Embedding{Num: num, Dim: dim, W: NewParam(name+".weight", true, num, dim)}
	InitNormal(e.W, rng, 1)
	e.fwd, e.bwd = e.gatherRange, e.scatterRange
	return e
}

// Params implements Module.
func (e *Embedding) Params() []*Param { return []*Param{e.W} }

// Forward returns y[p, :] = W[idx[p], :] for the indices idx laid out with
// the given shape (idx's own length when shape is empty); y has shape
// [shape..., Dim] and is owned by e. e keeps idx for Backward: leave it
// unchanged until then. An index outside [0, Num) panics.
func (e *Embedding) Forward(idx []int32, shape ...int) *Tensor {
	// The shape is checked by hand: passing it to numel or Resize would
	// make the variadic slice escape, and every call allocate.
	e.y.Shape = append(e.y.Shape[:0], shape...)
	n := 1
	for _, s := range shape {
		if s < 0 {
			n = -1
			break
		}
		n *= s
	}
	if len(shape) == 0 {
		e.y.Shape, n = append(e.y.Shape, len(idx)), len(idx)
	}
	if n != len(idx) {
		panic(fmt.Sprintf("nn: Embedding: %d indices for shape %v", len(idx), slices.Clone(shape)))
	}
	e.y.Shape = append(e.y.Shape, e.Dim)
	e.y.Resize(e.y.Shape...)
	for p, v := range idx {
		if v < 0 || int(v) >= e.Num {
			panic(fmt.Sprintf("nn: Embedding: index %d at position %d outside [0, %d)", v, p, e.Num))
		}
	}
	e.idx = idx
	par.For(len(idx), par.Grain(len(idx), max(1, 4096/e.Dim)), e.fwd)
	return &e.y
}

func (e *Embedding) gatherRange(lo, hi int) {
	d := e.Dim
	for p := lo; p < hi; p++ {
		v := int(e.idx[p])
		copy(e.y.Data[p*d:(p+1)*d], e.W.Value.Data[v*d:(v+1)*d])
	}
}

// Backward adds dW for dy [..., Dim]:
//
//	dW[v, :] += Σ_{p: idx[p] = v} dy[p, :]
//
// The positions are grouped by index with a stable counting sort; each
// vector's gradient is then summed by one goroutine in float64, in position
// order, so frequent indices (timesteps, say) keep their digits and the
// result does not depend on GOMAXPROCS. There is no input gradient.
func (e *Embedding) Backward(dy *Tensor) {
	if len(e.y.Shape) == 0 { // idx may be empty, even nil
		panic("nn: Embedding.Backward before Forward")
	}
	mustShape("Embedding", "dy", dy, e.y.Shape...)
	e.end, e.order = GroupByIndex(e.idx, e.Num, e.end, e.order)
	e.dy = dy
	par.For(e.Num, par.Grain(e.Num, 64), e.bwd)
	e.dy = nil
}

// GroupByIndex groups the positions of idx (values in [0, num)) by index,
// with a stable counting sort: index v's positions, in position order, are
// order[end[v-1]:end[v]] (end[-1] = 0). It reuses the given slices' storage
// and returns them resized.
func GroupByIndex(idx []int32, num int, end, order []int32) ([]int32, []int32) {
	if cap(end) < num {
		end = make([]int32, num)
	}
	end = end[:num]
	if cap(order) < len(idx) {
		order = make([]int32, len(idx))
	}
	order = order[:len(idx)]
	// end[v] = number of positions with index < v, then each run is filled
	// in position order, leaving end[v] at the end of v's run.
	clear(end)
	for _, v := range idx {
		if int(v)+1 < num {
			end[v+1]++
		}
	}
	for v := 1; v < num; v++ {
		end[v] += end[v-1]
	}
	for p, v := range idx {
		order[end[v]] = int32(p)
		end[v]++
	}
	return end, order
}

const embedBlock = 64 // float64 accumulators held on the stack

func (e *Embedding) scatterRange(lo, hi int) {
	d := e.Dim
	var acc [embedBlock]float64
	for v := lo; v < hi; v++ {
		first := int32(0)
		if v > 0 {
			first = e.end[v-1]
		}
		run := e.order[first:e.end[v]]
		if len(run) == 0 {
			continue
		}
		g := e.W.Grad.Data[v*d : (v+1)*d]
		for c0 := 0; c0 < d; c0 += embedBlock {
			a := acc[:min(embedBlock, d-c0)]
			clear(a)
			for _, p := range run {
				row := e.dy.Data[int(p)*d+c0 : int(p)*d+c0+len(a)]
				for k, x := range row {
					a[k] += float64(x)
				}
			}
			for k, s := range a {
				g[c0+k] += float32(s)
			}
		}
	}
}

// ScratchBytes is the memory e holds for outputs and its gradient sort.
func (e *Embedding) ScratchBytes() int {
	return e.y.CapBytes() + 4*(cap(e.end)+cap(e.order))
}
