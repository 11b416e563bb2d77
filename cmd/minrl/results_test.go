package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --analysis prints the pre-registered analysis, and with --update puts it
// between the analysis markers, leaving the table markers alone.
func TestResultsAnalysis(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	for seed := 1; seed <= 3; seed++ {
		for i, kind := range []string{"dt", "mingru"} {
			p := filepath.Join(runs, fmt.Sprintf("%s-s%d", kind, seed), "summary.json")
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(fmt.Sprintf(`{"config":{"dataset":"hopper-medium-replay","model":{"kind":%q},"train":{"seed":%d,"steps":10}},`+
				`"last":{"score":1,"targets":[{"target":5200,"mean_normalized":%d},{"target":1400,"mean_normalized":1}]},"best":{"score":1}}`, kind, seed, 40+i+seed%2)), 0o644)
		}
	}
	md := filepath.Join(dir, "results.md")
	doc := "# R\n<!-- table: t -->\nold table\n<!-- /table -->\n<!-- analysis: a -->\nold analysis\n<!-- /analysis -->\nend\n"
	os.WriteFile(md, []byte(doc), 0o644)
	got, err := runCmd(t, newResultsCmd(), runs, "--analysis", "--update", md)
	if err != nil || !strings.Contains(got, "| mingru − dt | primary | 3 (1, 2, 3) | +1.0 | 0.0 | [+1.0, +1.0] |") || !strings.Contains(got, "**equivalent**") {
		t.Fatalf("results --analysis: %v\n%s", err, got)
	}
	b, _ := os.ReadFile(md)
	if s := string(b); !strings.HasPrefix(s, "# R\n<!-- table: t -->\nold table\n<!-- /table -->\n<!-- analysis: a -->\n**High target") ||
		!strings.HasSuffix(s, "\n<!-- /analysis -->\nend\n") || strings.Contains(s, "old analysis") {
		t.Errorf("--analysis --update:\n%s", s)
	}
	os.WriteFile(md, []byte("# R\n<!-- table: t -->\n<!-- /table -->\n"), 0o644)
	if _, err := runCmd(t, newResultsCmd(), runs, "--analysis", "--update", md); err == nil || !strings.Contains(err.Error(), `"<!-- analysis: ... -->"`) {
		t.Errorf("--update without analysis markers: %v", err)
	}
}
