package configs

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestPresetComposesEnvDatasetAndModel(t *testing.T) {
	r, err := Load(Source{Preset: "hopper-medium-replay-mingru-episode"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Env != "minrl/Hopper-v0" || r.Dataset != "hopper-medium-replay" || r.Model.Kind != "mingru" ||
		r.Model.Context != "episode" || r.Train.Batch != 16 || r.Eval.Targets[0] != 5200 || r.Out != "runs/hopper-medium-replay-mingru-episode" {
		t.Errorf("%+v", r)
	}
	dt, err := Load(Source{Preset: "walker2d-medium-dt"})
	if err != nil {
		t.Fatal(err)
	}
	if dt.Model.Kind != "dt" || dt.Model.Activation != "relu" || dt.Train.LR != 1e-4 || dt.Train.Warmup != 10000 {
		t.Errorf("%+v", dt)
	}
	for _, p := range Presets() {
		if _, err := Load(Source{Preset: p}); err != nil {
			t.Errorf("preset %s: %v", p, err)
		}
	}
}

func TestFileEnvAndFlagsOverrideInOrder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "run.yaml")
	os.WriteFile(file, []byte("train:\n  steps: 500\n  batch: 8\nmodel:\n  embed: 64\n"), 0o644)
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	steps := fs.Int("steps", 0, "")
	fs.Parse([]string{"--steps", "700"})
	_ = steps
	t.Setenv("MINRL_TRAIN_BATCH", "16")
	t.Setenv("MINRL_DATA_DIR", "/x")
	r, err := Load(Source{Preset: "hopper-medium-mingru", File: file, Env: true,
		Flags: map[string]*pflag.Flag{"train.steps": fs.Lookup("steps")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Train.Steps != 700 || r.Train.Batch != 16 || r.Model.Embed != 64 || r.Model.Layers != 3 {
		t.Errorf("steps %d batch %d embed %d layers %d", r.Train.Steps, r.Train.Batch, r.Model.Embed, r.Model.Layers)
	}
}

func TestUnknownKeysAndBadValuesNameTheKey(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"train:\n  stepz: 5\n", "stepz"},
		{"model:\n  kind: lstm\n", "model.kind"},
		{"train:\n  lr: -1\n", "train.lr"},
		{"train:\n  steps: many\n", "steps"},
		{"model:\n  kind: dt\n  context: episode\n", "model.context"},
		{"model:\n  dropout: 1.5\n", "model.dropout"},
		{"eval:\n  targets: []\n", "eval.targets"},
		{"train:\n  batch: 1e8\n", "train.batch: 100000000, want in [1, 65536]"},
		{"model:\n  k: 0\n", "model.k: 0, must be in [1, 4096]"},
		{"model:\n  kind: bc\n  hidden: [64, 0]\n", "model.hidden: [64 0], sizes must be in"},
		{"model:\n  embed: 0\n", "model.embed: 0, must be in"},
		{"model:\n  kind: dt\n  heads: 3\n", "model.heads: 3, must be positive and divide"},
		{"eval:\n  rtg_scale: 0\n", "eval.rtg_scale: 0"},
		{"eval:\n  episodes: 2000000\n", "eval.episodes"},
		{"name: ../../etc/x\n", "name: \"../../etc/x\""}, // would place runs/<name> outside runs/
		{"name: ..\n", "name"},
		{"name: a/b\n", "name"},
	} {
		file := filepath.Join(dir, "c.yaml")
		os.WriteFile(file, []byte(tc.yaml), 0o644)
		_, err := Load(Source{Preset: "hopper-medium-mingru", File: file})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to name %q", tc.yaml, err, tc.want)
		}
	}
	t.Setenv("MINRL_TRAIN_STEPZ", "3")
	if _, err := Load(Source{Preset: "hopper-medium-mingru", Env: true}); err == nil || !strings.Contains(err.Error(), "MINRL_TRAIN_STEPZ") {
		t.Errorf("unknown env var: %v", err)
	}
	if _, err := Load(Source{Preset: "mars-medium-mingru"}); err == nil || !strings.Contains(err.Error(), "unknown preset") {
		t.Errorf("unknown preset: %v", err)
	}
	if _, err := Load(Source{Preset: "hopper-medium-mingru", File: filepath.Join(dir, "missing.yaml")}); err == nil {
		t.Error("missing file accepted")
	}
}

// load loads hopper-medium-mingru with a file holding yaml (none if empty)
// and the given environment.
func load(t *testing.T, yaml string, env ...string) (Run, error) {
	t.Helper()
	// Only this call's variables: an earlier call's (t.Setenv keeps them
	// until the test ends) would leak into its error.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "MINRL_") {
			t.Setenv(name, "") // restored when the test ends
			os.Unsetenv(name)
		}
	}
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
	src := Source{Preset: "hopper-medium-mingru", Env: len(env) > 0}
	if yaml != "" {
		src.File = filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(src.File, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Load(src)
}

func TestPresetFileEnvFlagPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "run.yaml")
	os.WriteFile(file, []byte("dataset: mine\ntrain:\n  batch: 8\n"), 0o644)
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.Int("batch", 0, "")
	fs.String("dataset", "", "")
	fs.Parse([]string{"--batch", "48", "--dataset", "flagged"})
	flags := map[string]*pflag.Flag{"train.batch": fs.Lookup("batch"), "dataset": fs.Lookup("dataset")}
	t.Setenv("MINRL_TRAIN_BATCH", "32")
	t.Setenv("MINRL_DATASET", "from-env")
	const preset = "hopper-medium-replay-mingru-episode" // batch 16
	for _, tc := range []struct {
		name    string
		src     Source
		batch   int
		dataset string
	}{
		{"preset", Source{Preset: preset}, 16, "hopper-medium-replay"},
		{"file over preset", Source{Preset: preset, File: file}, 8, "mine"},
		{"env over file", Source{Preset: preset, File: file, Env: true}, 32, "from-env"},
		{"flags over env", Source{Preset: preset, File: file, Env: true, Flags: flags}, 48, "flagged"},
	} {
		r, err := Load(tc.src)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.Train.Batch != tc.batch || r.Dataset != tc.dataset {
			t.Errorf("%s: batch %d dataset %q, want %d %q", tc.name, r.Train.Batch, r.Dataset, tc.batch, tc.dataset)
		}
	}
}

func TestValuesAreNotCoerced(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		env  string
		want []string // the key and the value as written
	}{
		{yaml: "train:\n  steps: 1.7\n", want: []string{"train.steps", "1.7"}},
		{yaml: "eval:\n  episodes: 2.9\n", want: []string{"eval.episodes", "2.9"}},
		{yaml: "train:\n  seed: 1.5\n", want: []string{"train.seed", "1.5"}},
		{yaml: "train:\n  seed: -1\n", want: []string{"train.seed", "-1"}},
		{yaml: "train:\n  steps: true\n", want: []string{"train.steps", "true"}},
		{yaml: "train:\n  lr: false\n", want: []string{"train.lr", "false"}},
		{yaml: "model:\n  conv: 1\n", want: []string{"model.conv", "1"}},
		{yaml: "model:\n  embed: 1e30\n", want: []string{"model.embed", "1e+30"}},
		{yaml: "model:\n  embed: 18446744073709551615\n", want: []string{"model.embed", "18446744073709551615"}},
		{yaml: "name: 5\n", want: []string{"name", "5"}},
		{yaml: "eval:\n  targets: 3600\n", want: []string{"eval.targets", "3600"}},
		{yaml: "train: 5\n", want: []string{"train", "5"}},
		{yaml: "model: fast\n", want: []string{"model", "fast"}},
		{env: "MINRL_TRAIN_LR=abc", want: []string{"train.lr", "abc"}},
		{env: "MINRL_TRAIN_STEPS=1.5", want: []string{"train.steps", "1.5"}},
		{env: "MINRL_TRAIN_SEED=-1", want: []string{"train.seed", "-1"}},
		{env: "MINRL_MODEL_CONV=2", want: []string{"model.conv", "2"}},
		{env: "MINRL_EVAL_TARGETS=3600,x", want: []string{"eval.targets", "x"}},
	} {
		var env []string
		if tc.env != "" {
			env = []string{tc.env}
		}
		_, err := load(t, tc.yaml, env...)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "-9223372036854775808") {
				t.Errorf("%q%s: error %v, want it to name %q", tc.yaml, tc.env, err, tc.want)
				break
			}
		}
	}
}

func TestExactValuesAreAccepted(t *testing.T) {
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.Float64("lr", 0, "")
	fs.Uint64("seed", 0, "")
	fs.Parse([]string{"--lr", "0.002", "--seed", "18446744073709551615"})
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("train:\n  steps: 1e5\n  lr: 1\nmodel:\n  conv: true\n  expansion: 2\neval:\n"), 0o644)
	for _, kv := range []string{"MINRL_EVAL_TARGETS=3600, 1800", "MINRL_MODEL_HIDDEN=64,32", "MINRL_EVAL_SEED=7", "MINRL_TRAIN_WEIGHT_DECAY=0", "MINRL_TRAIN_WARMUP=2e3"} {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
	r, err := Load(Source{Preset: "hopper-medium-mingru", File: file, Env: true,
		Flags: map[string]*pflag.Flag{"train.lr": fs.Lookup("lr"), "train.seed": fs.Lookup("seed")}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Train.Steps != 100000 || r.Train.LR != 0.002 || r.Train.Seed != math.MaxUint64 || !r.Model.Conv || r.Model.Expansion != 2 ||
		!slices.Equal(r.Eval.Targets, []float64{3600, 1800}) || !slices.Equal(r.Model.Hidden, []int{64, 32}) || r.Eval.Seed != 7 || r.Train.WeightDecay != 0 || r.Train.Warmup != 2000 {
		t.Errorf("%+v", r)
	}
}

func TestNonFiniteValuesNameTheKey(t *testing.T) {
	for _, tc := range []struct{ yaml, env, want string }{
		{yaml: "train:\n  weight_decay: .inf\n", want: "train.weight_decay"},
		{yaml: "train:\n  grad_clip: .inf\n", want: "train.grad_clip"},
		{yaml: "eval:\n  rtg_scale: .inf\n", want: "eval.rtg_scale"},
		{env: "MINRL_TRAIN_LR=+Inf", want: "train.lr"},
		{env: "MINRL_TRAIN_WEIGHT_DECAY=NaN", want: "train.weight_decay"},
		{env: "MINRL_MODEL_EXPANSION=inf", want: "model.expansion"},
		{env: "MINRL_MODEL_DROPOUT=NaN", want: "model.dropout"},
	} {
		var env []string
		if tc.env != "" {
			env = []string{tc.env}
		}
		if _, err := load(t, tc.yaml, env...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q%s: error %v, want it to name %q", tc.yaml, tc.env, err, tc.want)
		}
	}
}
