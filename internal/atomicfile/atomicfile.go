// Package atomicfile replaces files so that readers, and a crash, see either
// the old file or the new one, never part of one.
//
// The data goes to a temporary file in the destination's directory (so the
// rename stays within one file system), which is synced, made 0644 and
// renamed over the destination; then the directory is synced so that the
// rename itself survives a crash.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what write writes, creating path's
// directory if needed. If write fails, path is left as it was and the
// temporary file is removed; write's error is returned unchanged.
func Write(path string, write func(w io.Writer) error) (err error) {
	f, err := create(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	return commit(f, path)
}

// WriteFile is Write for data in hand.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteNamed is Write for writers that need a file name rather than an
// io.Writer (C libraries such as HDF5): write fills the file named tmp,
// which exists and is empty when write is called.
func WriteNamed(path string, write func(tmp string) error) (err error) {
	f, err := create(path)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if err = f.Close(); err != nil {
		return err
	}
	if err = write(tmp); err != nil {
		return err
	}
	if f, err = os.OpenFile(tmp, os.O_RDWR, 0); err != nil {
		return err
	}
	if err = commit(f, path); err != nil {
		f.Close()
	}
	return err
}

func create(path string) (*os.File, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
}

// commit syncs, closes and renames f over path, then syncs the directory.
func commit(f *os.File, path string) error {
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes files 0600
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	syncDir(filepath.Dir(path))
	return nil
}

// syncDir makes a rename in dir durable. It is best effort: some systems
// (Windows) cannot open or sync a directory, and the file itself is already
// complete either way.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
