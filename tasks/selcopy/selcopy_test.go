package selcopy

import (
	"context"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/nn"
)

// checkExample checks one example against the official definition and
// returns the data positions.
func checkExample(t *testing.T, task Task, x, y []int32) []int {
	t.Helper()
	L, K := task.SeqLen, task.Tokens
	if len(x) != L+K || len(y) != K {
		t.Fatalf("example of %d inputs, %d targets, want %d, %d", len(x), len(y), L+K, K)
	}
	var pos []int
	var data []int32
	for p, v := range x[:L] {
		switch {
		case v == Empty:
		case v >= 1 && v <= Vocab-2:
			pos = append(pos, p)
			data = append(data, v)
		default:
			t.Fatalf("token %d at position %d of the first L, want EMPTY or 1..14", v, p)
		}
	}
	for p, v := range x[L:] {
		if v != Pred {
			t.Fatalf("token %d at marker position %d, want PRED", v, L+p)
		}
	}
	if !slices.Equal(data, y) {
		t.Fatalf("data tokens in order %v, targets %v", data, y)
	}
	return pos
}

func TestSamplesFollowTheOfficialDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := 0; trial < 200; trial++ {
		K := 1 + rng.IntN(20)
		task := Task{SeqLen: K + rng.IntN(100), Tokens: K}
		b := NewSampler(task, rng.Uint64()).Sample(nil, 1+rng.IntN(4))
		T := task.Steps()
		for i := 0; i < b.B; i++ {
			checkExample(t, task, b.X[i*T:(i+1)*T], b.Y[i*K:(i+1)*K])
		}
	}
}

// chiSquare returns Σ (o − e)²/e for observed counts against equal
// expectations.
func chiSquare(counts []int, total int) float64 {
	e := float64(total) / float64(len(counts))
	var s float64
	for _, o := range counts {
		s += (float64(o) - e) * (float64(o) - e) / e
	}
	return s
}

// Positions are a uniform K-subset (what randperm(L)[:K] draws) and tokens
// uniform over 1..14: chi-square against the uniform law, at thresholds a
// correct sampler exceeds with probability about 1e-4 and an off-by-one
// (tokens 1..15, or a biased subset) exceeds by far.
func TestSamplesAreUniform(t *testing.T) {
	task := Task{SeqLen: 5, Tokens: 2}
	s := NewSampler(task, 3)
	const n = 50000
	subsets := map[[2]int]int{}
	tokens := make([]int, Vocab-2)
	b := &Batch{}
	for i := 0; i < n; i++ {
		b = s.Sample(b, 1)
		pos := checkExample(t, task, b.X, b.Y)
		subsets[[2]int{pos[0], pos[1]}]++
		for _, v := range b.Y {
			tokens[v-1]++
		}
	}
	if len(subsets) != 10 {
		t.Fatalf("%d distinct position pairs, want C(5,2) = 10", len(subsets))
	}
	var counts []int
	for _, c := range subsets {
		counts = append(counts, c)
	}
	if c := chiSquare(counts, n); c > 33 { // 9 degrees of freedom
		t.Errorf("position subsets: chi-square %.1f over 9 dof, counts %v", c, subsets)
	}
	if c := chiSquare(tokens, 2*n); c > 45 { // 13 degrees of freedom
		t.Errorf("data tokens: chi-square %.1f over 13 dof, counts %v", c, tokens)
	}
}

func TestFixedSetsAreFixed(t *testing.T) {
	task := Task{SeqLen: 40, Tokens: 4}
	a, b := FixedSet(task, ValSeed, 10, 3), FixedSet(task, ValSeed, 10, 10)
	flat := func(bs []*Batch) (x, y []int32) {
		for _, b := range bs {
			x, y = append(x, b.X...), append(y, b.Y...)
		}
		return
	}
	ax, ay := flat(a)
	bx, by := flat(b)
	if len(a) != 4 || a[3].B != 1 || !slices.Equal(ax, bx) || !slices.Equal(ay, by) {
		t.Errorf("the validation set depends on its batch size")
	}
	tx, _ := flat(FixedSet(task, TestSeed, 10, 10))
	if slices.Equal(ax, tx) {
		t.Error("validation and test sets are equal")
	}
	tr := NewTrainSampler(task, ValSeed).Sample(nil, 10)
	if slices.Equal(tr.X, bx) {
		t.Error("training batches of seed 0 replay the validation set")
	}
}

// crossEntropy64 is the float64 reference: mean over rows of
// logsumexp(z) − z_y.
func crossEntropy64(z []float64, y []int32, V int) float64 {
	var loss float64
	for n, t := range y {
		row := z[n*V : (n+1)*V]
		mx := slices.Max(row)
		var s float64
		for _, v := range row {
			s += math.Exp(v - mx)
		}
		loss += math.Log(s) + mx - row[t]
	}
	return loss / float64(len(y))
}

func TestCrossEntropyGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 20; trial++ {
		N, V := 1+rng.IntN(8), 2+rng.IntN(20)
		z := make([]float32, N*V)
		y := make([]int32, N)
		for i := range z {
			z[i] = float32(rng.NormFloat64() * 3)
		}
		for i := range y {
			y[i] = int32(rng.IntN(V))
		}
		d := make([]float32, len(z))
		loss, correct, err := CrossEntropy(d, z, y, V)
		if err != nil {
			t.Fatal(err)
		}
		z64 := make([]float64, len(z))
		for i, v := range z {
			z64[i] = float64(v)
		}
		if ref := crossEntropy64(z64, y, V); math.Abs(loss-ref) > 1e-12*max(1, ref) {
			t.Errorf("loss %v, float64 reference %v", loss, ref)
		}
		wantCorrect := 0
		for n, t := range y {
			row := z[n*V : (n+1)*V]
			if slices.Index(row, slices.Max(row)) == int(t) {
				wantCorrect++
			}
		}
		if correct != wantCorrect {
			t.Errorf("%d correct, want %d", correct, wantCorrect)
		}
		// Central differences of the float64 reference.
		const h = 1e-5
		for i := range z64 {
			orig := z64[i]
			z64[i] = orig + h
			up := crossEntropy64(z64, y, V)
			z64[i] = orig - h
			down := crossEntropy64(z64, y, V)
			z64[i] = orig
			if fd := (up - down) / (2 * h); math.Abs(fd-float64(d[i])) > 1e-7 {
				t.Fatalf("N=%d V=%d: gradient %d is %v, finite difference %v", N, V, i, d[i], fd)
			}
		}
	}
}

func TestCrossEntropyRejectsBadInput(t *testing.T) {
	d := make([]float32, 4)
	for _, c := range []struct {
		z    []float32
		y    []int32
		want string
	}{
		{[]float32{0, 1, 2, 3}, []int32{0, 2}, "outside [0, 2)"},
		{[]float32{0, 1, 2, 3}, []int32{0, -1}, "outside [0, 2)"},
		{[]float32{0, float32(math.NaN()), 2, 3}, []int32{0, 1}, "logit NaN"},
		{[]float32{0, 1, float32(math.Inf(1)), 3}, []int32{0, 1}, "logit +Inf"},
		{[]float32{0, 1, 2}, []int32{0, 1}, "3 logits"},
	} {
		if _, _, err := CrossEntropy(d[:len(c.z)], c.z, c.y, 2); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("logits %v targets %v: error %v, want %q", c.z, c.y, err, c.want)
		}
	}
}

// modelLoss runs the model on a batch and returns the loss and the
// gradient of every parameter (flattened in Params order).
func modelLoss(t *testing.T, m *Model, b *Batch, task Task, grad bool) (float64, []float32) {
	t.Helper()
	logits := m.Forward(b.X, b.B, task.Steps(), task.Tokens)
	d := nn.New(logits.Shape...)
	loss, _, err := CrossEntropy(d.Data, logits.Data, b.Y, Vocab)
	if err != nil {
		t.Fatal(err)
	}
	if !grad {
		return loss, nil
	}
	nn.ZeroGrads(m)
	m.Backward(d)
	var g []float32
	for _, p := range m.Params() {
		g = append(g, p.Grad.Data...)
	}
	return loss, g
}

// The model's analytic gradient (every layer's explicit backward, the
// residual sums, the gather of the last positions) against central
// differences of its loss, for every parameter tensor of every model kind.
func TestModelGradientMatchesFiniteDifferences(t *testing.T) {
	task := Task{SeqLen: 6, Tokens: 2}
	b := NewSampler(task, 5).Sample(nil, 3)
	for _, kind := range Models {
		t.Run(kind, func(t *testing.T) {
			m, err := NewModel(ModelConfig{Kind: kind, Layers: 2, Dim: 6, Expansion: 2}, nn.NewRNG(9))
			if err != nil {
				t.Fatal(err)
			}
			_, g := modelLoss(t, m, b, task, true)
			rng := rand.New(rand.NewPCG(3, 4))
			off := 0
			for _, p := range m.Params() {
				var num, den float64
				for s := 0; s < 6; s++ {
					i := rng.IntN(p.Value.Len())
					an := float64(g[off+i])
					// g(x) has a kink at 0 (slope 1/4 below, 1 above): a step
					// across it spoils a difference, so the closest of three
					// step sizes counts. A wrong gradient matches none.
					diff := math.Inf(1)
					fd := 0.0
					for _, h := range []float32{1e-2, 3e-3, 1e-3} {
						orig := p.Value.Data[i]
						p.Value.Data[i] = orig + h
						up, _ := modelLoss(t, m, b, task, false)
						p.Value.Data[i] = orig - h
						down, _ := modelLoss(t, m, b, task, false)
						p.Value.Data[i] = orig
						if f := (up - down) / float64(2*h); math.Abs(f-an) < diff {
							diff, fd = math.Abs(f-an), f
						}
					}
					num += diff * diff
					den += fd*fd + an*an
				}
				if rel := math.Sqrt(num / max(den, 1e-12)); rel > 1e-2 && num > 1e-12 {
					t.Errorf("%s: relative gradient error %.2e", p.Name, rel)
				}
				off += p.Value.Len()
			}
		})
	}
}

func tinyConfig(kind string, layers int) Config {
	c := DefaultConfig()
	c.Task = Task{SeqLen: 16, Tokens: 4}
	c.Model = ModelConfig{Kind: kind, Layers: layers, Dim: 32, Expansion: 2}
	c.Batch, c.Steps, c.EvalEvery, c.EvalSize, c.EvalBatch = 16, 40, 20, 64, 32
	return c
}

// A short run learns the task far above chance (1/14).
func TestTrainingLearns(t *testing.T) {
	c := tinyConfig(ModelMinGRU, 2)
	c.Steps, c.EvalEvery = 300, 100
	res, err := Train(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := res.Curve[0]
	t.Logf("val acc %.3f -> best %.3f (step %d), test %.3f", first.ValAcc, res.BestValAcc, res.BestStep, res.TestAcc)
	if res.TestAcc < 0.3 || res.BestValAcc < 0.3 || first.ValAcc > 0.15 {
		t.Errorf("val acc %.3f at step 0, best %.3f, test %.3f: want <= 0.15 at first, >= 0.3 (4x chance) after 300 steps",
			first.ValAcc, res.BestValAcc, res.TestAcc)
	}
	if len(res.Curve) != 4 || res.StepsDone != 300 || res.StoppedBy != "" {
		t.Errorf("%d points, %d steps, stopped by %q", len(res.Curve), res.StepsDone, res.StoppedBy)
	}
}

// The same seed gives the same run, bit for bit, whatever GOMAXPROCS is.
func TestTrainingIsDeterministicAcrossGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, kind := range Models {
		c := tinyConfig(kind, 2)
		c.Batch = 8
		var runs []*Result
		for _, procs := range []int{1, 4} {
			runtime.GOMAXPROCS(procs)
			r, err := Train(context.Background(), c, nil)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, r)
		}
		a, b := runs[0], runs[1]
		for i := range a.Curve {
			pa, pb := a.Curve[i], b.Curve[i]
			pa.Seconds, pb.Seconds = 0, 0
			if pa != pb && !(math.IsNaN(pa.TrainLoss) && math.IsNaN(pb.TrainLoss) && pa.ValLoss == pb.ValLoss && pa.ValAcc == pb.ValAcc) {
				t.Errorf("%s: point %d differs: %+v vs %+v", kind, i, pa, pb)
			}
		}
		if a.TestLoss != b.TestLoss || a.TestAcc != b.TestAcc {
			t.Errorf("%s: test %v/%v vs %v/%v", kind, a.TestLoss, a.TestAcc, b.TestLoss, b.TestAcc)
		}
	}
}

// The test score is that of the best validated checkpoint: a run cut at
// BestStep (identical up to there) scores the same on the test set.
func TestTestScoreIsTheBestCheckpoints(t *testing.T) {
	c := tinyConfig(ModelMinGRU, 1)
	c.Steps, c.EvalEvery, c.LR = 80, 10, 0.03 // a rate high enough for val accuracy to swing
	full, err := Train(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	best := 0.0
	for _, p := range full.Curve {
		best = max(best, p.ValAcc)
	}
	if full.BestValAcc != best {
		t.Errorf("best val acc %v, the curve's best %v", full.BestValAcc, best)
	}
	// Cut the run where validation accuracy first drops: its best
	// checkpoint is then an earlier one.
	run := 0.0
	for _, p := range full.Curve {
		if p.ValAcc < run {
			c.Steps = p.Step
			break
		}
		run = max(run, p.ValAcc)
	}
	if c.Steps == full.StepsDone {
		t.Fatalf("validation accuracy never dropped: the test needs a swing (curve %+v)", full.Curve)
	}
	dropped, err := Train(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dropped.BestStep >= dropped.StepsDone {
		t.Fatalf("best step %d of %d after a drop", dropped.BestStep, dropped.StepsDone)
	}
	c.Steps = dropped.BestStep
	cut, err := Train(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cut.TestLoss != dropped.TestLoss || cut.TestAcc != dropped.TestAcc {
		t.Errorf("test %v/%v after %d steps with the best at %d, %v/%v when cut there",
			dropped.TestLoss, dropped.TestAcc, dropped.StepsDone, dropped.BestStep, cut.TestLoss, cut.TestAcc)
	}
}

func TestStopsOnTimeAndInterrupt(t *testing.T) {
	c := tinyConfig(ModelMinGRU, 1)
	c.Steps, c.MaxSeconds = 1_000_000, 1e-9
	res, err := Train(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StoppedBy != "time" || res.StepsDone != 0 || !(res.TestLoss > 0) {
		t.Errorf("stopped by %q after %d steps, test loss %v", res.StoppedBy, res.StepsDone, res.TestLoss)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.MaxSeconds = 0
	if res, err = Train(ctx, c, nil); err != nil || res.StoppedBy != "interrupt" {
		t.Errorf("cancelled: %v, %+v", err, res)
	}
}

func TestBadConfigsAreRejected(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Task.Tokens = 0 }, "0 tokens"},
		{func(c *Config) { c.Task.SeqLen = 3 }, "fewer than"},
		{func(c *Config) { c.Model.Kind = "transformer" }, "unknown model"},
		{func(c *Config) { c.Model.Layers = 0 }, "0 layers"},
		{func(c *Config) { c.Model.Dim = -1 }, "width -1"},
		{func(c *Config) { c.Model.Expansion = math.NaN() }, "expansion NaN"},
		{func(c *Config) { c.Batch = 0 }, "batch 0"},
		{func(c *Config) { c.Steps = 0 }, "0 steps"},
		{func(c *Config) { c.LR = math.Inf(1) }, "learning rate +Inf"},
		{func(c *Config) { c.WeightDecay = -1 }, "weight decay -1"},
		{func(c *Config) { c.Clip = math.NaN() }, "clip NaN"},
		{func(c *Config) { c.EvalEvery = 0 }, "eval every 0"},
		{func(c *Config) { c.EvalSize = 0 }, "eval size 0"},
		{func(c *Config) { c.MaxSeconds = -1 }, "max seconds -1"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		_, err := Train(context.Background(), cfg, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}
