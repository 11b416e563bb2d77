package configs

import (
	"os"
	"path/filepath"
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
		r.Model.Context != "episode" || r.Train.Batch != 16 || r.Eval.Targets[0] != 3600 || r.Out != "runs/hopper-medium-replay-mingru-episode" {
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
	r, err := Load(Source{Preset: "hopper-medium-mingru", File: file,
		Env:   []string{"MINRL_TRAIN_BATCH=16", "MINRL_DATA_DIR=/x", "PATH=/bin"},
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
	} {
		file := filepath.Join(dir, "c.yaml")
		os.WriteFile(file, []byte(tc.yaml), 0o644)
		_, err := Load(Source{Preset: "hopper-medium-mingru", File: file})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to name %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := Load(Source{Preset: "hopper-medium-mingru", Env: []string{"MINRL_TRAIN_STEPZ=3"}}); err == nil || !strings.Contains(err.Error(), "MINRL_TRAIN_STEPZ") {
		t.Errorf("unknown env var: %v", err)
	}
	if _, err := Load(Source{Preset: "mars-medium-mingru"}); err == nil || !strings.Contains(err.Error(), "unknown preset") {
		t.Errorf("unknown preset: %v", err)
	}
	if _, err := Load(Source{Preset: "hopper-medium-mingru", File: filepath.Join(dir, "missing.yaml")}); err == nil {
		t.Error("missing file accepted")
	}
}
