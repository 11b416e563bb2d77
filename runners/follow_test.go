package runners

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/eval"
)

func TestSweepTargetsAndFollowingFiles(t *testing.T) {
	refs := eval.References{Random: -100, Expert: 900}
	got, err := SweepTargets(refs, 4, 120)
	if err != nil || !slices.Equal(got, []float64{-100, 300, 700, 1100}) {
		t.Errorf("SweepTargets = %v, %v; want scores 0, 40, 80, 120 as returns", got, err)
	}
	if _, err := SweepTargets(eval.References{Random: math.NaN(), Expert: 1}, 4, 120); err == nil {
		t.Error("a sweep without references: no error")
	}
	if _, err := SweepTargets(refs, 1, 120); err == nil {
		t.Error("a sweep of one target: no error")
	}
	dir := t.TempDir()
	reps := []eval.Report{{Env: "e", Target: -100, MeanReturn: 0, Episodes: 2}, {Env: "e", Target: 1100, MeanReturn: 800, Episodes: 2}}
	if err := WriteFollowing(dir, "eval_x", "t", refs, reps); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "eval_x_follow.csv"))
	if err != nil || !strings.Contains(string(b), "\n1100,120,800,") {
		t.Errorf("follow CSV: %v\n%s", err, b)
	}
	if _, err := os.Stat(filepath.Join(dir, "eval_x_follow.png")); err != nil {
		t.Error(err)
	}
}
