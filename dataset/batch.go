package dataset

import "fmt"

// Batch is B sequences of K steps for a decision model. Every array is
// row-major with the sequence index first. Padded steps have Mask 0 and
// zero values (Actions −10 in left-padded windows, as the Decision
// Transformer pads); models must not let them influence real steps, and
// losses must skip them.
type Batch struct {
	B, K           int
	ObsDim, ActDim int
	States         []float32 // [B, K, ObsDim], normalised
	Actions        []float32 // [B, K, ActDim]
	Rewards        []float32 // [B, K]
	RTG            []float32 // [B, K]: return-to-go divided by the RTG scale
	Timesteps      []int32   // [B, K]: step index in the episode, clipped to MaxEpLen−1
	Mask           []float32 // [B, K]: 1 for real steps, 0 for padding
}

// Resize shapes the batch for B sequences of K steps, reusing storage.
func (b *Batch) Resize(B, K, obsDim, actDim int) {
	if B < 0 || K < 0 || obsDim < 0 || actDim < 0 {
		panic(fmt.Sprintf("dataset: Batch.Resize(%d, %d, %d, %d)", B, K, obsDim, actDim))
	}
	b.B, b.K, b.ObsDim, b.ActDim = B, K, obsDim, actDim
	n := B * K
	b.States = growF(b.States, n*obsDim)
	b.Actions = growF(b.Actions, n*actDim)
	b.Rewards = growF(b.Rewards, n)
	b.RTG = growF(b.RTG, n)
	b.Mask = growF(b.Mask, n)
	if cap(b.Timesteps) < n {
		b.Timesteps = make([]int32, n)
	}
	b.Timesteps = b.Timesteps[:n]
}

func growF(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}
