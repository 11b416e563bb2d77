package dataset

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// refRTG is the return-to-go of row i: rewards summed forward to the row
// that ends its episode (independent of ReturnsToGo's backward pass).
func refRTG(d *Dataset, i int) float64 {
	s := 0.0
	for j := i; j < d.N; j++ {
		s += float64(d.Rewards[j])
		if d.Terminals[j] || d.Timeouts[j] {
			break
		}
	}
	return s
}

func closeRel(a, b float32, tol float64) bool {
	return math.Abs(float64(a)-float64(b)) <= tol*math.Max(1, math.Abs(float64(b)))
}

func TestWindowContent(t *testing.T) {
	d := synth(11, 3, 2, []int{7, 3, 12}, "tot")
	nz, err := d.FitNormalizer()
	if err != nil {
		t.Fatal(err)
	}
	const K, scale, maxEpLen = 5, 10.0, 9
	s, err := NewWindowSampler(d, nz, WindowConfig{K: K, RTGScale: scale, MaxEpLen: maxEpLen})
	if err != nil {
		t.Fatal(err)
	}
	eps := s.Episodes()
	if len(eps) != 3 {
		t.Fatalf("%d episodes", len(eps))
	}
	var b Batch
	b.Resize(2, K, d.ObsDim, d.ActDim)
	for ep, e := range eps {
		for start := range e.Len {
			i := start % 2 // alternate sequences so stale values would show
			s.Window(&b, i, ep, start)
			tlen := min(K, e.Len-start)
			pad := K - tlen
			for k := range K {
				p := i*K + k
				if k < pad {
					for j := range d.ObsDim {
						if b.States[p*d.ObsDim+j] != 0 {
							t.Fatalf("ep %d start %d step %d: padded state %v", ep, start, k, b.States[p*d.ObsDim+j])
						}
					}
					for j := range d.ActDim {
						if b.Actions[p*d.ActDim+j] != -10 {
							t.Fatalf("ep %d start %d step %d: padded action %v", ep, start, k, b.Actions[p*d.ActDim+j])
						}
					}
					if b.Rewards[p] != 0 || b.RTG[p] != 0 || b.Timesteps[p] != 0 || b.Mask[p] != 0 {
						t.Fatalf("ep %d start %d step %d: padding r %v rtg %v t %v m %v", ep, start, k, b.Rewards[p], b.RTG[p], b.Timesteps[p], b.Mask[p])
					}
					continue
				}
				tt := start + k - pad
				row := e.Start + tt
				for j := range d.ObsDim {
					want := float32((float64(d.Observations[row*d.ObsDim+j]) - nz.Mean[j]) / nz.Std[j])
					if b.States[p*d.ObsDim+j] != want {
						t.Fatalf("ep %d start %d step %d: state %v, want %v", ep, start, k, b.States[p*d.ObsDim+j], want)
					}
				}
				for j := range d.ActDim {
					if b.Actions[p*d.ActDim+j] != d.Actions[row*d.ActDim+j] {
						t.Fatalf("ep %d start %d step %d: action", ep, start, k)
					}
				}
				if b.Rewards[p] != d.Rewards[row] {
					t.Fatalf("ep %d start %d step %d: reward", ep, start, k)
				}
				if want := float32(refRTG(d, row) / scale); !closeRel(b.RTG[p], want, 1e-6) {
					t.Fatalf("ep %d start %d step %d: rtg %v, want %v", ep, start, k, b.RTG[p], want)
				}
				if want := int32(min(tt, maxEpLen-1)); b.Timesteps[p] != want {
					t.Fatalf("ep %d start %d step %d: timestep %d, want %d", ep, start, k, b.Timesteps[p], want)
				}
				if b.Mask[p] != 1 {
					t.Fatalf("ep %d start %d step %d: mask %v", ep, start, k, b.Mask[p])
				}
			}
		}
	}
	// A window at the start of the 12-step episode has no padding and
	// timesteps 0..4; one at step 8 has 4 real steps, clipped to 8.
	s.Window(&b, 0, 2, 8)
	if got := b.Timesteps[:K]; !reflect.DeepEqual(got, []int32{0, 8, 8, 8, 8}) || b.Mask[0] != 0 || b.Mask[1] != 1 {
		t.Fatalf("clipped window: timesteps %v mask %v", got, b.Mask[:K])
	}
}

// idDataset encodes (episode, step) in each observation, so a sampled
// window reveals where it came from.
func idDataset(lens []int, ends string) *Dataset {
	d := synth(1, 2, 1, lens, ends)
	r := 0
	for e, l := range lens {
		for k := range l {
			d.Observations[(r+k)*2] = float32(e)
			d.Observations[(r+k)*2+1] = float32(k)
		}
		r += l
	}
	return d
}

// chiSquare returns Σ (obs − exp)² / exp.
func chiSquare(obs []int, exp []float64) float64 {
	c := 0.0
	for i := range obs {
		c += (float64(obs[i]) - exp[i]) * (float64(obs[i]) - exp[i]) / exp[i]
	}
	return c
}

func TestWindowSampleDistribution(t *testing.T) {
	lens := []int{1, 2, 5, 10, 40, 100, 30}
	d := idDataset(lens, "ttottt-") // the last episode is unfinished
	const K, B, rounds = 3, 500, 200
	s, err := NewWindowSampler(d, nil, WindowConfig{K: K, RTGScale: 1, MaxEpLen: 1000, Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, len(lens))
	starts := make([]int, 10) // starts within the 100-step episode, 10 bins
	var b Batch
	for range rounds {
		s.Sample(&b, B)
		for i := range B {
			k := 0
			for b.Mask[i*K+k] == 0 {
				k++
			}
			ep, step := int(b.States[(i*K+k)*2]), int(b.States[(i*K+k)*2+1])
			counts[ep]++
			if ep == 5 {
				starts[step/10]++
			}
		}
	}
	if counts[6] != 0 {
		t.Fatalf("unfinished episode sampled %d times", counts[6])
	}
	total, n := 0, B*rounds
	for _, l := range lens[:6] {
		total += l
	}
	exp := make([]float64, 6)
	for i, l := range lens[:6] {
		exp[i] = float64(n) * float64(l) / float64(total)
	}
	// Critical values at p = 0.001: 20.52 (5 degrees of freedom), 27.88 (9).
	if c := chiSquare(counts[:6], exp); c > 20.52 {
		t.Errorf("episode counts %v, expected %v: chi² %.1f", counts[:6], exp, c)
	}
	expStart := make([]float64, 10)
	for i := range expStart {
		expStart[i] = float64(counts[5]) / 10
	}
	if c := chiSquare(starts, expStart); c > 27.88 {
		t.Errorf("start bins %v: chi² %.1f", starts, c)
	}

	// With IncludeUnfinished the trailing episode is drawn too.
	s, _ = NewWindowSampler(d, nil, WindowConfig{K: K, RTGScale: 1, MaxEpLen: 1000, IncludeUnfinished: true})
	s.Sample(&b, 2000)
	seen := false
	for i := range 2000 {
		if b.States[(i*K+K-1)*2] == 6 {
			seen = true
		}
	}
	if !seen || len(s.Episodes()) != 7 {
		t.Error("IncludeUnfinished: unfinished episode never sampled")
	}
}

func TestWindowDeterminismAndAllocs(t *testing.T) {
	d := synth(4, 5, 2, []int{30, 50, 20, 70}, "toto")
	nz, _ := d.FitNormalizer()
	cfg := DefaultWindowConfig()
	cfg.Seed = 9
	s1, _ := NewWindowSampler(d, nz, cfg)
	s2, _ := NewWindowSampler(d, nz, cfg)
	cfg.Seed = 10
	s3, _ := NewWindowSampler(d, nz, cfg)
	var b1, b2, b3 Batch
	for range 5 {
		s1.Sample(&b1, 16)
		s2.Sample(&b2, 16)
		s3.Sample(&b3, 16)
		if !reflect.DeepEqual(b1, b2) {
			t.Fatal("same seed, different batches")
		}
	}
	if reflect.DeepEqual(b1, b3) {
		t.Fatal("different seeds, same batches")
	}
	if a := testing.AllocsPerRun(20, func() { s1.Sample(&b1, 16) }); a != 0 {
		t.Fatalf("Sample allocates %v times per call", a)
	}
}

func TestEpisodeSamplerContent(t *testing.T) {
	d := synth(12, 3, 2, []int{4, 9, 6}, "tot")
	nz, _ := d.FitNormalizer()
	const scale, maxEpLen = 100.0, 5
	s, err := NewEpisodeSampler(d, nz, EpisodeConfig{RTGScale: scale, MaxEpLen: maxEpLen})
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	b.Resize(3, 11, d.ObsDim, d.ActDim)
	for i := range b.States {
		b.States[i] = 7 // stale values that padding must overwrite
	}
	for i := range b.Actions {
		b.Actions[i] = 7
	}
	for ep, e := range s.Episodes() {
		s.Episode(&b, ep, ep)
		for k := range b.K {
			p := ep*b.K + k
			if k >= e.Len {
				for j := range d.ObsDim {
					if b.States[p*d.ObsDim+j] != 0 {
						t.Fatalf("ep %d step %d: padded state", ep, k)
					}
				}
				for j := range d.ActDim {
					if b.Actions[p*d.ActDim+j] != 0 {
						t.Fatalf("ep %d step %d: padded action %v", ep, k, b.Actions[p*d.ActDim+j])
					}
				}
				if b.Rewards[p] != 0 || b.RTG[p] != 0 || b.Timesteps[p] != 0 || b.Mask[p] != 0 {
					t.Fatalf("ep %d step %d: padding", ep, k)
				}
				continue
			}
			row := e.Start + k
			for j := range d.ObsDim {
				want := float32((float64(d.Observations[row*d.ObsDim+j]) - nz.Mean[j]) / nz.Std[j])
				if b.States[p*d.ObsDim+j] != want {
					t.Fatalf("ep %d step %d: state", ep, k)
				}
			}
			for j := range d.ActDim {
				if b.Actions[p*d.ActDim+j] != d.Actions[row*d.ActDim+j] {
					t.Fatalf("ep %d step %d: action", ep, k)
				}
			}
			if b.Rewards[p] != d.Rewards[row] || b.Mask[p] != 1 || b.Timesteps[p] != int32(min(k, maxEpLen-1)) {
				t.Fatalf("ep %d step %d: reward %v mask %v t %d", ep, k, b.Rewards[p], b.Mask[p], b.Timesteps[p])
			}
			if want := float32(refRTG(d, row) / scale); !closeRel(b.RTG[p], want, 1e-6) {
				t.Fatalf("ep %d step %d: rtg %v want %v", ep, k, b.RTG[p], want)
			}
		}
	}
	// Sample: K is the longest episode drawn.
	for range 20 {
		s.Sample(&b, 2)
		want := 0
		for i := range 2 {
			n := 0
			for k := range b.K {
				n += int(b.Mask[i*b.K+k])
			}
			want = max(want, n)
		}
		if b.K != want || b.B != 2 {
			t.Fatalf("batch K %d, longest episode %d", b.K, want)
		}
	}
}

func TestEpisodeSamplerDistribution(t *testing.T) {
	lens := []int{2, 8, 30, 60}
	d := idDataset(lens, "toto")
	for _, uniform := range []bool{false, true} {
		s, err := NewEpisodeSampler(d, nil, EpisodeConfig{RTGScale: 1, MaxEpLen: 1000, Uniform: uniform, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		counts := make([]int, len(lens))
		var b Batch
		const B, rounds = 200, 200
		for range rounds {
			s.Sample(&b, B)
			for i := range B {
				counts[int(b.States[i*b.K*2])]++
				if b.States[i*b.K*2+1] != 0 {
					t.Fatal("episode does not start at t = 0")
				}
			}
		}
		exp := make([]float64, len(lens))
		for i, l := range lens {
			if uniform {
				exp[i] = B * rounds / float64(len(lens))
			} else {
				exp[i] = B * rounds * float64(l) / 100
			}
		}
		if c := chiSquare(counts, exp); c > 16.27 { // p = 0.001, 3 degrees of freedom
			t.Errorf("uniform %v: counts %v, expected %v: chi² %.1f", uniform, counts, exp, c)
		}
	}
}

func TestEpisodeSamplerDeterminismAndAllocs(t *testing.T) {
	d := synth(4, 5, 2, []int{30, 50, 20, 70}, "toto")
	cfg := DefaultEpisodeConfig()
	cfg.Seed = 3
	s1, _ := NewEpisodeSampler(d, nil, cfg)
	s2, _ := NewEpisodeSampler(d, nil, cfg)
	var b1, b2 Batch
	for range 5 {
		s1.Sample(&b1, 8)
		s2.Sample(&b2, 8)
		if !reflect.DeepEqual(b1, b2) {
			t.Fatal("same seed, different batches")
		}
	}
	if a := testing.AllocsPerRun(20, func() { s1.Sample(&b1, 8) }); a != 0 {
		t.Fatalf("Sample allocates %v times per call", a)
	}
}

func TestSamplerErrors(t *testing.T) {
	d := synth(1, 3, 1, []int{5, 5}, "t-")
	if _, err := NewWindowSampler(d, nil, WindowConfig{K: 0, RTGScale: 1, MaxEpLen: 1}); err == nil {
		t.Error("K = 0 accepted")
	}
	if _, err := NewWindowSampler(d, nil, WindowConfig{K: 2, RTGScale: 0, MaxEpLen: 1}); err == nil {
		t.Error("scale 0 accepted")
	}
	if _, err := NewEpisodeSampler(d, nil, EpisodeConfig{RTGScale: 1, MaxEpLen: 0}); err == nil {
		t.Error("MaxEpLen 0 accepted")
	}
	bad := &Normalizer{Mean: []float64{0}, Std: []float64{1}}
	if _, err := NewWindowSampler(d, bad, DefaultWindowConfig()); !errors.Is(err, ErrShape) {
		t.Errorf("normaliser width: %v", err)
	}
	only := synth(1, 3, 1, []int{5}, "-")
	if _, err := NewWindowSampler(only, nil, DefaultWindowConfig()); !errors.Is(err, ErrNoEpisodes) {
		t.Errorf("no finished episode: %v", err)
	}
	if _, err := NewEpisodeSampler(only, nil, DefaultEpisodeConfig()); !errors.Is(err, ErrNoEpisodes) {
		t.Errorf("no finished episode: %v", err)
	}
	s, _ := NewWindowSampler(d, nil, WindowConfig{K: 4, RTGScale: 1, MaxEpLen: 10})
	var b Batch
	b.Resize(1, 3, 3, 1) // wrong K
	defer func() {
		if recover() == nil {
			t.Error("Window with a wrongly shaped batch did not panic")
		}
	}()
	s.Window(&b, 0, 0, 0)
}

// A sampler restored to a saved state draws the same batches as one that
// kept going.
func TestSamplerStateResumes(t *testing.T) {
	d := synth(5, 3, 2, []int{7, 12, 30, 5}, "toto")
	ws, err := NewWindowSampler(d, nil, WindowConfig{K: 4, RTGScale: 10, MaxEpLen: 100, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	es, err := NewEpisodeSampler(d, nil, EpisodeConfig{RTGScale: 10, MaxEpLen: 100, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []interface {
		Sample(*Batch, int)
		State() ([]byte, error)
		SetState([]byte) error
	}{ws, es} {
		var a, b Batch
		s.Sample(&a, 3)
		state, err := s.State()
		if err != nil {
			t.Fatal(err)
		}
		s.Sample(&a, 3)
		want := append([]float32(nil), a.States...)
		s.Sample(&b, 3) // move on, then rewind
		if err := s.SetState(state); err != nil {
			t.Fatal(err)
		}
		s.Sample(&b, 3)
		if !slices.Equal(b.States, want) {
			t.Errorf("%T: restored sampler draws a different batch", s)
		}
		if err := s.SetState([]byte("junk")); err == nil {
			t.Errorf("%T: junk state accepted", s)
		}
	}
}

// TestTopEpisodes: %BC's filter keeps exactly the highest-return episodes
// that fit the step budget (DT's pct_traj): a prefix of the episodes
// ranked by return whose steps fit, the next one not fitting, in dataset
// order; and the samplers draw from those alone.
func TestTopEpisodes(t *testing.T) {
	// Hand-made: returns 5, 9, 1, 7, 3 over lengths 10, 20, 10, 30, 30
	// (100 steps). 0.5 -> budget 50: 9 (20 steps), then 7 (30) = 50, then
	// 5 does not fit.
	eps := []Episode{{Start: 0, Len: 10, Return: 5}, {Start: 10, Len: 20, Return: 9}, {Start: 30, Len: 10, Return: 1},
		{Start: 40, Len: 30, Return: 7}, {Start: 70, Len: 30, Return: 3}}
	for _, c := range []struct {
		f    float64
		want []int // Start of the kept episodes
	}{{0.5, []int{10, 40}}, {0.1, []int{10}}, {0.01, []int{10}}, {0.59, []int{10, 40}}, {0.6, []int{0, 10, 40}}, {1, []int{0, 10, 30, 40, 70}}} {
		var got []int
		for _, e := range TopEpisodes(eps, c.f) {
			got = append(got, e.Start)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("fraction %g: kept starts %v, want %v", c.f, got, c.want)
		}
	}
	// Random episodes against the definition.
	rng := rand.New(rand.NewPCG(8, 9))
	for trial := range 200 {
		n := 1 + rng.IntN(30)
		eps := make([]Episode, n)
		total := 0
		for i := range eps {
			eps[i] = Episode{Start: total, Len: 1 + rng.IntN(50), Return: float64(rng.IntN(20))} // ties happen
			total += eps[i].Len
		}
		f := rng.Float64()
		kept := TopEpisodes(eps, f)
		in := map[int]bool{}
		steps := 0
		for i, e := range kept {
			in[e.Start] = true
			steps += e.Len
			if i > 0 && kept[i-1].Start >= e.Start {
				t.Fatalf("trial %d: kept episodes out of dataset order", trial)
			}
		}
		budget := max(int(f*float64(total)), 1)
		if len(kept) == 0 || (len(kept) > 1 && steps > budget) {
			t.Fatalf("trial %d: kept %d episodes, %d steps, budget %d", trial, len(kept), steps, budget)
		}
		// Ranked by return (ties: earlier first), the kept ones are a prefix
		// and the first dropped one would not fit.
		ranked := slices.Clone(eps)
		slices.SortStableFunc(ranked, func(a, b Episode) int { return int(b.Return - a.Return) })
		for i, e := range ranked {
			if i < len(kept) != in[e.Start] {
				t.Fatalf("trial %d: rank %d (return %g) kept=%v; kept %d episodes", trial, i, e.Return, in[e.Start], len(kept))
			}
			if i == len(kept) && steps+e.Len <= budget {
				t.Fatalf("trial %d: the next episode (%d steps) fits the budget (%d of %d used)", trial, e.Len, steps, budget)
			}
		}
	}
	// Equal lengths: exactly the top fraction of the episodes.
	lens := slices.Repeat([]int{10}, 20)
	d := idDataset(lens, strings.Repeat("t", 20))
	clear(d.Rewards)
	for e := range 20 {
		d.Rewards[e*10] = float32((e * 7) % 20) // distinct returns
	}
	for _, kind := range []string{"window", "episode"} {
		var s interface {
			Sample(*Batch, int)
			Episodes() []Episode
		}
		var err error
		if kind == "window" {
			s, err = NewWindowSampler(d, nil, WindowConfig{K: 3, RTGScale: 1, MaxEpLen: 100, TopFraction: 0.1, Seed: 1})
		} else {
			s, err = NewEpisodeSampler(d, nil, EpisodeConfig{RTGScale: 1, MaxEpLen: 100, TopFraction: 0.1, Seed: 1})
		}
		if err != nil {
			t.Fatal(err)
		}
		var rets []float64
		for _, e := range s.Episodes() {
			rets = append(rets, e.Return)
		}
		// Episode e returns 7e mod 20: 19 is episode 17, 18 episode 14.
		if !slices.Equal(rets, []float64{18, 19}) {
			t.Errorf("%s sampler: returns of the kept episodes %v, want the top 2 of 20 in dataset order: [18 19]", kind, rets)
		}
		var b Batch
		for range 20 {
			s.Sample(&b, 8)
			for i, m := range b.Mask {
				if ep := int(b.States[2*i]); m != 0 && ep != 14 && ep != 17 {
					t.Fatalf("%s sampler drew from episode %d (return %g)", kind, ep, float64((ep*7)%20))
				}
			}
		}
	}
}
