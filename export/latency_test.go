package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/minrl/minrl/infer"
	"github.com/minrl/minrl/policy"
)

// TestLatencyReport measures the latency of one act step (one env) in Go
// (package infer) and in ONNX Runtime (check.js, same exported models,
// same run) for every kind and mode, at the Gym locomotion size (obs 11,
// embed 128, 3 layers, K 20). Run it with scripts/export_bench.sh.
func TestLatencyReport(t *testing.T) {
	if os.Getenv("MINRL_EXPORT_BENCH") == "" {
		t.Skip("set MINRL_EXPORT_BENCH=1 (scripts/export_bench.sh)")
	}
	root := repoRoot(t)
	dir := t.TempDir()
	sz := size{obs: 11, embed: 128, layers: 3, k: 20, maxEpLen: 1000, hidden: []int{256, 256}}
	specs := []rtSpec{
		{"mingru-step", policy.ModelMinGRU, policy.ContextEpisode, false, ModeStep},
		{"minlstm-step", policy.ModelMinLSTM, policy.ContextEpisode, false, ModeStep},
		{"mingru-window", policy.ModelMinGRU, policy.ContextWindow, false, ModeWindow},
		{"minlstm-window", policy.ModelMinLSTM, policy.ContextWindow, false, ModeWindow},
		{"dt-window", policy.ModelDT, policy.ContextWindow, false, ModeWindow},
		{"bc", policy.ModelBC, "", false, ""},
	}
	goUS := map[string]float64{}
	var cases []rtCase
	for i, s := range specs {
		ck := sizedCheckpoint(t, s.kind, s.context, s.conv, uint64(i), sz)
		m, err := ONNX(ck, Options{Mode: s.mode, Target: math.NaN()})
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, s.name+".onnx"), m.Marshal(), 0o644)
		c := episode(t, ck, s.mode, 1, 200, uint64(i))
		c.Name, c.Model = s.name, s.name+".onnx"
		cases = append(cases, c)

		var file bytes.Buffer
		if err := policy.Encode(&file, ck.Model, ck.Info, nil); err != nil {
			t.Fatal(err)
		}
		im, err := infer.Decode(file.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		a, err := im.NewActor(infer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		obs, rew := make([]float64, sz.obs), []float64{0.5}
		r := testing.Benchmark(func(b *testing.B) {
			for j := 0; b.Loop(); j++ {
				if j%200 == 0 {
					a.Reset()
				}
				if _, err := a.Act(obs); err != nil {
					b.Fatal(err)
				}
				a.Observe(rew)
			}
		})
		goUS[s.name] = float64(r.NsPerOp()) / 1e3
	}
	js, _ := json.Marshal(map[string]any{"cases": cases})
	os.WriteFile(filepath.Join(dir, "cases.json"), js, 0o644)
	cmd := exec.Command("node", filepath.Join(root, "scripts", "onnxcheck", "check.js"), filepath.Join(dir, "cases.json"))
	cmd.Env = append(os.Environ(), "ORT_REPS=6")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	re := regexp.MustCompile(`(?m)^ok (\S+): .*max \|Δaction\| (\S+) .*ORT ([0-9.]+) µs/step`)
	var b strings.Builder
	fmt.Fprintf(&b, "\n| policy, mode | Go infer µs/step | ONNX Runtime µs/step | max abs action diff |\n|---|---:|---:|---:|\n")
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		fmt.Fprintf(&b, "| %s | %.1f | %s | %s |\n", m[1], goUS[m[1]], m[3], m[2])
	}
	t.Log(b.String())
}
