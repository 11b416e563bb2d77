package data

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/dataset/d4rl"
)

func TestShippedDatasetsOpenAndMatchTheirChecksums(t *testing.T) {
	names := Shipped()
	if !slices.Contains(names, "pendulum-medium") {
		t.Fatalf("shipped: %v", names)
	}
	t.Setenv("MINRL_DATA_DIR", t.TempDir())
	for _, n := range names {
		d, src, err := Open(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if src != "shipped:"+n || d.Meta.EnvID != "Pendulum-v1" || d.N == 0 {
			t.Errorf("%s: source %q env %q n %d", n, src, d.Meta.EnvID, d.N)
		}
	}
	if err := verify("pendulum-medium.hdf5", []byte("tampered")); err == nil {
		t.Error("a tampered file passes its checksum")
	}
}

func TestCacheDirectoryComesFirstAndPathsWork(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MINRL_DATA_DIR", dir)
	d := dataset.New(3, 2, 1)
	d.Timeouts[2] = true
	p, _ := Path("pendulum-medium")
	if err := d4rl.Save(p, d, d4rl.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	got, src, err := Open("pendulum-medium")
	if err != nil || got.N != 3 || src != p {
		t.Errorf("cache copy not preferred: n %d src %q err %v", got.N, src, err)
	}
	if got, _, err := Open(filepath.Join(dir, "pendulum-medium.hdf5")); err != nil || got.N != 3 {
		t.Errorf("by path: %v", err)
	}
	if _, _, err := Open("mars-medium"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "minrl collect") {
		t.Errorf("unknown name: %v", err)
	}
}
