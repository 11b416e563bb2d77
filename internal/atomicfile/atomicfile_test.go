package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// entries lists dir's names, so that a leftover temporary file shows.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func check(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o644 {
		t.Errorf("%s has mode %v, want 0644", path, perm)
	}
}

func TestWriteCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "deeper", "f.txt") // directories are created
	if err := WriteFile(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	check(t, path, "first")
	big := bytes.Repeat([]byte("0123456789"), 100_000) // past the write buffer
	if err := Write(path, func(w io.Writer) error { _, err := w.Write(big); return err }); err != nil {
		t.Fatal(err)
	}
	check(t, path, string(big))
	if err := WriteNamed(path, func(tmp string) error { return os.WriteFile(tmp, []byte("named"), 0o600) }); err != nil {
		t.Fatal(err)
	}
	check(t, path, "named")
	if got := entries(t, filepath.Dir(path)); len(got) != 1 {
		t.Errorf("directory holds %q, want only f.txt", got)
	}
}

// A failed write leaves the old file in place, removes its temporary file
// and returns the writer's own error.
func TestFailedWriteKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.txt")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte("x"), 1<<17)) // some of it reaches the temporary file
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("Write: %v, want boom", err)
	}
	err = WriteNamed(path, func(tmp string) error {
		os.WriteFile(tmp, []byte("partial"), 0o600)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("WriteNamed: %v, want boom", err)
	}
	check(t, path, "old")
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("directory holds %q, want only f.txt", got)
	}
	// A destination that cannot be created is an error too.
	if err := WriteFile(filepath.Join(path, "below-a-file"), nil); err == nil {
		t.Errorf("write below a regular file succeeded")
	}
}

// Concurrent writers of one path each use their own temporary file: the
// result is one writer's whole output.
func TestConcurrentWriters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.txt")
	const n = 8
	want := map[string]bool{}
	var wg sync.WaitGroup
	for i := range n {
		data := bytes.Repeat([]byte(fmt.Sprint(i)), 50_000)
		want[string(data)] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := WriteFile(path, data); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !want[string(got)] {
		t.Errorf("file holds %d bytes that no single writer wrote", len(got))
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Errorf("directory holds %q, want only f.txt", got)
	}
}
