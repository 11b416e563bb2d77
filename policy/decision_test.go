package policy

import (
	"fmt"
	"iter"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/nn"
)

// smallConfig is a model small enough for exhaustive tests.
func smallConfig(model ModelKind) Config {
	c := DefaultConfig(model, 5, 3)
	c.Embed, c.Layers, c.K, c.MaxEpLen = 16, 2, 6, 50
	if model == ModelDT {
		c.Heads = 2
	}
	return c
}

// testConfigs covers the three models and the minRNN options.
func testConfigs() map[string]Config {
	out := map[string]Config{}
	for _, model := range []ModelKind{ModelMinGRU, ModelMinLSTM, ModelDT} {
		out[string(model)] = smallConfig(model)
	}
	c := smallConfig(ModelMinGRU)
	c.Conv, c.Expansion = true, 1.5
	out["mingru-conv-x1.5"] = c
	c = smallConfig(ModelMinLSTM)
	c.Conv, c.ConvKernel = true, 3
	out["minlstm-conv3"] = c
	for _, model := range []ModelKind{ModelMinGRU, ModelDT} {
		c = smallConfig(model)
		c.NoRTG = true
		out[string(model)+"-nortg"] = c
	}
	return out
}

// sortedTestConfigs yields testConfigs in name order, so that subtests
// drawing from one shared RNG see the same numbers on every run (map
// order is random, and a draw-order-dependent failure is a flaky test).
func sortedTestConfigs() iter.Seq2[string, Config] {
	cfgs := testConfigs()
	return func(yield func(string, Config) bool) {
		for _, name := range slices.Sorted(maps.Keys(cfgs)) {
			if !yield(name, cfgs[name]) {
				return
			}
		}
	}
}

func newTestModel(t testing.TB, cfg Config, seed uint64) *Decision {
	t.Helper()
	m, err := NewDecision(cfg, nn.NewRNG(seed))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randomBatch fills a batch of B windows of K steps with random values.
// Sequence b has lens[b] real steps, left-padded (or right-padded when
// right is set) the way the Decision Transformer pads: states 0, actions
// −10, RTG 0, timesteps 0, mask 0.
func randomBatch(rng *rand.Rand, cfg Config, lens []int, K int, right bool) *dataset.Batch {
	b := &dataset.Batch{}
	B, O, A := len(lens), cfg.ObsDim, cfg.ActDim
	b.Resize(B, K, O, A)
	for s, n := range lens {
		t0 := rng.IntN(cfg.MaxEpLen - K)
		for k := 0; k < K; k++ {
			i := s*K + k
			pos := k - (K - n) // step index within the real part
			if right {
				pos = k
			}
			if pos < 0 || pos >= n {
				clear(b.States[i*O : (i+1)*O])
				for j := range A {
					b.Actions[i*A+j] = -10
				}
				b.RTG[i], b.Timesteps[i], b.Mask[i], b.Rewards[i] = 0, 0, 0, 0
				continue
			}
			for j := range O {
				b.States[i*O+j] = float32(rng.NormFloat64())
			}
			for j := range A {
				b.Actions[i*A+j] = float32(2*rng.Float64() - 1)
			}
			b.RTG[i] = float32(3 * rng.Float64())
			b.Timesteps[i] = int32(t0 + pos)
			b.Mask[i] = 1
		}
	}
	return b
}

// scramblePadding returns a copy of b with random junk at every padded step.
func scramblePadding(rng *rand.Rand, b *dataset.Batch, maxEpLen int) *dataset.Batch {
	c := &dataset.Batch{}
	c.Resize(b.B, b.K, b.ObsDim, b.ActDim)
	copy(c.States, b.States)
	copy(c.Actions, b.Actions)
	copy(c.RTG, b.RTG)
	copy(c.Rewards, b.Rewards)
	copy(c.Timesteps, b.Timesteps)
	copy(c.Mask, b.Mask)
	for i, m := range b.Mask {
		if m != 0 {
			continue
		}
		for j := range b.ObsDim {
			c.States[i*b.ObsDim+j] = float32(30 * rng.NormFloat64())
		}
		for j := range b.ActDim {
			c.Actions[i*b.ActDim+j] = float32(30 * rng.NormFloat64())
		}
		c.RTG[i] = float32(100 * rng.NormFloat64())
		c.Timesteps[i] = int32(rng.IntN(maxEpLen))
	}
	return c
}

// trainStep runs Forward, MaskedMSE and Backward from zero gradients and
// returns the predictions and every parameter gradient (copies).
func trainStep(m Model, b *dataset.Batch) (pred []float32, grads [][]float32) {
	nn.ZeroGrads(m)
	p := m.Forward(b)
	pred = slices.Clone(p.Data)
	var d nn.Tensor
	MaskedMSE(p, b, &d)
	m.Backward(&d)
	for _, q := range m.Params() {
		grads = append(grads, slices.Clone(q.Grad.Data))
	}
	return pred, grads
}

func TestDefaultConfigsValidate(t *testing.T) {
	for _, model := range []ModelKind{ModelMinGRU, ModelMinLSTM, ModelDT} {
		c := DefaultConfig(model, 11, 3)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", model, err)
		}
		want := "gelu"
		if model == ModelDT {
			want = "relu"
		}
		if c.Activation() != want {
			t.Errorf("%s: default activation %q, want %q", model, c.Activation(), want)
		}
	}
	c := DefaultConfig(ModelMinGRU, 11, 3)
	c.Context = ContextEpisode
	if err := c.Validate(); err != nil {
		t.Errorf("episode minGRU: %v", err)
	}
}

func TestConfigValidateNamesBadFields(t *testing.T) {
	for _, tc := range []struct {
		model  ModelKind
		modify func(*Config)
		want   []string
	}{
		{ModelMinGRU, func(c *Config) { c.Model = "lstm" }, []string{"Config.Model", `"lstm"`}},
		{ModelMinGRU, func(c *Config) { c.ObsDim, c.ActDim = 0, -1 }, []string{"Config.ObsDim = 0", "Config.ActDim = -1"}},
		{ModelMinGRU, func(c *Config) { c.Embed, c.Layers = 0, 0 }, []string{"Config.Embed = 0", "Config.Layers = 0"}},
		{ModelDT, func(c *Config) { c.Heads = 3 }, []string{"Config.Heads = 3", "divide Embed (128)"}},
		{ModelDT, func(c *Config) { c.Dropout = 1 }, []string{"Config.Dropout = 1"}},
		{ModelMinLSTM, func(c *Config) { c.Dropout = math.NaN() }, []string{"Config.Dropout = NaN"}},
		{ModelMinLSTM, func(c *Config) { c.Act = "swish" }, []string{"Config.Act", "swish"}},
		{ModelMinLSTM, func(c *Config) { c.Expansion = 0 }, []string{"Config.Expansion = 0"}},
		{ModelDT, func(c *Config) { c.Conv = true }, []string{"Config.Conv = true", "minRNN blocks only"}},
		{ModelMinGRU, func(c *Config) { c.Conv, c.ConvKernel = true, 0 }, []string{"Config.ConvKernel = 0"}},
		{ModelMinGRU, func(c *Config) { c.MaxEpLen, c.K = 0, 0 }, []string{"Config.MaxEpLen = 0", "Config.K = 0"}},
		{ModelMinGRU, func(c *Config) { c.RTGScale = math.Inf(1) }, []string{"Config.RTGScale = +Inf"}},
		{ModelMinGRU, func(c *Config) { c.RTGScale = 1e-300 }, []string{"Config.RTGScale = 1e-300", "[1e-6, 1e9]"}},
		{ModelDT, func(c *Config) { c.K = MaxK + 1 }, []string{fmt.Sprintf("Config.K = %d", MaxK+1)}},
		{ModelDT, func(c *Config) { c.Context = ContextEpisode }, []string{"Config.Context", "needs a recurrent model"}},
		{ModelMinGRU, func(c *Config) { c.Context = "" }, []string{"Config.Context", `want "window" or "episode"`}},
	} {
		c := DefaultConfig(tc.model, 11, 3)
		tc.modify(&c)
		err := c.Validate()
		if err == nil {
			t.Errorf("%+v: no error", c)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
		if _, err := NewDecision(c, nn.NewRNG(1)); err == nil {
			t.Errorf("NewDecision accepted %+v", c)
		}
	}
}

// Padded steps influence nothing: scrambling their states, actions, RTG and
// timesteps leaves every real prediction and every parameter gradient
// bit-identical, for all three models, left- and right-padded, with
// dropout on.
func TestDecisionPaddingIsInert(t *testing.T) {
	rng := nn.NewRNG(1)
	for name, cfg := range sortedTestConfigs() {
		for _, right := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/right=%v", name, right), func(t *testing.T) {
				K := cfg.K
				b := randomBatch(rng, cfg, []int{K, 1, 3, 0, K - 1}, K, right)
				b2 := scramblePadding(rng, b, cfg.MaxEpLen)
				run := func(b *dataset.Batch) ([]float32, [][]float32) {
					m := newTestModel(t, cfg, 7)
					m.SetTrain(true)
					return trainStep(m, b)
				}
				p1, g1 := run(b)
				p2, g2 := run(b2)
				for i, mk := range b.Mask {
					A := cfg.ActDim
					if mk != 0 && !slices.Equal(p1[i*A:(i+1)*A], p2[i*A:(i+1)*A]) {
						t.Errorf("prediction at real step %d changed: %v vs %v", i, p1[i*A:(i+1)*A], p2[i*A:(i+1)*A])
					}
				}
				ps := newTestModel(t, cfg, 7).Params()
				for i := range g1 {
					if !slices.Equal(g1[i], g2[i]) {
						t.Errorf("gradient of %s changed with the padded values", ps[i].Name)
					}
				}
				if slices.ContainsFunc(g1, func(g []float32) bool {
					return slices.ContainsFunc(g, func(v float32) bool { return math.IsNaN(float64(v)) })
				}) {
					t.Errorf("NaN gradient")
				}
			})
		}
	}
}

// Causality: changing step t's tokens leaves the predictions before t
// unchanged, and a_t never reaches the prediction of a_t.
func TestDecisionIsCausal(t *testing.T) {
	rng := nn.NewRNG(2)
	for name, cfg := range sortedTestConfigs() {
		t.Run(name, func(t *testing.T) {
			K, A, O := cfg.K, cfg.ActDim, cfg.ObsDim
			b := randomBatch(rng, cfg, []int{K, K - 2}, K, false)
			m := newTestModel(t, cfg, 8)
			base := slices.Clone(m.Forward(b).Data)
			for _, tk := range []int{2, K - 1} {
				for _, part := range []string{"state", "action", "rtg", "timestep"} {
					c := scramblePadding(rng, b, cfg.MaxEpLen) // a copy; padding is inert
					for s := 0; s < b.B; s++ {
						i := s*K + tk
						switch part {
						case "state":
							c.States[i*O] += 1
						case "action":
							c.Actions[i*A] += 1
						case "rtg":
							c.RTG[i] += 1
						case "timestep":
							c.Timesteps[i] = (c.Timesteps[i] + 7) % int32(cfg.MaxEpLen)
						}
					}
					got := m.Forward(c).Data
					for s := 0; s < b.B; s++ {
						last := tk // the first step allowed to change
						if part == "action" {
							last = tk + 1
						}
						for k := 0; k < last; k++ {
							i := s*K + k
							if c.Mask[i] != 0 && !slices.Equal(got[i*A:(i+1)*A], base[i*A:(i+1)*A]) {
								t.Errorf("changing the %s of step %d changed the prediction of step %d", part, tk, k)
							}
						}
						if i := s*K + tk; part == "state" && slices.Equal(got[i*A:(i+1)*A], base[i*A:(i+1)*A]) {
							t.Errorf("changing the state of step %d did not change its prediction", tk)
						}
					}
				}
			}
		})
	}
}

// The model's float32 gradient against central differences of its own
// float32 forward along random directions, one per parameter tensor
// (dropout off). The layers are each checked against float64 references
// in nn; this checks how the model wires them. Finite differences cannot
// resolve a kink lying within the step, and relu and minRNN's g (slope ¼
// below 0, 1 above) have one at 0, so the test makes the model smooth: gelu
// in the MLPs, and the candidate biases shifted by +3 so that every
// candidate pre-activation lies on g's linear branch (nn checks both).
func TestDecisionDirectionalDerivatives(t *testing.T) {
	rng := nn.NewRNG(3)
	for name, cfg := range sortedTestConfigs() {
		t.Run(name, func(t *testing.T) {
			worst := directionalDerivativeError(t, cfg, rng)
			t.Logf("worst relative error %.2g", worst)
		})
	}
}

// directionalDerivativeError reports, for every parameter tensor of a
// smooth copy of cfg's model, how far its backward directional derivative
// lies from a finite difference (directionalDerivativeCheck), and returns
// the worst relative error.
func directionalDerivativeError(t *testing.T, cfg Config, rng *rand.Rand) float64 {
	t.Helper()
	cfg.Dropout, cfg.Act = 0, "gelu"
	m := newTestModel(t, cfg, 9)
	for _, b := range m.recurrentBlocks {
		var bias []float32
		switch r := b.RNN.(type) {
		case *nn.MinGRU:
			bias = r.Proj.B.Value.Data
		case *nn.MinLSTM:
			bias = r.Proj.B.Value.Data
		}
		for j := len(bias) - b.inner; j < len(bias); j++ {
			bias[j] += 3
		}
	}
	b := randomBatch(rng, cfg, []int{cfg.K, 2, cfg.K - 1}, cfg.K, false)
	w := make([]float32, b.B*b.K*cfg.ActDim)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	for i := range b.Mask {
		if b.Mask[i] == 0 {
			clear(w[i*cfg.ActDim : (i+1)*cfg.ActDim])
		}
	}
	loss := func() float64 {
		var s float64
		for i, v := range m.Forward(b).Data {
			s += float64(w[i]) * float64(v)
		}
		return s
	}
	nn.ZeroGrads(m)
	m.Forward(b)
	m.Backward(nn.FromData(slices.Clone(w), b.B, b.K, cfg.ActDim))
	return directionalDerivativeCheck(t, m.Params(), loss, rng, 0.05)
}

// directionalDerivativeCheck compares, for each parameter, its gradient
// (already in Grad) along a random N(0, I) direction with a finite
// difference of loss along it, reports errors over 1e-2 relative to
// max(|fd|, ‖g‖, floor) (‖g‖ is the typical size of a directional
// derivative; floor spares the tensors with tiny gradients, where float32
// noise dominates) and returns the worst relative error.
//
// The forward pass is float32, so a difference quotient carries rounding
// noise of about ulp(loss)/eps (measured on the decision model: ~4e-4 at
// eps 1e-3, ~3e-5 at 1e-2), while the eps² truncation error of a central
// difference reaches 2% on its out projections at 1e-2. Richardson
// extrapolation of the steps eps and 2·eps cancels the eps² term, which
// allows the large step: over 200 seeds × 5 decision models the worst
// error was 0.003, against 0.019 for a plain central difference at 1e-2.
func directionalDerivativeCheck(t *testing.T, params []*nn.Param, loss func() float64, rng *rand.Rand, floor float64) float64 {
	t.Helper()
	const eps = 1e-2
	worst := 0.0
	for _, p := range params {
		dir := make([]float32, p.Value.Len())
		var dot, gn float64
		for i := range dir {
			dir[i] = float32(rng.NormFloat64())
			dot += float64(dir[i]) * float64(p.Grad.Data[i])
			gn += float64(p.Grad.Data[i]) * float64(p.Grad.Data[i])
		}
		orig := slices.Clone(p.Value.Data)
		diff := func(h float32) float64 {
			for i := range dir {
				p.Value.Data[i] = orig[i] + h*dir[i]
			}
			lp := loss()
			for i := range dir {
				p.Value.Data[i] = orig[i] - h*dir[i]
			}
			lm := loss()
			copy(p.Value.Data, orig)
			return (lp - lm) / (2 * float64(h))
		}
		fd := (4*diff(eps) - diff(2*eps)) / 3
		err := math.Abs(dot-fd) / max(math.Abs(fd), math.Sqrt(gn), floor)
		worst = max(worst, err)
		if err > 1e-2 {
			t.Errorf("%s: directional derivative %.6g, finite difference %.6g (|g| %.3g)", p.Name, dot, fd, math.Sqrt(gn))
		}
	}
	return worst
}

func TestDecisionNoAllocationsAndDeterminism(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for name, cfg := range sortedTestConfigs() {
		t.Run(name, func(t *testing.T) {
			cfg.Embed = 32
			b := randomBatch(nn.NewRNG(4), cfg, []int{cfg.K, 3, cfg.K, 1, 0, cfg.K}, cfg.K, false)
			run := func(procs int) ([]float32, [][]float32) {
				runtime.GOMAXPROCS(procs)
				m := newTestModel(t, cfg, 10)
				m.SetTrain(true)
				p, g := trainStep(m, b)
				var d nn.Tensor
				assertNoAllocs(t, func() {
					MaskedMSE(m.Forward(b), b, &d)
					m.Backward(&d)
				})
				return p, g
			}
			p1, g1 := run(1)
			p4, g4 := run(4)
			if !slices.Equal(p1, p4) {
				t.Errorf("predictions differ between GOMAXPROCS 1 and 4")
			}
			for i := range g1 {
				if !slices.Equal(g1[i], g4[i]) {
					t.Errorf("gradient %d differs between GOMAXPROCS 1 and 4", i)
				}
			}
		})
	}
}

func assertNoAllocs(t *testing.T, step func()) {
	t.Helper()
	step()
	if a := testing.AllocsPerRun(3, step); a != 0 {
		t.Errorf("%v allocations per step in steady state", a)
	}
}

// The stateful step path (one token at a time through each block's
// sequential form) matches the parallel Forward over the whole episode.
func TestDecisionStepMatchesForward(t *testing.T) {
	rng := nn.NewRNG(5)
	for name, cfg := range sortedTestConfigs() {
		if !cfg.Recurrent() {
			continue
		}
		t.Run(name, func(t *testing.T) {
			const T = 9
			m := newTestModel(t, cfg, 11)
			b := randomBatch(rng, cfg, []int{T, T, T}, T, true)
			want := m.Forward(b).Data
			n, O, A := b.B, cfg.ObsDim, cfg.ActDim
			s := m.NewRecurrentState(n)
			rtg := make([]float32, n)
			obs := make([]float32, n*O)
			act := make([]float32, n*A)
			pred := make([]float32, n*A)
			ts := make([]int32, n)
			for k := 0; k < T; k++ {
				for i := 0; i < n; i++ {
					r := i*T + k
					rtg[i], ts[i] = b.RTG[r], b.Timesteps[r]
					copy(obs[i*O:(i+1)*O], b.States[r*O:(r+1)*O])
					copy(act[i*A:(i+1)*A], b.Actions[r*A:(r+1)*A])
				}
				m.StepPredict(s, rtg, obs, ts, pred)
				m.StepAction(s, act, ts)
				for i := 0; i < n; i++ {
					r := i*T + k
					for j := 0; j < A; j++ {
						if d := math.Abs(float64(pred[i*A+j] - want[r*A+j])); d > 2e-6 {
							t.Errorf("step %d sequence %d: step path %g, parallel %g", k, i, pred[i*A+j], want[r*A+j])
						}
					}
				}
			}
		})
	}
}

func TestDecisionBadInputsPanic(t *testing.T) {
	cfg := smallConfig(ModelMinGRU)
	m := newTestModel(t, cfg, 12)
	dt := newTestModel(t, smallConfig(ModelDT), 12)
	bad := randomBatch(nn.NewRNG(6), cfg, []int{3}, 4, false)
	bad.Timesteps[3] = int32(cfg.MaxEpLen)
	for _, tc := range []struct {
		name, want string
		f          func()
	}{
		{"obs", "model obs 5 act 3", func() {
			b := &dataset.Batch{}
			b.Resize(2, 3, 4, 3)
			m.Forward(b)
		}},
		{"timestep", "index 50 at position 3 outside [0, 50)", func() { m.Forward(bad) }},
		{"backward", "Backward before Forward", func() { newTestModel(t, cfg, 1).Backward(nn.New(1, 1, 3)) }},
		{"dt-state", "no recurrent form", func() { dt.NewRecurrentState(1) }},
		{"step-lengths", "StepPredict: 1 rtg", func() {
			m.StepPredict(m.NewRecurrentState(2), make([]float32, 1), make([]float32, 10), make([]int32, 2), make([]float32, 6))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), tc.want) {
					t.Errorf("want panic with %q, got %v", tc.want, r)
				}
			}()
			tc.f()
		})
	}
}

func TestDecisionInitialisation(t *testing.T) {
	cfg := DefaultConfig(ModelDT, 11, 3)
	m := newTestModel(t, cfg, 13)
	std := func(p *nn.Param) float64 {
		var s float64
		for _, v := range p.Value.Data {
			s += float64(v) * float64(v)
		}
		return math.Sqrt(s / float64(p.Value.Len()))
	}
	for _, p := range m.Params() {
		var want float64
		switch {
		case strings.HasSuffix(p.Name, "c_proj.weight"), strings.HasSuffix(p.Name, "mlp.proj.weight"):
			want = 0.02 / math.Sqrt(6)
		case strings.HasSuffix(p.Name, "c_attn.weight"), strings.HasSuffix(p.Name, "mlp.fc.weight"):
			want = 0.02
		default:
			continue
		}
		if got := std(p); math.Abs(got-want) > 0.1*want {
			t.Errorf("%s: std %.4g, want %.4g", p.Name, got, want)
		}
	}
}

// BenchmarkTrainStep times one training step of the default models on
// Hopper's sizes: B=64 windows of K=20 steps, and for the whole-episode
// context mode 2 right-padded episodes of 1000 and 700 steps (the batch
// docs/results/sweep.yaml trains on). A step is what the trainer does: forward,
// masked MSE, backward, global-norm clipping at 0.25 and an AdamW update.
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"dt", "mingru", "minlstm", "mingru-episode", "minlstm-episode"} {
		b.Run(name, func(b *testing.B) {
			model, episode := strings.CutSuffix(name, "-episode")
			cfg := DefaultConfig(ModelKind(model), 11, 3)
			var lens []int
			rng := nn.NewRNG(2)
			K := cfg.K
			if episode {
				cfg.Context, K = ContextEpisode, cfg.MaxEpLen
				cfg.MaxEpLen++ // randomBatch draws a start in [0, MaxEpLen−K)
				lens = []int{K, 7 * K / 10}
			} else {
				lens = make([]int, 64)
				for i := range lens {
					lens[i] = K
					if i%8 == 0 {
						lens[i] = 1 + rng.IntN(K)
					}
				}
			}
			m := newTestModel(b, cfg, 1)
			m.SetTrain(true)
			batch := randomBatch(rng, cfg, lens, K, episode)
			var d nn.Tensor
			opt := nn.NewAdamW(m.Params(), nn.AdamWConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-4})
			step := func() {
				nn.ZeroGrads(m)
				MaskedMSE(m.Forward(batch), batch, &d)
				m.Backward(&d)
				nn.ClipGradNorm(m.Params(), 0.25)
				opt.Step(1e-4)
			}
			step()
			b.ResetTimer()
			for b.Loop() {
				step()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/step")
		})
	}
}

// TestNoRTGIgnoresTheReturn: under NoRTG the predictions do not depend on
// the returns-to-go, in the parallel form, the stepped form and an actor
// asked for different targets; the same weights without NoRTG do (so the
// test can fail).
func TestNoRTGIgnoresTheReturn(t *testing.T) {
	rng := nn.NewRNG(77)
	for _, model := range []ModelKind{ModelMinGRU, ModelMinLSTM, ModelDT} {
		t.Run(string(model), func(t *testing.T) {
			cfg := smallConfig(model)
			cfg.NoRTG = true
			m := newTestModel(t, cfg, 3)
			b := randomBatch(rng, cfg, []int{6, 4, 6}, 6, false)
			other := &dataset.Batch{}
			other.Resize(b.B, b.K, b.ObsDim, b.ActDim)
			copy(other.States, b.States)
			copy(other.Actions, b.Actions)
			copy(other.Timesteps, b.Timesteps)
			copy(other.Mask, b.Mask)
			for i := range other.RTG {
				other.RTG[i] = float32(50 * rng.NormFloat64())
			}
			m.SetTrain(false)
			want := slices.Clone(m.Forward(b).Data)
			if got := m.Forward(other).Data; !slices.Equal(got, want) {
				t.Error("NoRTG: Forward depends on the returns-to-go")
			}
			plain := cfg
			plain.NoRTG = false
			p := newTestModel(t, plain, 3) // the same weights
			p.SetTrain(false)
			if slices.Equal(slices.Clone(p.Forward(b).Data), p.Forward(other).Data) {
				t.Error("without NoRTG, Forward does not depend on the returns-to-go: the test cannot fail")
			}
			if cfg.Recurrent() {
				n, O, A := 2, cfg.ObsDim, cfg.ActDim
				obs := make([]float32, n*O)
				for i := range obs {
					obs[i] = float32(rng.NormFloat64())
				}
				var preds [2][]float32
				for k, r := range [][]float32{{0, 0}, {5, -3}} {
					s := m.NewRecurrentState(n)
					preds[k] = make([]float32, n*A)
					m.StepPredict(s, r, obs, []int32{0, 0}, preds[k])
				}
				if !slices.Equal(preds[0], preds[1]) {
					t.Error("NoRTG: StepPredict depends on the returns-to-go")
				}
			}
			// An actor asked for two targets acts alike.
			norm := Normalizer{Mean: make([]float64, cfg.ObsDim), Std: slices.Repeat([]float64{1}, cfg.ObsDim)}
			obs := make([]float64, cfg.ObsDim)
			for i := range obs {
				obs[i] = rng.NormFloat64()
			}
			var acts [2][]float64
			for k, target := range []float64{0, 4000} {
				a, err := ActorOf(m, norm, nil, target)
				if err != nil {
					t.Fatal(err)
				}
				a.Reset(1)
				acts[k] = make([]float64, cfg.ActDim)
				for step := 0; step < 3; step++ {
					if err := a.Act(obs, []float64{1.5}, acts[k]); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !slices.Equal(acts[0], acts[1]) {
				t.Errorf("NoRTG actor: target 0 acts %v, target 4000 %v", acts[0], acts[1])
			}
		})
	}
}
