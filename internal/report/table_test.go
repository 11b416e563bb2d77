package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestTableAggregatesSeeds(t *testing.T) {
	dir := t.TempDir()
	write := func(name, dataset, kind, context string, seed int, last, best float64) {
		writeSummary(dir, name, `{"config":{"dataset":"`+dataset+`","model":{"kind":"`+kind+`","context":"`+context+`"},"train":{"seed":`+
			itoa(seed)+`,"steps":2000}},"last":{"step":2000,"score":`+ftoa(last)+`},"best":{"step":1000,"score":`+ftoa(best)+`},"dataset_score":30,"wall_seconds":`+ftoa(10*last)+`,"train_seconds":`+ftoa(last)+`}`)
	}
	write("a", "hopper-medium", "mingru", "window", 1, 40, 50)
	write("b", "hopper-medium", "mingru", "window", 2, 60, 70)
	write("c", "hopper-medium", "mingru", "episode", 1, 10, 20)
	write("d", "hopper-medium", "dt", "window", 1, 30, 35)
	write("e", "walker2d-medium", "mingru", "window", 1, 20, 20)
	write("f", "walker2d-medium", "dt", "window", 1, 24, 25)
	var b strings.Builder
	if err := Table(&b, dir); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"| dataset | data | dt | mingru | mingru (episode) |", "| hopper-medium | 30.0 | 30.0 ± 0.0 (1) | **50.0** ± 10.0 (2) | 10.0 ± 0.0 (1) |", "**60.0** ± 10.0 (2)",
		"| walker2d-medium | 30.0 | **24.0** ± 0.0 (1) | 20.0 ± 0.0 (1) | |",
		// Averages only where a model has every dataset: (30+24)/2, (50+20)/2.
		"| **average** | 30.0 | 27.0 | 35.0 | |", "training steps: 2000",
		// Median times per model over all its runs: mingru (window) 200, 400, 600.
		"| whole run | 270 | 400 | 100 |", "| training only | 27 | 40 | 10 |",
		// Whole-episode minus window: 10 - (40+60)/2 on hopper-medium; no average without walker2d-medium.
		"| dataset | mingru |", "| hopper-medium | -40.0 (1, 2) |", "| walker2d-medium | |", "| **average** | |\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "by kind of data") {
		t.Errorf("one kind of data got a by-kind table:\n%s", out)
	}
	if err := Table(&b, t.TempDir()); err == nil {
		t.Error("empty directory tabulated")
	}
}

func TestTableAveragesByKindOfData(t *testing.T) {
	dir := t.TempDir()
	write := func(dataset, kind string, last float64) {
		writeSummary(dir, dataset+"-"+kind, `{"config":{"dataset":"`+dataset+`","model":{"kind":"`+kind+`"},"train":{"seed":1,"steps":10}},"last":{"score":`+ftoa(last)+`},"best":{"score":1}}`)
	}
	write("hopper-medium", "bc", 10)
	write("walker2d-medium", "bc", 20)
	write("hopper-medium-replay", "bc", 40)
	write("hopper-medium-expert", "bc", 70)
	write("hopper-medium", "dt", 30) // dt lacks datasets: blank cells, not partial averages
	write("hopper-medium-expert", "dt", 50)
	var b strings.Builder
	if err := Table(&b, dir); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"| data | datasets | bc | dt |", "| medium | 2 | 15.0 | |", "| medium-replay | 1 | 40.0 | |",
		"| medium-expert | 1 | 70.0 | 50.0 |", "| medium + medium-replay | 3 | 23.3 | |"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Whole-episode minus window") {
		t.Errorf("gap table without whole-episode runs:\n%s", out)
	}
}

// A cell averages runs that differ only in the seed (and where they wrote),
// each seed once.
func TestTableRefusesToMixConfigs(t *testing.T) {
	run := func(seed, batch int, out string) string {
		return `{"config":{"dataset":"hopper-medium","out":"` + out + `","model":{"kind":"mingru","context":"episode"},"train":{"seed":` + itoa(seed) +
			`,"steps":10,"batch":` + itoa(batch) + `,"log_every":` + itoa(seed) + `}},"last":{"score":1},"best":{"score":1}}`
	}
	for name, tc := range map[string]struct {
		second string
		want   string // "" for no error
	}{
		"seeds":      {run(2, 2, "runs/b"), ""},
		"batch":      {run(2, 5, "runs/b"), "configs differ in train.batch (2 vs 5)"},
		"same-seed":  {run(1, 2, "runs/b"), "are both seed 1 of (hopper-medium, mingru (episode))"},
		"extra-key":  {strings.Replace(run(2, 2, "b"), `"steps":10`, `"steps":10,"warmup":3`, 1), "train.warmup (absent vs 3)"},
		"lacks-key":  {strings.Replace(run(2, 2, "b"), `"batch":2,`, ``, 1), "train.batch (2 vs absent)"},
		"other-cell": {strings.Replace(run(1, 5, "b"), `"episode"`, `"window"`, 1), ""},
	} {
		dir := t.TempDir()
		writeSummary(dir, "a", run(1, 2, "runs/a"))
		writeSummary(dir, "b", tc.second)
		err := Table(io.Discard, dir)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
}

func TestTableOrdersDatasetsLikeD4RL(t *testing.T) {
	dir := t.TempDir()
	names := []string{"walker2d-medium-expert", "hopper-medium-replay", "walker2d-medium", "halfcheetah-medium-expert", "hopper-medium"}
	for i, d := range names {
		writeSummary(dir, fmt.Sprint(i), `{"config":{"dataset":"`+d+`","model":{"kind":"bc"},"train":{"seed":1,"steps":10}},"last":{"score":1},"best":{"score":1}}`)
	}
	var b strings.Builder
	if err := Table(&b, dir); err != nil {
		t.Fatal(err)
	}
	last := b.String()[:strings.Index(b.String(), "Best")]
	want := []string{"hopper-medium |", "walker2d-medium |", "hopper-medium-replay", "halfcheetah-medium-expert", "walker2d-medium-expert"}
	at := 0
	for _, w := range want {
		i := strings.Index(last[at:], "| "+w)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", w, last)
		}
		at += i + 1
	}
}

// writeSummary writes a run's summary.json under dir/name.
func writeSummary(dir, name, body string) {
	p := filepath.Join(dir, name, "summary.json")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte(body), 0o644)
}

func itoa(i int) string     { return strconv.Itoa(i) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// The controls of the RL comparison get their own columns: %BC (bc on the
// top episodes) and the return-to-go ablation, beside bc and the models.
func TestTableSeparatesControls(t *testing.T) {
	dir := t.TempDir()
	for i, c := range []struct{ name, model string }{
		{"bc", `"kind":"bc"},"train":{"seed":1,"steps":10`},
		{"pbc", `"kind":"bc"},"train":{"seed":1,"steps":10,"top_fraction":0.1`},
		{"dt", `"kind":"dt"},"train":{"seed":1,"steps":10`},
		{"dt-nortg", `"kind":"dt","no_rtg":true},"train":{"seed":1,"steps":10`},
		{"mingru-nortg", `"kind":"mingru","no_rtg":true},"train":{"seed":1,"steps":10`},
	} {
		writeSummary(dir, c.name, `{"config":{"dataset":"hopper-medium","model":{`+c.model+`}},"last":{"score":`+itoa(10*i)+`},"best":{"score":1}}`)
	}
	var b strings.Builder
	if err := Table(&b, dir); err != nil {
		t.Fatal(err)
	}
	if want := "| dataset | data | bc | bc (top 10%) | dt | dt (no RTG) | mingru (no RTG) |"; !strings.Contains(b.String(), want) {
		t.Errorf("table lacks %q:\n%s", want, b.String())
	}
}
