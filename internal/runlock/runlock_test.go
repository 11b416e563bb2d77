package runlock

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLock(t *testing.T) {
	dir := t.TempDir()
	a, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.StalePID != 0 {
		t.Errorf("fresh lock reports stale pid %d", a.StalePID)
	}
	_, err = Acquire(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Errorf("second lock: %v, want ErrLocked naming pid %d", err, os.Getpid())
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Release()

	// A holder that died without releasing: its pid is still in the file,
	// the kernel has dropped its flock.
	os.WriteFile(filepath.Join(dir, Name), []byte("999999999\n"), 0o644)
	c, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if c.StalePID != 999999999 {
		t.Errorf("stale pid %d, want 999999999", c.StalePID)
	}
}
