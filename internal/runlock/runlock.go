// Package runlock gives one process at a time a directory: an exclusive
// flock on a lock file in it, which the kernel releases when the process
// ends however it ends, so a lock can never outlive its holder.
package runlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Name is the lock file's name in the directory.
const Name = ".minrl.lock"

// ErrLocked reports a directory another process holds.
var ErrLocked = errors.New("directory in use by another minrl process")

// Lock is a held directory lock.
type Lock struct {
	f *os.File
	// StalePID is the process that held the lock before and ended without
	// releasing it (killed, say), or 0.
	StalePID int
}

// Acquire locks dir for this process, or fails at once with ErrLocked
// naming the holder's pid.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, Name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(f); err != nil {
		holder, _ := readPID(f)
		f.Close()
		if holder > 0 {
			return nil, fmt.Errorf("%w: %s is locked by process %d", ErrLocked, dir, holder)
		}
		return nil, fmt.Errorf("%w: %s (%v)", ErrLocked, dir, err)
	}
	l := &Lock{f: f}
	if prev, _ := readPID(f); prev > 0 && prev != os.Getpid() {
		l.StalePID = prev
	}
	if err := writePID(f, os.Getpid()); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// Release clears the pid and unlocks.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Truncate(0)
	if cerr := l.f.Close(); err == nil { // closing releases the flock
		err = cerr
	}
	l.f = nil
	return err
}

func readPID(f *os.File) (int, error) {
	b := make([]byte, 32)
	n, err := f.ReadAt(b, 0)
	if n == 0 {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b[:n])))
}

func writePID(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0)
	return err
}

// Held reports whether a process holds dir's lock now, and its pid when
// the lock file names one (a status query: it takes the lock for an
// instant when nobody holds it, so an Acquire at that very instant fails
// with ErrLocked and may be retried).
func Held(dir string) (bool, int) {
	// Read-write: on NFS an exclusive flock is a write lock.
	f, err := os.OpenFile(filepath.Join(dir, Name), os.O_RDWR, 0)
	if err != nil {
		return false, 0
	}
	defer f.Close() // releases the flock taken below
	pid, _ := readPID(f)
	if flock(f) != nil {
		return true, pid
	}
	return false, pid
}
