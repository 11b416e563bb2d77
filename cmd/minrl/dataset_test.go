package main

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/dataset/d4rl"
	"github.com/minrl/minrl/envs"
)

func init() {
	noEnv := func(*envs.Params) (envs.Env, error) { return nil, nil }
	envs.Register(envs.Spec{ID: "test/DatasetRefs-v0", New: noEnv, RandomReturn: -10, ExpertReturn: 90, RefSource: "test"})
	envs.Register(envs.Spec{ID: "test/DatasetNoRefs-v0", New: noEnv, RandomReturn: math.NaN(), ExpertReturn: math.NaN()})
}

// runDataset runs the dataset command under a bare root (main.go adds it
// to the real one).
func runDataset(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "minrl", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newDatasetCmd())
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// smallDataset has episodes of 4 (terminal), 6 (timeout) and 3 (unfinished)
// steps with every reward 5: finished returns 20 and 30.
func smallDataset(t *testing.T) string {
	t.Helper()
	d := dataset.New(13, 3, 2)
	for i := range d.Rewards {
		d.Rewards[i] = 5
	}
	d.Terminals[3] = true
	d.Timeouts[9] = true
	d.Meta = dataset.Metadata{EnvID: "test/DatasetRefs-v0", Policy: "random", Seed: ptr(uint64(7)), Extra: map[string]string{"note": "x"}}
	path := filepath.Join(t.TempDir(), "small.hdf5")
	if err := d4rl.Save(path, d, d4rl.SaveOptions{Gzip: 1}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDatasetInfo(t *testing.T) {
	path := smallDataset(t)
	pngPath := filepath.Join(t.TempDir(), "plots", "returns.png")
	out, err := runDataset(t, "dataset", "info", path, "--out", pngPath, "--env", "test/DatasetRefs-v0")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"transitions 13 (observations 3, actions 2",
		"terminals 1, timeouts 1",
		"episodes    3: 2 finished, 1 unfinished",
		"length      min 4.0  mean 5.0  std 1.0  max 6.0",
		"return      min 20.0  mean 25.0  std 5.0  max 30.0",
		"p50 25.0",
		"env test/DatasetRefs-v0, policy random, seed 7",
		"note=x",
		// (R + 10) / 100 · 100: 20 -> 30, 25 -> 35, 30 -> 40.
		"score       min 30.0  mean 35.0  max 40.0",
		"wrote " + pngPath,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if img, err := png.Decode(f); err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("histogram is not a PNG: %v", err)
	}

	out, err = runDataset(t, "dataset", "info", path, "--env", "test/DatasetNoRefs-v0")
	if err != nil || !strings.Contains(out, "has no reference returns") || strings.Contains(out, "wrote") {
		t.Errorf("env without refs: %v\n%s", err, out)
	}
}

func TestDatasetInfoErrors(t *testing.T) {
	path := smallDataset(t)
	for _, args := range [][]string{
		{"dataset", "info"},
		{"dataset", "info", filepath.Join(t.TempDir(), "absent.hdf5")},
		{"dataset", "info", path, "--env", "no/Such-v0"},
		{"dataset", "info", path, "--bins", "0"},
	} {
		if out, err := runDataset(t, args...); err == nil {
			t.Errorf("%v: no error\n%s", args, out)
		}
	}
}

func ptr[T any](v T) *T { return &v }
