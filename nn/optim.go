package nn

import (
	"fmt"
	"math"
	"slices"

	"github.com/minrl/minrl/internal/par"
)

// AdamWConfig holds AdamW's hyperparameters, named as in torch.optim.AdamW.
type AdamWConfig struct {
	// LR is the base learning rate. Step takes the rate of each step
	// explicitly so that a Schedule can drive it; pass LR for a constant rate.
	LR           float64
	Beta1, Beta2 float64
	Eps          float64
	// WeightDecay is the decoupled decay coefficient λ (p ← p·(1 − lr·λ));
	// parameters with NoDecay set are exempt.
	WeightDecay float64
}

// DefaultAdamWConfig returns PyTorch's AdamW defaults with the given base
// rate: betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
func DefaultAdamWConfig(lr float64) AdamWConfig {
	return AdamWConfig{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// validate applies torch.optim.AdamW's argument checks.
func (c AdamWConfig) validate() error {
	switch {
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("learning rate %v, want finite and >= 0", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("beta1 %v, want in [0, 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("beta2 %v, want in [0, 1)", c.Beta2)
	case !(c.Eps >= 0) || math.IsInf(c.Eps, 0):
		return fmt.Errorf("eps %v, want finite and >= 0", c.Eps)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("weight decay %v, want finite and >= 0", c.WeightDecay)
	}
	return nil
}

// AdamW is torch.optim.AdamW (amsgrad off, maximize off) over float32
// parameters. For step t = 1, 2, … with gradient g and learning rate lr:
//
//	p ← p·(1 − lr·λ)                      (λ = 0 for NoDecay parameters)
//	m ← m + (1 − β1)(g − m)               (torch's lerp: β1·m + (1 − β1)·g)
//	v ← β2·v + (1 − β2)·g²
//	p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)
//
// Each element updates independently, so the parallel update is
// bit-identical whatever GOMAXPROCS is. The optimiser reads Param.Grad and
// leaves it alone: the training loop zeroes gradients.
type AdamW struct {
	cfg     AdamWConfig
	params  []*Param
	offsets []int     // params[i] owns elements offsets[i]:offsets[i+1] of m, v
	m, v    []float32 // first and second moments, all parameters end to end
	step    int

	// Per-step coefficients read by the kernel.
	k      AdamWScalars
	kernel par.Func
}

// AdamWScalars are the float32 coefficients of one AdamW step: what the
// update of every element reads. Engines that run the update elsewhere (a
// GPU) use them too, so that both round the same way.
type AdamWScalars struct {
	Decay, StepSize, BC2Sqrt, Eps float32 // 1 − lr·wd, lr/(1−β1ᵗ), √(1−β2ᵗ), ε
	W1, B2, W2                    float32 // 1 − β1, β2, 1 − β2
}

// Scalars returns the coefficients of step number step (1-based) with
// learning rate lr, computed in float64 and rounded once, as PyTorch passes
// Python floats to its float32 kernels.
func (c AdamWConfig) Scalars(step int, lr float64) AdamWScalars {
	t := float64(step)
	bc1 := 1 - math.Pow(c.Beta1, t)
	bc2 := 1 - math.Pow(c.Beta2, t)
	return AdamWScalars{
		Decay: float32(1 - lr*c.WeightDecay), StepSize: float32(lr / bc1), BC2Sqrt: float32(math.Sqrt(bc2)), Eps: float32(c.Eps),
		W1: float32(1 - c.Beta1), B2: float32(c.Beta2), W2: float32(1 - c.Beta2),
	}
}

// NewAdamW returns an AdamW optimiser over params with zero moments. It
// panics on an invalid config, a parameter listed twice, two parameters
// with one name (the checkpoint state is keyed by name) or a gradient whose
// size differs from its value's: all programmer errors.
func NewAdamW(params []*Param, cfg AdamWConfig) *AdamW {
	if err := cfg.validate(); err != nil {
		panic("nn: NewAdamW: " + err.Error())
	}
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		if seen[p.Name] {
			panic(fmt.Sprintf("nn: NewAdamW: two parameters named %q (or one listed twice)", p.Name))
		}
		seen[p.Name] = true
		if p.Grad.Len() != p.Value.Len() {
			panic(fmt.Sprintf("nn: NewAdamW: %s has value %v and gradient %v", p.Name, p.Value.Shape, p.Grad.Shape))
		}
	}
	o := &AdamW{cfg: cfg, params: slices.Clone(params)}
	o.offsets = appendOffsets(nil, params)
	n := o.offsets[len(params)]
	o.m, o.v = make([]float32, n), make([]float32, n)
	o.kernel = o.update
	return o
}

// appendOffsets appends the prefix sums of the parameter sizes to dst:
// len(params)+1 entries from 0 to the total.
func appendOffsets(dst []int, params []*Param) []int {
	n := 0
	dst = append(dst, 0)
	for _, p := range params {
		n += p.Value.Len()
		dst = append(dst, n)
	}
	return dst
}

// segmentAt returns the index of the parameter holding flat element k
// (skipping empty parameters), for a range start 0 <= k < total.
func segmentAt(offsets []int, k int) int {
	i, found := slices.BinarySearch(offsets, k)
	if !found {
		i--
	}
	for offsets[i+1] <= k {
		i++
	}
	return i
}

// Config returns the hyperparameters.
func (o *AdamW) Config() AdamWConfig { return o.cfg }

// Params returns the parameters the optimiser updates, in its order.
func (o *AdamW) Params() []*Param { return o.params }

// Moments returns the first and second moment vectors over all parameters
// in order (aliases of the optimiser's state), and SetStepCount sets the
// step count: for engines that run the update elsewhere (a GPU) and copy
// the state back so that checkpoints stay the same.
func (o *AdamW) Moments() (m, v []float32) { return o.m, o.v }

// SetStepCount sets the number of steps taken (see Moments).
func (o *AdamW) SetStepCount(n int) { o.step = n }

// StepCount is the number of steps taken (PyTorch's state["step"]).
func (o *AdamW) StepCount() int { return o.step }

// Step applies one AdamW update with learning rate lr using the gradients
// in Param.Grad. It allocates nothing and panics if lr is negative or NaN or
// a parameter has been resized since NewAdamW.
func (o *AdamW) Step(lr float64) {
	if !(lr >= 0) || math.IsInf(lr, 0) {
		panic(fmt.Sprintf("nn: AdamW.Step: learning rate %v", lr))
	}
	for i, p := range o.params {
		if n := o.offsets[i+1] - o.offsets[i]; p.Value.Len() != n || p.Grad.Len() != n {
			panic(fmt.Sprintf("nn: AdamW.Step: %s resized to value %v, gradient %v (had %d elements)", p.Name, p.Value.Shape, p.Grad.Shape, n))
		}
	}
	o.step++
	o.k = o.cfg.Scalars(o.step, lr)
	par.For(len(o.m), elemGrain, o.kernel)
}

// update runs the AdamW update on flat elements [lo, hi).
func (o *AdamW) update(lo, hi int) {
	for i := segmentAt(o.offsets, lo); lo < hi; i++ {
		off, end := o.offsets[i], min(hi, o.offsets[i+1])
		p := o.params[i]
		decay := o.k.Decay
		if p.NoDecay {
			decay = 1
		}
		pv, g := p.Value.Data[lo-off:end-off], p.Grad.Data[lo-off:end-off]
		m, v := o.m[lo:end], o.v[lo:end]
		w1, b2, w2 := o.k.W1, o.k.B2, o.k.W2
		stepSize, bc2Sqrt, eps := o.k.StepSize, o.k.BC2Sqrt, o.k.Eps
		for k := range pv {
			gk := g[k]
			mk := m[k] + w1*(gk-m[k])
			vk := v[k]*b2 + w2*gk*gk
			m[k], v[k] = mk, vk
			denom := float32(math.Sqrt(float64(vk)))/bc2Sqrt + eps
			pv[k] = pv[k]*decay - stepSize*(mk/denom)
		}
		lo = end
	}
}

// NamedTensor is a tensor with the name it is saved under in a checkpoint.
type NamedTensor struct {
	Name   string
	Tensor *Tensor
}

// AdamWState is everything AdamW needs to resume: the step count and, for
// each parameter P, tensors "P.exp_avg" (m) and "P.exp_avg_sq" (v) shaped
// like P, named as in PyTorch's optimizer state.
type AdamWState struct {
	Step    int
	Tensors []NamedTensor
}

const (
	stateM = ".exp_avg"
	stateV = ".exp_avg_sq"
)

// State returns a copy of the optimiser state, tensors in parameter order
// (m then v for each parameter). The hyperparameters are not included.
func (o *AdamW) State() AdamWState {
	s := AdamWState{Step: o.step, Tensors: make([]NamedTensor, 0, 2*len(o.params))}
	for i, p := range o.params {
		a, b := o.offsets[i], o.offsets[i+1]
		s.Tensors = append(s.Tensors,
			NamedTensor{p.Name + stateM, FromData(slices.Clone(o.m[a:b]), p.Value.Shape...)},
			NamedTensor{p.Name + stateV, FromData(slices.Clone(o.v[a:b]), p.Value.Shape...)})
	}
	return s
}

// LoadState replaces the optimiser state with a copy of s, in any tensor
// order. It returns an error, and changes nothing, unless s holds exactly
// the tensors State would (same names, each once, same shapes) and a
// non-negative step count.
func (o *AdamW) LoadState(s AdamWState) error {
	if s.Step < 0 {
		return fmt.Errorf("nn: AdamW.LoadState: step %d < 0", s.Step)
	}
	type slot struct {
		p   *Param
		dst []float32
	}
	want := make(map[string]slot, 2*len(o.params))
	for i, p := range o.params {
		a, b := o.offsets[i], o.offsets[i+1]
		want[p.Name+stateM] = slot{p, o.m[a:b]}
		want[p.Name+stateV] = slot{p, o.v[a:b]}
	}
	got := make(map[string]bool, len(s.Tensors))
	for _, nt := range s.Tensors {
		w, ok := want[nt.Name]
		switch {
		case !ok:
			return fmt.Errorf("nn: AdamW.LoadState: unexpected tensor %q", nt.Name)
		case got[nt.Name]:
			return fmt.Errorf("nn: AdamW.LoadState: tensor %q given twice", nt.Name)
		case nt.Tensor == nil:
			return fmt.Errorf("nn: AdamW.LoadState: tensor %q is nil", nt.Name)
		case !slices.Equal(nt.Tensor.Shape, w.p.Value.Shape) || nt.Tensor.Len() != len(w.dst):
			return fmt.Errorf("nn: AdamW.LoadState: tensor %q has shape %v (%d elements), want %v",
				nt.Name, nt.Tensor.Shape, nt.Tensor.Len(), w.p.Value.Shape)
		}
		got[nt.Name] = true
	}
	for _, p := range o.params {
		for _, name := range []string{p.Name + stateM, p.Name + stateV} {
			if !got[name] {
				return fmt.Errorf("nn: AdamW.LoadState: missing tensor %q", name)
			}
		}
	}
	for _, nt := range s.Tensors {
		copy(want[nt.Name].dst, nt.Tensor.Data)
	}
	o.step = s.Step
	return nil
}

// normChunk is the number of gradient elements per partial sum of squares.
// Chunks depend only on the parameter sizes, so the norm is the same
// whatever GOMAXPROCS is.
const normChunk = 1 << 14

// normJob holds the scratch of one GradNorm or ClipGradNorm call.
type normJob struct {
	params   []*Param
	offsets  []int
	partials []float64
	scale    float32
	sumK     par.Func
	scaleK   par.Func
}

var normJobs = par.FreeList[normJob]{New: func() *normJob {
	j := new(normJob)
	j.sumK, j.scaleK = j.sumSquares, j.scaleGrads
	return j
}}

// GradNorm returns the Euclidean norm of all the gradients of params taken
// together, accumulated in float64 in a fixed order. It allocates nothing
// in steady state.
func GradNorm(params []*Param) float64 {
	j := normJobs.Get()
	norm := j.norm(params)
	j.params = nil
	normJobs.Put(j)
	return norm
}

// ClipGradNorm scales the gradients of params so that their global
// Euclidean norm is at most maxNorm, as torch.nn.utils.clip_grad_norm_:
// with norm ‖g‖, gradients are multiplied by maxNorm/(‖g‖ + 1e-6) when that
// is below 1. It returns ‖g‖ before clipping. If ‖g‖ is NaN or infinite the
// gradients are left untouched and the norm is returned: the caller decides
// whether to skip the step or stop (PyTorch would instead scale by NaN).
// maxNorm may be +Inf (never clip); it panics if maxNorm is not positive.
func ClipGradNorm(params []*Param, maxNorm float64) float64 {
	if !(maxNorm > 0) {
		panic(fmt.Sprintf("nn: ClipGradNorm: maxNorm %v, want > 0", maxNorm))
	}
	j := normJobs.Get()
	norm := j.norm(params)
	if scale := ClipScale(norm, maxNorm); scale < 1 {
		j.scale = scale
		par.For(j.offsets[len(params)], elemGrain, j.scaleK)
	}
	j.params = nil
	normJobs.Put(j)
	return norm
}

// ClipScale is the factor ClipGradNorm multiplies gradients of global norm
// ‖g‖ by: maxNorm/(‖g‖ + 1e-6) when that is below 1, else 1 (also for a
// non-finite ‖g‖, which ClipGradNorm leaves unscaled).
func ClipScale(norm, maxNorm float64) float32 {
	if s := maxNorm / (norm + 1e-6); s < 1 && !math.IsNaN(norm) && !math.IsInf(norm, 0) {
		return float32(s)
	}
	return 1
}

// norm sets up j for params and returns their gradients' global norm.
func (j *normJob) norm(params []*Param) float64 {
	j.params = params
	for _, p := range params {
		if p.Grad.Len() != p.Value.Len() {
			panic(fmt.Sprintf("nn: GradNorm: %s has value %v and gradient %v", p.Name, p.Value.Shape, p.Grad.Shape))
		}
	}
	j.offsets = appendOffsets(j.offsets[:0], params)
	n := j.offsets[len(params)]
	chunks := (n + normChunk - 1) / normChunk
	j.partials = slices.Grow(j.partials[:0], chunks)[:chunks]
	par.For(chunks, 1, j.sumK)
	var s float64
	for _, v := range j.partials {
		s += v
	}
	return math.Sqrt(s)
}

// sumSquares sets partials[c] to the sum of squares of chunk c, for chunks
// [lo, hi), in element order.
func (j *normJob) sumSquares(lo, hi int) {
	n := j.offsets[len(j.params)]
	for c := lo; c < hi; c++ {
		a, b := c*normChunk, min((c+1)*normChunk, n)
		var s float64
		for i := segmentAt(j.offsets, a); a < b; i++ {
			off, end := j.offsets[i], min(b, j.offsets[i+1])
			for _, g := range j.params[i].Grad.Data[a-off : end-off] {
				s += float64(g) * float64(g)
			}
			a = end
		}
		j.partials[c] = s
	}
}

// scaleGrads multiplies flat gradient elements [lo, hi) by j.scale.
func (j *normJob) scaleGrads(lo, hi int) {
	for i := segmentAt(j.offsets, lo); lo < hi; i++ {
		off, end := j.offsets[i], min(hi, j.offsets[i+1])
		g := j.params[i].Grad.Data[lo-off : end-off]
		for k := range g {
			g[k] *= j.scale
		}
		lo = end
	}
}
