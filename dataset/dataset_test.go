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

// synth builds a dataset whose episodes have the given lengths; ends[i]
// says how episode i ends: 't' terminal, 'o' timeout, '-' no flag (only
// sensible for the last). Values are random but finite.
func synth(seed uint64, obsDim, actDim int, lens []int, ends string) *Dataset {
	n := 0
	for _, l := range lens {
		n += l
	}
	d := New(n, obsDim, actDim)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := range d.Observations {
		d.Observations[i] = float32(rng.NormFloat64()*2 + 1)
		d.NextObservations[i] = float32(rng.NormFloat64())
	}
	for i := range d.Actions {
		d.Actions[i] = float32(rng.Float64()*2 - 1)
	}
	for i := range d.Rewards {
		d.Rewards[i] = float32(rng.Float64()*3 - 0.5)
	}
	r := 0
	for i, l := range lens {
		r += l
		switch ends[i] {
		case 't':
			d.Terminals[r-1] = true
		case 'o':
			d.Timeouts[r-1] = true
		}
	}
	return d
}

func TestEpisodes(t *testing.T) {
	d := New(10, 1, 1)
	for i := range d.Rewards {
		d.Rewards[i] = float32(i + 1)
	}
	d.Terminals[2] = true // episode [0,3)
	d.Timeouts[3] = true  // [3,4)
	d.Terminals[7] = true // [4,8)
	// rows 8, 9: no flag -> unfinished
	want := []Episode{
		{Start: 0, Len: 3, Return: 1 + 2 + 3, Terminal: true, Finished: true},
		{Start: 3, Len: 1, Return: 4, Terminal: false, Finished: true},
		{Start: 4, Len: 4, Return: 5 + 6 + 7 + 8, Terminal: true, Finished: true},
		{Start: 8, Len: 2, Return: 9 + 10, Finished: false},
	}
	if got := d.Episodes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Episodes:\n got %+v\nwant %+v", got, want)
	}
	// Both flags on one row end one episode, which counts as terminal.
	d.Timeouts[9] = true
	d.Terminals[9] = true
	eps := d.Episodes()
	if last := eps[len(eps)-1]; !last.Finished || !last.Terminal || last.Len != 2 {
		t.Fatalf("last episode %+v", last)
	}
	if got := (&Dataset{}).Episodes(); len(got) != 0 {
		t.Fatalf("empty dataset: %v", got)
	}
}

func TestReturnsToGo(t *testing.T) {
	d := synth(3, 2, 1, []int{5, 1, 7, 4}, "tot-")
	rtg := d.ReturnsToGo()
	for i := range d.N {
		// Reference: walk forward from row i to the row that ends its
		// episode (first flag at or after i, or the last row).
		want := 0.0
		for j := i; j < d.N; j++ {
			want += float64(d.Rewards[j])
			if d.Terminals[j] || d.Timeouts[j] {
				break
			}
		}
		if rtg[i] != float32(want) {
			t.Fatalf("row %d: rtg %v, want %v", i, rtg[i], want)
		}
	}
	// Episode returns equal the RTG of each first step.
	for _, e := range d.Episodes() {
		if float32(e.Return) != rtg[e.Start] {
			t.Fatalf("episode %+v: return %v, rtg %v", e, e.Return, rtg[e.Start])
		}
	}
}

func TestCheck(t *testing.T) {
	ok := synth(1, 3, 2, []int{4, 4}, "to")
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mutate func(d *Dataset)
		is     error
		substr []string
	}{
		{"short actions", func(d *Dataset) { d.Actions = d.Actions[:5] }, ErrShape, []string{`"actions"`, "5 values"}},
		{"short rewards", func(d *Dataset) { d.Rewards = d.Rewards[:7] }, ErrShape, []string{`"rewards"`}},
		{"long next obs", func(d *Dataset) { d.NextObservations = append(d.NextObservations, 1) }, ErrShape, []string{`"next_observations"`}},
		{"short terminals", func(d *Dataset) { d.Terminals = d.Terminals[:1] }, ErrShape, []string{`"terminals"`}},
		{"short timeouts", func(d *Dataset) { d.Timeouts = nil }, ErrShape, []string{`"timeouts"`}},
		{"qpos width", func(d *Dataset) { d.QPos, d.QPosDim = make([]float32, 8*3+1), 3 }, ErrShape, []string{`"infos/qpos"`}},
		{"nan obs", func(d *Dataset) { d.Observations[5*3+2] = float32(math.NaN()) }, ErrNonFinite, []string{`"observations"`, "row 5", "column 2"}},
		{"inf reward", func(d *Dataset) { d.Rewards[6] = float32(math.Inf(-1)) }, ErrNonFinite, []string{`"rewards"`, "row 6"}},
		{"inf qvel", func(d *Dataset) { d.QVel, d.QVelDim = make([]float32, 8), 1; d.QVel[7] = float32(math.Inf(1)) }, ErrNonFinite, []string{`"infos/qvel"`, "row 7"}},
		{"huge reward", func(d *Dataset) { d.Rewards[3] = 3e38 }, ErrImplausible, []string{`"rewards"`, "row 3", "3e+38"}},
		{"huge action", func(d *Dataset) { d.Actions[2*2+1] = -2e9 }, ErrImplausible, []string{`"actions"`, "row 2", "column 1"}},
		{"norm dim", func(d *Dataset) { d.Norm = &Normalizer{Mean: []float64{0}, Std: []float64{1}} }, ErrShape, []string{"normaliser"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := synth(1, 3, 2, []int{4, 4}, "to")
			c.mutate(d)
			err := d.Check()
			if !errors.Is(err, c.is) {
				t.Fatalf("err %v, want %v", err, c.is)
			}
			for _, s := range c.substr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %s", err, s)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	d := synth(1, 11, 3, []int{3}, "t")
	if err := d.Validate(11, 3); err != nil {
		t.Fatal(err)
	}
	err := d.Validate(17, 3)
	if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), "observations") || !strings.Contains(err.Error(), "17") {
		t.Fatalf("obs mismatch: %v", err)
	}
	err = d.Validate(11, 6)
	if !errors.Is(err, ErrShape) || !strings.Contains(err.Error(), "actions") || !strings.Contains(err.Error(), "6") {
		t.Fatalf("act mismatch: %v", err)
	}
}

func TestFillTimeouts(t *testing.T) {
	// Episodes: 3 steps ending in a terminal, then 7 unflagged steps.
	d := New(10, 1, 1)
	d.Terminals[2] = true
	d.TimeoutsMissing = true
	if n := d.FillTimeouts(3); n != 2 {
		t.Fatalf("set %d timeouts, want 2", n)
	}
	want := []bool{false, false, false, false, false, true, false, false, true, false}
	if !reflect.DeepEqual(d.Timeouts, want) {
		t.Fatalf("timeouts %v, want %v", d.Timeouts, want)
	}
	if d.TimeoutsMissing {
		t.Fatal("TimeoutsMissing still set")
	}
}

func TestDescribe(t *testing.T) {
	// numpy: np.percentile([3, 1, 4, 1, 5], [5, 25, 50, 75, 95]) =
	// [1, 1, 3, 4, 4.8]; mean 2.8; np.std = sqrt(12.8 / 5) = 1.6.
	s := Describe([]float64{3, 1, 4, 1, 5})
	want := Stats{Count: 5, Min: 1, Max: 5, Mean: 2.8, Std: 1.6, P5: 1, P25: 1, P50: 3, P75: 4, P95: 4.8}
	for _, f := range []struct {
		name      string
		got, want float64
	}{{"min", s.Min, want.Min}, {"max", s.Max, want.Max}, {"mean", s.Mean, want.Mean}, {"std", s.Std, want.Std},
		{"p5", s.P5, want.P5}, {"p25", s.P25, want.P25}, {"p50", s.P50, want.P50}, {"p75", s.P75, want.P75}, {"p95", s.P95, want.P95}} {
		if math.Abs(f.got-f.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if s.Count != 5 {
		t.Errorf("count %d", s.Count)
	}
	// np.percentile([10, 20], 30) = 13.
	if p := Percentile([]float64{10, 20}, 30); math.Abs(p-13) > 1e-12 {
		t.Errorf("Percentile = %v, want 13", p)
	}
	if e := Describe(nil); !math.IsNaN(e.Mean) || e.Count != 0 {
		t.Errorf("empty: %+v", e)
	}
}

func TestSummarize(t *testing.T) {
	d := synth(2, 2, 2, []int{3, 5, 2}, "to-")
	s := d.Summarize()
	if s.N != 10 || s.Episodes != 3 || s.Finished != 2 || s.Unfinished != 1 || s.Terminals != 1 || s.Timeouts != 1 {
		t.Fatalf("summary %+v", s)
	}
	// Only the two finished episodes (3 and 5 steps) are described.
	if s.Lengths.Count != 2 || s.Lengths.Min != 3 || s.Lengths.Max != 5 || s.Lengths.Mean != 4 {
		t.Fatalf("lengths %+v", s.Lengths)
	}
	eps := d.Episodes()
	if s.Returns.Min != math.Min(eps[0].Return, eps[1].Return) || s.Returns.Count != 2 {
		t.Fatalf("returns %+v", s.Returns)
	}
}

// A file without timeouts gets its episode ends back: exactly from
// next_observations where stored, by the step limit otherwise, and an
// error when neither is there (issue 16, item 4).
func TestRecoverTimeouts(t *testing.T) {
	// Episodes of 4, 3 (terminal) and 5 steps; continuity within each.
	lens, ends := []int{4, 3, 5}, "oto"
	mk := func() *Dataset {
		d := synth(2, 2, 1, lens, ends)
		o := d.ObsDim
		for i := 0; i+1 < d.N; i++ {
			copy(d.NextObservations[i*o:(i+1)*o], d.Observations[(i+1)*o:(i+2)*o])
		}
		// Break continuity at the two timeouts (ends of episodes 1 and 3).
		d.NextObservations[3*o] += 1
		d.NextObservations[11*o] += 1
		clear(d.Timeouts)
		d.TimeoutsMissing = true
		return d
	}
	d := mk()
	n, rule, err := d.RecoverTimeouts(0)
	if err != nil || n != 1 || !strings.Contains(rule, "next observation") {
		t.Fatalf("from next_observations: %d %q %v", n, rule, err)
	}
	// Row 3 ends episode 1; row 11 is the last row (an unfinished end is
	// not marked: nothing follows it).
	if !d.Timeouts[3] || d.TimeoutsMissing || slices.Index(d.Timeouts[4:], true) >= 0 {
		t.Errorf("timeouts %v", d.Timeouts)
	}

	d = mk()
	d.NextObservations = nil
	if n, rule, err = d.RecoverTimeouts(4); err != nil || n == 0 || !strings.Contains(rule, "every 4 steps") || !d.Timeouts[3] {
		t.Errorf("by the step limit: %d %q %v, timeouts %v", n, rule, err, d.Timeouts)
	}

	d = mk()
	d.NextObservations = nil
	if _, _, err := d.RecoverTimeouts(0); err == nil || !strings.Contains(err.Error(), "cannot be recovered") {
		t.Errorf("no way to recover: %v", err)
	}
}
