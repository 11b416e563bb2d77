package runners

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/nn/cuda/cudatest"
	"github.com/minrl/minrl/tasks/selcopy"
)

func TestSelCopySweepWritesRunsTableAndPlots(t *testing.T) {
	base := selcopy.DefaultConfig()
	base.Task.Tokens = 2
	base.Model.Dim = 8
	base.Batch, base.Steps, base.EvalEvery, base.EvalSize, base.EvalBatch = 4, 4, 2, 8, 8
	cfg := SelCopyConfig{Base: base, Models: []string{"mingru", "gru"}, Layers: []int{1, 2}, SeqLens: []int{8}, Seeds: []uint64{1, 2}}
	dir := t.TempDir()
	results, err := RunSelCopy(context.Background(), cfg, dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 8 {
		t.Fatalf("%d results, want 8", len(results))
	}
	csv, err := os.ReadFile(filepath.Join(SelCopyRunDir(dir, results[0].Config), "curve.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(csv), "\n"); lines != 4 { // header + steps 0, 2, 4
		t.Errorf("curve.csv has %d lines:\n%s", lines, csv)
	}
	loaded, err := LoadSelCopyResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 8 {
		t.Fatalf("loaded %d results", len(loaded))
	}
	files, err := WriteSelCopyReport(dir, "# test\n\n", loaded)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Errorf("report files %v, want selcopy.md and one plot", files)
	}
	md, err := os.ReadFile(filepath.Join(dir, "selcopy.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 8 | 2 | mingru | 1 |", "| 8 | 2 | gru | 2 |", "37.0 ± 2.3", "96.8 ± 3.2", "not run"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("selcopy.md lacks %q:\n%s", want, md)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "selcopy-L8-k2.png")); err != nil || st.Size() == 0 {
		t.Errorf("plot: %v", err)
	}
}

func TestSelCopyBadSweeps(t *testing.T) {
	base := selcopy.DefaultConfig()
	for _, c := range []struct {
		cfg  SelCopyConfig
		want string
	}{
		{SelCopyConfig{Base: base, Models: []string{"rnn"}, Layers: []int{1}, SeqLens: []int{64}, Seeds: []uint64{1}}, "unknown model"},
		{SelCopyConfig{Base: base, Models: []string{"mingru"}, Layers: []int{0}, SeqLens: []int{64}, Seeds: []uint64{1}}, "0 layers"},
		{SelCopyConfig{Base: base, Models: []string{"mingru"}, Layers: []int{1}, SeqLens: []int{8}, Seeds: []uint64{1}}, "fewer than 16"},
		{SelCopyConfig{Base: base, Models: []string{"mingru"}, Layers: []int{1}, SeqLens: []int{64}}, "at least one"},
	} {
		if _, err := RunSelCopy(context.Background(), c.cfg, "", io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	if _, err := LoadSelCopyResults(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no selective-copying") {
		t.Errorf("empty directory: %v", err)
	}
}

// TestSelCopyOnDevice runs a tiny sweep with Device "cuda" (the GPU with
// -tags cuda, else the emulator): the results and the table say where they
// ran, and models without device kernels are refused before any run.
func TestSelCopyOnDevice(t *testing.T) {
	base := selcopy.DefaultConfig()
	base.Task.Tokens = 2
	base.Model.Dim = 4
	base.Batch, base.Steps, base.EvalEvery, base.EvalSize, base.EvalBatch = 2, 2, 2, 4, 4
	cfg := SelCopyConfig{Base: base, Models: []string{"minlstm", "gru"}, Layers: []int{1}, SeqLens: []int{6}, Seeds: []uint64{1}, Device: "cuda"}
	if _, err := RunSelCopy(context.Background(), cfg, "", io.Discard); err == nil || !strings.Contains(err.Error(), "gru has no GPU kernels") {
		t.Errorf("gru on the device: %v", err)
	}
	if !cuda.Available() {
		dev := cudatest.Open(t)
		prev := cuda.RegisterDriver(func() (cuda.Device, error) { return dev, nil })
		t.Cleanup(func() { cuda.RegisterDriver(prev) })
	}
	cfg.Models = []string{"minlstm"}
	results, err := RunSelCopy(context.Background(), cfg, "", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Device == "cpu" || results[0].Device == "" {
		t.Fatalf("results %+v, want one run on the device", results)
	}
	var md strings.Builder
	if err := WriteSelCopyTable(&md, results); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), results[0].Device) {
		t.Errorf("the table does not name the device %q:\n%s", results[0].Device, md.String())
	}
}
