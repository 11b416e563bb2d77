package policy

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/nn"
)

func TestMaskedMSE(t *testing.T) {
	rng := nn.NewRNG(20)
	cfg := smallConfig(ModelMinGRU)
	b := randomBatch(rng, cfg, []int{6, 2, 0, 4}, 6, false)
	pred := nn.New(b.B, b.K, b.ActDim)
	for i := range pred.Data {
		pred.Data[i] = float32(rng.NormFloat64())
	}
	var d nn.Tensor
	got := MaskedMSE(pred, b, &d)
	var want float64
	var n int
	for i, m := range b.Mask {
		if m == 0 {
			continue
		}
		n++
		for j := 0; j < b.ActDim; j++ {
			e := float64(pred.Data[i*b.ActDim+j]) - float64(b.Actions[i*b.ActDim+j])
			want += e * e
		}
	}
	want /= float64(n * b.ActDim)
	if math.Abs(got-want) > 1e-12*want {
		t.Errorf("loss %v, want %v", got, want)
	}
	// The gradient against central differences of the loss.
	for i := range pred.Data {
		old := pred.Data[i]
		const h = 1e-2
		pred.Data[i] = old + h
		var scratch nn.Tensor
		lp := MaskedMSE(pred, b, &scratch)
		pred.Data[i] = old - h
		lm := MaskedMSE(pred, b, &scratch)
		pred.Data[i] = old
		fd := (lp - lm) / (2 * h)
		if math.Abs(fd-float64(d.Data[i])) > 1e-4 {
			t.Errorf("dPred[%d] = %g, finite difference %g", i, d.Data[i], fd)
		}
		if b.Mask[i/b.ActDim] == 0 && d.Data[i] != 0 {
			t.Errorf("dPred[%d] = %g at a padded step", i, d.Data[i])
		}
	}
	empty := randomBatch(rng, cfg, []int{0, 0}, 3, false)
	if l := MaskedMSE(nn.New(2, 3, 3), empty, &d); l != 0 || slices.ContainsFunc(d.Data, func(v float32) bool { return v != 0 }) {
		t.Errorf("all-padding batch: loss %v, gradient %v", l, d.Data)
	}
}

func testNorm(rng *rand.Rand, d int) Normalizer {
	n := Normalizer{Mean: make([]float64, d), Std: make([]float64, d)}
	for i := range d {
		n.Mean[i] = rng.NormFloat64()
		n.Std[i] = 0.5 + rng.Float64()
	}
	return n
}

// history is one env's episode as the test records it, independently of
// the actor: normalised states, actions taken, RTG tokens, timesteps.
type history struct {
	states, actions [][]float32
	rtg             []float32
	ts              []int32
}

// play runs actor for steps steps on n envs with random observations and
// rewards, restarting env 1 at step restartAt, and calls check after each
// Act with the histories (the current step last) and the actions.
func play(t *testing.T, rng *rand.Rand, a Policy, cfg Config, norm Normalizer, target float64, n, steps, restartAt int,
	check func(step int, h []history, actions []float64)) {
	t.Helper()
	O, A := a.ObsDim(), a.ActDim()
	a.Reset(n)
	h := make([]history, n)
	togo := make([]float64, n)
	for i := range togo {
		togo[i] = target
	}
	obs := make([]float64, n*O)
	rewards := make([]float64, n)
	for i := range rewards {
		rewards[i] = 77 // junk: an episode's first reward must be ignored
	}
	actions := make([]float64, n*A)
	for step := 0; step < steps; step++ {
		if step == restartAt {
			a.ResetEnv(1)
			h[1], togo[1], rewards[1] = history{}, target, 55 // ignored
		}
		for i := range obs {
			obs[i] = 2 * rng.NormFloat64()
		}
		for i := 0; i < n; i++ {
			if len(h[i].ts) > 0 {
				togo[i] -= rewards[i]
			}
			s := make([]float32, O)
			for j := range O {
				s[j] = float32((obs[i*O+j] - norm.Mean[j]) / norm.Std[j])
			}
			h[i].states = append(h[i].states, s)
			h[i].actions = append(h[i].actions, make([]float32, A))
			h[i].rtg = append(h[i].rtg, float32(togo[i]/cfg.RTGScale))
			h[i].ts = append(h[i].ts, int32(min(len(h[i].ts), cfg.MaxEpLen-1)))
		}
		if err := a.Act(obs, rewards, actions); err != nil {
			t.Fatal(err)
		}
		check(step, h, actions)
		for i := 0; i < n; i++ {
			for j := range A {
				h[i].actions[len(h[i].actions)-1][j] = float32(actions[i*A+j])
			}
			rewards[i] = 10 * rng.Float64()
		}
	}
}

// windowBatch builds the left-padded window of the last K steps of each
// history, the way the Decision Transformer's evaluate_episode_rtg does.
func windowBatch(h []history, K, O, A int, whole bool) *dataset.Batch {
	if whole {
		K = 0
		for _, e := range h {
			K = max(K, len(e.ts))
		}
	}
	b := &dataset.Batch{}
	b.Resize(len(h), K, O, A)
	for i, e := range h {
		n := min(len(e.ts), K)
		for k := 0; k < n; k++ {
			src, dst := len(e.ts)-n+k, i*K+K-n+k
			copy(b.States[dst*O:], e.states[src])
			copy(b.Actions[dst*A:], e.actions[src])
			b.RTG[dst], b.Timesteps[dst], b.Mask[dst] = e.rtg[src], e.ts[src], 1
		}
	}
	return b
}

func TestWindowActorMatchesForward(t *testing.T) {
	rng := nn.NewRNG(21)
	for _, name := range []string{"dt", "minlstm", "mingru-conv-x1.5"} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfigs()[name]
			m := newTestModel(t, cfg, 22)
			ref := newTestModel(t, cfg, 22)
			norm := testNorm(rng, cfg.ObsDim)
			a, err := NewDecisionActor(m, norm, 3600, ContextWindow)
			if err != nil {
				t.Fatal(err)
			}
			m.SetTrain(true) // Act must switch to evaluation
			const n = 3
			play(t, rng, a, cfg, norm, 3600, n, 2*cfg.K+3, cfg.K+1, func(step int, h []history, actions []float64) {
				b := windowBatch(h, cfg.K, cfg.ObsDim, cfg.ActDim, false)
				pred := ref.Forward(b).Data
				A := cfg.ActDim
				for i := 0; i < n; i++ {
					last := i*cfg.K + cfg.K - 1
					for j := 0; j < A; j++ {
						if got, want := actions[i*A+j], float64(pred[last*A+j]); got != want {
							t.Fatalf("step %d env %d: action %v, Forward on the window %v", step, i, got, want)
						}
					}
				}
			})
		})
	}
}

func TestEpisodeActorMatchesForward(t *testing.T) {
	rng := nn.NewRNG(23)
	for _, name := range []string{"mingru", "minlstm", "mingru-conv-x1.5", "minlstm-conv3"} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfigs()[name]
			cfg.Context = ContextEpisode
			m := newTestModel(t, cfg, 24)
			norm := testNorm(rng, cfg.ObsDim)
			a, err := NewDecisionActor(m, norm, 1800, "")
			if err != nil {
				t.Fatal(err)
			}
			if a.Context() != ContextEpisode {
				t.Fatalf("context %q", a.Context())
			}
			const n = 2
			worst := 0.0
			play(t, rng, a, cfg, norm, 1800, n, 25, 11, func(step int, h []history, actions []float64) {
				// The whole episode so far, right-aligned (left-padded when
				// env 1 restarted): the prediction at the last step.
				b := windowBatch(h, 0, cfg.ObsDim, cfg.ActDim, true)
				pred := m.Forward(b).Data
				A := cfg.ActDim
				for i := 0; i < n; i++ {
					last := i*b.K + b.K - 1
					for j := 0; j < A; j++ {
						d := math.Abs(actions[i*A+j] - float64(pred[last*A+j]))
						worst = max(worst, d)
						if d > 2e-6 {
							t.Errorf("step %d env %d: stateful action %v, Forward over the episode %v", step, i, actions[i*A+j], pred[last*A+j])
						}
					}
				}
			})
			t.Logf("largest difference %.2g", worst)
		})
	}
}

func TestActorClipsTimesteps(t *testing.T) {
	rng := nn.NewRNG(25)
	for _, ctx := range []string{ContextWindow, ContextEpisode} {
		cfg := smallConfig(ModelMinGRU)
		cfg.MaxEpLen = 4
		m := newTestModel(t, cfg, 26)
		a, err := NewDecisionActor(m, Normalizer{}, 100, ctx)
		if err != nil {
			t.Fatal(err)
		}
		a.Reset(2)
		obs, rew, act := make([]float64, 2*cfg.ObsDim), make([]float64, 2), make([]float64, 2*cfg.ActDim)
		for step := 0; step < 10; step++ {
			for i := range obs {
				obs[i] = rng.NormFloat64()
			}
			if err := a.Act(obs, rew, act); err != nil {
				t.Fatal(err)
			}
			for _, v := range act {
				if math.IsNaN(v) || math.Abs(v) > 1 {
					t.Fatalf("%s: action %v", ctx, v)
				}
			}
		}
		if ctx == ContextWindow {
			if got := a.win.Timesteps[cfg.K-4 : cfg.K]; !slices.Equal(got, []int32{3, 3, 3, 3}) {
				t.Errorf("window timesteps %v, want clipped to 3", got)
			}
		}
	}
}

func TestMLPActorMatchesForward(t *testing.T) {
	rng := nn.NewRNG(27)
	cfg := DefaultMLPConfig(5, 3)
	cfg.Hidden = []int{16, 8, 12}
	m, err := NewMLP(cfg, nn.NewRNG(28))
	if err != nil {
		t.Fatal(err)
	}
	norm := testNorm(rng, 5)
	a, err := NewMLPActor(m, norm)
	if err != nil {
		t.Fatal(err)
	}
	m.SetTrain(true)
	const n = 4
	a.Reset(n)
	obs := make([]float64, n*5)
	for i := range obs {
		obs[i] = rng.NormFloat64()
	}
	act := make([]float64, n*3)
	if err := a.Act(obs, make([]float64, n), act); err != nil {
		t.Fatal(err)
	}
	b := &dataset.Batch{}
	b.Resize(n, 1, 5, 3)
	for i, v := range obs {
		b.States[i] = float32((v - norm.Mean[i%5]) / norm.Std[i%5])
	}
	pred := m.Forward(b).Data
	for i, v := range pred {
		if act[i] != float64(v) {
			t.Fatalf("action %d: %v, Forward %v", i, act[i], v)
		}
	}
}

func TestActErrors(t *testing.T) {
	cfg := smallConfig(ModelMinGRU)
	m := newTestModel(t, cfg, 29)
	mlp, _ := NewMLP(DefaultMLPConfig(5, 3), nn.NewRNG(1))
	wa, _ := NewDecisionActor(m, Normalizer{}, 1, ContextWindow)
	ma, _ := NewMLPActor(mlp, Normalizer{})
	for _, a := range []Policy{wa, ma} {
		if err := a.Act(nil, nil, nil); !errors.Is(err, ErrNotReset) {
			t.Errorf("%T: Act before Reset: %v", a, err)
		}
		a.Reset(2)
		if err := a.Act(make([]float64, 9), make([]float64, 2), make([]float64, 6)); err == nil || !strings.Contains(err.Error(), "9 observation") {
			t.Errorf("%T: wrong lengths: %v", a, err)
		}
	}
	if _, err := NewDecisionActor(newTestModel(t, smallConfig(ModelDT), 1), Normalizer{}, 1, ContextEpisode); err == nil {
		t.Errorf("episode context accepted for dt")
	}
	if _, err := NewDecisionActor(m, Normalizer{Mean: []float64{0}, Std: []float64{1}}, 1, ""); err == nil {
		t.Errorf("normaliser of the wrong size accepted")
	}
	for _, target := range []float64{math.NaN(), 1e300} { // 1e300/RTGScale overflows float32
		if _, err := NewDecisionActor(m, Normalizer{}, target, ""); err == nil || !strings.Contains(err.Error(), "target return") {
			t.Errorf("target %g: %v", target, err)
		}
		if err := wa.SetTarget(target); err == nil {
			t.Errorf("SetTarget(%g) accepted", target)
		}
	}

	// Non-finite inputs are errors, and so is an output that overflowed.
	ea, _ := NewDecisionActor(m, Normalizer{}, 1, ContextEpisode)
	tiny := func(d int) Normalizer { // valid, but (s−mean)/std is ±Inf in float32
		n := Normalizer{Mean: make([]float64, d), Std: make([]float64, d)}
		for i := range n.Std {
			n.Std[i] = 1e-300
		}
		return n
	}
	ta, _ := NewDecisionActor(m, tiny(cfg.ObsDim), 1, ContextWindow)
	tm, _ := NewMLPActor(mlp, tiny(mlp.ObsDim()))
	for _, a := range []Policy{wa, ea, ma} {
		a.Reset(2)
		obs, act := make([]float64, 2*a.ObsDim()), make([]float64, 2*a.ActDim())
		obs[a.ObsDim()+1] = math.Inf(-1)
		if err := a.Act(obs, make([]float64, 2), act); err == nil || !strings.Contains(err.Error(), "observation 1 of env 1 is -Inf") {
			t.Errorf("%T: Inf observation: %v", a, err)
		}
		obs[a.ObsDim()+1] = 0
		if err := a.Act(obs, []float64{0, math.NaN()}, act); err == nil || !strings.Contains(err.Error(), "reward of env 1 is NaN") {
			t.Errorf("%T: NaN reward: %v", a, err)
		}
	}
	for _, a := range []Policy{ta, tm} {
		a.Reset(1)
		obs := make([]float64, a.ObsDim())
		obs[0] = 1
		if err := a.Act(obs, []float64{0}, make([]float64, a.ActDim())); !errors.Is(err, ErrNonFiniteAction) {
			t.Errorf("%T: overflowing normalised input: %v, want ErrNonFiniteAction", a, err)
		}
	}
}

func TestActorsDoNotAllocate(t *testing.T) {
	rng := nn.NewRNG(30)
	cfg := smallConfig(ModelMinLSTM)
	cfg.Conv = true
	m := newTestModel(t, cfg, 31)
	mlp, _ := NewMLP(DefaultMLPConfig(5, 3), nn.NewRNG(1))
	norm := testNorm(rng, 5)
	wa, _ := NewDecisionActor(m, norm, 100, ContextWindow)
	ea, _ := NewDecisionActor(m, norm, 100, ContextEpisode)
	ma, _ := NewMLPActor(mlp, norm)
	dt, _ := NewDecisionActor(newTestModel(t, smallConfig(ModelDT), 1), norm, 100, ContextWindow)
	for _, a := range []Policy{wa, ea, ma, dt} {
		const n = 3
		a.Reset(n)
		obs, rew, act := make([]float64, n*5), make([]float64, n), make([]float64, n*3)
		for i := range obs {
			obs[i] = rng.NormFloat64()
		}
		step := 0
		f := func() {
			if err := a.Act(obs, rew, act); err != nil {
				t.Fatal(err)
			}
			if step++; step%7 == 0 {
				a.ResetEnv(1)
			}
		}
		f()
		if allocs := testing.AllocsPerRun(20, f); allocs != 0 {
			t.Errorf("%T: %v allocations per Act", a, allocs)
		}
	}
}

func TestMLPConfigValidate(t *testing.T) {
	if err := DefaultMLPConfig(11, 3).Validate(); err != nil {
		t.Error(err)
	}
	c := MLPConfig{ObsDim: 0, ActDim: 3, Hidden: []int{4, -1}, Act: "softmax", Dropout: 2}
	err := c.Validate()
	for _, w := range []string{"MLPConfig.ObsDim = 0", "MLPConfig.Hidden = [4 -1]", "MLPConfig.Act", "MLPConfig.Dropout = 2"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not mention %q", err, w)
		}
	}
}

// The MLP's gradient against central differences of its float32 forward,
// one random direction per parameter tensor (tanh hidden units: smooth).
func TestMLPDirectionalDerivatives(t *testing.T) {
	rng := nn.NewRNG(32)
	cfg := MLPConfig{ObsDim: 5, ActDim: 3, Hidden: []int{16, 8}, Act: "tanh"}
	m, _ := NewMLP(cfg, nn.NewRNG(33))
	b := randomBatch(rng, smallConfig(ModelMinGRU), []int{6, 3}, 6, false)
	var d nn.Tensor
	nn.ZeroGrads(m)
	MaskedMSE(m.Forward(b), b, &d)
	m.Backward(&d)
	loss := func() float64 { var s nn.Tensor; return MaskedMSE(m.Forward(b), b, &s) }
	worst := directionalDerivativeCheck(t, m.Params(), loss, rng, 1e-3)
	t.Logf("worst relative error %.2g", worst)
}

// The MLP reads each step on its own: padded steps change nothing.
func TestMLPPaddingIsInert(t *testing.T) {
	rng := nn.NewRNG(34)
	cfg := smallConfig(ModelMinGRU)
	b := randomBatch(rng, cfg, []int{6, 2, 0}, 6, false)
	b2 := scramblePadding(rng, b, cfg.MaxEpLen)
	run := func(b *dataset.Batch) [][]float32 {
		m, _ := NewMLP(DefaultMLPConfig(5, 3), nn.NewRNG(35))
		m.SetTrain(true)
		_, g := trainStep(m, b)
		return g
	}
	g1, g2 := run(b), run(b2)
	for i := range g1 {
		if !slices.Equal(g1[i], g2[i]) {
			t.Errorf("gradient %d changed with the padded values", i)
		}
	}
}

func BenchmarkAct(b *testing.B) {
	for _, ctx := range []string{ContextWindow, ContextEpisode} {
		for _, model := range []ModelKind{ModelMinGRU, ModelDT} {
			if ctx == ContextEpisode && model == ModelDT {
				continue
			}
			for _, n := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/%s/n=%d", ctx, model, n), func(b *testing.B) {
					cfg := DefaultConfig(model, 11, 3)
					m := newTestModel(b, cfg, 1)
					a, err := NewDecisionActor(m, Normalizer{}, 3600, ctx)
					if err != nil {
						b.Fatal(err)
					}
					a.Reset(n)
					rng := nn.NewRNG(2)
					obs, rew, act := make([]float64, n*11), make([]float64, n), make([]float64, n*3)
					for i := range obs {
						obs[i] = rng.NormFloat64()
					}
					// Fill the window first: the steady state of an episode.
					for range cfg.K {
						a.Act(obs, rew, act)
					}
					b.ResetTimer()
					for b.Loop() {
						if err := a.Act(obs, rew, act); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/step")
				})
			}
		}
	}
}

// Both models resume their dropout masks (the trainer relies on it).
var (
	_ DropoutResumer = (*Decision)(nil)
	_ DropoutResumer = (*MLP)(nil)
)
