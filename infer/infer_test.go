package infer

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/minrl/minrl/nn"
	"github.com/minrl/minrl/policy"
)

type spec struct {
	name    string
	kind    policy.ModelKind
	context string
}

var specs = []spec{
	{"mingru-episode", policy.ModelMinGRU, policy.ContextEpisode},
	{"minlstm-episode", policy.ModelMinLSTM, policy.ContextEpisode},
	{"mingru-window", policy.ModelMinGRU, policy.ContextWindow},
	{"minlstm-window", policy.ModelMinLSTM, policy.ContextWindow},
	{"dt-window", policy.ModelDT, policy.ContextWindow},
	{"bc", policy.ModelBC, ""},
}

// encoded builds a random policy of a kind (embed 32, 2 layers, K 10) with
// a normaliser and action bounds and returns its checkpoint bytes.
func encoded(t testing.TB, s spec, seed uint64) []byte {
	t.Helper()
	const obsDim, actDim = 11, 3
	rng := nn.NewRNG(seed)
	var m policy.Model
	var err error
	if s.kind == policy.ModelBC {
		m, err = policy.NewMLP(policy.MLPConfig{ObsDim: obsDim, ActDim: actDim, Hidden: []int{64, 64}, Act: "relu"}, rng)
	} else {
		c := policy.DefaultConfig(s.kind, obsDim, actDim)
		c.Embed, c.Layers, c.K, c.MaxEpLen, c.Context = 32, 2, 10, 200, s.context
		m, err = policy.NewDecision(c, rng)
	}
	if err != nil {
		t.Fatal(err)
	}
	info := policy.Info{EnvID: "test-v0", Targets: []float64{3000},
		Bounds: &policy.ActionBounds{Low: []float64{-2, 0, -1}, High: []float64{2, 4, 1}}}
	for range obsDim {
		info.Norm.Mean = append(info.Norm.Mean, rng.NormFloat64())
		info.Norm.Std = append(info.Norm.Std, 0.5+rng.Float64())
	}
	var b bytes.Buffer
	if err := policy.Encode(&b, m, info, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// play runs n envs for T steps on a random walk and returns every action.
func play(t testing.TB, a *Actor, obsDim int, T int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	n := a.Envs()
	obs, rew := make([]float64, n*obsDim), make([]float64, n)
	var all []float64
	for s := range T {
		act, err := a.Act(obs)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, act...)
		for i := range rew {
			rew[i] = rng.NormFloat64()
		}
		if err := a.Observe(rew); err != nil {
			t.Fatal(err)
		}
		for i := range obs {
			obs[i] += 0.2 * rng.NormFloat64()
		}
		if s == T/2 {
			a.ResetEnv(0)
		}
	}
	return all
}

// The actor's actions are policy.NewActor's (the runners' evaluation
// actor), in the env's units, for every kind and context.
func TestActorMatchesPolicyActor(t *testing.T) {
	for i, s := range specs {
		data := encoded(t, s, uint64(i))
		m, err := Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		a, err := m.NewActor(Options{Envs: 3})
		if err != nil {
			t.Fatal(err)
		}
		got := play(t, a, m.ObsDim(), 25, 7)

		ck, _ := policy.Decode(data)
		ref, err := policy.NewActor(ck, 3000)
		if err != nil {
			t.Fatal(err)
		}
		ref.Reset(3)
		rng := rand.New(rand.NewPCG(7, 2))
		obs, rew, act := make([]float64, 3*m.ObsDim()), make([]float64, 3), make([]float64, 3*m.ActDim())
		var want []float64
		for st := range 25 {
			if err := ref.Act(obs, rew, act); err != nil {
				t.Fatal(err)
			}
			want = append(want, act...)
			for j := range rew {
				rew[j] = rng.NormFloat64()
			}
			for j := range obs {
				obs[j] += 0.2 * rng.NormFloat64()
			}
			if st == 12 {
				ref.ResetEnv(0)
				rew[0] = 0
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: actions differ from policy.NewActor's", s.name)
		}
		for j, v := range got {
			lo, hi := []float64{-2, 0, -1}[j%3], []float64{2, 4, 1}[j%3]
			if v < lo || v > hi {
				t.Fatalf("%s: action %g outside [%g, %g]", s.name, v, lo, hi)
			}
		}
	}
}

func TestActNoAllocations(t *testing.T) {
	for i, s := range specs {
		m, err := Decode(encoded(t, s, uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := m.NewActor(Options{Envs: 4})
		obs, rew := make([]float64, 4*m.ObsDim()), make([]float64, 4)
		step := func() {
			if _, err := a.Act(obs); err != nil {
				t.Fatal(err)
			}
			a.Observe(rew)
		}
		step()
		if n := testing.AllocsPerRun(50, step); n != 0 {
			t.Errorf("%s: %g allocations per step", s.name, n)
		}
	}
}

// One actor per goroutine, all from one Model, give what one actor alone
// gives (run with -race).
func TestActorsInParallel(t *testing.T) {
	m, err := Decode(encoded(t, specs[0], 1))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.NewActor(Options{Envs: 2})
	want := play(t, a, m.ObsDim(), 20, 3)
	var wg sync.WaitGroup
	got := make([][]float64, 4)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := m.NewActor(Options{Envs: 2})
			if err != nil {
				t.Error(err)
				return
			}
			got[g] = play(t, a, m.ObsDim(), 20, 3)
		}()
	}
	wg.Wait()
	for g := range got {
		if !slices.Equal(got[g], want) {
			t.Errorf("goroutine %d acted differently", g)
		}
	}
}

func TestActorErrors(t *testing.T) {
	m, err := Decode(encoded(t, specs[0], 1))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.NewActor(Options{})
	obs := make([]float64, m.ObsDim())
	if _, err := a.Act(obs); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Act(obs); !errors.Is(err, ErrNoReward) {
		t.Errorf("Act without Observe: %v", err)
	}
	a.Observe([]float64{1})
	obs[2] = math.NaN()
	if _, err := a.Act(obs); err == nil {
		t.Error("a NaN observation acted")
	}
	if _, err := a.Act(obs[:3]); err == nil {
		t.Error("a short observation acted")
	}
	if err := a.Observe([]float64{1, 2}); err == nil {
		t.Error("two rewards for one env")
	}
	if err := a.ResetEnv(1); err == nil {
		t.Error("ResetEnv(1) with one env")
	}
	if _, err := m.NewActor(Options{Context: "step"}); err == nil {
		t.Error("context \"step\" accepted")
	}
	if _, err := Decode([]byte("not a policy")); err == nil {
		t.Error("garbage decoded")
	}
	if _, err := Load("testdata/missing.safetensors"); err == nil {
		t.Error("a missing file loaded")
	}
}

// The inference package links no training, configuration, plotting,
// HDF5 or CLI code.
func TestLightDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, bad := range []string{"github.com/spf13/viper", "github.com/spf13/cobra", "gonum.org/v1/plot", "github.com/scigolib/hdf5",
		"github.com/minrl/minrl/internal/h5", "github.com/minrl/minrl/dataset/d4rl", "github.com/minrl/minrl/runners",
		"github.com/minrl/minrl/configs", "github.com/minrl/minrl/agents", "gorgonia.org/gorgonia"} {
		for _, d := range deps {
			if d == bad || strings.HasPrefix(d, bad+"/") {
				t.Errorf("infer links %s", d)
			}
		}
	}
	t.Logf("%d packages linked", len(deps))
}

func BenchmarkAct(b *testing.B) {
	for i, s := range specs {
		for _, n := range []int{1, 16} {
			m, err := Decode(encoded(b, s, uint64(i)))
			if err != nil {
				b.Fatal(err)
			}
			name := s.name + "/envs=" + map[int]string{1: "1", 16: "16"}[n]
			b.Run(name, func(b *testing.B) {
				a, _ := m.NewActor(Options{Envs: n})
				obs, rew := make([]float64, n*m.ObsDim()), make([]float64, n)
				for j := range obs {
					obs[j] = 0.1 * float64(j%7)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := a.Act(obs); err != nil {
						b.Fatal(err)
					}
					a.Observe(rew)
				}
			})
		}
	}
}
