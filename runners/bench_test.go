package runners

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/agents/ppo"
	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/dataset/d4rl"
	_ "github.com/minrl/minrl/envs/classic"
	"github.com/minrl/minrl/nn"
)

func TestSpeedRunsEveryCellAndWritesTableAndPlot(t *testing.T) {
	cfg := SpeedConfig{Models: []string{"mingru", "minlstm", "mingru-log"}, Ts: []int{3, 8}, B: 2, D: 4, Repeats: 2, Seed: 1}
	for name := range classicLayers {
		cfg.Models = append(cfg.Models, name)
	}
	calls := 0
	res, err := Speed(context.Background(), cfg, func() { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if want := len(cfg.Models) * len(cfg.Ts); len(res) != want {
		t.Fatalf("%d results, want %d", len(res), want)
	}
	if calls != len(cfg.Models)*len(cfg.Ts)*cfg.Repeats {
		t.Errorf("progress called %d times", calls)
	}
	for _, r := range res {
		if len(r.Seconds) != cfg.Repeats || r.Median() <= 0 || r.ScratchBytes <= 0 {
			t.Errorf("%s T=%d: %d samples, median %g, %d bytes", r.Model, r.T, len(r.Seconds), r.Median(), r.ScratchBytes)
		}
	}
	var b strings.Builder
	if err := WriteSpeedTable(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| T | mingru ms |", "| 8 |", "Memory held per training step"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	png := filepath.Join(t.TempDir(), "sub", "speed.png")
	if err := PlotSpeed(res, "test", png); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(png); err != nil || !strings.HasPrefix(string(data), "\x89PNG") {
		t.Errorf("plot is not a PNG: %v", err)
	}
}

func TestSpeedRejectsBadConfigs(t *testing.T) {
	for _, tc := range []struct {
		cfg  SpeedConfig
		want string
	}{
		{SpeedConfig{Models: []string{"rnn"}, Ts: []int{4}, B: 1, D: 1, Repeats: 1}, `unknown model "rnn"`},
		{SpeedConfig{Models: []string{"mingru"}, Ts: []int{0}, B: 1, D: 1, Repeats: 1}, "sequence length 0"},
		{SpeedConfig{Models: []string{"mingru"}, Ts: []int{4}, B: 0, D: 1, Repeats: 1}, "must be in [1, 65536]"},
		{SpeedConfig{Models: []string{"mingru"}, Ts: []int{4}, B: 1, D: 1, Repeats: 0}, "repeats 0"},
	} {
		_, err := Speed(context.Background(), tc.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config %+v: error %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestSpeedStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := SpeedConfig{Models: []string{"mingru"}, Ts: []int{4}, B: 1, D: 2, Repeats: 3}
	if _, err := Speed(ctx, cfg, nil); err != context.Canceled {
		t.Errorf("cancelled run returned %v", err)
	}
}

func TestScanBandwidthIsPositive(t *testing.T) {
	s, c := ScanBandwidth(64*128*16, 2)
	if !(s > 0) || !(c > 0) {
		t.Errorf("bandwidths %g, %g", s, c)
	}
}

func TestCollectMakesEveryDataset(t *testing.T) {
	if testing.Short() {
		t.Skip("trains PPO briefly")
	}
	cfg := CollectConfig{Env: "Pendulum-v1", Transitions: 450, RefEpisodes: 2, Kinds: AllKinds, Out: t.TempDir(),
		Seed: 3, MediumFraction: 1.0 / 3}
	cfg.PPO = ppoTestConfig()
	rep, err := Collect(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range AllKinds {
		s := rep.Summaries[k]
		if rep.Files[k] == "" || s.Transitions == 0 {
			t.Errorf("%s: %+v", k, s)
		}
	}
	if rep.Summaries[KindMediumExpert].Transitions != rep.Summaries[KindMedium].Transitions+rep.Summaries[KindExpert].Transitions {
		t.Error("medium-expert is not medium + expert")
	}
	if rep.Summaries[KindRandom].Transitions != 450 || rep.Summaries[KindRandom].Episodes != 2 {
		t.Errorf("random: %+v (450 transitions: 2 finished 200-step episodes and one cut short)", rep.Summaries[KindRandom])
	}
	d, err := d4rl.Load(rep.Files[KindMediumReplay])
	if err != nil {
		t.Fatal(err)
	}
	if d.Meta.EnvID != "Pendulum-v1" || d.N%200 != 0 {
		t.Errorf("medium-replay: env %q, %d transitions (whole 200-step episodes expected)", d.Meta.EnvID, d.N)
	}
	for _, f := range []string{"pendulum-collect.json", "pendulum-ppo.png", "agents/pendulum/medium.safetensors", "agents/pendulum/expert.safetensors"} {
		if _, err := os.Stat(filepath.Join(cfg.Out, f)); err != nil {
			t.Error(err)
		}
	}
}

// Joining datasets (medium-expert) ends every part but the last with a
// finished episode; the last part's last episode stays as it was.
func TestConcatFinishesAllPartsButTheLast(t *testing.T) {
	part := func(flags ...bool) *dataset.Dataset { // flags: terminal, timeout per row
		d := dataset.New(len(flags)/2, 1, 1)
		for i := range d.N {
			d.Terminals[i], d.Timeouts[i] = flags[2*i], flags[2*i+1]
		}
		return d
	}
	unfinished := []bool{false, false, false, false}
	d := concat(part(unfinished...), part(false, true, false, false), part(unfinished...))
	wantTimeouts := []bool{false, true, true, true, false, false}
	if !slices.Equal(d.Timeouts, wantTimeouts) || slices.Contains(d.Terminals, true) {
		t.Errorf("timeouts %v (want %v), terminals %v", d.Timeouts, wantTimeouts, d.Terminals)
	}
	if last := concat(part(true, false), part(unfinished...)); last.Timeouts[2] || !last.Terminals[0] {
		t.Errorf("terminals %v, timeouts %v", last.Terminals, last.Timeouts)
	}
}

// Bad collect configs fail before any PPO training, naming what is wrong.
func TestCollectRejectsBadConfigs(t *testing.T) {
	good := CollectConfig{Env: "Pendulum-v1", Transitions: 450, RefEpisodes: 2, Kinds: AllKinds, Out: t.TempDir(),
		Seed: 3, MediumFraction: 1.0 / 3, PPO: ppoTestConfig()}
	for want, edit := range map[string]func(*CollectConfig){
		"gzip level 12":         func(c *CollectConfig) { c.Gzip = 12 },
		"gzip level -1":         func(c *CollectConfig) { c.Gzip = -1 },
		`dataset name "../x"`:   func(c *CollectConfig) { c.Name = "../x" },
		"transitions 0":         func(c *CollectConfig) { c.Transitions = 0 },
		`unknown dataset kind`:  func(c *CollectConfig) { c.Kinds = []string{"medium", "best"} },
		"medium fraction 1":     func(c *CollectConfig) { c.MediumFraction = 1 },
		"no output directory":   func(c *CollectConfig) { c.Out = "" },
		"reference episodes -1": func(c *CollectConfig) { c.RefEpisodes = -1 },
	} {
		c := good
		edit(&c)
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // a config that passed would stop at once, not train
		_, err := Collect(ctx, c, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v", want, err)
		}
	}
}

func ppoTestConfig() ppo.Config {
	c := ppo.DefaultConfig("Pendulum-v1")
	c.NumEnvs, c.NumSteps, c.TotalSteps, c.Minibatches, c.Epochs = 2, 200, 2*200*4, 2, 2
	return c
}

// collectGolden are the array hashes (Dataset.SHA256) and reference returns of
// a short Pendulum collect. Any change that moves PPO's, the envs' or the
// layers' numbers changes them: then regenerate the shipped datasets with
// data/README.md's command, and update these (issue 17, item 2: the
// shipped data had silently stopped coming out of that command).
var collectGolden = map[string]string{
	"returns":        "-1351.0967635588656 -1208.5678550493162 -1264.8211727674889",
	"expert_mean":    "-1124.5716430667831",
	KindRandom:       "261126c94247715ee2727dd7dd4679b682419ac8e0b499e8306307d94618e490",
	KindMedium:       "b8def177f52ecee0b3bfb5c538c5ccb33a4e0c1684e34794f7a4f383022a642e",
	KindMediumReplay: "187128c8324d8704caf41469e8623d33c4a3cef4fd6a8ca8e82b6b67184af0e8",
	KindExpert:       "fa603fb7b7eebbc2a111fd6da6f66c958b20ff4b5f8abf57038f4f0d9b04b0d6",
	KindMediumExpert: "c5fb1ac6eacdf2bab3591a77ed6a15f0820041ee58d992512800db89aa048aa6",
}

func TestCollectIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("trains PPO briefly")
	}
	// The shipped data come from the default build; -tags openblas rounds
	// differently (its own GEMM and gate kernels).
	if g := nn.CurrentGemm().Name(); g != "vek" {
		t.Skipf("golden values are for the default build's kernels (vek), not %s", g)
	}
	cfg := CollectConfig{Env: "Pendulum-v1", Transitions: 450, RefEpisodes: 2, Kinds: AllKinds, Out: t.TempDir(),
		Seed: 1, MediumFraction: 1.0 / 3}
	cfg.PPO = ppoTestConfig()
	rep, err := Collect(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// "returns": random, expert with sampled actions, medium (the values
	// before the mean-action reference existed: the data did not move).
	got := map[string]string{"returns": fmt.Sprintf("%.17g %.17g %.17g", rep.RandomReturn, rep.ExpertSampledReturn, rep.MediumReturn),
		"expert_mean": fmt.Sprintf("%.17g", rep.ExpertReturn)}
	for _, k := range AllKinds {
		d, err := d4rl.Load(rep.Files[k])
		if err != nil {
			t.Fatal(err)
		}
		got[k] = d.SHA256()
		// The references that training reads back from the file.
		if x := d.Meta.Extra; x[MetaExpertReturn] != fmt.Sprint(rep.ExpertReturn) || x[MetaExpertActions] != "mean" ||
			x[MetaExpertSampled] != fmt.Sprint(rep.ExpertSampledReturn) || x[MetaRandomReturn] != fmt.Sprint(rep.RandomReturn) {
			t.Errorf("%s: metadata %v, want the report's references", k, x)
		}
	}
	for k, v := range got {
		if collectGolden[k] != v {
			t.Errorf("%s: %s, golden %s", k, v, collectGolden[k])
		}
	}
}
