package dataset

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// PadAction is the value of actions in left-padded window steps, as the
// Decision Transformer pads them.
const PadAction = -10

// ErrNoEpisodes reports a dataset with no episode a sampler may use.
var ErrNoEpisodes = errors.New("no episodes to sample")

// newRNG seeds a PCG stream (the same construction as nn.NewRNG) and
// returns its source too, whose state can be saved and restored.
func newRNG(seed uint64) (*rand.Rand, *rand.PCG) {
	src := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	return rand.New(src), src
}

// rngState is the saved position of a sampler's random stream.
func rngState(src *rand.PCG) ([]byte, error) { return src.MarshalBinary() }

func setRNGState(src *rand.PCG, state []byte) error {
	if err := src.UnmarshalBinary(state); err != nil {
		return fmt.Errorf("dataset: sampler state: %w", err)
	}
	return nil
}

// episodeSet is the episodes a sampler draws from, with the cumulative
// lengths that map a uniform row to its episode.
type episodeSet struct {
	eps   []Episode
	cum   []int // cum[i] = total length of eps[:i]; len(eps)+1 entries
	total int
}

func newEpisodeSet(d *Dataset, includeUnfinished bool, topFraction float64) (episodeSet, error) {
	var s episodeSet
	if topFraction < 0 || topFraction > 1 || math.IsNaN(topFraction) {
		return s, fmt.Errorf("dataset: top fraction %g, want in (0, 1] (0: every episode)", topFraction)
	}
	for _, e := range d.Episodes() {
		if e.Finished || includeUnfinished {
			s.eps = append(s.eps, e)
		}
	}
	if len(s.eps) == 0 {
		return s, fmt.Errorf("%w (%d rows; unfinished episodes included: %v)", ErrNoEpisodes, d.N, includeUnfinished)
	}
	if topFraction > 0 {
		s.eps = TopEpisodes(s.eps, topFraction)
	}
	s.cum = make([]int, len(s.eps)+1)
	for i, e := range s.eps {
		s.cum[i+1] = s.cum[i] + e.Len
	}
	s.total = s.cum[len(s.eps)]
	return s, nil
}

// row draws a row uniformly from all episodes and returns its episode
// index and step. Choosing an episode with probability len/total and then
// a step uniformly in [0, len−1] is the same distribution, so this is the
// Decision Transformer's sampler with one random draw.
func (s *episodeSet) row(rng *rand.Rand) (ep, step int) {
	u := rng.IntN(s.total)
	lo, hi := 0, len(s.eps)-1 // largest i with cum[i] <= u
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if s.cum[mid] <= u {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, u - s.cum[lo]
}

// WindowConfig configures a WindowSampler; DefaultWindowConfig gives the
// Decision Transformer's Gym settings.
type WindowConfig struct {
	K        int     // context length in steps
	RTGScale float64 // returns-to-go are divided by it
	MaxEpLen int     // timesteps are clipped to MaxEpLen−1
	// IncludeUnfinished also samples a trailing episode that has no
	// terminal or timeout. Off by default, like DT's conversion script,
	// which drops it: its returns-to-go are truncated.
	IncludeUnfinished bool
	// TopFraction, when in (0, 1), samples only TopEpisodes(·, TopFraction)
	// (%BC); 0 or 1 samples every episode.
	TopFraction float64
	Seed        uint64
}

// DefaultWindowConfig returns K 20, RTG scale 1000 and max episode length
// 1000 (DT's Gym MuJoCo settings).
func DefaultWindowConfig() WindowConfig {
	return WindowConfig{K: 20, RTGScale: 1000, MaxEpLen: 1000}
}

// WindowSampler draws the Decision Transformer's training windows: an
// episode with probability proportional to its length, a start uniform
// over [0, len−1], K steps from there, left-padded when fewer remain.
type WindowSampler struct {
	d    *Dataset
	norm *Normalizer
	cfg  WindowConfig
	rng  *rand.Rand
	src  *rand.PCG
	rtg  []float32
	set  episodeSet
}

// NewWindowSampler prepares a sampler over d. States are normalised with
// norm (nil: raw states).
func NewWindowSampler(d *Dataset, norm *Normalizer, cfg WindowConfig) (*WindowSampler, error) {
	if cfg.K <= 0 || !(cfg.RTGScale > 0) || cfg.MaxEpLen <= 0 {
		return nil, fmt.Errorf("dataset: window sampler needs K > 0, RTGScale > 0, MaxEpLen > 0 (got %d, %v, %d)", cfg.K, cfg.RTGScale, cfg.MaxEpLen)
	}
	if norm != nil && norm.Dim() != d.ObsDim {
		return nil, fmt.Errorf("%w: normaliser has %d features, observations %d", ErrShape, norm.Dim(), d.ObsDim)
	}
	set, err := newEpisodeSet(d, cfg.IncludeUnfinished, cfg.TopFraction)
	if err != nil {
		return nil, err
	}
	s := &WindowSampler{d: d, norm: norm, cfg: cfg, rtg: d.ReturnsToGo(), set: set}
	s.rng, s.src = newRNG(cfg.Seed)
	return s, nil
}

// State returns the position of the sampler's random stream; SetState
// restores it, so a resumed run draws the batches an uninterrupted one
// would.
func (s *WindowSampler) State() ([]byte, error) { return rngState(s.src) }

// SetState restores a position saved by State.
func (s *WindowSampler) SetState(state []byte) error { return setRNGState(s.src, state) }

// Episodes returns the episodes the sampler draws from (do not modify).
func (s *WindowSampler) Episodes() []Episode { return s.set.eps }

// Sample fills b with B windows of K steps. It allocates only when b must
// grow.
func (s *WindowSampler) Sample(b *Batch, B int) {
	b.Resize(B, s.cfg.K, s.d.ObsDim, s.d.ActDim)
	for i := range B {
		ep, step := s.set.row(s.rng)
		s.Window(b, i, ep, step)
	}
}

// Window fills sequence i of b (already sized for K steps) with the
// window of Episodes()[ep] that starts at step start:
//
//	tlen = min(K, len − start) real steps, after K − tlen padded ones;
//	real step k covers episode step t = start + k − (K − tlen):
//	states (s_t − mean)/std, actions a_t, rewards r_t,
//	RTG R̂_t / scale, timesteps min(t, MaxEpLen−1), mask 1;
//	padding: states 0, actions −10, rewards 0, RTG 0, timesteps 0, mask 0.
func (s *WindowSampler) Window(b *Batch, i, ep, start int) {
	e := s.set.eps[ep]
	K, od, ad := s.cfg.K, s.d.ObsDim, s.d.ActDim
	if b.K != K || b.ObsDim != od || b.ActDim != ad || i < 0 || i >= b.B || start < 0 || start >= e.Len {
		panic(fmt.Sprintf("dataset: Window(seq %d, episode %d, start %d): batch [%d, %d] obs %d act %d, episode length %d, K %d",
			i, ep, start, b.B, b.K, b.ObsDim, b.ActDim, e.Len, K))
	}
	tlen := min(K, e.Len-start)
	pad := K - tlen
	base := i * K
	clear(b.States[base*od : (base+pad)*od])
	for j := range b.Actions[base*ad : (base+pad)*ad] {
		b.Actions[base*ad+j] = PadAction
	}
	clear(b.Rewards[base : base+pad])
	clear(b.RTG[base : base+pad])
	clear(b.Timesteps[base : base+pad])
	clear(b.Mask[base : base+pad])
	fillSteps(b, s.d, s.norm, s.rtg, s.cfg.RTGScale, s.cfg.MaxEpLen, base+pad, e.Start+start, start, tlen)
}

// fillSteps copies n steps of an episode, whose row r0 is step t0, into
// batch positions p0…p0+n−1 (flat sequence×step index) with mask 1.
func fillSteps(b *Batch, d *Dataset, norm *Normalizer, rtg []float32, scale float64, maxEpLen, p0, r0, t0, n int) {
	od, ad := d.ObsDim, d.ActDim
	states := b.States[p0*od : (p0+n)*od]
	if norm != nil {
		norm.Transform(states, d.Observations[r0*od:(r0+n)*od])
	} else {
		copy(states, d.Observations[r0*od:(r0+n)*od])
	}
	copy(b.Actions[p0*ad:(p0+n)*ad], d.Actions[r0*ad:(r0+n)*ad])
	copy(b.Rewards[p0:p0+n], d.Rewards[r0:r0+n])
	for k := range n {
		b.RTG[p0+k] = float32(float64(rtg[r0+k]) / scale)
		b.Timesteps[p0+k] = int32(min(t0+k, maxEpLen-1))
		b.Mask[p0+k] = 1
	}
}

// EpisodeConfig configures an EpisodeSampler.
type EpisodeConfig struct {
	RTGScale float64 // returns-to-go are divided by it
	MaxEpLen int     // timesteps are clipped to MaxEpLen−1
	// Uniform draws episodes uniformly. By default an episode is drawn
	// with probability proportional to its length, like the window
	// sampler: every transition then carries the same expected weight in
	// a per-step loss, whereas uniform draws over-weight the steps of
	// short episodes (in Hopper's medium-replay data, early failures).
	Uniform           bool
	IncludeUnfinished bool // also draw a trailing episode without a flag
	// TopFraction: as WindowConfig's.
	TopFraction float64
	Seed        uint64
}

// DefaultEpisodeConfig returns RTG scale 1000 and max episode length 1000,
// length-proportional draws.
func DefaultEpisodeConfig() EpisodeConfig {
	return EpisodeConfig{RTGScale: 1000, MaxEpLen: 1000}
}

// EpisodeSampler draws whole episodes for recurrent training: each
// sequence starts at t = 0 and the batch is right-padded to its longest
// episode with mask 0 (and zeros everywhere), which a causal model never
// sees from the real steps.
type EpisodeSampler struct {
	d      *Dataset
	norm   *Normalizer
	cfg    EpisodeConfig
	rng    *rand.Rand
	src    *rand.PCG
	rtg    []float32
	set    episodeSet
	maxLen int
	picks  []int
}

// NewEpisodeSampler prepares a sampler over d. States are normalised with
// norm (nil: raw states).
func NewEpisodeSampler(d *Dataset, norm *Normalizer, cfg EpisodeConfig) (*EpisodeSampler, error) {
	if !(cfg.RTGScale > 0) || cfg.MaxEpLen <= 0 {
		return nil, fmt.Errorf("dataset: episode sampler needs RTGScale > 0, MaxEpLen > 0 (got %v, %d)", cfg.RTGScale, cfg.MaxEpLen)
	}
	if norm != nil && norm.Dim() != d.ObsDim {
		return nil, fmt.Errorf("%w: normaliser has %d features, observations %d", ErrShape, norm.Dim(), d.ObsDim)
	}
	set, err := newEpisodeSet(d, cfg.IncludeUnfinished, cfg.TopFraction)
	if err != nil {
		return nil, err
	}
	s := &EpisodeSampler{d: d, norm: norm, cfg: cfg, rtg: d.ReturnsToGo(), set: set}
	s.rng, s.src = newRNG(cfg.Seed)
	for _, e := range set.eps {
		s.maxLen = max(s.maxLen, e.Len)
	}
	return s, nil
}

// Episodes returns the episodes the sampler draws from (do not modify).
func (s *EpisodeSampler) Episodes() []Episode { return s.set.eps }

// Sample fills b with B whole episodes; b.K becomes the longest of them.
// It grows b once to hold B of the dataset's longest episodes, so later
// State returns the position of the sampler's random stream (see
// WindowSampler.State).
func (s *EpisodeSampler) State() ([]byte, error) { return rngState(s.src) }

// SetState restores a position saved by State.
func (s *EpisodeSampler) SetState(state []byte) error { return setRNGState(s.src, state) }

// calls with the same B do not allocate.
func (s *EpisodeSampler) Sample(b *Batch, B int) {
	if cap(s.picks) < B {
		s.picks = make([]int, B)
	}
	if cap(b.Mask) < B*s.maxLen {
		b.Resize(B, s.maxLen, s.d.ObsDim, s.d.ActDim)
	}
	picks := s.picks[:B]
	K := 0
	for i := range picks {
		if s.cfg.Uniform {
			picks[i] = s.rng.IntN(len(s.set.eps))
		} else {
			picks[i], _ = s.set.row(s.rng)
		}
		K = max(K, s.set.eps[picks[i]].Len)
	}
	b.Resize(B, K, s.d.ObsDim, s.d.ActDim)
	for i, ep := range picks {
		s.Episode(b, i, ep)
	}
}

// Episode fills sequence i of b with Episodes()[ep] from t = 0, followed
// by zero padding (mask 0) up to b.K.
func (s *EpisodeSampler) Episode(b *Batch, i, ep int) {
	e := s.set.eps[ep]
	K, od, ad := b.K, s.d.ObsDim, s.d.ActDim
	if b.ObsDim != od || b.ActDim != ad || i < 0 || i >= b.B || e.Len > K {
		panic(fmt.Sprintf("dataset: Episode(seq %d, episode %d): batch [%d, %d] obs %d act %d, episode length %d",
			i, ep, b.B, b.K, b.ObsDim, b.ActDim, e.Len))
	}
	base := i * K
	fillSteps(b, s.d, s.norm, s.rtg, s.cfg.RTGScale, s.cfg.MaxEpLen, base, e.Start, 0, e.Len)
	end := base + K
	p := base + e.Len
	clear(b.States[p*od : end*od])
	clear(b.Actions[p*ad : end*ad])
	clear(b.Rewards[p:end])
	clear(b.RTG[p:end])
	clear(b.Timesteps[p:end])
	clear(b.Mask[p:end])
}
