// Command gpuplot draws docs/bench/gpu/layer.png: one layer's training step
// on the GPU against T, minrl (speed.json from `minrl bench speed --device
// cuda`) beside PyTorch on the same GPU in the same run (torch.json from
// scripts/gpu_bench_torch.py).
//
//	go run ./scripts/gpuplot docs/bench/gpu/speed.json docs/bench/gpu/torch.json docs/bench/gpu/layer.png
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/minrl/minrl/runners"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: gpuplot SPEED.json TORCH.json OUT.png")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "gpuplot:", err)
		os.Exit(1)
	}
}

func run(speedPath, torchPath, out string) error {
	var speed struct {
		Engine  string                `json:"engine"`
		Results []runners.SpeedResult `json:"results"`
	}
	var torch struct {
		Device  string `json:"device"`
		Torch   string `json:"torch"`
		Results []struct {
			Model    string    `json:"model"`
			T        int       `json:"T"`
			MedianMs float64   `json:"median_ms"`
			Ms       []float64 `json:"ms"`
		} `json:"results"`
	}
	for path, v := range map[string]any{speedPath: &speed, torchPath: &torch} {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	res := speed.Results
	for i := range res {
		res[i].Model = "minrl " + res[i].Model
	}
	for _, r := range torch.Results {
		s := runners.SpeedResult{Model: "torch " + r.Model, T: r.T}
		for _, ms := range r.Ms {
			s.Seconds = append(s.Seconds, ms/1000)
		}
		if len(s.Seconds) > 0 {
			res = append(res, s)
		}
	}
	title := fmt.Sprintf("One layer, B=64, d=128, %s (PyTorch %s)", torch.Device, torch.Torch)
	return runners.PlotSpeed(res, title, out)
}
