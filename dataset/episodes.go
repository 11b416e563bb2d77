package dataset

import (
	"fmt"
	"math"
	"slices"
)

// Episode is a run of consecutive rows [Start, Start+Len).
type Episode struct {
	Start, Len int
	// Return is the undiscounted sum of the episode's rewards (float64
	// accumulation).
	Return float64
	// Terminal: the last step is a true termination.
	Terminal bool
	// Finished: the last step carries a terminal or timeout flag. Only a
	// trailing run of rows with no flag (data cut mid-episode) is
	// unfinished; its return and returns-to-go are truncated.
	Finished bool
}

// End returns the row after the episode's last.
func (e Episode) End() int { return e.Start + e.Len }

// Episodes splits the rows at terminals|timeouts, as D4RL's
// sequence_dataset and the Decision Transformer's conversion do. A
// trailing run without a flag is kept as an unfinished episode.
func (d *Dataset) Episodes() []Episode {
	var eps []Episode
	start, ret := 0, 0.0
	for i := range d.N {
		ret += float64(d.Rewards[i])
		if d.Terminals[i] || d.Timeouts[i] {
			eps = append(eps, Episode{Start: start, Len: i + 1 - start, Return: ret, Terminal: d.Terminals[i], Finished: true})
			start, ret = i+1, 0
		}
	}
	if start < d.N {
		eps = append(eps, Episode{Start: start, Len: d.N - start, Return: ret})
	}
	return eps
}

// TopEpisodes returns the highest-return episodes of eps whose lengths add
// up to at most fraction of all their steps, and at least the best one, in
// their order in eps: the Decision Transformer's pct_traj, with which %BC
// (behaviour cloning on the top 10%, fraction 0.1) is trained. Episodes of
// equal length make it the top fraction of episodes. Ties in return go to
// the earlier episode. A fraction of 1 or more returns eps.
func TopEpisodes(eps []Episode, fraction float64) []Episode {
	if fraction >= 1 || len(eps) == 0 {
		return eps
	}
	total := 0
	for _, e := range eps {
		total += e.Len
	}
	budget := max(int(fraction*float64(total)), 1)
	order := make([]int, len(eps))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return -cmpFloat(eps[a].Return, eps[b].Return) })
	keep := make([]bool, len(eps))
	keep[order[0]] = true
	steps := eps[order[0]].Len
	for _, i := range order[1:] {
		if steps+eps[i].Len > budget {
			break
		}
		keep[i], steps = true, steps+eps[i].Len
	}
	var out []Episode
	for i, e := range eps {
		if keep[i] {
			out = append(out, e)
		}
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ReturnsToGo returns, for every row, the undiscounted sum of rewards from
// that row to the end of its episode: R̂_t = Σ_{t' ≥ t} r_{t'}. Sums run
// backwards in float64 and are rounded to float32 once.
func (d *Dataset) ReturnsToGo() []float32 {
	rtg := make([]float32, d.N)
	for _, e := range d.Episodes() {
		s := 0.0
		for i := e.End() - 1; i >= e.Start; i-- {
			s += float64(d.Rewards[i])
			rtg[i] = float32(s)
		}
	}
	return rtg
}

// Stats describes a sample: extremes, mean, population standard deviation
// and percentiles (linear interpolation between order statistics, numpy's
// default).
type Stats struct {
	Count                  int
	Min, Max, Mean, Std    float64
	P5, P25, P50, P75, P95 float64
}

// Describe computes Stats of x; an empty x gives NaNs.
func Describe(x []float64) Stats {
	s := Stats{Count: len(x)}
	if len(x) == 0 {
		nan := math.NaN()
		s.Min, s.Max, s.Mean, s.Std, s.P5, s.P25, s.P50, s.P75, s.P95 = nan, nan, nan, nan, nan, nan, nan, nan, nan
		return s
	}
	sorted := slices.Clone(x)
	slices.Sort(sorted)
	sum := 0.0
	for _, v := range x {
		sum += v
	}
	s.Mean = sum / float64(len(x))
	ss := 0.0
	for _, v := range x {
		ss += (v - s.Mean) * (v - s.Mean)
	}
	s.Std = math.Sqrt(ss / float64(len(x)))
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.P5, s.P25, s.P50 = Percentile(sorted, 5), Percentile(sorted, 25), Percentile(sorted, 50)
	s.P75, s.P95 = Percentile(sorted, 75), Percentile(sorted, 95)
	return s
}

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of sorted values,
// interpolating linearly between neighbours.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	if p < 0 || p > 100 {
		panic(fmt.Sprintf("dataset: Percentile(p=%v)", p))
	}
	pos := p / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(lo)
	return sorted[lo] + f*(sorted[lo+1]-sorted[lo])
}

// Summary is what `minrl dataset info` prints.
type Summary struct {
	N, ObsDim, ActDim    int
	Terminals, Timeouts  int // rows flagged
	Episodes             int
	Finished, Unfinished int
	// Lengths and Returns describe the finished episodes only: an
	// unfinished one is cut short and would distort both.
	Lengths, Returns Stats
}

// Summarize counts flags and episodes and describes the lengths and
// returns of finished episodes.
func (d *Dataset) Summarize() Summary {
	s := Summary{N: d.N, ObsDim: d.ObsDim, ActDim: d.ActDim}
	for i := range d.N {
		if d.Terminals[i] {
			s.Terminals++
		}
		if d.Timeouts[i] {
			s.Timeouts++
		}
	}
	eps := d.Episodes()
	var lens, rets []float64
	for _, e := range eps {
		if !e.Finished {
			s.Unfinished++
			continue
		}
		s.Finished++
		lens, rets = append(lens, float64(e.Len)), append(rets, e.Return)
	}
	s.Episodes = len(eps)
	s.Lengths, s.Returns = Describe(lens), Describe(rets)
	return s
}
