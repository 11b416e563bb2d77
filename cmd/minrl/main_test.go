package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestBenchSpeedWritesResults(t *testing.T) {
	dir := t.TempDir()
	out, err := run(t, "bench", "speed", "--models", "mingru,minlstm", "--T", "4,8", "--batch", "2", "--dim", "4", "--repeats", "1", "--out", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "| 8 |") {
		t.Errorf("no table in output:\n%s", out)
	}
	for _, f := range []string{"speed.md", "speed.json", "speed.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestBadFlagsFail(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "speed", "--models", "nope", "--out", ""},
		{"bench", "speed", "--T", "abc"},
		{"bench", "scan", "--elems", "10"},
		{"no-such-command"},
	} {
		if _, err := run(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
