package runners

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minrl/minrl/nn/cuda"
	"github.com/minrl/minrl/nn/cuda/cudatest"
)

func TestTrainDeviceFlag(t *testing.T) {
	run := tinyRun(t, "pendulum-medium-mingru")
	_, err := Train(context.Background(), run, TrainOptions{SkipPlots: true, Device: "tpu"})
	if err == nil || !strings.Contains(err.Error(), `device "tpu"`) {
		t.Errorf("device tpu: %v", err)
	}
	if cuda.Available() {
		return // TestTrainOnDevice below
	}
	_, err = Train(context.Background(), run, TrainOptions{SkipPlots: true, Device: "cuda"})
	if err == nil || !strings.Contains(err.Error(), "-tags cuda") {
		t.Errorf("device cuda in a CPU build: %v, want an error that says how to build with CUDA", err)
	}
}

// TestTrainOnDevice trains the same tiny run on the CPU and on the device
// (the GPU with -tags cuda, else the emulator): the losses agree to float32
// rounding, the device's checkpoint loads on the CPU, and a run stopped on
// the device resumes on the CPU.
func TestTrainOnDevice(t *testing.T) {
	if !cuda.Available() {
		dev := cudatest.Open(t)
		prev := cuda.RegisterDriver(func() (cuda.Device, error) { return dev, nil })
		t.Cleanup(func() { cuda.RegisterDriver(prev) })
	}
	run := tinyRun(t, "pendulum-medium-mingru")
	cpuRun, gpuRun := run, run
	cpuRun.Out, gpuRun.Out = filepath.Join(t.TempDir(), "cpu"), filepath.Join(t.TempDir(), "gpu")
	a, err := Train(context.Background(), cpuRun, TrainOptions{SkipPlots: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), gpuRun, TrainOptions{SkipPlots: true, Device: "cuda"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Device == "cpu" || a.Device != "cpu" {
		t.Errorf("devices %q and %q", a.Device, b.Device)
	}
	la, err := readJSONL[MetricRecord](filepath.Join(cpuRun.Out, FileMetrics), run.Train.Steps)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := readJSONL[MetricRecord](filepath.Join(gpuRun.Out, FileMetrics), run.Train.Steps)
	if err != nil {
		t.Fatal(err)
	}
	if len(la) != len(lb) || len(la) == 0 {
		t.Fatalf("%d and %d metric records", len(la), len(lb))
	}
	for i := range la {
		if d := la[i].Loss - lb[i].Loss; d > 1e-3*la[i].Loss || -d > 1e-3*la[i].Loss {
			t.Errorf("step %d: loss %.7g (CPU) and %.7g (GPU)", la[i].Step, la[i].Loss, lb[i].Loss)
		}
	}
	readCheckpoint(t, filepath.Join(gpuRun.Out, FileLast))

	// Stopped on the device after 5 steps (its checkpoint), resumed on the
	// CPU: the same run as the CPU's to float32 rounding.
	mixed := run
	mixed.Out = filepath.Join(t.TempDir(), "mixed")
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Train(ctx, mixed, TrainOptions{SkipPlots: true, Device: "cuda", Progress: func(ev TrainEvent) {
		if ev.Kind == "step" && ev.Step == 5 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("cancelled run: no error")
	}
	c, err := Train(context.Background(), mixed, TrainOptions{SkipPlots: true})
	if err != nil {
		t.Fatal(err)
	}
	if c.ResumedFrom != 5 || c.Steps != run.Train.Steps {
		t.Errorf("resumed from %d to %d, want 5 to %d", c.ResumedFrom, c.Steps, run.Train.Steps)
	}
	lc, err := readJSONL[MetricRecord](filepath.Join(mixed.Out, FileMetrics), run.Train.Steps)
	if err != nil {
		t.Fatal(err)
	}
	for i := range lc {
		if d := la[i].Loss - lc[i].Loss; d > 1e-3*la[i].Loss || -d > 1e-3*la[i].Loss {
			t.Errorf("resumed on the CPU, step %d: loss %.7g, CPU run %.7g", lc[i].Step, lc[i].Loss, la[i].Loss)
		}
	}
}
