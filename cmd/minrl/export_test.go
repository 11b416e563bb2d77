package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/internal/onnx"
	"github.com/minrl/minrl/policy"
)

// A policy trained by the CLI exports both ways: the ONNX file parses with
// the summary's inputs, the safetensors file loads back as the same policy.
func TestExportTrainedPolicies(t *testing.T) {
	dir := t.TempDir()
	cfg := writeTinyConfig(t, dir)
	for _, preset := range []string{"pendulum-medium-mingru-episode", "pendulum-medium-dt", "pendulum-medium-bc"} {
		run := filepath.Join(dir, preset)
		if got, err := runCmd(t, newTrainCmd(), preset, "--config", cfg, "--steps", "2", "--eval-every", "2", "--out", run); err != nil {
			t.Fatalf("%v\n%s", err, got)
		}
		ckPath := filepath.Join(run, "last.safetensors")
		onnxPath := filepath.Join(dir, preset+".onnx")
		got, err := runCmd(t, newExportCmd(), ckPath, "--format", "onnx", "--out", onnxPath)
		if err != nil {
			t.Fatalf("%s: %v\n%s", preset, err, got)
		}
		want := map[string][]string{
			"pendulum-medium-mingru-episode": {"input  observation", "[batch, 3]", "input  rnn_state.0", "output next_rnn_state.0", "minrl.mode = step"},
			"pendulum-medium-dt":             {"input  observations", "[batch, 4, 3]", "input  mask", "minrl.mode = window"},
			"pendulum-medium-bc":             {"input  observation", "output action", "[batch, 1]"},
		}[preset]
		for _, w := range append(want, "ONNX IR 8, opset 17", "wrote "+onnxPath) {
			if !strings.Contains(got, w) {
				t.Errorf("%s: summary lacks %q:\n%s", preset, w, got)
			}
		}
		data, err := os.ReadFile(onnxPath)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := onnx.Parse(data); err != nil || m.Opset != 17 || len(m.Graph.Nodes) == 0 {
			t.Errorf("%s: the written file does not parse: %v", preset, err)
		}
		stPath := filepath.Join(dir, preset+".safetensors")
		if got, err := runCmd(t, newExportCmd(), ckPath, "--format", "safetensors", "--out", stPath); err != nil || !strings.Contains(got, "tensors") {
			t.Fatalf("%s: %v\n%s", preset, err, got)
		}
		orig, err := policy.Load(ckPath)
		if err != nil {
			t.Fatal(err)
		}
		back, err := policy.Load(stPath)
		if err != nil {
			t.Fatalf("%s: the safetensors export does not load: %v", preset, err)
		}
		if len(back.Extra) != 0 || back.Meta["export.format"] != "minrl-policy/1" || back.Meta["export.minrl_version"] == "" {
			t.Errorf("%s: export carries %d extra tensors, metadata %v", preset, len(back.Extra), back.Meta)
		}
		for i, p := range orig.Model.Params() {
			if !slices.Equal(p.Value.Data, back.Model.Params()[i].Value.Data) {
				t.Errorf("%s: %s differs after the export", preset, p.Name)
			}
		}
	}
	ck := filepath.Join(dir, "pendulum-medium-dt", "last.safetensors")
	bc := filepath.Join(dir, "pendulum-medium-bc", "last.safetensors")
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{ck, "--format", "tflite"}, `--format "tflite"`},
		{[]string{ck, "--mode", "step"}, "step mode needs a recurrent model"},
		{[]string{ck, "--mode", "epsiode"}, `mode "epsiode"`},
		{[]string{bc, "--mode", "window"}, "--mode applies to Decision models"},
		{[]string{filepath.Join(dir, "missing.safetensors")}, "missing.safetensors"},
		{[]string{cfg}, "not a minrl checkpoint"},
	} {
		if _, err := runCmd(t, newExportCmd(), bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("export %v: %v, want an error containing %q", bad.args, err, bad.want)
		}
	}
}
