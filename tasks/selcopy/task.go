// Package selcopy is the selective-copying task of "Were RNNs All We
// Needed?" (Feng et al. 2024, §4.1), after the Mamba paper's: a long
// sequence of filler holds a few data tokens at random positions; after it
// come as many query markers, and the model must output the data tokens in
// order at those markers. The generator follows the official code
// (BorealisAI/minRNNs data/selective_copy.py): vocabulary 16, token 15 is
// EMPTY (filler), token 0 is PRED (the marker), data tokens are uniform in
// 1..14 at sorted, distinct, uniformly random positions of the first
// SeqLen steps. The loss is cross-entropy on the last Tokens outputs and
// the metric per-token argmax accuracy.
//
// The package also holds the models the paper compares (minGRU, minLSTM and
// the sequential GRU/LSTM in the official code's residual block), the loss
// with its explicit gradient, and the training loop with the checkpoint
// chosen on validation accuracy.
package selcopy

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/minrl/minrl/nn"
)

// The official vocabulary.
const (
	Vocab = 16
	Empty = Vocab - 1 // filler
	Pred  = 0         // query marker
)

// Validation and test sets come from these seeds, as in the official code
// (val_seed 0, test_seed 1). Training batches come from a different PCG
// stream (trainStream), so no seed a user picks can replay them.
const (
	ValSeed  = 0
	TestSeed = 1
)

// trainStream is the second PCG word of the training generator; nn.NewRNG
// uses another, so the fixed sets and the training batches never coincide.
const trainStream = 0x5e1ec7c0b1e5

// Task is one setting of the task: SeqLen steps of filler and data, then
// Tokens query markers, so every input has SeqLen+Tokens steps.
type Task struct {
	SeqLen int // the paper: 4096
	Tokens int // data tokens to memorise; the paper: 16
}

// Validate reports a setting the generator cannot make.
func (t Task) Validate() error {
	switch {
	case t.Tokens < 1:
		return fmt.Errorf("selective copying: %d tokens to memorise, want at least 1", t.Tokens)
	case t.SeqLen < t.Tokens:
		return fmt.Errorf("selective copying: sequence length %d holds fewer than %d tokens", t.SeqLen, t.Tokens)
	case t.SeqLen > 1<<20:
		return fmt.Errorf("selective copying: sequence length %d, want at most %d", t.SeqLen, 1<<20)
	}
	return nil
}

// Steps is the input length, SeqLen + Tokens.
func (t Task) Steps() int { return t.SeqLen + t.Tokens }

// Batch is B examples: inputs X [B, Steps] and targets Y [B, Tokens],
// row-major.
type Batch struct {
	B    int
	X, Y []int32
}

// Sampler draws batches from one generator.
type Sampler struct {
	task Task
	rng  *rand.Rand
	pos  []int
	seen map[int]struct{}
}

// NewSampler returns a sampler of task seeded with seed (the fixed sets use
// ValSeed and TestSeed). task must be valid.
func NewSampler(task Task, seed uint64) *Sampler {
	return &Sampler{task: task, rng: nn.NewRNG(seed), seen: map[int]struct{}{}}
}

// NewTrainSampler returns the training batches' sampler for a run's seed.
func NewTrainSampler(task Task, seed uint64) *Sampler {
	return &Sampler{task: task, rng: rand.New(rand.NewPCG(seed, trainStream)), seen: map[int]struct{}{}}
}

// Sample fills a batch of b examples (reusing dst's storage when given).
func (s *Sampler) Sample(dst *Batch, b int) *Batch {
	if dst == nil {
		dst = &Batch{}
	}
	L, K, T := s.task.SeqLen, s.task.Tokens, s.task.Steps()
	dst.B = b
	dst.X = resize(dst.X, b*T)
	dst.Y = resize(dst.Y, b*K)
	for i := 0; i < b; i++ {
		x, y := dst.X[i*T:(i+1)*T], dst.Y[i*K:(i+1)*K]
		for k := range y {
			y[k] = int32(1 + s.rng.IntN(Vocab-2)) // 1..14
		}
		s.positions(L, K)
		for t := range x[:L] {
			x[t] = Empty
		}
		for k, p := range s.pos {
			x[p] = y[k]
		}
		for t := L; t < T; t++ {
			x[t] = Pred
		}
	}
	return dst
}

// positions sets s.pos to k distinct positions of [0, n), uniformly over
// the k-subsets (Floyd's algorithm), sorted: what torch.randperm(n)[:k]
// followed by a sort draws.
func (s *Sampler) positions(n, k int) {
	s.pos = s.pos[:0]
	clear(s.seen)
	for j := n - k; j < n; j++ {
		p := s.rng.IntN(j + 1)
		if _, dup := s.seen[p]; dup {
			p = j
		}
		s.seen[p] = struct{}{}
		s.pos = append(s.pos, p)
	}
	slices.Sort(s.pos)
}

func resize(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// FixedSet returns n examples from seed, in batches of at most batch: the
// same examples for every run of the same task, whatever the batch size.
func FixedSet(task Task, seed uint64, n, batch int) []*Batch {
	s := NewSampler(task, seed)
	var out []*Batch
	for done := 0; done < n; done += batch {
		out = append(out, s.Sample(nil, min(batch, n-done)))
	}
	return out
}
