package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minrl/minrl/policy"
)

// scripts/safetensors_torch.py rebuilds BC and recurrent policies from a
// safetensors export in PyTorch and reproduces minrl's actions over an
// episode. Runs where Debian python3-torch is installed (not in CI: the
// package is large); skips elsewhere.
func TestTorchScriptReproducesActions(t *testing.T) {
	py := "/usr/bin/python3"
	env := append(os.Environ(), "OPENBLAS_CORETYPE=Haswell")
	probe := exec.Command(py, "-c", "import torch, numpy")
	probe.Env = env
	if err := probe.Run(); err != nil {
		t.Skip("python3-torch is not installed")
	}
	root := repoRoot(t)
	dir := t.TempDir()
	for i, s := range []rtSpec{
		{"mingru-step-conv", policy.ModelMinGRU, policy.ContextEpisode, true, ModeStep},
		{"minlstm-step", policy.ModelMinLSTM, policy.ContextEpisode, false, ModeStep},
		{"bc", policy.ModelBC, "", false, ""},
	} {
		ck := testCheckpoint(t, s.kind, s.context, s.conv, uint64(30+i))
		data, err := Safetensors(ck, Options{Target: math.NaN(), Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, s.name+".safetensors")
		os.WriteFile(file, data, 0o644)
		c := episode(t, ck, s.mode, 1, 40, uint64(i))
		type pyStep struct {
			Obs    []float64 `json:"obs"`
			Reward float64   `json:"reward"`
		}
		var steps []pyStep
		for j, st := range c.Steps {
			steps = append(steps, pyStep{Obs: st.Feeds["observation"].Data, Reward: c.rewards[j][0]})
		}
		js, _ := json.Marshal(steps)
		stepsFile := filepath.Join(dir, s.name+".json")
		os.WriteFile(stepsFile, js, 0o644)
		cmd := exec.Command(py, filepath.Join(root, "scripts", "safetensors_torch.py"), file, stepsFile)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.name, err, stderr.String())
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		var worst float64
		n := 0
		for sc.Scan() {
			var a []float64
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatalf("%s: %q: %v", s.name, sc.Text(), err)
			}
			for j, v := range a {
				worst = max(worst, math.Abs(v-c.Steps[n].Expected[j]))
			}
			n++
		}
		if n != len(c.Steps) || !(worst <= 1e-5) {
			t.Errorf("%s: %d actions, max |Δ| %g", s.name, n, worst)
		}
		t.Logf("%s: torch reproduces %d steps, max |Δaction| %.2g (%s)", s.name, n, worst, strings.TrimSpace(stderr.String()))
	}
}
