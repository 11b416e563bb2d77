// Package safefile reads whole files whose size must be known first: only
// regular files, bounded in size, so that a FIFO or a device (/dev/zero)
// given as a checkpoint or dataset path is an error, not a hang or an
// unbounded allocation.
package safefile

import (
	"fmt"
	"io"
	"os"
)

// Regular opens path for reading if it is a regular file of at most max
// bytes and returns it with its size.
func Regular(path string, max int64) (*os.File, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if st.IsDir() {
		return nil, 0, fmt.Errorf("%s is a directory, not a file", path)
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file (%s)", path, st.Mode().Type())
	}
	if st.Size() > max {
		return nil, 0, fmt.Errorf("%s is %d bytes, more than the %d this reader accepts", path, st.Size(), max)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// ReadFile reads a regular file of at most max bytes: exactly the size Stat
// reported, so a file that grows while it is read cannot make it allocate
// more.
func ReadFile(path string, max int64) ([]byte, error) {
	f, size, err := Regular(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}
