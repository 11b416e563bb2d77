package d4rl

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/minrl/minrl/dataset"
)

// bigDataset is a D4RL-sized dataset (Hopper-like widths padded to
// HalfCheetah's 17): cheap deterministic values, 1000-step episodes.
func bigDataset(n int) *dataset.Dataset {
	d := dataset.New(n, 17, 6)
	for i := range d.Observations {
		d.Observations[i] = float32(i%1009) * 0.01
		d.NextObservations[i] = float32(i%1013) * 0.01
	}
	for i := range d.Actions {
		d.Actions[i] = float32(i%7) - 3
	}
	for i := range d.Rewards {
		d.Rewards[i] = float32(i % 5)
		d.Timeouts[i] = i%1000 == 999
	}
	return d
}

// rawBytes is the size of the dataset's arrays.
func rawBytes(d *dataset.Dataset) int {
	return 4*(len(d.Observations)+len(d.Actions)+len(d.Rewards)+len(d.NextObservations)+len(d.QPos)+len(d.QVel)) +
		len(d.Terminals) + len(d.Timeouts)
}

// procKB reads a "Vm…:  N kB" line of /proc/self/status.
func procKB(field string) (int, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, fmt.Errorf("no %s in /proc/self/status", field)
}

type memReport struct {
	BaseRSSKB, PeakRSSKB int
	HeapAlloc, Raw       uint64
}

// TestLoadMemoryChild runs in a child process started by TestLoadMemory:
// it loads the file and reports the process's peak resident memory.
func TestLoadMemoryChild(t *testing.T) {
	path := os.Getenv("MINRL_MEM_CHILD")
	if path == "" {
		t.Skip("helper for TestLoadMemory")
	}
	runtime.GC()
	base, err := procKB("VmHWM")
	if err != nil {
		t.Skip(err)
	}
	d, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	peak, _ := procKB("VmHWM")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep := memReport{BaseRSSKB: base, PeakRSSKB: peak, HeapAlloc: ms.HeapAlloc, Raw: uint64(rawBytes(d))}
	js, _ := json.Marshal(rep)
	fmt.Printf("MEMREPORT %s\n", js)
	runtime.KeepAlive(d)
}

// TestLoadMemory loads a generated 1M-row file in a fresh process and
// checks that its peak resident memory stays within twice the raw bytes
// of the arrays (the loader decodes straight into the result, so it
// should be close to one copy).
func TestLoadMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory inflates RSS")
	}
	if testing.Short() {
		t.Skip("writes a 160 MB file")
	}
	if _, err := procKB("VmHWM"); err != nil {
		t.Skip("needs /proc/self/status:", err)
	}
	const n = 1_000_000
	d := bigDataset(n)
	raw := rawBytes(d)
	path := filepath.Join(t.TempDir(), "big.hdf5")
	if err := Save(path, d, SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	d = nil
	runtime.GC()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadMemoryChild$", "-test.v")
	cmd.Env = append(os.Environ(), "MINRL_MEM_CHILD="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, js, ok := strings.Cut(string(out), "MEMREPORT ")
	if !ok {
		t.Fatalf("child output:\n%s", out)
	}
	var rep memReport
	if err := json.Unmarshal([]byte(strings.SplitN(js, "\n", 2)[0]), &rep); err != nil {
		t.Fatal(err)
	}
	grew := float64(rep.PeakRSSKB-rep.BaseRSSKB) * 1024
	t.Logf("1M rows: raw arrays %.1f MB; peak RSS grew %.1f MB (%.2fx raw) over a %.1f MB baseline; heap after load %.1f MB",
		float64(raw)/1e6, grew/1e6, grew/float64(raw), float64(rep.BaseRSSKB)*1024/1e6, float64(rep.HeapAlloc)/1e6)
	if rep.Raw != uint64(raw) {
		t.Fatalf("child loaded %d raw bytes, want %d", rep.Raw, raw)
	}
	if grew > 2*float64(raw) {
		t.Fatalf("loading used %.2fx the raw bytes", grew/float64(raw))
	}
}

func BenchmarkLoad1M(b *testing.B) {
	for _, gz := range []int{0, 1} {
		b.Run(fmt.Sprintf("gzip%d", gz), func(b *testing.B) {
			d := bigDataset(1_000_000)
			path := filepath.Join(b.TempDir(), "big.hdf5")
			if err := Save(path, d, SaveOptions{Gzip: gz}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(rawBytes(d)))
			d = nil
			b.ResetTimer()
			for range b.N {
				if _, err := Load(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
