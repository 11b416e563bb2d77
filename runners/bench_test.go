package runners

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		{SpeedConfig{Models: []string{"mingru"}, Ts: []int{4}, B: 0, D: 1, Repeats: 1}, "must be positive"},
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
